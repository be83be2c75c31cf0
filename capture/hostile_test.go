package capture

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Hostile files: every case must end in bounded time and memory, return the
// frames before the damage, and say where and why it stopped (a
// *DamageError) — or, when the file's framing is intact, mark the one bad
// frame (Packet.Issue) and carry on with the rest.

// finishWithin is how long any single hostile input may take. It is a bound
// on runaway loops, not a speed assertion: every case takes milliseconds.
const finishWithin = 2 * time.Minute

// --- file builders ---------------------------------------------------------

type byteOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

func pcapHeader(order byteOrder, nanos bool, snaplen uint32, link uint32) []byte {
	h := make([]byte, 24)
	magic := uint32(0xa1b2c3d4)
	if nanos {
		magic = 0xa1b23c4d
	}
	order.PutUint32(h[0:], magic)
	order.PutUint16(h[4:], 2)
	order.PutUint16(h[6:], 4)
	order.PutUint32(h[16:], snaplen)
	order.PutUint32(h[20:], link)
	return h
}

// pcapRecord is a record header claiming incl/orig bytes, followed by data
// (which may be shorter or longer than incl, to build damaged files).
func pcapRecord(order byteOrder, sec, frac, incl, orig uint32, data []byte) []byte {
	h := make([]byte, 16, 16+len(data))
	order.PutUint32(h[0:], sec)
	order.PutUint32(h[4:], frac)
	order.PutUint32(h[8:], incl)
	order.PutUint32(h[12:], orig)
	return append(h, data...)
}

func pcapFrame(sec uint32, data []byte) []byte {
	return pcapRecord(binary.LittleEndian, sec, 0, uint32(len(data)), uint32(len(data)), data)
}

// ngBlockLen builds a pcapng block of type typ whose header and trailer both
// claim total bytes (whatever its real size).
func ngBlockLen(order byteOrder, typ uint32, body []byte, total, trailer uint32) []byte {
	b := make([]byte, 8, 12+len(body))
	order.PutUint32(b[0:], typ)
	order.PutUint32(b[4:], total)
	b = append(b, body...)
	return order.AppendUint32(b, trailer)
}

func ngBlock(order byteOrder, typ uint32, body []byte) []byte {
	for len(body)%4 != 0 {
		body = append(body, 0)
	}
	n := uint32(12 + len(body))
	return ngBlockLen(order, typ, body, n, n)
}

func shb(order byteOrder) []byte {
	body := make([]byte, 16)
	order.PutUint32(body[0:], 0x1A2B3C4D)
	order.PutUint16(body[4:], 1)
	binary.LittleEndian.PutUint64(body[8:], math.MaxUint64) // section length unknown
	return ngBlock(order, ngSHB, body)
}

