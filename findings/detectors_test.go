package findings

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sockscope/sockscope/capture"
	"github.com/sockscope/sockscope/internal/pcapgen"
	"github.com/sockscope/sockscope/reassembly"
)

var (
	cliAddr = netip.MustParseAddr("10.0.0.1")
	srvAddr = netip.MustParseAddr("10.0.0.2")
	srvEP   = netip.AddrPortFrom(srvAddr, 8080)
)

// newConn starts connection n (client port 40000+n) at time at.
func newConn(c *pcapgen.Capture, n int, at time.Time) *pcapgen.Conn {
	k := pcapgen.NewConn(c, netip.AddrPortFrom(cliAddr, uint16(40000+n)), srvEP, 1000, 5000)
	k.T = at
	return k
}

// wait advances the connection's clock by d before its next packet.
func wait(k *pcapgen.Conn, d time.Duration) { k.T = k.T.Add(d) }

// closeBoth writes FIN from each side, acknowledged.
func closeBoth(k *pcapgen.Conn) {
	k.Fin(0)
	k.Fin(1)
	k.Ack(0)
}

// ofKind returns the findings of kind k.
func ofKind(fs []Finding, k Kind) []Finding {
	var out []Finding
	for _, f := range fs {
		if f.Kind == k {
			out = append(out, f)
		}
	}
	return out
}

type detectorCase struct {
	name  string
	cfg   Config
	build func(c *pcapgen.Capture)
	want  int      // findings of the kind expected
	sev   Severity // of the first one, when want > 0
	has   []string // substrings of its message and details
}

func runCases(t *testing.T, kind Kind, cases []detectorCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &pcapgen.Capture{}
			tc.build(c)
			fs := analyze(t, tc.name, c.Bytes(), tc.cfg)
			got := ofKind(fs, kind)
			if len(got) != tc.want {
				t.Fatalf("%d %s findings, want %d; all: %s", len(got), kind, tc.want, describe(fs))
			}
			if tc.want == 0 {
				return
			}
			f := got[0]
			if f.Severity != tc.sev {
				t.Errorf("severity %s, want %s: %s", f.Severity, tc.sev, f.Message)
			}
			text := f.Message + "\n" + strings.Join(f.Details, "\n")
			for _, h := range tc.has {
				if !strings.Contains(text, h) {
					t.Errorf("missing %q in:\n%s", h, text)
				}
			}
			if len(f.Streams) == 0 && kind != KindDrops {
				t.Errorf("no streams as evidence")
			}
			if f.Message == "" || strings.Count(f.Message, ". ") > 0 {
				t.Errorf("message is not one sentence: %q", f.Message)
			}
		})
	}
}

func describe(fs []Finding) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "\n  %s %s: %s", f.Severity, f.Kind, f.Message)
	}
	return b.String()
}

// probe writes SYNs from one scanner to n targets; open lists which targets
// (by index) answer SYN-ACK (then the scanner resets), the others RST.
func probe(c *pcapgen.Capture, n int, open []int, hosts bool) {
	scanner := netip.AddrPortFrom(netip.MustParseAddr("10.0.0.9"), 50000)
	t := pcapgen.Epoch
	for i := range n {
		dst := netip.AddrPortFrom(srvAddr, uint16(1+i))
		if hosts {
			dst = netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 1, byte(1 + i)}), 22)
		}
		c.TCP(t, pcapgen.Segment{Src: scanner, Dst: dst, Seq: 77, Flags: pcapgen.SYN})
		t = t.Add(10 * time.Microsecond)
		if slices.Contains(open, i) {
			c.TCP(t, pcapgen.Segment{Src: dst, Dst: scanner, Seq: 900, Ack: 78, Flags: pcapgen.SYN | pcapgen.ACK})
			c.TCP(t.Add(time.Microsecond), pcapgen.Segment{Src: scanner, Dst: dst, Seq: 78, Flags: pcapgen.RST})
		} else {
			c.TCP(t, pcapgen.Segment{Src: dst, Dst: scanner, Ack: 78, Flags: pcapgen.RST | pcapgen.ACK})
		}
		t = t.Add(10 * time.Microsecond)
	}
}

