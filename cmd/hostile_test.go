package cmd

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Hostile files through the whole command line: each finishes, keeps its
// output valid (text escaped, JSON parseable line by line, no panic while
// formatting absurd times), reports the damage, and analyzes the rest.

// cliWithin bounds one command run on a hostile file. It catches runaway
// loops; it is not a speed assertion.
const cliWithin = 3 * time.Minute

func runBounded(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	type result struct {
		out, errOut string
		code        int
	}
	done := make(chan result, 1)
	go func() {
		var out, errOut bytes.Buffer
		code := Main(t.Context(), args, bytes.NewReader(nil), &out, &errOut)
		done <- result{out.String(), errOut.String(), code}
	}()
	select {
	case r := <-done:
		return r.out, r.errOut, r.code
	case <-time.After(cliWithin):
		t.Fatalf("%v did not finish within %s", args, cliWithin)
		return "", "", 0
	}
}

// --- frames and files ------------------------------------------------------

type appendOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

func hEth(ethType uint16, payload []byte) []byte {
	return append([]byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, byte(ethType >> 8), byte(ethType)}, payload...)
}

func hIPv4(src, dst byte, proto byte, id, frag uint16, payload []byte) []byte {
	h := make([]byte, 20, 20+len(payload))
	h[0] = 0x45
	binary.BigEndian.PutUint16(h[2:], uint16(20+len(payload)))
	binary.BigEndian.PutUint16(h[4:], id)
	binary.BigEndian.PutUint16(h[6:], frag)
	h[8], h[9] = 64, proto
	copy(h[12:], []byte{10, 0, 0, src})
	copy(h[16:], []byte{10, 0, 0, dst})
	return append(h, payload...)
}

func hTCP(sport, dport uint16, seq, ack uint32, flags byte, payload []byte) []byte {
	h := make([]byte, 20, 20+len(payload))
	binary.BigEndian.PutUint16(h[0:], sport)
	binary.BigEndian.PutUint16(h[2:], dport)
	binary.BigEndian.PutUint32(h[4:], seq)
	binary.BigEndian.PutUint32(h[8:], ack)
	h[12], h[13] = 5<<4, flags
	binary.BigEndian.PutUint16(h[14:], 65535)
	return append(h, payload...)
}

// conversation returns the frames of a complete TCP connection from
// 10.0.0.1:port to 10.0.0.2:80 carrying "hello" and "world".
func conversation(port uint16) [][]byte {
	const syn, fin, rst, psh, ack = 2, 1, 4, 8, 16
	c2s := func(seq, ackN uint32, flags byte, p string) []byte {
		return hEth(0x0800, hIPv4(1, 2, 6, 1, 0x4000, hTCP(port, 80, seq, ackN, flags, []byte(p))))
	}
	s2c := func(seq, ackN uint32, flags byte, p string) []byte {
		return hEth(0x0800, hIPv4(2, 1, 6, 1, 0x4000, hTCP(80, port, seq, ackN, flags, []byte(p))))
	}
	return [][]byte{
		c2s(100, 0, syn, ""),
		s2c(500, 101, syn|ack, ""),
		c2s(101, 501, ack, ""),
		c2s(101, 501, psh|ack, "hello"),
		s2c(501, 106, psh|ack, "world"),
		c2s(106, 506, fin|ack, ""),
		s2c(506, 107, fin|ack, ""),
		c2s(107, 507, ack, ""),
	}
}

func hPcap(order appendOrder, snaplen uint32) []byte {
	h := order.AppendUint32(nil, 0xa1b2c3d4)
	h = order.AppendUint16(h, 2)
	h = order.AppendUint16(h, 4)
	h = append(h, make([]byte, 8)...)
	h = order.AppendUint32(h, snaplen)
	return order.AppendUint32(h, 1)
}

func hRec(order appendOrder, sec, frac, incl, orig uint32, data []byte) []byte {
	b := order.AppendUint32(nil, sec)
	b = order.AppendUint32(b, frac)
	b = order.AppendUint32(b, incl)
	b = order.AppendUint32(b, orig)
	return append(b, data...)
}