func opt(order byteOrder, code uint16, v []byte) []byte {
	b := order.AppendUint16(nil, code)
	b = order.AppendUint16(b, uint16(len(v)))
	b = append(b, v...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func idb(order byteOrder, link uint16, snaplen uint32, opts ...[]byte) []byte {
	body := make([]byte, 8)
	order.PutUint16(body[0:], link)
	order.PutUint32(body[4:], snaplen)
	for _, o := range opts {
		body = append(body, o...)
	}
	if len(opts) > 0 {
		body = append(body, 0, 0, 0, 0) // opt_endofopt
	}
	return ngBlock(order, ngIDB, body)
}

func epb(order byteOrder, ifid uint32, ts uint64, data []byte) []byte {
	body := make([]byte, 20, 20+len(data)+3)
	order.PutUint32(body[0:], ifid)
	order.PutUint32(body[4:], uint32(ts>>32))
	order.PutUint32(body[8:], uint32(ts))
	order.PutUint32(body[12:], uint32(len(data)))
	order.PutUint32(body[16:], uint32(len(data)))
	return ngBlock(order, ngEPB, append(body, data...))
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// --- frame builders --------------------------------------------------------

var (
	addrA = [4]byte{10, 0, 0, 1}
	addrB = [4]byte{10, 0, 0, 2}
)

func ethFrame(ethType uint16, payload []byte) []byte {
	b := []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, byte(ethType >> 8), byte(ethType)}
	return append(b, payload...)
}

// ipv4 builds an IPv4 header + payload; frag is the raw flags/offset field
// (0x2000 = MF, low 13 bits = offset in 8-byte units).
func ipv4(src, dst [4]byte, proto byte, id, frag uint16, payload []byte) []byte {
	h := make([]byte, 20, 20+len(payload))
	h[0] = 0x45
	binary.BigEndian.PutUint16(h[2:], uint16(20+len(payload)))
	binary.BigEndian.PutUint16(h[4:], id)
	binary.BigEndian.PutUint16(h[6:], frag)
	h[8], h[9] = 64, proto
	copy(h[12:], src[:])
	copy(h[16:], dst[:])
	return append(h, payload...)
}

func ipv6(src, dst byte, next byte, payload []byte) []byte {
	h := make([]byte, 40, 40+len(payload))
	h[0] = 0x60
	if len(payload) <= 0xffff {
		binary.BigEndian.PutUint16(h[4:], uint16(len(payload)))
	} // else 0: jumbogram, the decoder uses the captured length
	h[6], h[7] = next, 64
	h[8], h[23] = 0xfd, src
	h[24], h[39] = 0xfd, dst
	return append(h, payload...)
}

func tcpSeg(sport, dport uint16, seq uint32, flags byte, payload []byte) []byte {
	h := make([]byte, 20, 20+len(payload))
	binary.BigEndian.PutUint16(h[0:], sport)
	binary.BigEndian.PutUint16(h[2:], dport)
	binary.BigEndian.PutUint32(h[4:], seq)
	h[12], h[13] = 5<<4, flags
	binary.BigEndian.PutUint16(h[14:], 65535)
	return append(h, payload...)
}

func udpDgram(sport, dport uint16, payload []byte) []byte {
	h := make([]byte, 8, 8+len(payload))
	binary.BigEndian.PutUint16(h[0:], sport)
	binary.BigEndian.PutUint16(h[2:], dport)
	binary.BigEndian.PutUint16(h[4:], uint16(8+len(payload)))
	return append(h, payload...)
}

// goodFrame is an Ethernet/IPv4/TCP frame from 10.0.0.1:port to 10.0.0.2:80.
func goodFrame(port uint16, payload string) []byte {
	return ethFrame(0x0800, ipv4(addrA, addrB, 6, 1, 0x4000, tcpSeg(port, 80, 1000, 0x18, []byte(payload))))
}

// --- reading ---------------------------------------------------------------

type readResult struct {
	frames []Packet // Payload cloned
	err    error    // terminal error; nil at a clean io.EOF
	src    *FileSource
}

// drain reads b to the end, calling each for every packet, under finishWithin.
func drain(t *testing.T, b []byte, each func(s *FileSource, p *Packet)) (*FileSource, error) {
	t.Helper()
	s, err := NewReader("hostile.pcap", bytes.NewReader(b))
	if err != nil {
		t.Fatalf("NewReader: %v", err)
	}
	done := make(chan error, 1)
	go func() {
		var p Packet
		for i := 0; ; i++ {
			if i > len(b) {
				done <- errors.New("more frames than bytes in the file: the reader loops")
				return
			}
			if err := s.Next(&p); err != nil {
				s.Defrag().Finish()
				if errors.Is(err, io.EOF) {
					err = nil
				}
				done <- err
				return
			}
			each(s, &p)
		}
	}()
	select {
	case err := <-done:
		return s, err
	case <-time.After(finishWithin):
		t.Fatalf("reading did not finish within %s", finishWithin)
		return nil, nil
	}
}

func readAll(t *testing.T, b []byte) readResult {
	t.Helper()
	var r readResult
	r.src, r.err = drain(t, b, func(_ *FileSource, p *Packet) {
		q := *p
		q.Payload = bytes.Clone(p.Payload)
		r.frames = append(r.frames, q)
	})
	return r
}

func wantDamage(t *testing.T, err error, frame int, offset int64, reason string) {
	t.Helper()
	var de *DamageError
	if !errors.As(err, &de) {
		t.Fatalf("error %v (%T), want a *DamageError", err, err)
	}
	if de.Frame != frame || de.Offset != offset || !strings.Contains(de.Reason, reason) {
		t.Errorf("damage = frame %d offset %d %q; want frame %d offset %d, reason containing %q", de.Frame, de.Offset, de.Reason, frame, offset, reason)
	}
}

// allocated returns the bytes allocated (TotalAlloc) while f runs.
func allocated(f func()) uint64 {
	var a, b runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&a)
	f()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}

// liveHeap returns the live heap after a collection.
func liveHeap() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

const MiB = 1 << 20

// --- pcap ------------------------------------------------------------------

// TestHostilePcapRecordLengths: absurd record lengths stop the file with a
// DamageError at the record's offset, after every frame before it, without
// allocating what the record claims. The bound is 8 MiB for files of a few
// KiB (the reader's two 1 MiB buffers included).
func TestHostilePcapRecordLengths(t *testing.T) {
	le := binary.LittleEndian
	good := pcapFrame(1, goodFrame(40000, "hello"))
	badAt := int64(24 + len(good))
	tests := []struct {
		name    string
		snaplen uint32
		bad     []byte
		reason  string
	}{
		{"incl 0xffffffff", 65535, pcapRecord(le, 1, 0, 0xffffffff, 0xffffffff, nil), "record claims 4294967295 bytes"},
		{"incl above MaxFrame, snaplen 0xffffffff", 0xffffffff, pcapRecord(le, 1, 0, MaxFrame+1, MaxFrame+1, nil), "record claims 1048577 bytes"},
		{"incl above snaplen 0", 0, pcapRecord(le, 1, 0, 262145, 262145, nil), "record claims 262145 bytes"},
		{"incl MaxFrame, file ends", 0xffffffff, pcapRecord(le, 1, 0, MaxFrame, MaxFrame, []byte("short")), "only 5 present"},
		{"record header cut", 65535, pcapRecord(le, 1, 0, 10, 10, nil)[:9], "record header (9 of 16 bytes)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := cat(pcapHeader(le, false, tt.snaplen, 1), good, tt.bad)
			if !strings.Contains(tt.reason, "present") && !strings.Contains(tt.reason, "of 16") {
				file = cat(file, good, good) // frames after the damage are not read
			}
			var r readResult
			n := allocated(func() { r = readAll(t, file) })
			if len(r.frames) != 1 || r.frames[0].Proto != ProtoTCP || string(r.frames[0].Payload) != "hello" {
				t.Fatalf("got %d frames before the damage, want the 1 good one", len(r.frames))
			}
			wantDamage(t, r.err, 2, badAt, tt.reason)
			if bound := uint64(8*MiB) + uint64(len(file)); n > bound {
				t.Errorf("allocated %d bytes, bound %d", n, bound)
			}
		})
	}
}