func TestPortScan(t *testing.T) {
	runCases(t, KindPortScan, []detectorCase{
		{name: "19 ports refused: below threshold", build: func(c *pcapgen.Capture) { probe(c, 19, nil, false) }},
		{name: "20 ports refused", build: func(c *pcapgen.Capture) { probe(c, 20, nil, false) }, want: 1, sev: Warning,
			has: []string{"10.0.0.9 sent SYNs to 20 ports on 10.0.0.2", "20 refused", "none open"}},
		{name: "20 ports, 4 open: 80% failed", build: func(c *pcapgen.Capture) { probe(c, 20, []int{1, 2, 3, 9}, false) }, want: 1, sev: Warning,
			has: []string{"16 refused", "4 open: 2, 3, 4, 10"}},
		{name: "20 ports, 5 open: 75% failed", build: func(c *pcapgen.Capture) { probe(c, 20, []int{1, 2, 3, 4, 9}, false) }},
		{name: "20 hosts on one port", build: func(c *pcapgen.Capture) { probe(c, 20, nil, true) }, want: 1, sev: Warning,
			has: []string{"20 address:ports (20 hosts, 1 port)"}},
		{name: "threshold lowered to 10", cfg: Config{ScanMinTargets: 10}, build: func(c *pcapgen.Capture) { probe(c, 10, nil, false) }, want: 1, sev: Warning},
		{name: "many ordinary connections to one port", build: func(c *pcapgen.Capture) {
			for i := range 30 {
				k := newConn(c, i, pcapgen.Epoch.Add(time.Duration(i)*time.Millisecond))
				k.Handshake()
				closeBoth(k)
			}
		}},
	})
}

// trickle writes n segments of size bytes from the client, gap apart, then
// the rest of a request and a response.
func trickle(n, size int, gap time.Duration) func(c *pcapgen.Capture) {
	return func(c *pcapgen.Capture) {
		k := newConn(c, 0, pcapgen.Epoch)
		k.Handshake()
		for i := range n {
			if i > 0 {
				wait(k, gap)
			}
			k.Send(0, bytes.Repeat([]byte{'x'}, size))
			k.Ack(1)
		}
		k.Send(0, bytes.Repeat([]byte{'y'}, 100))
		k.Send(1, []byte("ok\n"))
		closeBoth(k)
	}
}

func TestSlowSender(t *testing.T) {
	runCases(t, KindSlowSender, []detectorCase{
		{name: "5 bytes 1 s apart", build: trickle(5, 1, time.Second), want: 1, sev: Warning,
			has: []string{"client trickled 5 B in 5 segments of at most 1 B over 4.0", "one segment every 1.000 s"}},
		{name: "4 segments: below threshold", build: trickle(4, 1, time.Second)},
		{name: "gap at threshold 500 ms", build: trickle(5, 1, 500*time.Millisecond), want: 1, sev: Warning},
		{name: "gap just below 500 ms", build: trickle(5, 1, 499*time.Millisecond)},
		{name: "16-byte segments count", build: trickle(5, 16, time.Second), want: 1, sev: Warning},
		{name: "17-byte segments do not", build: trickle(5, 17, time.Second)},
		{name: "tuned: 3 segments", cfg: Config{SlowMinSegments: 3}, build: trickle(3, 1, time.Second), want: 1, sev: Warning},
		{name: "held open 61 s with 10 bytes", build: func(c *pcapgen.Capture) {
			k := newConn(c, 0, pcapgen.Epoch)
			k.Handshake()
			k.Send(0, []byte("0123456789"))
			wait(k, 61*time.Second)
			closeBoth(k)
		}, want: 1, sev: Info, has: []string{"held open for 61.", "carrying only 10 B"}},
		{name: "held open 59 s", build: func(c *pcapgen.Capture) {
			k := newConn(c, 0, pcapgen.Epoch)
			k.Handshake()
			k.Send(0, []byte("0123456789"))
			wait(k, 59*time.Second)
			closeBoth(k)
		}},
	})
}

