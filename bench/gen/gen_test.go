package main

import (
	"bytes"
	"encoding/binary"
	"testing"
)

func generate(t *testing.T, cfg Config) ([]byte, Summary) {
	t.Helper()
	var buf bytes.Buffer
	sum, err := Generate(&buf, cfg)
	if err != nil {
		t.Fatalf("Generate(%+v): %v", cfg, err)
	}
	if int64(buf.Len()) != sum.Bytes {
		t.Fatalf("summary bytes %d, wrote %d", sum.Bytes, buf.Len())
	}
	return buf.Bytes(), sum
}

func TestDeterministic(t *testing.T) {
	cfg := Config{Mode: "mix", Seed: 42, Size: 256 << 10, Checksum: true}
	a, sa := generate(t, cfg)
	b, sb := generate(t, cfg)
	if !bytes.Equal(a, b) || sa != sb {
		t.Fatalf("same seed produced different output (%d vs %d bytes)", len(a), len(b))
	}
	cfg.Seed = 43
	c, _ := generate(t, cfg)
	if bytes.Equal(a, c) {
		t.Fatal("different seeds produced identical output")
	}
	sc1, _ := generate(t, Config{Mode: "scan", Seed: 1, Flows: 500})
	sc2, _ := generate(t, Config{Mode: "scan", Seed: 1, Flows: 500})
	if !bytes.Equal(sc1, sc2) {
		t.Fatal("scan mode is not deterministic")
	}
}

type tuple struct {
	a, b   uint32
	pa, pb uint16
}

// canon orders the endpoints so both directions map to one key; dir is 0
// when the packet goes a->b.
func canon(src, dst uint32, sp, dp uint16) (tuple, int) {
	if src < dst || (src == dst && sp < dp) {
		return tuple{src, dst, sp, dp}, 0
	}
	return tuple{dst, src, dp, sp}, 1
}

// verify walks every record and checks the structure a dissector relies on.
func verify(t *testing.T, data []byte, sum Summary, checksums bool) {
	t.Helper()
	if len(data) < pcapHdrLen {
		t.Fatal("short file")
	}
	if m := binary.LittleEndian.Uint32(data[0:]); m != 0xa1b2c3d4 {
		t.Fatalf("magic %#x", m)
	}
	if v := binary.LittleEndian.Uint16(data[4:]); v != 2 {
		t.Fatalf("major version %d", v)
	}
	if v := binary.LittleEndian.Uint16(data[6:]); v != 4 {
		t.Fatalf("minor version %d", v)
	}
	if lt := binary.LittleEndian.Uint32(data[20:]); lt != 1 {
		t.Fatalf("link type %d", lt)
	}
	type stream struct {
		id    int
		bytes int64
		sent  [2]uint32 // highest seq end seen per direction
		seen  [2]bool
	}
	streams := map[tuple]*stream{}
	var order []*stream
	var pkts int64
	var lastTS uint64
	udpFlows := map[tuple]bool{}
	p := data[pcapHdrLen:]
	for len(p) > 0 {
		if len(p) < recHdrLen {
			t.Fatalf("packet %d: truncated record header", pkts)
		}
		sec := binary.LittleEndian.Uint32(p[0:])
		usec := binary.LittleEndian.Uint32(p[4:])
		incl := int(binary.LittleEndian.Uint32(p[8:]))
		orig := int(binary.LittleEndian.Uint32(p[12:]))
		if usec >= 1e6 || incl != orig || incl > snapLen || len(p) < recHdrLen+incl {
			t.Fatalf("packet %d: bad record header usec=%d incl=%d orig=%d", pkts, usec, incl, orig)
		}
		if ts := uint64(sec)*1e6 + uint64(usec); ts < lastTS {
			t.Fatalf("packet %d: time goes backwards", pkts)
		} else {
			lastTS = ts
		}
		f := p[recHdrLen : recHdrLen+incl]
		p = p[recHdrLen+incl:]
		pkts++
		if binary.BigEndian.Uint16(f[12:]) != 0x0800 {
			t.Fatalf("packet %d: ethertype %#x", pkts, binary.BigEndian.Uint16(f[12:]))
		}
		ip := f[ethLen:]
		if ip[0] != 0x45 {
			t.Fatalf("packet %d: version/IHL %#x", pkts, ip[0])
		}
		if tl := int(binary.BigEndian.Uint16(ip[2:])); tl != len(ip) {
			t.Fatalf("packet %d: IP total length %d, frame carries %d", pkts, tl, len(ip))
		}
		if csumFold(csumAdd(0, ip[:ipLen])) != 0xffff {
			t.Fatalf("packet %d: bad IPv4 header checksum", pkts)
		}
		src, dst := binary.BigEndian.Uint32(ip[12:]), binary.BigEndian.Uint32(ip[16:])
		l4 := ip[ipLen:]
		if checksums && csumFold(csumAdd(pseudoSum(src, dst, ip[9], len(l4)), l4)) != 0xffff {
			t.Fatalf("packet %d: bad L4 checksum", pkts)
		}
		sp, dp := binary.BigEndian.Uint16(l4[0:]), binary.BigEndian.Uint16(l4[2:])
		key, dir := canon(src, dst, sp, dp)
		switch ip[9] {
		case 17:
			if ul := int(binary.BigEndian.Uint16(l4[4:])); ul != len(l4) {
				t.Fatalf("packet %d: UDP length %d, have %d", pkts, ul, len(l4))
			}
			udpFlows[key] = true
		case 6:
			thl := int(l4[12]>>4) * 4
			if thl < 20 || thl > len(l4) {
				t.Fatalf("packet %d: TCP header length %d", pkts, thl)
			}
			seq, ack := binary.BigEndian.Uint32(l4[4:]), binary.BigEndian.Uint32(l4[8:])
			flags := l4[13]
			s := streams[key]
			if s == nil {
				if flags != fSYN {
					t.Fatalf("packet %d: stream %d starts with flags %#x, want SYN", pkts, len(order), flags)
				}
				s = &stream{id: len(order)}
				streams[key] = s
				order = append(order, s)
			}
			s.bytes += int64(len(f))
			end := seq + uint32(len(l4)-thl)
			if flags&(fSYN|fFIN) != 0 {
				end++
			}
			if !s.seen[dir] || seqGT(end, s.sent[dir]) {
				s.sent[dir], s.seen[dir] = end, true
			}
			if flags&fACK != 0 && s.seen[1-dir] && seqGT(ack, s.sent[1-dir]) {
				t.Fatalf("packet %d: stream %d ACKs unseen data (ack %d > %d)", pkts, s.id, ack, s.sent[1-dir])
			}
		default:
			t.Fatalf("packet %d: IP protocol %d", pkts, ip[9])
		}
	}
	if pkts != sum.Packets {
		t.Errorf("packets: counted %d, summary %d", pkts, sum.Packets)
	}
	if len(order) != sum.TCPConns {
		t.Errorf("TCP streams: counted %d, summary %d", len(order), sum.TCPConns)
	}
	if len(udpFlows) != sum.UDPFlows {
		t.Errorf("UDP flows: counted %d, summary %d", len(udpFlows), sum.UDPFlows)
	}
	largest := -1
	var lb int64
	for _, s := range order {
		if s.bytes > lb {
			largest, lb = s.id, s.bytes
		}
	}
	if largest != sum.Largest || lb != sum.LargestBytes {
		t.Errorf("largest stream: counted %d (%d bytes), summary %d (%d bytes)", largest, lb, sum.Largest, sum.LargestBytes)
	}
}