// TestHostilePcapOddRecords: zero-length records, records claiming a huge
// original length and a header snaplen of 0 or 0xffffffff are frames like
// any other: read, marked, and the file goes on.
func TestHostilePcapOddRecords(t *testing.T) {
	le := binary.LittleEndian
	for _, snaplen := range []uint32{0, 0xffffffff} {
		const zeros = 100_000
		parts := [][]byte{pcapHeader(le, false, snaplen, 1)}
		for range zeros {
			parts = append(parts, pcapRecord(le, 1, 0, 0, 0, nil))
		}
		f := goodFrame(40000, "tail")
		parts = append(parts, pcapRecord(le, 2, 0, uint32(len(f)), 0xffffffff, f), pcapFrame(3, goodFrame(40001, "end")))
		r := readAll(t, cat(parts...))
		if r.err != nil {
			t.Fatalf("snaplen %#x: %v", snaplen, r.err)
		}
		if len(r.frames) != zeros+2 {
			t.Fatalf("snaplen %#x: %d frames, want %d", snaplen, len(r.frames), zeros+2)
		}
		if p := r.frames[0]; p.Issue == "" || p.Proto != ProtoOther {
			t.Errorf("zero-length frame: issue %q proto %v, want an issue", p.Issue, p.Proto)
		}
		huge := r.frames[zeros]
		if huge.Proto != ProtoTCP || huge.WireLen != 0xffffffff || !huge.Truncated || string(huge.Payload) != "tail" {
			t.Errorf("frame with orig 0xffffffff: proto %v wirelen %d truncated %v payload %q", huge.Proto, huge.WireLen, huge.Truncated, huge.Payload)
		}
		if last := r.frames[zeros+1]; last.Frame != zeros+2 || string(last.Payload) != "end" {
			t.Errorf("last frame %d %q", last.Frame, last.Payload)
		}
	}
}

// TestHostilePcapTimestamps: extreme and out-of-range timestamp fields give
// (strange but well-defined) times, never a panic.
func TestHostilePcapTimestamps(t *testing.T) {
	for _, order := range []byteOrder{binary.LittleEndian, binary.BigEndian} {
		for _, nanos := range []bool{false, true} {
			f := goodFrame(40000, "x")
			rec := func(sec, frac uint32) []byte { return pcapRecord(order, sec, frac, uint32(len(f)), uint32(len(f)), f) }
			file := cat(pcapHeader(order, nanos, 65535, 1),
				rec(0, 0), rec(0xffffffff, 0xffffffff), rec(0x80000000, 999_999_999), rec(0x7fffffff, 0xffffffff), rec(0, 0))
			r := readAll(t, file)
			if r.err != nil || len(r.frames) != 5 {
				t.Fatalf("order %v nanos %v: %d frames, err %v", order, nanos, len(r.frames), r.err)
			}
			unit := time.Microsecond
			if nanos {
				unit = time.Nanosecond
			}
			want := time.Unix(0xffffffff, 0).Add(time.Duration(0xffffffff) * unit)
			if got := r.frames[1].Time; !got.Equal(want) {
				t.Errorf("order %v nanos %v: sec=frac=0xffffffff gave %v, want %v", order, nanos, got, want)
			}
			for _, p := range r.frames {
				_ = p.Time.UTC().Format(time.RFC3339Nano)
			}
		}
	}
}

// --- pcapng ----------------------------------------------------------------

// TestHostileNGTimestamps: if_tsresol at its extremes (1 unit per second,
// 10^19, 2^63, and the invalid 2^127 and 10^20), huge if_tsoffset values
// and all-ones timestamps produce times without panicking or overflowing
// into a crash, and the frames after them still read.
func TestHostileNGTimestamps(t *testing.T) {
	le := binary.LittleEndian
	resols := []byte{0, 6, 9, 19, 20, 0x7f, 0x80, 0x80 | 63, 0x80 | 64, 0xff}
	offsets := []int64{0, math.MaxInt64, math.MinInt64, -1}
	tss := []uint64{0, 1, math.MaxUint64, 1 << 63, math.MaxUint32}
	for _, res := range resols {
		for _, off := range offsets {
			parts := [][]byte{shb(le), idb(le, 1, 0, opt(le, 9, []byte{res}), opt(le, 14, le.AppendUint64(nil, uint64(off))))}
			for _, ts := range tss {
				parts = append(parts, epb(le, 0, ts, goodFrame(40000, "x")))
			}
			r := readAll(t, cat(parts...))
			if r.err != nil || len(r.frames) != len(tss) {
				t.Fatalf("tsresol %#x tsoffset %d: %d frames, err %v", res, off, len(r.frames), r.err)
			}
			for _, p := range r.frames {
				_ = p.Time.UTC().Format(time.RFC3339Nano)
				_ = p.Time.Sub(r.frames[0].Time)
			}
		}
	}
	// An exact case: nanosecond resolution, offset 10 s.
	file := cat(shb(le), idb(le, 1, 0, opt(le, 9, []byte{9}), opt(le, 14, le.AppendUint64(nil, 10))), epb(le, 0, 1_500_000_000, goodFrame(1, "x")))
	r := readAll(t, file)
	if want := time.Unix(11, 500_000_000); len(r.frames) != 1 || !r.frames[0].Time.Equal(want) {
		t.Fatalf("got %v, want %v", r.frames, want)
	}
}