// zeroWindow: the server's window is zero for d; the client sends probes.
func zeroWindow(d time.Duration, probes int) func(c *pcapgen.Capture) {
	return func(c *pcapgen.Capture) {
		k := newConn(c, 0, pcapgen.Epoch)
		k.Handshake()
		k.Send(0, bytes.Repeat([]byte{'a'}, 1000))
		if d == 0 {
			closeBoth(k)
			return
		}
		// The server acknowledges with a zero window.
		c.TCP(k.T, pcapgen.Segment{Src: srvEP, Dst: k.Client, Seq: k.Seq(1), Ack: k.Seq(0), Flags: pcapgen.ACK, ZeroWindow: true})
		start := k.T
		for i := range probes {
			at := start.Add(time.Duration(i+1) * d / time.Duration(probes+1))
			c.TCP(at, pcapgen.Segment{Src: k.Client, Dst: srvEP, Seq: k.Seq(0) + uint32(i), Ack: k.Seq(1), Flags: pcapgen.ACK, Payload: []byte{'b'}})
			c.TCP(at.Add(time.Microsecond), pcapgen.Segment{Src: srvEP, Dst: k.Client, Seq: k.Seq(1), Ack: k.Seq(0), Flags: pcapgen.ACK, ZeroWindow: true})
		}
		k.T = start.Add(d)
		k.Ack(1) // window update (65535)
		k.Skip(0, probes)
		k.Send(0, []byte("rest"))
		closeBoth(k)
	}
}

func TestZeroWindow(t *testing.T) {
	runCases(t, KindZeroWindow, []detectorCase{
		{name: "100 ms: info", build: zeroWindow(100*time.Millisecond, 0), want: 1, sev: Info,
			has: []string{"server's receive window was zero for 100.0 ms (1 period", "client was blocked from sending for 100.0 ms"}},
		{name: "200 ms: warning at threshold", build: zeroWindow(200*time.Millisecond, 0), want: 1, sev: Warning},
		{name: "2 s with 3 probes", build: zeroWindow(2*time.Second, 3), want: 1, sev: Warning, has: []string{"3 zero-window probes"}},
		{name: "no zero window", build: zeroWindow(0, 0)},
	})
}

// nagle writes n rounds of: server small data, client ACK after delay, the
// server's next data after follow.
func nagle(n int, delay, follow time.Duration) func(c *pcapgen.Capture) {
	return func(c *pcapgen.Capture) {
		k := newConn(c, 0, pcapgen.Epoch)
		k.Handshake()
		for range n {
			k.Send(0, []byte("GET / HTTP/1.1\r\n\r\n"))
			k.Send(1, bytes.Repeat([]byte{'h'}, 150)) // headers
			wait(k, delay)
			k.Ack(0)
			wait(k, follow)
			k.Send(1, bytes.Repeat([]byte{'b'}, 500)) // body
			k.Ack(0)
			wait(k, 100*time.Millisecond)
		}
		closeBoth(k)
	}
}

func TestDelayedACK(t *testing.T) {
	runCases(t, KindDelayedACK, []detectorCase{
		{name: "2 stalls of 40 ms", build: nagle(2, 40*time.Millisecond, 50*time.Microsecond), want: 1, sev: Warning,
			has: []string{"2 stalls", "first stall: data frame 5, delayed ACK frame 6"}},
		{name: "1 stall: below threshold", build: nagle(1, 40*time.Millisecond, 50*time.Microsecond)},
		{name: "2 stalls of 200 ms", build: nagle(2, 200*time.Millisecond, 50*time.Microsecond), want: 1, sev: Warning},
		{name: "47.9 ms is within 20%", build: nagle(2, 47900*time.Microsecond, 50*time.Microsecond), want: 1, sev: Warning},
		{name: "49 ms is not", build: nagle(2, 49*time.Millisecond, 50*time.Microsecond)},
		{name: "60 ms is not", build: nagle(3, 60*time.Millisecond, 50*time.Microsecond)},
		{name: "next data 10 ms after the ACK: not held", build: nagle(3, 40*time.Millisecond, 10*time.Millisecond)},
		{name: "immediate ACKs", build: nagle(3, 100*time.Microsecond, 50*time.Microsecond)},
	})
}

// bulk: the server sends n 1000-byte segments; resend lists indexes sent
// again right after, rtoGap delays one extra resend of the last segment.
func bulk(n int, resend []int, rtoGap time.Duration) func(c *pcapgen.Capture) {
	return func(c *pcapgen.Capture) {
		k := newConn(c, 0, pcapgen.Epoch)
		k.Handshake()
		k.Send(0, []byte("GET /big\n"))
		for i := range n {
			seq := k.Seq(1)
			p := bytes.Repeat([]byte{byte('a' + i%26)}, 1000)
			k.Send(1, p)
			if slices.Contains(resend, i) {
				k.Raw(1, seq, pcapgen.ACK|pcapgen.PSH, p)
			}
			if rtoGap > 0 && i == n-1 {
				wait(k, rtoGap)
				k.Raw(1, seq, pcapgen.ACK|pcapgen.PSH, p)
			}
		}
		k.Ack(0)
		closeBoth(k)
	}
}