func hBlock(order appendOrder, typ uint32, body []byte) []byte {
	for len(body)%4 != 0 {
		body = append(body, 0)
	}
	n := uint32(12 + len(body))
	b := order.AppendUint32(nil, typ)
	b = order.AppendUint32(b, n)
	b = append(b, body...)
	return order.AppendUint32(b, n)
}

func hSHB(order appendOrder) []byte {
	body := order.AppendUint32(nil, 0x1A2B3C4D)
	body = order.AppendUint16(body, 1)
	body = order.AppendUint16(body, 0)
	body = order.AppendUint64(body, math.MaxUint64)
	return hBlock(order, 0x0A0D0D0A, body)
}

func hOpt(order appendOrder, code uint16, v []byte) []byte {
	b := order.AppendUint16(nil, code)
	b = order.AppendUint16(b, uint16(len(v)))
	b = append(b, v...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func hIDB(order appendOrder, link uint16, snaplen uint32, opts ...[]byte) []byte {
	body := order.AppendUint16(nil, link)
	body = order.AppendUint16(body, 0)
	body = order.AppendUint32(body, snaplen)
	for _, o := range opts {
		body = append(body, o...)
	}
	if len(opts) > 0 {
		body = append(body, 0, 0, 0, 0)
	}
	return hBlock(order, 1, body)
}

func hEPB(order appendOrder, ifid uint32, ts uint64, data []byte) []byte {
	body := order.AppendUint32(nil, ifid)
	body = order.AppendUint32(body, uint32(ts>>32))
	body = order.AppendUint32(body, uint32(ts))
	body = order.AppendUint32(body, uint32(len(data)))
	body = order.AppendUint32(body, uint32(len(data)))
	return hBlock(order, 6, append(body, data...))
}

func pcapOf(frames [][]byte, sec uint32) []byte {
	le := binary.LittleEndian
	parts := [][]byte{hPcap(le, 65535)}
	for i, f := range frames {
		parts = append(parts, hRec(le, sec, uint32(i*100), uint32(len(f)), uint32(len(f)), f))
	}
	return bytes.Join(parts, nil)
}

// --- the cases -------------------------------------------------------------

type hostileFile struct {
	name    string
	file    func() []byte
	code    int      // exit status of read
	text    []string // in read's text output
	stderr  string   // in read's standard error
	follow  bool     // tcp/0 exists: follow and timeline it
	summary func(t *testing.T, sum map[string]any)
}

func hostileFiles() []hostileFile {
	le, be := binary.LittleEndian, binary.BigEndian
	conv := conversation(40000)
	return []hostileFile{
		{
			name: "pcap record length 0xffffffff after a conversation",
			file: func() []byte {
				b := pcapOf(conv, 1)
				b = append(b, hRec(le, 1, 0, 0xffffffff, 0xffffffff, nil)...)
				return append(b, pcapOf(conversation(40001), 1)[24:]...)
			},
			code:   1,
			text:   []string{"damaged  hostile: frame 9 at byte offset", "record claims 4294967295 bytes", "tcp/0 "},
			stderr: "every frame before it was analyzed",
			follow: true,
			summary: func(t *testing.T, sum map[string]any) {
				if d, _ := sum["damage"].(string); !strings.Contains(d, "frame 9") || sum["tcp_streams"] != 1.0 {
					t.Errorf("summary damage %q, tcp_streams %v", d, sum["tcp_streams"])
				}
			},
		},
		{
			name: "pcap timestamps at the extremes, going backwards",
			file: func() []byte {
				parts := [][]byte{hPcap(be, 0)}
				secs := []uint32{0xffffffff, 0, 0x80000000, 0x7fffffff, 0, 0xffffffff, 1, 0}
				for i, f := range conv {
					parts = append(parts, hRec(be, secs[i], 0xffffffff, uint32(len(f)), uint32(len(f)), f))
				}
				return bytes.Join(parts, nil)
			},
			text:   []string{"frames   8 ·", "tcp/0 "},
			follow: true,
		},
		{
			name: "pcapng if_tsresol and if_tsoffset at the extremes",
			file: func() []byte {
				parts := [][]byte{hSHB(le),
					hIDB(le, 1, 0, hOpt(le, 9, []byte{0}), hOpt(le, 14, le.AppendUint64(nil, math.MaxInt64))),
					hIDB(le, 1, 0, hOpt(le, 9, []byte{0x80 | 63}), hOpt(le, 14, le.AppendUint64(nil, 1<<63))),
					hIDB(le, 1, 0, hOpt(le, 9, []byte{19}), hOpt(le, 14, le.AppendUint64(nil, math.MaxUint64))),
					hIDB(le, 1, 0, hOpt(le, 9, []byte{0xff})),
				}
				tss := []uint64{math.MaxUint64, 0, 1 << 63, math.MaxUint64, 1, math.MaxUint64 - 1, 0, 42}
				for i, f := range conv {
					parts = append(parts, hEPB(le, uint32(i%4), tss[i], f))
				}
				return bytes.Join(parts, nil)
			},
			text:   []string{"frames   8 ·", "tcp/0 "},
			follow: true,
		},
		{
			name: "pcapng packet on interface 0xffffffff mid-conversation",
			file: func() []byte {
				parts := [][]byte{hSHB(le), hIDB(le, 1, 0)}
				for i, f := range conv {
					parts = append(parts, hEPB(le, 0, uint64(i), f))
					if i == 3 {
						parts = append(parts, hEPB(le, 0xffffffff, 1, f))
					}
				}
				return bytes.Join(parts, nil)
			},
			text:   []string{"frames   9 ·", "1 malformed", "closed by client"},
			follow: true,
		},
		{
			name: "pcapng interface description flood",
			file: func() []byte {
				parts := [][]byte{hSHB(le)}
				for i := range 100_000 {
					parts = append(parts, hIDB(le, uint16(1+i%2*100), 0)) // ethernet and raw, alternating
				}
				for i, f := range conv {
					parts = append(parts, hEPB(le, 0, uint64(i), f))
				}
				parts = append(parts, hEPB(le, 99_999, 1, conv[0]))
				return bytes.Join(parts, nil)
			},
			text:   []string{"frames   9 ·", "1 malformed", "closed by client"},
			follow: true,
		},
		{
			name: "pcapng byte order switching mid-file",
			file: func() []byte {
				parts := [][]byte{hSHB(le), hIDB(le, 1, 0)}
				for i, f := range conv[:4] {
					parts = append(parts, hEPB(le, 0, uint64(i), f))
				}
				parts = append(parts, hSHB(be), hIDB(be, 1, 0))
				for i, f := range conv[4:] {
					parts = append(parts, hEPB(be, 0, uint64(4+i), f))
				}
				return bytes.Join(parts, nil)
			},
			text:   []string{"frames   8 ·", "closed by client", "streams  1 TCP"},
			follow: true,
		},
		{
			name: "nested VLAN tags, IP-in-IP tunnels, IPv6 extension chains",
			file: func() []byte {
				frames := [][]byte{conv[0]}
				vlan := []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x81, 0}
				for range 500 {
					vlan = append(vlan, 0, 1, 0x81, 0)
				}
				frames = append(frames, vlan)
				tun := conv[1][14:]
				for range 300 {
					tun = hIPv4(1, 2, 4, 1, 0, tun)
				}
				frames = append(frames, hEth(0x0800, tun))
				var ext []byte
				for i := range 5000 {
					next := byte(60)
					if i == 4999 {
						next = 59 // no next header
					}
					ext = append(ext, next, 0, 1, 4, 0, 0, 0, 0)
				}
				v6 := make([]byte, 40)
				v6[0], v6[6] = 0x60, 0
				binary.BigEndian.PutUint16(v6[4:], uint16(len(ext)))
				frames = append(frames, hEth(0x86dd, append(v6, ext...)))
				return pcapOf(append(frames, conv[1:]...), 1)
			},
			text:   []string{"frames   11 ·", "2 malformed", "closed by client"},
			follow: true,
		},
		{
			name: "200k fragments of distinct datagrams that never complete",
			file: func() []byte {
				const n = 200_000
				frames := make([][]byte, 0, n+len(conv))
				frag := hIPv4(1, 2, 17, 0, 0x2000, make([]byte, 64))
				for i := range n {
					f := bytes.Clone(frag)
					binary.BigEndian.PutUint16(f[4:], uint16(i))
					f[14] = byte(i >> 16) // source 10.0.<i>>16>.1
					frames = append(frames, hEth(0x0800, f))
				}
				return pcapOf(append(frames, conv...), 1)
			},
			text:   []string{"200000 IP fragments → 0 datagrams rebuilt", "200000 datagrams missing fragments", "closed by client"},
			follow: true,
			summary: func(t *testing.T, sum map[string]any) {
				if sum["ip_fragments"] != 200000.0 || sum["datagrams_rebuilt"] != 0.0 || sum["datagrams_incomplete"] != 200000.0 {
					t.Errorf("summary: ip_fragments %v datagrams_rebuilt %v datagrams_incomplete %v",
						sum["ip_fragments"], sum["datagrams_rebuilt"], sum["datagrams_incomplete"])
				}
			},
		},
		{
			// The JSON summary counts, as the text view does, the datagrams
			// that never got all their fragments.
			name: "one fragmented datagram rebuilt, one missing its last fragment",
			file: func() []byte {
				udp := func(data string) []byte {
					h := be.AppendUint16(nil, 5353)
					h = be.AppendUint16(h, 9999)
					h = be.AppendUint16(h, uint16(8+len(data)))
					return append(be.AppendUint16(h, 0), data...)
				}
				d1, d2 := udp("rebuilt: 24 bytes of it."), udp("incomplete: 24 bytes....")
				frames := [][]byte{
					hEth(0x0800, hIPv4(1, 3, 17, 7, 0x2000, d1[:16])), // MF, offset 0
					hEth(0x0800, hIPv4(1, 3, 17, 8, 0x2000, d2[:16])), // MF, offset 0; offset 2 never comes
					hEth(0x0800, hIPv4(1, 3, 17, 7, 2, d1[16:])),      // last, offset 16
				}
				return pcapOf(append(frames, conv...), 1)
			},
			text:   []string{"3 IP fragments → 1 datagrams rebuilt", "1 datagrams missing fragments", "udp/0 ", "closed by client"},
			follow: true,
			summary: func(t *testing.T, sum map[string]any) {
				if sum["ip_fragments"] != 3.0 || sum["datagrams_rebuilt"] != 1.0 || sum["datagrams_incomplete"] != 1.0 || sum["udp_flows"] != 1.0 {
					t.Errorf("summary: ip_fragments %v datagrams_rebuilt %v datagrams_incomplete %v udp_flows %v, want 3, 1, 1, 1",
						sum["ip_fragments"], sum["datagrams_rebuilt"], sum["datagrams_incomplete"], sum["udp_flows"])
				}
			},
		},
		{
			name: "100k zero-length records, snaplen 0xffffffff",
			file: func() []byte {
				parts := [][]byte{hPcap(le, 0xffffffff)}
				for range 100_000 {
					parts = append(parts, hRec(le, 1, 0, 0, 0, nil))
				}
				for _, f := range conv {
					parts = append(parts, hRec(le, 2, 0, uint32(len(f)), 0xffffffff, f))
				}
				return bytes.Join(parts, nil)
			},
			text:   []string{"100000 malformed", "tcp/0 "},
			follow: true,
		},
	}
}

// TestHostileFiles runs read (text and JSON), timeline and follow over
// each hostile file.
func TestHostileFiles(t *testing.T) {
	for _, hf := range hostileFiles() {
		t.Run(hf.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "hostile")
			if err := os.WriteFile(path, hf.file(), 0o644); err != nil {
				t.Fatal(err)
			}
			out, errOut, code := runBounded(t, "read", path, "--all")
			if code != hf.code {
				t.Fatalf("read: exit %d, want %d: %s", code, hf.code, errOut)
			}
			checkTerminalSafe(t, "read", out, false)
			checkTerminalSafe(t, "read stderr", errOut, false)
			text := strings.ReplaceAll(out, path, "hostile")
			for _, w := range hf.text {
				if !strings.Contains(text, w) {
					t.Errorf("read output lacks %q:\n%s", w, text)
				}
			}
			if !strings.Contains(errOut, hf.stderr) {
				t.Errorf("read stderr %q lacks %q", errOut, hf.stderr)
			}

			out, _, code = runBounded(t, "read", path, "--format", "json")
			if code != hf.code {
				t.Errorf("read --format json: exit %d", code)
			}
			checkJSONLines(t, "read --format json", out)
			lines := strings.Split(strings.TrimSpace(out), "\n")
			var sum map[string]any
			if err := json.Unmarshal([]byte(lines[len(lines)-1]), &sum); err != nil || sum["type"] != "summary" {
				t.Fatalf("last JSON line is not the summary: %q", lines[len(lines)-1])
			}
			if hf.summary != nil {
				hf.summary(t, sum)
			}

			for _, args := range [][]string{
				{"timeline", path, "--all"},
				{"timeline", path, "--all", "--explain", "--ascii"},
			} {
				out, errOut, _ := runBounded(t, args...)
				checkTerminalSafe(t, strings.Join(args[2:], " "), out+errOut, false)
			}
			out, _, _ = runBounded(t, "timeline", path, "--all", "--format", "json")
			checkJSONLines(t, "timeline --format json", out)
			if !hf.follow {
				return
			}
			for _, args := range [][]string{
				{"follow", path, "tcp/0"},
				{"follow", path, "tcp/0", "--transcript"},
			} {
				out, errOut, code := runBounded(t, args...)
				if code != hf.code {
					t.Errorf("%v: exit %d: %s", args[2:], code, errOut)
				}
				checkTerminalSafe(t, strings.Join(args[2:], " "), out+errOut, false)
			}
			out, _, _ = runBounded(t, "follow", path, "tcp/0", "--format", "json")
			checkJSONLines(t, "follow --format json", out)
		})
	}
}