// TestHostileNGBlockLengths: a block whose length field cannot be right (0,
// below the 12-byte minimum, not a multiple of 4, different from its
// trailer, beyond the file or beyond any sane frame) ends the file with a
// DamageError at that block, after the frames before it, allocating at most
// what the file holds plus the reader's buffers.
func TestHostileNGBlockLengths(t *testing.T) {
	le := binary.LittleEndian
	head := cat(shb(le), idb(le, 1, 0))
	good := epb(le, 0, 1, goodFrame(40000, "hello"))
	badAt := int64(len(head) + len(good))
	tests := []struct {
		name   string
		bad    []byte
		reason string
	}{
		{"length 0", ngBlockLen(le, ngEPB, nil, 0, 0), "claims length 0"},
		{"length 8", ngBlockLen(le, ngEPB, nil, 8, 8), "claims length 8"},
		{"length 13", ngBlockLen(le, ngEPB, make([]byte, 4), 13, 13), "claims length 13"},
		{"length 0xffffffff", ngBlockLen(le, ngEPB, make([]byte, 20), 0xffffffff, 0xffffffff), "claims length 4294967295"},
		{"length 0xfffffffc", ngBlockLen(le, ngEPB, make([]byte, 20), 0xfffffffc, 0xfffffffc), "claims length 4294967292"},
		{"trailer mismatch", ngBlockLen(le, ngEPB, make([]byte, 20), 32, 36), "does not match its trailing length 36"},
		{"larger than the file", ngBlockLen(le, ngEPB, make([]byte, 64), 1<<20, 1<<20)[:40], "only 40 present"},
		{"unknown type, bad length", ngBlockLen(le, 0x0bad, nil, 6, 6), "claims length 6"},
		{"section header length 12", ngBlockLen(le, ngSHB, le.AppendUint32(nil, 0x1A2B3C4D), 16, 16), "section header has a bad length 16"},
		{"section header bad magic", ngBlockLen(le, ngSHB, make([]byte, 16), 28, 28), "bad byte-order magic"},
		{"block header cut", good[:5], "block header (5 of 8 bytes)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := cat(head, good, tt.bad)
			if !strings.Contains(tt.reason, "present") && !strings.Contains(tt.reason, "of 8") {
				file = cat(file, good, good) // frames after the damage are not read
			}
			var r readResult
			n := allocated(func() { r = readAll(t, file) })
			if len(r.frames) != 1 || string(r.frames[0].Payload) != "hello" {
				t.Fatalf("%d frames before the damage, want 1", len(r.frames))
			}
			wantDamage(t, r.err, 2, badAt, tt.reason)
			if bound := uint64(8*MiB) + uint64(len(file)); n > bound {
				t.Errorf("allocated %d bytes, bound %d", n, bound)
			}
		})
	}
}

// TestHostileNGPacketBlocks: packet blocks whose framing is intact but whose
// contents are impossible (an interface that was never described, a
// captured length beyond the block, a block too short for its header, a
// simple packet block before any interface) are frames with an Issue: the
// file goes on.
func TestHostileNGPacketBlocks(t *testing.T) {
	le := binary.LittleEndian
	good := epb(le, 0, 1, goodFrame(40000, "hello"))
	capBeyond := epb(le, 0, 1, goodFrame(40000, "x"))
	le.PutUint32(capBeyond[8+12:], 5000) // captured length 5000 in a small block
	tests := []struct {
		name  string
		bad   []byte
		issue string
	}{
		{"interface 0xffffffff", epb(le, 0xffffffff, 1, goodFrame(1, "x")), "interface 4294967295"},
		{"interface 1 of 1", epb(le, 1, 1, goodFrame(1, "x")), "interface 1"},
		{"captured length beyond the block", capBeyond, "5000 captured bytes"},
		{"packet block too short", ngBlock(le, ngEPB, make([]byte, 8)), "too short"},
		{"obsolete packet block, interface 0xffff", func() []byte {
			b := epb(le, 0xffff, 1, goodFrame(1, "x"))
			le.PutUint32(b[0:], ngOPB)
			return b
		}(), "interface 65535"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := readAll(t, cat(shb(le), idb(le, 1, 0), good, tt.bad, good))
			if r.err != nil {
				t.Fatalf("the file stopped: %v", r.err)
			}
			if len(r.frames) != 3 {
				t.Fatalf("%d frames, want 3", len(r.frames))
			}
			if p := r.frames[1]; p.Frame != 2 || p.Proto != ProtoOther || !strings.Contains(p.Issue, tt.issue) {
				t.Errorf("bad block: frame %d proto %v issue %q, want an issue containing %q", p.Frame, p.Proto, p.Issue, tt.issue)
			}
			if p := r.frames[2]; p.Frame != 3 || string(p.Payload) != "hello" {
				t.Errorf("frame after the bad block: %d %q", p.Frame, p.Payload)
			}
		})
	}
	// A simple packet block before any interface description.
	spb := ngBlock(le, ngSPB, append(le.AppendUint32(nil, 60), goodFrame(1, "x")...))
	r := readAll(t, cat(shb(le), spb, idb(le, 1, 0), good))
	if r.err != nil || len(r.frames) != 2 || r.frames[0].Issue == "" || string(r.frames[1].Payload) != "hello" {
		t.Fatalf("SPB before IDB: %d frames, err %v", len(r.frames), r.err)
	}
}