func TestRetransmission(t *testing.T) {
	runCases(t, KindRetransmit, []detectorCase{
		{name: "none", build: bulk(20, nil, 0)},
		{name: "1 in 21: warning above 1%", build: bulk(20, []int{5}, 0), want: 1, sev: Warning,
			has: []string{"s→c 1 of 21 data segments (4.8%)", "1 retransmission, 0 out of order"}},
		{name: "1 in 21 with a 10% threshold: info", cfg: Config{RetransWarnPercent: 10}, build: bulk(20, []int{5}, 0), want: 1, sev: Info},
		{name: "min 2: one is not enough", cfg: Config{RetransMin: 2}, build: bulk(20, []int{5}, 0)},
		{name: "timeout after 300 ms", cfg: Config{RetransWarnPercent: 50}, build: bulk(20, nil, 300*time.Millisecond), want: 1, sev: Warning,
			has: []string{"1 retransmission timeout, the longest after 300."}},
		{name: "resend after 150 ms is no timeout", cfg: Config{RetransWarnPercent: 50}, build: bulk(20, nil, 150*time.Millisecond), want: 1, sev: Info},
	})
}

func TestResetsAndUnclosed(t *testing.T) {
	resetAfterData := func(c *pcapgen.Capture) {
		k := newConn(c, 0, pcapgen.Epoch)
		k.Handshake()
		k.Send(0, []byte("hello\n"))
		k.Rst(1)
	}
	runCases(t, KindReset, []detectorCase{
		{name: "server resets after data", build: resetAfterData, want: 1, sev: Warning,
			has: []string{"1 connection ended with a reset (RST): 0 by the client, 1 by the server", "reset by server after 6 B (RST in frame 5)"}},
		{name: "closed normally", build: trickle(1, 10, 0)},
		{name: "client resets during the handshake (no scan)", build: func(c *pcapgen.Capture) {
			k := newConn(c, 0, pcapgen.Epoch)
			k.Raw(0, 1000, pcapgen.SYN, nil)
			k.Raw(1, 5000, pcapgen.SYN|pcapgen.ACK, nil)
			k.Raw(0, 1001, pcapgen.RST, nil)
		}, want: 1, sev: Info},
		{name: "scanner resets are the scan's", build: func(c *pcapgen.Capture) { probe(c, 20, []int{3}, false) }},
	})
	openFor := func(quiet time.Duration, half bool) func(c *pcapgen.Capture) {
		return func(c *pcapgen.Capture) {
			k := newConn(c, 0, pcapgen.Epoch)
			k.Handshake()
			k.Send(0, []byte("hello\n"))
			if half {
				k.Fin(0)
			}
			// Another connection keeps the capture going.
			k2 := newConn(c, 1, k.T.Add(quiet))
			k2.Handshake()
			closeBoth(k2)
		}
	}
	runCases(t, KindUnclosed, []detectorCase{
		{name: "open, quiet 30 s: info", build: openFor(30*time.Second, false), want: 1, sev: Info,
			has: []string{"1 connection was still open at the end of the capture (0 half-closed)", "tcp/0: open at end of capture"}},
		{name: "open, quiet 60 s: warning", build: openFor(60*time.Second, false), want: 1, sev: Warning, has: []string{"possible socket leak"}},
		{name: "half-closed", build: openFor(time.Second, true), want: 1, sev: Info, has: []string{"(1 half-closed)", "the server never closed its side"}},
		{name: "all closed", build: trickle(1, 10, 0)},
	})
}