func TestStructureMix(t *testing.T) {
	for _, cs := range []bool{true, false} {
		data, sum := generate(t, Config{Mode: "mix", Seed: 3, Size: 2 << 20, Checksum: cs})
		if sum.TCPConns < 150 || sum.UDPFlows == 0 || sum.Bulk == 0 {
			t.Fatalf("unexpectedly small mix: %v", sum)
		}
		verify(t, data, sum, cs)
	}
}

func TestStructureScan(t *testing.T) {
	data, sum := generate(t, Config{Mode: "scan", Seed: 5, Flows: 20000, Checksum: true})
	if sum.TCPConns != 20000 {
		t.Fatalf("scan: %d streams, want 20000", sum.TCPConns)
	}
	verify(t, data, sum, true)
}

func TestFirstRecords(t *testing.T) {
	data, _ := generate(t, Config{Mode: "mix", Seed: 9, Size: 1 << 20, Checksum: true})
	// First record: a SYN with MSS/SACK_PERM/TS/NOP/WS options (40-byte TCP header).
	r := data[pcapHdrLen:]
	incl := int(binary.LittleEndian.Uint32(r[8:]))
	if incl != ethLen+ipLen+40 {
		t.Fatalf("first frame is %d bytes, want %d", incl, ethLen+ipLen+40)
	}
	tcp := r[recHdrLen+ethLen+ipLen:]
	if tcp[13] != fSYN || tcp[12]>>4 != 10 {
		t.Fatalf("first packet flags %#x data offset %d", tcp[13], tcp[12]>>4)
	}
	opts := tcp[20:40]
	if opts[0] != 2 || binary.BigEndian.Uint16(opts[2:]) != 1460 || opts[4] != 4 || opts[6] != 8 || opts[17] != 3 {
		t.Fatalf("SYN options % x", opts)
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"1GB": 1 << 30, "100MB": 100 << 20, "1.5g": 3 << 29, "4096": 4096, "20MiB": 20 << 20} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	if _, err := parseSize("lots"); err == nil {
		t.Error("parseSize(lots) succeeded")
	}
}