// TestHostileNGInterfaceFlood: a file describing far more interfaces than
// any machine has (an IDB flood) keeps at most maxInterfaces descriptions;
// packets on interfaces past that are marked, and the file goes on. Memory
// stays under 32 MiB beyond the file itself.
func TestHostileNGInterfaceFlood(t *testing.T) {
	le := binary.LittleEndian
	const n = maxInterfaces + 50_000
	idb := idb(le, 1, 0)
	parts := [][]byte{shb(le)}
	for range n {
		parts = append(parts, idb)
	}
	parts = append(parts,
		epb(le, 0, 1, goodFrame(40000, "first")),
		epb(le, maxInterfaces-1, 1, goodFrame(40001, "last kept")),
		epb(le, n-1, 1, goodFrame(40002, "past the cap")),
		epb(le, 0, 1, goodFrame(40003, "after")))
	file := cat(parts...)
	var r readResult
	before := liveHeap()
	alloc := allocated(func() { r = readAll(t, file) })
	grown := int64(liveHeap()) - int64(before)
	if r.err != nil {
		t.Fatalf("the file stopped: %v", r.err)
	}
	if len(r.frames) != 4 {
		t.Fatalf("%d frames, want 4", len(r.frames))
	}
	if r.frames[0].Issue != "" || r.frames[1].Issue != "" || string(r.frames[1].Payload) != "last kept" {
		t.Errorf("packets on kept interfaces: %q %q", r.frames[0].Issue, r.frames[1].Issue)
	}
	if !strings.Contains(r.frames[2].Issue, "interface") {
		t.Errorf("packet past the cap: issue %q", r.frames[2].Issue)
	}
	if string(r.frames[3].Payload) != "after" {
		t.Errorf("last frame %q", r.frames[3].Payload)
	}
	if len(r.src.ifaces) > maxInterfaces {
		t.Errorf("%d interfaces kept, cap %d", len(r.src.ifaces), maxInterfaces)
	}
	t.Logf("%d interface descriptions: live heap +%d bytes, %d allocated", n, grown, alloc)
	if grown > 32*MiB || alloc > 64*MiB {
		t.Errorf("live heap grew %d bytes, allocated %d: bounds 32 MiB, 64 MiB", grown, alloc)
	}
	runtime.KeepAlive(r.src)
}

// TestHostileNGByteOrderSwitch: a second section header in the middle of the
// file, in the other byte order, starts a new section: its blocks are read
// in its order and its interfaces replace the first section's.
func TestHostileNGByteOrderSwitch(t *testing.T) {
	le, be := binary.LittleEndian, binary.BigEndian
	rawIP := ipv4(addrA, addrB, 17, 7, 0, udpDgram(5353, 53, []byte("big-endian")))
	file := cat(
		shb(le), idb(le, 1, 0), idb(le, 1, 0),
		epb(le, 0, 1_000_000, goodFrame(40000, "le0")),
		epb(le, 1, 2_000_000, goodFrame(40001, "le1")),
		shb(be), idb(be, uint16(LinkRaw), 0, opt(be, 9, []byte{9})),
		epb(be, 0, 3_000_000_000, rawIP),
		epb(be, 1, 1, goodFrame(40002, "stale interface")),
		shb(le), idb(le, 1, 0),
		epb(le, 0, 5_000_000, goodFrame(40003, "le again")))
	r := readAll(t, file)
	if r.err != nil {
		t.Fatal(r.err)
	}
	if len(r.frames) != 5 {
		t.Fatalf("%d frames, want 5", len(r.frames))
	}
	be0 := r.frames[2]
	if be0.Proto != ProtoUDP || string(be0.Payload) != "big-endian" || be0.Link != LinkRaw || !be0.Time.Equal(time.Unix(3, 0)) {
		t.Errorf("big-endian frame: %v %q link %v time %v", be0.Proto, be0.Payload, be0.Link, be0.Time)
	}
	if !strings.Contains(r.frames[3].Issue, "interface 1") {
		t.Errorf("packet on an interface of the previous section: issue %q", r.frames[3].Issue)
	}
	if p := r.frames[4]; string(p.Payload) != "le again" || !p.Time.Equal(time.Unix(5, 0)) {
		t.Errorf("after switching back: %q %v", p.Payload, p.Time)
	}
	if got := r.src.Info().LinkTypes; len(got) != 2 || got[0] != LinkEthernet || got[1] != LinkRaw {
		t.Errorf("link types %v", got)
	}
}

// TestHostileNGSnaplens: interface snaplens of 0 (no limit) and 0xffffffff
// are accepted; simple packet blocks are cut to the snaplen when it is set.
func TestHostileNGSnaplens(t *testing.T) {
	le := binary.LittleEndian
	f := goodFrame(40000, "payload")
	spb := ngBlock(le, ngSPB, append(le.AppendUint32(nil, uint32(len(f))), f...))
	for _, sl := range []uint32{0, 0xffffffff, 1} {
		r := readAll(t, cat(shb(le), idb(le, 1, sl), epb(le, 0, 1, f), spb))
		if r.err != nil || len(r.frames) != 2 {
			t.Fatalf("snaplen %#x: %d frames, err %v", sl, len(r.frames), r.err)
		}
		if sl == 1 {
			if r.frames[1].CapLen != 1 || r.frames[1].Issue == "" {
				t.Errorf("snaplen 1: SPB caplen %d issue %q", r.frames[1].CapLen, r.frames[1].Issue)
			}
			continue
		}
		if string(r.frames[1].Payload) != "payload" {
			t.Errorf("snaplen %#x: SPB payload %q", sl, r.frames[1].Payload)
		}
	}
}