func TestServicesAndRefused(t *testing.T) {
	build := func(accepted, refused int) func(c *pcapgen.Capture) {
		return func(c *pcapgen.Capture) {
			for i := range accepted {
				k := newConn(c, i, pcapgen.Epoch.Add(time.Duration(i)*time.Millisecond))
				k.Handshake()
				closeBoth(k)
			}
			for i := range refused {
				k := newConn(c, 100+i, pcapgen.Epoch.Add(time.Second+time.Duration(i)*time.Millisecond))
				k.Raw(0, 1000, pcapgen.SYN, nil)
				c.TCP(k.T, pcapgen.Segment{Src: srvEP, Dst: k.Client, Ack: 1001, Flags: pcapgen.RST | pcapgen.ACK})
			}
		}
	}
	runCases(t, KindServices, []detectorCase{
		{name: "2 accepted", build: build(2, 0), want: 1, sev: Info, has: []string{"1 listening service accepted connections: 10.0.0.2:8080 (2 connections)"}},
		{name: "only refused", build: build(0, 1)},
	})
	runCases(t, KindRefused, []detectorCase{
		{name: "none refused", build: build(2, 0)},
		{name: "1 refused", build: build(0, 1), want: 1, sev: Info, has: []string{"1 connection attempt was refused (SYN answered by RST) on 1 closed port: 10.0.0.2 port 8080"}},
		{name: "refused and accepted: backlog?", build: build(2, 3), want: 1, sev: Warning, has: []string{"10.0.0.2:8080 refused 3 but accepted 2"}},
	})
}

// exchange writes one connection whose client sends each of c2s as a
// segment and the server each of s2c, on the given addresses.
func exchange(client, server netip.AddrPort, c2s, s2c [][]byte) func(c *pcapgen.Capture) {
	return func(c *pcapgen.Capture) {
		k := pcapgen.NewConn(c, client, server, 1000, 5000)
		k.Handshake()
		for i := range max(len(c2s), len(s2c)) {
			if i < len(c2s) {
				k.Send(0, c2s[i])
			}
			if i < len(s2c) {
				k.Send(1, s2c[i])
			}
		}
		closeBoth(k)
	}
}

func segs(s ...string) [][]byte {
	var out [][]byte
	for _, x := range s {
		out = append(out, []byte(x))
	}
	return out
}

func TestCleartextAndTLS(t *testing.T) {
	lo := netip.MustParseAddrPort("127.0.0.1:40000")
	loSrv := netip.MustParseAddrPort("127.0.0.1:8080")
	cli := netip.AddrPortFrom(cliAddr, 40000)
	srv9000 := netip.AddrPortFrom(srvAddr, 9000)
	hello := []byte{0x16, 0x03, 0x01, 0x00, 0x08, 0x01, 0x00, 0x00, 0x04, 0x03, 0x03, 0x00, 0x00}
	binaryBytes := []byte{0x00, 0xff, 0x13, 0x37, 0x42, 0x00, 0x01}
	http := segs("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	runCases(t, KindCleartext, []detectorCase{
		{name: "HTTP on loopback: info", build: exchange(lo, loSrv, http, segs("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")), want: 1, sev: Info,
			has: []string{"127.0.0.1:8080 served HTTP/1 in cleartext over 1 connection from 1 client address (on loopback only)"}},
		{name: "HTTP across the network: warning", build: exchange(cli, srvEP, http, nil), want: 1, sev: Warning, has: []string{"across the network"}},
		{name: "Redis", build: exchange(cli, srvEP, segs("*1\r\n$4\r\nPING\r\n"), segs("+PONG\r\n")), want: 1, sev: Warning, has: []string{"Redis (RESP)"}},
		{name: "text lines", build: exchange(cli, srv9000, segs("hello\n"), segs("world\n")), want: 1, sev: Warning, has: []string{"text lines"}},
		{name: "TLS is not cleartext", build: exchange(cli, srvEP, [][]byte{hello}, nil)},
		{name: "binary is not called cleartext", build: exchange(cli, srv9000, [][]byte{binaryBytes}, nil)},
		{name: "binary on port 8080 is not HTTP", build: exchange(cli, srvEP, [][]byte{binaryBytes}, nil)},
		{name: "no payload", build: exchange(cli, srvEP, nil, nil)},
	})
	runCases(t, KindTLS, []detectorCase{
		{name: "ClientHello", build: exchange(cli, srvEP, [][]byte{hello}, nil), want: 1, sev: Info, has: []string{"10.0.0.2:8080 spoke TLS (encrypted) on 1 connection"}},
		{name: "HTTP is not TLS", build: exchange(cli, srvEP, http, nil)},
	})
}

func lenMsgs(w int, msgs ...string) []byte {
	var b []byte
	for _, m := range msgs {
		if w == 4 {
			b = binary.BigEndian.AppendUint32(b, uint32(len(m)))
		} else {
			b = binary.BigEndian.AppendUint16(b, uint16(len(m)))
		}
		b = append(b, m...)
	}
	return b
}