// TestErrorMessagesSayWhatWhereWhatToDo spot-checks that an error names
// what failed, where, and (through a hint or the message) what to do.
func TestErrorMessagesSayWhatWhereWhatToDo(t *testing.T) {
	dir := t.TempDir()
	damaged := filepath.Join(dir, "damaged.pcap")
	b := pcapOf(conversation(40000), 1)
	if err := os.WriteFile(damaged, append(b, hRec(binary.LittleEndian, 1, 0, 0xfffffff0, 0xfffffff0, nil)...), 0o644); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "good.pcap")
	if err := os.WriteFile(good, b, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		code int
		want []string
	}{
		{[]string{"read", filepath.Join(dir, "nope.pcap")}, 1, []string{"open capture", "nope.pcap", "no such file", "hint: check the path"}},
		{[]string{"read", t.TempDir()}, 2, []string{"has no capture files"}},
		{[]string{"read", dir}, 1, []string{"damaged.pcap", "its frame 9 at byte offset 594", "the other files were merged to their end", "every frame before it was analyzed"}},
		{[]string{"read", damaged}, 1, []string{"damaged.pcap", "frame 9 at byte offset 594", "record claims 4294967280 bytes", "every frame before it was analyzed"}},
		{[]string{"follow", good, "udp/3"}, 2, []string{"good.pcap", "has no udp/3", "1 TCP streams and 0 UDP flows"}},
		{[]string{"read", "-f", "tcp port", good}, 2, []string{`-f "tcp port"`, "offset 8", "expected a value"}},
		{[]string{"follow", good, "0", "--framing", "len:u99"}, 2, []string{"--framing", `"u99"`, "want u8, u16be"}},
	}
	for _, tt := range tests {
		_, errOut, code := runBounded(t, tt.args...)
		if code != tt.code {
			t.Errorf("%v: exit %d, want %d: %s", tt.args, code, tt.code, errOut)
		}
		for _, w := range tt.want {
			if !strings.Contains(errOut, w) {
				t.Errorf("%v: error %q lacks %q", tt.args, errOut, w)
			}
		}
	}
}