// --- frame decoding --------------------------------------------------------

// TestHostileEncapsulation: hundreds of nested VLAN tags or IP-in-IP tunnels
// stop at maxEncap with an Issue; thousands of IPv6 extension headers are
// walked in linear time.
func TestHostileEncapsulation(t *testing.T) {
	inner := ipv4(addrA, addrB, 6, 1, 0, tcpSeg(40000, 80, 1, 0x18, []byte("deep")))
	vlans := func(n int) []byte {
		b := []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x81, 0x00}
		for i := range n {
			next := uint16(0x8100)
			if i == n-1 {
				next = 0x0800
			}
			b = append(b, 0, 1, byte(next>>8), byte(next))
		}
		return append(b, inner...)
	}
	tunnels := func(n int, v6 bool) []byte {
		b := inner
		proto := byte(4)
		for range n {
			if v6 {
				b = ipv6(1, 2, proto, b)
				proto = 41
			} else {
				b = ipv4(addrA, addrB, proto, 1, 0, b)
				proto = 4
			}
		}
		if v6 {
			return ethFrame(0x86dd, b)
		}
		return ethFrame(0x0800, b)
	}
	// extChain: n hop-by-hop/destination options headers, then TCP.
	extChain := func(n int) []byte {
		var b []byte
		for i := range n {
			next := byte(60)
			if i == n-1 {
				next = 6
			}
			b = append(b, next, 0, 1, 4, 0, 0, 0, 0) // PadN option filling 8 bytes
		}
		return ethFrame(0x86dd, ipv6(1, 2, 0, append(b, tcpSeg(40000, 80, 1, 0x18, []byte("deep"))...)))
	}
	tests := []struct {
		name  string
		frame []byte
		issue string // "" means: decodes to TCP with payload "deep"
	}{
		{"7 VLAN tags", vlans(7), ""},
		{"16 VLAN tags", vlans(16), ""},
		{"17 VLAN tags", vlans(17), "encapsulation nested deeper than 16 layers"},
		{"16 IPv4 tunnels", tunnels(16, false), ""},
		{"17 IPv4 tunnels", tunnels(17, false), "encapsulation nested deeper than 16 layers"},
		{"500 VLAN tags", vlans(500), "encapsulation nested deeper than 16 layers"},
		{"8 IPv4 tunnels", tunnels(8, false), ""},
		{"300 IPv4-in-IPv4 tunnels", tunnels(300, false), "encapsulation nested deeper than 16 layers"},
		{"300 IPv6 tunnels", tunnels(300, true), "encapsulation nested deeper than 16 layers"},
		{"5000 IPv6 extension headers", extChain(5000), ""},
		{"100000 IPv6 extension headers (jumbogram)", extChain(100_000), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			done := make(chan Packet, 1)
			go func() {
				p := Packet{Frame: 1, CapLen: len(tt.frame), WireLen: len(tt.frame)}
				DecodeFrame(LinkEthernet, tt.frame, &p)
				done <- p
			}()
			var p Packet
			select {
			case p = <-done:
			case <-time.After(finishWithin):
				t.Fatalf("DecodeFrame did not finish within %s", finishWithin)
			}
			if tt.issue == "" {
				if p.Issue != "" || p.Proto != ProtoTCP || string(p.Payload) != "deep" {
					t.Errorf("issue %q proto %v payload %q; want TCP \"deep\"", p.Issue, p.Proto, p.Payload)
				}
				return
			}
			if !strings.Contains(p.Issue, tt.issue) || p.Proto != ProtoOther {
				t.Errorf("issue %q proto %v; want %q", p.Issue, p.Proto, tt.issue)
			}
		})
	}
	// Extension headers claiming more than the packet holds.
	p := Packet{Frame: 1}
	f := ethFrame(0x86dd, ipv6(1, 2, 0, []byte{6, 255, 0, 0, 0, 0, 0, 0}))
	p.CapLen, p.WireLen = len(f), len(f)
	DecodeFrame(LinkEthernet, f, &p)
	if !strings.Contains(p.Issue, "longer than the packet") {
		t.Errorf("oversized extension header: issue %q", p.Issue)
	}
}

// --- fragments -------------------------------------------------------------

// fragFrame is an IPv4 fragment of datagram id from src, carrying data at
// byte offset off (a multiple of 8).
func fragFrame(src [4]byte, id uint16, off int, more bool, data []byte) []byte {
	field := uint16(off / 8)
	if more {
		field |= 0x2000
	}
	return ethFrame(0x0800, ipv4(src, addrB, 17, id, field, data))
}

func decodeInto(d *Defragmenter, frame []byte, at time.Time) Packet {
	p := Packet{Frame: 1, Time: at, CapLen: len(frame), WireLen: len(frame)}
	DecodeFrame(LinkEthernet, frame, &p)
	d.Process(&p)
	return p
}