func TestFramingHazard(t *testing.T) {
	cli := netip.AddrPortFrom(cliAddr, 40000)
	srv := netip.AddrPortFrom(srvAddr, 9000)
	m := lenMsgs(4, "one", "two", "three")
	runCases(t, KindFramingHazard, []detectorCase{
		{name: "one line per segment", build: exchange(cli, srv, segs("a\n", "b\n", "c\n"), segs("ok\n"))},
		{name: "two lines in one segment", build: exchange(cli, srv, segs("a\nb\n", "c\n"), segs("ok\n")), want: 1, sev: Info,
			has: []string{"line framing", "c→s 1 segment carried several messages", "worst coalescing: c→s frame 4 carried 2 messages"}},
		{name: "a line split in two", build: exchange(cli, srv, segs("hel", "lo\n", "x\n"), segs("ok\n")), want: 1, sev: Info,
			has: []string{"c→s 1 of 2 messages split across segments", "worst split: c→s message #1 (6 B) came in 2 segments, frames 4–"}},
		{name: "hazard-min 2", cfg: Config{HazardMin: 2}, build: exchange(cli, srv, segs("hel", "lo\n", "x\n"), segs("ok\n"))},
		{name: "length prefix, one per segment", build: exchange(cli, srv, [][]byte{lenMsgs(4, "one"), lenMsgs(4, "two"), lenMsgs(4, "three")}, nil)},
		{name: "length prefix, split header", build: exchange(cli, srv, [][]byte{m[:2], m[2:9], m[9:]}, nil), want: 1, sev: Info,
			has: []string{"len:u32be framing", "guessed"}},
		{name: "u16 length prefix coalesced", build: exchange(cli, srv, [][]byte{lenMsgs(2, "one", "two", "three")}, nil), want: 1, sev: Info,
			has: []string{"len:u16be", "1 segment carried several messages"}},
		{name: "HTTP is not checked by default", build: exchange(cli, srv, segs("GET / HT", "TP/1.1\r\n\r\n"), nil)},
		{name: "HTTP when asked", cfg: Config{HazardFramings: []string{"http1"}}, build: exchange(cli, srv, segs("GET / HT", "TP/1.1\r\n\r\n"), nil), want: 1, sev: Info},
	})
}

func TestArtifacts(t *testing.T) {
	midstream := func(c *pcapgen.Capture) {
		k := newConn(c, 0, pcapgen.Epoch)
		k.Send(0, []byte("data"))
		k.Send(1, []byte("more"))
		closeBoth(k)
	}
	oneSided := func(c *pcapgen.Capture) {
		k := newConn(c, 0, pcapgen.Epoch)
		k.Send(0, []byte("data"))
		k.Send(0, []byte("more"))
	}
	offload := func(c *pcapgen.Capture) {
		k := newConn(c, 0, pcapgen.Epoch)
		k.MSS = 1460
		k.Handshake()
		k.Send(0, bytes.Repeat([]byte{'x'}, 3000))
		closeBoth(k)
	}
	snap := func(c *pcapgen.Capture) {
		c.Snaplen = 80
		k := newConn(c, 0, pcapgen.Epoch)
		k.Handshake()
		k.Send(0, bytes.Repeat([]byte{'x'}, 500))
		closeBoth(k)
	}
	normal := trickle(1, 10, 0)
	runCases(t, KindMidstream, []detectorCase{
		{name: "no SYN", build: midstream, want: 1, sev: Info, has: []string{"1 connection had opened"}},
		{name: "handshake seen", build: normal},
	})
	runCases(t, KindOneSided, []detectorCase{
		{name: "client only", build: oneSided, want: 1, sev: Info, has: []string{"tcp/0: only c→s captured (2 packets, 8 B), nothing from 10.0.0.2:8080"}},
		{name: "both ways", build: midstream},
		{name: "unanswered SYN is not one-sided", build: func(c *pcapgen.Capture) { newConn(c, 0, pcapgen.Epoch).Raw(0, 1000, pcapgen.SYN, nil) }},
	})
	runCases(t, KindOffload, []detectorCase{
		{name: "3000 B over MSS 1460", build: offload, want: 1, sev: Info, has: []string{"1 segment was larger than the MSS on 1 stream"}},
		{name: "within MSS", build: normal},
	})
	runCases(t, KindSnaplen, []detectorCase{
		{name: "cut at 80 bytes", build: snap, want: 1, sev: Warning, has: []string{"cut by the snapshot length (80 bytes)"}},
		{name: "whole frames", build: normal},
	})
}