// TestHostileFragmentOverlap: overlapping fragments with different contents
// are counted; the first copy wins, as in Wireshark's default.
func TestHostileFragmentOverlap(t *testing.T) {
	d := NewDefragmenter(DefragOptions{})
	udp := udpDgram(5000, 53, []byte("AAAAAAAABBBBBBBBCCCCCCCC")) // 32 bytes
	decodeInto(d, fragFrame(addrA, 9, 0, true, udp[:16]), time.Unix(1, 0))
	decodeInto(d, fragFrame(addrA, 9, 8, true, []byte("XXXXXXXXYYYYYYYY")), time.Unix(1, 0))
	p := decodeInto(d, fragFrame(addrA, 9, 24, false, udp[24:]), time.Unix(1, 0))
	if !p.Reassembled || p.Proto != ProtoUDP {
		t.Fatalf("not rebuilt: %+v", p)
	}
	if string(p.Payload) != "AAAAAAAAYYYYYYYYCCCCCCCC" {
		t.Errorf("payload %q: want the first copy of [8,16) and the second fragment's new bytes [16,24)", p.Payload)
	}
	if d.Stats.Overlaps != 1 || d.Stats.Reassembled != 1 || d.Pending() != 0 {
		t.Errorf("stats %+v pending %d", d.Stats, d.Pending())
	}
}

// TestHostileFragmentFlood: hundreds of thousands of first fragments of
// distinct datagrams that never complete. At most MaxDatagrams wait at once;
// every one given up is counted as incomplete; the live heap stays under
// 48 MiB beyond the file.
func TestHostileFragmentFlood(t *testing.T) {
	const n = 300_000
	le := binary.LittleEndian
	parts := make([][]byte, 0, n+3)
	parts = append(parts, pcapHeader(le, false, 65535, 1))
	data := bytes.Repeat([]byte("f"), 64)
	for i := range n {
		src := [4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}
		parts = append(parts, pcapFrame(1, fragFrame(src, uint16(i), 0, true, data)))
	}
	parts = append(parts, pcapFrame(2, goodFrame(40000, "after the flood")))
	file := cat(parts...)
	parts = nil
	before := liveHeap()
	var last Packet
	peak := 0
	var grown int64
	src, err := drain(t, file, func(s *FileSource, p *Packet) {
		last = *p
		peak = max(peak, s.Defrag().Pending())
		if p.Frame == n { // the flood at its height, before Finish
			grown = int64(liveHeap()) - int64(before)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	st := src.Defrag().Stats
	if peak > 4096 {
		t.Errorf("%d datagrams waited at once, cap 4096", peak)
	}
	if st.Fragments != n || st.Incomplete != n || st.Reassembled != 0 {
		t.Errorf("stats %+v: want %d fragments, all incomplete", st, n)
	}
	if string(last.Payload) != "after the flood" {
		t.Errorf("frame after the flood: %q", last.Payload)
	}
	t.Logf("%d fragments: %d datagrams waiting at most, live heap +%d bytes", n, peak, grown)
	if grown > 48*MiB {
		t.Errorf("live heap grew %d bytes (bound 48 MiB)", grown)
	}
	runtime.KeepAlive(src)
}

// TestHostileFragmentBounds drives the Defragmenter directly with small caps:
// datagrams waiting stay under MaxDatagrams, buffered bytes under MaxBytes,
// even when each fragment claims the far end of a 64 KiB datagram.
func TestHostileFragmentBounds(t *testing.T) {
	opts := DefragOptions{MaxDatagrams: 1000, MaxBytes: 8 * MiB}
	d := NewDefragmenter(opts)
	before := liveHeap()
	for i := range 100_000 {
		src := [4]byte{10, 1, byte(i >> 8), byte(i)}
		decodeInto(d, fragFrame(src, uint16(i>>16), 65000, true, make([]byte, 8)), time.Unix(1, 0))
		if d.Pending() > opts.MaxDatagrams || d.bytes > opts.MaxBytes {
			t.Fatalf("after %d fragments: %d pending, %d bytes buffered", i+1, d.Pending(), d.bytes)
		}
	}
	grown := int64(liveHeap()) - int64(before)
	t.Logf("100000 far-end fragments: %d bytes buffered, live heap +%d bytes", d.bytes, grown)
	if bound := int64(opts.MaxBytes) + 8*MiB; grown > bound {
		t.Errorf("live heap grew %d bytes, bound %d", grown, bound)
	}
	d.Finish()
	if d.Stats.Incomplete != 100_000 {
		t.Errorf("incomplete %d, want 100000", d.Stats.Incomplete)
	}
	runtime.KeepAlive(d)
}

// TestHostileFragmentTiny: one datagram cut into thousands of 8-byte
// fragments arriving in the worst order (every other one, backwards, then
// the rest) is rebuilt without quadratic allocation: under 16 MiB in all.
func TestHostileFragmentTiny(t *testing.T) {
	const pieces = 8000 // 64000 bytes
	payload := make([]byte, pieces*8)
	for i := range payload {
		payload[i] = byte(i)
	}
	udp := udpDgram(5000, 53, payload[8:])
	copy(payload, udp[:8])
	d := NewDefragmenter(DefragOptions{})
	frag := func(i int) Packet {
		return decodeInto(d, fragFrame(addrA, 77, i*8, i != pieces-1, payload[i*8:i*8+8]), time.Unix(1, 0))
	}
	var p Packet
	n := allocated(func() {
		for i := pieces - 1; i >= 0; i -= 2 {
			frag(i)
		}
		for i := pieces - 2; i >= 0; i -= 2 {
			if q := frag(i); q.Reassembled {
				p = q
			}
		}
	})
	if !p.Reassembled || p.Proto != ProtoUDP || !bytes.Equal(p.Payload, payload[8:]) {
		t.Fatalf("not rebuilt correctly: reassembled %v proto %v, %d payload bytes", p.Reassembled, p.Proto, len(p.Payload))
	}
	t.Logf("%d fragments of 8 bytes: %d bytes allocated", pieces, n)
	if n > 16*MiB {
		t.Errorf("allocated %d bytes for one %d-byte datagram (bound 16 MiB)", n, len(payload))
	}
}

// TestHostileFragmentOrder: a datagram that never completes at the head of
// the arrival order must not make the bookkeeping of every later (completed)
// datagram pile up behind it.
func TestHostileFragmentOrder(t *testing.T) {
	d := NewDefragmenter(DefragOptions{})
	decodeInto(d, fragFrame(addrA, 1, 0, true, make([]byte, 8)), time.Unix(1, 0)) // never completes
	udp := udpDgram(5000, 53, make([]byte, 8))
	for i := range 300_000 {
		src := [4]byte{10, 2, byte(i >> 8), byte(i)}
		decodeInto(d, fragFrame(src, uint16(i>>16), 0, true, udp[:8]), time.Unix(1, 0))
		if p := decodeInto(d, fragFrame(src, uint16(i>>16), 8, false, udp[8:]), time.Unix(1, 0)); !p.Reassembled {
			t.Fatalf("datagram %d not rebuilt", i)
		}
	}
	if d.Pending() != 1 || d.Stats.Reassembled != 300_000 {
		t.Errorf("pending %d, rebuilt %d", d.Pending(), d.Stats.Reassembled)
	}
	if len(d.order) > 2*d.opts.MaxDatagrams {
		t.Errorf("arrival-order list holds %d keys for %d pending datagrams", len(d.order), d.Pending())
	}
}

// TestFragmentAddRangeModel checks addRange against a byte-by-byte model:
// the first copy of every byte wins, the overlap flag is set exactly when
// a fragment repeats a byte already held, and the held spans stay sorted,
// disjoint and non-touching.
func TestFragmentAddRangeModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for trial := range 2000 {
		const size = 256
		fb := &fragBuf{}
		dst := make([]byte, size)
		model := make([]int, size) // 0: not held, else 1 + the fragment that supplied it
		for f := 1; f <= 1+rng.IntN(20); f++ {
			start := rng.IntN(size)
			end := start + 1 + rng.IntN(min(64, size-start))
			src := bytes.Repeat([]byte{byte(f)}, end-start)
			want := false
			for i := start; i < end; i++ {
				if model[i] != 0 {
					want = true
				} else {
					model[i] = f
				}
			}
			if got := fb.addRange(start, end, src, dst); got != want {
				t.Fatalf("trial %d fragment %d [%d,%d): overlap %v, want %v", trial, f, start, end, got, want)
			}
			for i := 1; i < len(fb.have); i++ {
				if fb.have[i-1].End >= fb.have[i].Start {
					t.Fatalf("trial %d: spans %v not sorted and apart", trial, fb.have)
				}
			}
		}
		for i, m := range model {
			if byte(m) != dst[i] {
				t.Fatalf("trial %d: byte %d = %d, want %d (first copy)", trial, i, dst[i], m)
			}
			held := false
			for _, h := range fb.have {
				held = held || (h.Start <= i && i < h.End)
			}
			if held != (m != 0) {
				t.Fatalf("trial %d: byte %d held %v, model %v (spans %v)", trial, i, held, m != 0, fb.have)
			}
		}
	}
}

// TestHostileNGLinkTypeFlood: interface descriptions of all 65536 link
// types are listed once each, in order of appearance, in linear time.
func TestHostileNGLinkTypeFlood(t *testing.T) {
	le := binary.LittleEndian
	parts := [][]byte{shb(le)}
	for i := range 1 << 16 {
		parts = append(parts, idb(le, uint16(i), 0))
	}
	parts = append(parts, shb(le), idb(le, 1, 0), idb(le, 0xffff, 0), epb(le, 0, 1, goodFrame(40000, "x")))
	r := readAll(t, cat(parts...))
	if r.err != nil || len(r.frames) != 1 || r.frames[0].Proto != ProtoTCP {
		t.Fatalf("%d frames, err %v", len(r.frames), r.err)
	}
	links := r.src.Info().LinkTypes
	if len(links) != 1<<16 || links[0] != 0 || links[1<<16-1] != 0xffff {
		t.Errorf("%d link types listed, want 65536 in order", len(links))
	}
}

// TestHostileGzip: a corrupt gzip stream is reported as such (not as a
// capture cut short), after every frame that decompressed; a truncated one
// is a capture cut short.
func TestHostileGzip(t *testing.T) {
	parts := [][]byte{pcapHeader(binary.LittleEndian, false, 65535, 1)}
	for i := range 50 {
		parts = append(parts, pcapFrame(uint32(i), goodFrame(uint16(40000+i), "hello")))
	}
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(cat(parts...))
	zw.Close()
	gz := z.Bytes()

	badCRC := bytes.Clone(gz)
	badCRC[len(badCRC)-5] ^= 0xff // the CRC-32 in the trailer
	r := readAll(t, badCRC)
	if len(r.frames) != 50 {
		t.Errorf("bad checksum: %d frames, want all 50 before the trailer", len(r.frames))
	}
	wantDamage(t, r.err, 51, int64(len(cat(parts...))), "gzip data is corrupt here (gzip: invalid checksum)")

	r = readAll(t, gz[:len(gz)/2])
	var de *DamageError
	if !errors.As(r.err, &de) || !strings.HasPrefix(de.Reason, "file ends") || len(r.frames) == 0 {
		t.Errorf("truncated gzip: %d frames, %v; want frames, then a capture cut short", len(r.frames), r.err)
	}
}