func TestLimitsAndDrops(t *testing.T) {
	long := strings.Repeat("z", 200) + "\n"
	runCases(t, KindLimit, []detectorCase{
		{name: "line longer than the framer buffer", cfg: Config{FramerBuffer: 64, SniffBytes: 32},
			build: exchange(netip.AddrPortFrom(cliAddr, 40000), netip.AddrPortFrom(srvAddr, 9000), segs("hi\n", long[:50], long[50:150], long[150:]), nil),
			want:  1, sev: Info, has: []string{"1 direction stopped framing-hazard checks"}},
		{name: "within the buffer", build: exchange(netip.AddrPortFrom(cliAddr, 40000), netip.AddrPortFrom(srvAddr, 9000), segs("hi\n", long[:50], long[50:]), nil)},
	})
	for _, tc := range []struct {
		known   bool
		dropped uint64
		want    int
	}{{false, 0, 0}, {true, 0, 0}, {true, 7, 1}} {
		fs := ofKind(New(Config{}).Finish(Summary{DropsKnown: tc.known, Dropped: tc.dropped, Received: 100}), KindDrops)
		if len(fs) != tc.want {
			t.Errorf("known %v dropped %d: %d kernel_drops findings, want %d", tc.known, tc.dropped, len(fs), tc.want)
		}
		if tc.want > 0 && !strings.Contains(fs[0].Message, "dropped 7 of 100 packets") {
			t.Errorf("message %q", fs[0].Message)
		}
	}
}

func TestSortOrder(t *testing.T) {
	fs := []Finding{
		{Kind: KindServices, Severity: Info, Streams: []StreamRef{{capture.ProtoTCP, 0}}},
		{Kind: KindCleartext, Severity: Warning, Streams: []StreamRef{{capture.ProtoTCP, 3}}},
		{Kind: KindPortScan, Severity: Warning, Streams: []StreamRef{{capture.ProtoTCP, 5}}},
		{Kind: KindCleartext, Severity: Warning, Streams: []StreamRef{{capture.ProtoTCP, 1}}},
		{Kind: KindDrops, Severity: Warning},
	}
	Sort(fs)
	var got []string
	for _, f := range fs {
		got = append(got, fmt.Sprintf("%s/%s/%v", f.Severity, f.Kind, f.Streams))
	}
	want := []string{"warning/port_scan/[tcp/5]", "warning/cleartext/[tcp/1]", "warning/cleartext/[tcp/3]", "warning/kernel_drops/[]", "info/listening_services/[tcp/0]"}
	if !slices.Equal(got, want) {
		t.Errorf("order %v, want %v", got, want)
	}
}

// TestPopAndHooks: Hooks keeps the caller's own hooks; Pop hands out the
// per-stream findings once each, as their streams are delivered.
func TestPopAndHooks(t *testing.T) {
	c := &pcapgen.Capture{}
	trickle(6, 1, time.Second)(c)
	src, err := capture.NewReader("gen", bytes.NewReader(c.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	e := New(Config{})
	var streams, packets int
	tr := reassembly.NewTracker(e.Hooks(reassembly.Options{
		OnStream: func(*reassembly.Stream) { streams++ },
		OnPacket: func(*reassembly.Stream, *reassembly.PacketRecord) { packets++ },
	}))
	for {
		var p capture.Packet
		if src.Next(&p) != nil {
			break
		}
		tr.Add(&p)
		if got := e.Pop(); len(got) > 0 {
			t.Fatalf("finding before the stream finished: %v", got)
		}
	}
	tr.Finish()
	got := e.Pop()
	if len(got) != 1 || got[0].Kind != KindSlowSender {
		t.Fatalf("Pop after the stream: %s", describe(got))
	}
	if again := e.Pop(); len(again) != 0 {
		t.Errorf("Pop returned findings twice")
	}
	all := e.Finish(Summary{Stats: tr.Stats})
	if len(ofKind(all, KindSlowSender)) != 1 || streams != 1 || packets == 0 {
		t.Errorf("Finish %s; own hooks: %d streams %d packets", describe(all), streams, packets)
	}
}
