package pcapgen

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"hash"
	"io"
	"os"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

const nearWrap = 1<<32 - 1000

// longFrame is one parsed frame of a WriteLong capture.
type longFrame struct {
	no       int
	ts       time.Time
	dir      int
	seq, ack uint32
	flags    uint8
	payload  []byte // captured payload
	full     int    // payload length on the wire
}

// naiveDir reassembles one direction in order, keeping out-of-order
// segments until the hole before them fills, dropping segments whose offset
// was already seen and skipping holes that never fill.
type naiveDir struct {
	isn     uint32
	next    int64 // stream offset of the next byte to deliver
	pending map[int64]longFrame
	sha     hash.Hash
	n       int64
	dups    int
	offs    map[int]int64 // frame number → stream offset
	wraps   int           // times new data's sequence number went down
	seen    bool
	lastSeq uint32
	maxOff  int64
}

// naiveWindow is how many out-of-order segments naiveDir holds before it
// declares the hole before them permanent.
const naiveWindow = 256

func (r *naiveDir) add(f longFrame) {
	if f.full == 0 {
		return
	}
	rel := f.seq - (r.isn + 1)
	off := r.next + int64(int32(rel-uint32(r.next)))
	r.offs[f.no] = off
	if !r.seen || off > r.maxOff {
		if r.seen && f.seq < r.lastSeq {
			r.wraps++
		}
		r.seen, r.lastSeq, r.maxOff = true, f.seq, off
	}
	if _, ok := r.pending[off]; ok || off < r.next {
		r.dups++
		return
	}
	f.payload = slices.Clone(f.payload)
	r.pending[off] = f
	r.drain()
	if len(r.pending) > naiveWindow {
		r.next = slices.Min(mapKeys(r.pending))
		r.drain()
	}
}

func (r *naiveDir) drain() {
	for {
		f, ok := r.pending[r.next]
		if !ok {
			return
		}
		delete(r.pending, r.next)
		r.sha.Write(f.payload)
		r.n += int64(len(f.payload))
		r.next += int64(f.full)
	}
}

func (r *naiveDir) finish() {
	for len(r.pending) > 0 {
		r.next = slices.Min(mapKeys(r.pending))
		r.drain()
	}
}

func mapKeys(m map[int64]longFrame) []int64 {
	var k []int64
	for x := range m {
		k = append(k, x)
	}
	return k
}

type parsed struct {
	frames []longFrame // data-less frames and data frames (payload not kept)
	dirs   [2]*naiveDir
	snap   uint32
}

// parseLong reads a WriteLong capture with pcapgo and reassembles it naively.
func parseLong(t testing.TB, r io.Reader) *parsed {
	t.Helper()
	pr, err := pcapgo.NewReader(r)
	if err != nil {
		t.Fatal(err)
	}
	if pr.LinkType() != layers.LinkTypeEthernet {
		t.Fatalf("link type %v", pr.LinkType())
	}
	p := &parsed{snap: pr.Snaplen()}
	for d := range p.dirs {
		p.dirs[d] = &naiveDir{pending: map[int64]longFrame{}, sha: sha256.New(), offs: map[int]int64{}}
	}
	for no := 1; ; no++ {
		data, ci, err := pr.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		f := parseFrame(t, data, ci.Length)
		f.no, f.ts = no, ci.Timestamp
		if f.flags&SYN != 0 {
			p.dirs[f.dir].isn = f.seq
		}
		p.dirs[f.dir].add(f)
		f.payload = nil
		p.frames = append(p.frames, f)
	}
	for _, d := range p.dirs {
		d.finish()
	}
	return p
}

func parseFrame(t testing.TB, b []byte, wire int) longFrame {
	t.Helper()
	if len(b) < 54 || b[12] != 0x08 || b[13] != 0 || b[14] != 0x45 || b[23] != 6 {
		t.Fatalf("not Ethernet/IPv4/TCP: % x", b[:min(len(b), 54)])
	}
	if checksum(b[14:34]) != 0 {
		t.Fatalf("bad IPv4 checksum")
	}
	ipLen := int(binary.BigEndian.Uint16(b[16:]))
	if ipLen+14 != wire {
		t.Fatalf("IPv4 total length %d, wire length %d", ipLen, wire)
	}
	tcp := b[34:]
	var f longFrame
	sport, dport := binary.BigEndian.Uint16(tcp), binary.BigEndian.Uint16(tcp[2:])
	switch {
	case sport == 40000 && dport == 9000 && b[29] == 1 && b[33] == 2:
	case sport == 9000 && dport == 40000 && b[29] == 2 && b[33] == 1:
		f.dir = 1
	default:
		t.Fatalf("ports %d→%d", sport, dport)
	}
	f.seq, f.ack = binary.BigEndian.Uint32(tcp[4:]), binary.BigEndian.Uint32(tcp[8:])
	f.flags = tcp[13]
	hl := 34 + int(tcp[12]>>4)*4
	f.full = wire - hl
	if hl < len(b) {
		f.payload = b[hl:]
	}
	return f
}

// expectSHA hashes the generator's payload of direction d over [0, total),
// skipping the given [off, off+n) holes and keeping only keep bytes of each
// seg-byte segment.
func expectSHA(cfg LongConfig, d int, total int64, seg, keep int, holes map[int64]bool) ([32]byte, int64) {
	key := payloadKey(cfg.Seed, d)
	h := sha256.New()
	var n int64
	buf := make([]byte, seg)
	for off := int64(0); off < total; off += int64(seg) {
		if holes[off] {
			continue
		}
		l := min(int64(keep), total-off)
		fillPayload(buf[:l], key, off)
		h.Write(buf[:l])
		n += l
	}
	return [32]byte(h.Sum(nil)), n
}

func writeLong(t testing.TB, cfg LongConfig) ([]byte, LongResult) {
	t.Helper()
	var buf bytes.Buffer
	res, err := WriteLong(&buf, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.FileBytes != int64(buf.Len()) {
		t.Fatalf("FileBytes %d, wrote %d", res.FileBytes, buf.Len())
	}
	return buf.Bytes(), res
}

// checkNaive compares the naive reassembly with res; dups is how many
// segments the reader should see twice (Duplicate events).
func checkNaive(t *testing.T, p *parsed, res LongResult, dups [2]int) {
	t.Helper()
	if len(p.frames) != res.Frames {
		t.Errorf("parsed %d frames, result says %d", len(p.frames), res.Frames)
	}
	for d, r := range p.dirs {
		if r.n != res.Bytes[d] {
			t.Errorf("dir %d: naive reassembly %d bytes, result %d", d, r.n, res.Bytes[d])
		}
		if got := [32]byte(r.sha.Sum(nil)); got != res.SHA256[d] {
			t.Errorf("dir %d: naive SHA256 %x, result %x", d, got, res.SHA256[d])
		}
		if r.dups != dups[d] {
			t.Errorf("dir %d: %d duplicate segments seen, want %d", d, r.dups, dups[d])
		}
	}
}

func TestWriteLongBasic(t *testing.T) {
	cfg := LongConfig{C2S: 3 << 20, S2C: 3<<20 + 12345, SegSize: 65000, ISN: [2]uint32{nearWrap, 0xffffffff}, Seed: 1}
	file, res := writeLong(t, cfg)
	p := parseLong(t, bytes.NewReader(file))
	checkNaive(t, p, res, [2]int{})
	if p.snap != 262144 {
		t.Errorf("snaplen %d", p.snap)
	}
	if res.Bytes != [2]int64{cfg.C2S, cfg.S2C} || res.Retrans != [2]int{} || len(res.Offsets) != 0 {
		t.Errorf("result %+v", res)
	}
	for d := range 2 {
		want, _ := expectSHA(cfg, d, res.Bytes[d], 65000, 65000, nil)
		if want != res.SHA256[d] {
			t.Errorf("dir %d: SHA256 differs from the payload function", d)
		}
	}
	// Handshake, bursts each acknowledged by the other side, FIN/ACK both ways.
	fr := p.frames
	if fr[0].flags != SYN || fr[1].flags != SYN|ACK || fr[2].flags != ACK || fr[1].ack != nearWrap+1 || fr[2].ack != 0 {
		t.Errorf("handshake %+v", fr[:3])
	}
	n := len(fr)
	e0, e1 := uint32(nearWrap+1+cfg.C2S), uint32(0+cfg.S2C)
	if fr[n-3].flags != FIN|ACK || fr[n-3].dir != 0 || fr[n-3].seq != e0 || fr[n-3].ack != e1 ||
		fr[n-2].flags != FIN|ACK || fr[n-2].dir != 1 || fr[n-2].seq != e1 || fr[n-2].ack != e0+1 ||
		fr[n-1].flags != ACK || fr[n-1].dir != 0 || fr[n-1].seq != e0+1 || fr[n-1].ack != e1+1 {
		t.Errorf("close %+v", fr[n-3:])
	}
	dataBytes := [2]int64{}
	var run int64
	for i, f := range fr {
		if want := Epoch.Add(time.Duration(i) * 50 * time.Microsecond); !f.ts.Equal(want) {
			t.Fatalf("frame %d at %v, want %v", f.no, f.ts, want)
		}
		if f.full > 0 {
			if f.flags != PSH|ACK || f.full > 65000 {
				t.Fatalf("data frame %+v", f)
			}
			// Each data segment acknowledges all the other side sent.
			if want := cfg.ISN[1-f.dir] + 1 + uint32(dataBytes[1-f.dir]); f.ack != want {
				t.Fatalf("frame %d ack %d, want %d", f.no, f.ack, want)
			}
			dataBytes[f.dir] += int64(f.full)
			run += int64(f.full)
			continue
		}
		if i > 2 && i < n-3 {
			// A pure ACK ends each burst and covers it.
			prev := fr[i-1]
			if f.flags != ACK || prev.full == 0 || prev.dir == f.dir || f.ack != prev.seq+uint32(prev.full) {
				t.Fatalf("frame %d %+v after %+v", f.no, f, prev)
			}
			if run > 1<<20 || run+65000 <= 1<<20 && dataBytes[prev.dir] != [2]int64{cfg.C2S, cfg.S2C}[prev.dir] {
				t.Fatalf("burst of %d bytes ends at frame %d", run, f.no)
			}
			run = 0
		}
	}
	// 3 MiB from just below 2^32 wraps once; the server's data starts at
	// sequence number 0.
	if p.dirs[0].wraps != 1 || p.dirs[1].wraps != 0 {
		t.Errorf("wraps %d %d", p.dirs[0].wraps, p.dirs[1].wraps)
	}
	for _, f := range fr {
		if f.full > 0 && f.dir == 1 && p.dirs[1].offs[f.no] == 0 && f.seq != 0 {
			t.Errorf("server's first data seq %d", f.seq)
		}
	}

	// gopacket decodes every frame as Ethernet/IPv4/TCP with the MSS option.
	pr, _ := pcapgo.NewReader(bytes.NewReader(file))
	for i := 0; ; i++ {
		data, _, err := pr.ReadPacketData()
		if err == io.EOF {
			break
		}
		pkt := gopacket.NewPacket(data, layers.LayerTypeEthernet, gopacket.Default)
		if pkt.ErrorLayer() != nil {
			t.Fatalf("frame %d: %v", i+1, pkt.ErrorLayer().Error())
		}
		tcp, _ := pkt.Layer(layers.LayerTypeTCP).(*layers.TCP)
		if tcp == nil {
			t.Fatalf("frame %d: no TCP", i+1)
		}
		if tcp.SYN {
			if len(tcp.Options) == 0 || tcp.Options[0].OptionType != layers.TCPOptionKindMSS || binary.BigEndian.Uint16(tcp.Options[0].OptionData) != 65495 {
				t.Errorf("SYN options %v", tcp.Options)
			}
		}
	}
}

func TestWriteLongEvents(t *testing.T) {
	const seg = 1000
	cfg := LongConfig{
		C2S: 3 << 20, S2C: 2<<20 + 77, SegSize: seg, ISN: [2]uint32{nearWrap, nearWrap - 5<<20}, Seed: 42,
		Events: []LongEvent{
			{Dir: 0, Offset: 5500, Kind: Lose, After: 4},
			{Dir: 0, Offset: 10000, Kind: Reorder},
			{Dir: 0, Offset: 20999, Kind: Duplicate},
			{Dir: 0, Offset: 30000, Kind: LoseForever},
			{Dir: 0, Offset: 1<<20 - 100, Kind: Lose}, // extends the burst
			{Dir: 0, Offset: 2<<20 + 10, Kind: Reorder},
			{Dir: 0, Offset: 3<<20 - 1, Kind: Reorder}, // the last segment: nothing to swap with
			{Dir: 1, Offset: 0, Kind: Duplicate},
			{Dir: 1, Offset: 2<<20 + 76, Kind: Lose, After: 100}, // retransmitted at the end
			{Dir: 1, Offset: 1 << 20, Kind: LoseForever},
			{Dir: 1, Offset: 5000, Kind: Lose}, // segment 5…
			{Dir: 1, Offset: 6000, Kind: Reorder},
		},
	}
	file, res := writeLong(t, cfg)
	p := parseLong(t, bytes.NewReader(file))
	checkNaive(t, p, res, [2]int{1, 1})
	if res.Retrans != [2]int{3, 3} {
		t.Errorf("Retrans %v", res.Retrans)
	}
	holes := [2]map[int64]bool{{30000: true}, {1 << 20 / seg * seg: true}}
	for d, total := range []int64{cfg.C2S, cfg.S2C} {
		want, n := expectSHA(cfg, d, total, seg, seg, holes[d])
		if want != res.SHA256[d] || n != res.Bytes[d] {
			t.Errorf("dir %d: %d bytes %x, want %d %x", d, res.Bytes[d], res.SHA256[d], n, want)
		}
	}
	if res.Bytes != [2]int64{cfg.C2S - seg, cfg.S2C - seg} {
		t.Errorf("Bytes %v", res.Bytes)
	}
	// Every Offsets entry names the frame that carries it.
	byFrame := map[int]longFrame{}
	for _, f := range p.frames {
		byFrame[f.no] = f
	}
	frameOf := func(d int, off int64, retrans bool) int {
		for _, o := range res.Offsets {
			if o.Dir == d && o.Offset == off && o.Retrans == retrans {
				return o.Frame
			}
		}
		t.Fatalf("no Offsets entry for dir %d offset %d retrans %v", d, off, retrans)
		return 0
	}
	for _, o := range res.Offsets {
		if o.Kind == LoseForever {
			if o.Frame != 0 {
				t.Errorf("%+v", o)
			}
			continue
		}
		f := byFrame[o.Frame]
		if f.dir != o.Dir || f.full != o.Len || p.dirs[o.Dir].offs[o.Frame] != o.Offset || f.seq != cfg.ISN[o.Dir]+1+uint32(o.Offset) {
			t.Errorf("Offsets entry %+v, frame %+v at offset %d", o, f, p.dirs[o.Dir].offs[o.Frame])
		}
	}
	if len(res.Offsets) != 14 {
		t.Errorf("%d Offsets entries: %+v", len(res.Offsets), res.Offsets)
	}
	// Where the data frames of the affected segments sit.
	dataFrame := func(d int, off int64) (nos []int) {
		for _, f := range p.frames {
			if f.dir == d && f.full > 0 && p.dirs[d].offs[f.no] == off {
				nos = append(nos, f.no)
			}
		}
		return nos
	}
	if lost, next := frameOf(0, 5000, true), dataFrame(0, 5000+4*seg); len(next) != 1 || lost != next[0]+1 {
		t.Errorf("lost segment at frame %d, fourth segment after it at %v", lost, next)
	}
	if r, next := dataFrame(0, 10000), dataFrame(0, 11000); len(r) != 1 || len(next) != 1 || r[0] != next[0]+1 {
		t.Errorf("reordered segment at %v, next at %v", r, next)
	}
	if d := dataFrame(0, 20000); len(d) != 2 || d[1] != d[0]+1 {
		t.Errorf("duplicate at %v", d)
	}
	if d := dataFrame(0, 30000); len(d) != 0 {
		t.Errorf("lost-forever segment at %v", d)
	}
	// A loss whose countdown outlasts the stream is retransmitted at the
	// end of the last burst, before the other side's ACK.
	if d := dataFrame(1, 2<<20/seg*seg); len(d) != 1 || byFrame[d[0]-1].dir != 1 || byFrame[d[0]-1].full == 0 ||
		byFrame[d[0]+1].dir != 0 || byFrame[d[0]+1].flags != ACK || byFrame[d[0]+1].ack != cfg.ISN[1]+1+uint32(cfg.S2C) {
		t.Errorf("end-of-stream retransmission at %v", d)
	}
	// Frames never interleave directions inside a burst, even when a burst
	// runs past 1 MiB to write a retransmission.
	lost := frameOf(0, (1<<20-100)/seg*seg, true)
	if f := byFrame[lost-1]; f.dir != 0 || f.full == 0 {
		t.Errorf("burst-extending retransmission follows %+v", f)
	}
}

func TestWriteLongSnaplen(t *testing.T) {
	cfg := LongConfig{C2S: 1<<20 + 3, S2C: 500, SegSize: 1000, ISN: [2]uint32{nearWrap, 7}, Seed: 3, Snaplen: 54 + 100,
		Events: []LongEvent{{Dir: 0, Offset: 3000, Kind: Duplicate}, {Dir: 0, Offset: 9000, Kind: Lose}}}
	file, res := writeLong(t, cfg)
	p := parseLong(t, bytes.NewReader(file))
	checkNaive(t, p, res, [2]int{1, 0})
	if p.snap != 154 {
		t.Errorf("snaplen %d", p.snap)
	}
	for d, total := range []int64{cfg.C2S, cfg.S2C} {
		want, n := expectSHA(cfg, d, total, 1000, 100, nil)
		if want != res.SHA256[d] || n != res.Bytes[d] {
			t.Errorf("dir %d: %d bytes, want %d", d, res.Bytes[d], n)
		}
	}
}

func TestWriteLongDeterministic(t *testing.T) {
	cfg := LongConfig{C2S: 1 << 20, S2C: 1<<20 + 1, SegSize: 1460, ISN: [2]uint32{nearWrap, 1}, Seed: 9,
		Events: []LongEvent{{Dir: 1, Offset: 100000, Kind: Reorder}}}
	a, ra := writeLong(t, cfg)
	b, rb := writeLong(t, cfg)
	if !bytes.Equal(a, b) || ra.SHA256 != rb.SHA256 {
		t.Fatal("same config, different output")
	}
	cfg.Seed = 10
	c, rc := writeLong(t, cfg)
	if len(c) != len(a) || bytes.Equal(a, c) || rc.SHA256[0] == ra.SHA256[0] || rc.SHA256[1] == ra.SHA256[1] {
		t.Fatal("seed does not change the payload")
	}
	// The payload is neither zeros nor the same in both directions, and it
	// depends only on the offset: a segment starting mid-word matches.
	var p0, p1 [4096]byte
	fillPayload(p0[:], payloadKey(9, 0), 0)
	fillPayload(p1[:], payloadKey(9, 1), 0)
	if bytes.Equal(p0[:], p1[:]) || bytes.Count(p0[:], []byte{0}) > 64 {
		t.Error("payload is degenerate")
	}
	for _, off := range []int{1, 3, 7, 8, 13, 100} {
		for _, n := range []int{0, 1, 5, 8, 31, 33, 1000} {
			var q [1200]byte
			fillPayload(q[:n], payloadKey(9, 0), int64(off))
			if !bytes.Equal(q[:n], p0[off:off+n]) {
				t.Fatalf("fillPayload at %d+%d differs", off, n)
			}
		}
	}
}

func TestWriteLongErrors(t *testing.T) {
	for _, cfg := range []LongConfig{
		{C2S: -1},
		{C2S: 10, SegSize: 65496},
		{C2S: 10, Snaplen: -1},
		{C2S: 10, Events: []LongEvent{{Dir: 2, Kind: Lose}}},
		{C2S: 10, Events: []LongEvent{{Dir: 1, Kind: Lose}}},
		{C2S: 10, Events: []LongEvent{{Dir: 0, Offset: 10, Kind: Lose}}},
		{C2S: 10, Events: []LongEvent{{Dir: 0, Kind: 0}}},
		{C2S: 3000, SegSize: 1000, Events: []LongEvent{{Dir: 0, Offset: 1000, Kind: Lose}, {Dir: 0, Offset: 1999, Kind: Duplicate}}},
	} {
		if _, err := WriteLong(io.Discard, cfg); err == nil {
			t.Errorf("%+v: no error", cfg)
		}
	}
	// Write errors come back.
	if _, err := WriteLong(failWriter{}, LongConfig{C2S: 10 << 20}); err == nil {
		t.Error("write error lost")
	}
	// Empty streams: handshake and close only.
	_, res := writeLong(t, LongConfig{})
	if res.Frames != 6 {
		t.Errorf("%d frames", res.Frames)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, io.ErrShortWrite }

// TestWriteLongMemory checks that memory does not grow with the stream.
func TestWriteLongMemory(t *testing.T) {
	cfg := LongConfig{C2S: 64 << 20, S2C: 64 << 20, ISN: [2]uint32{nearWrap, nearWrap}, Seed: 5,
		Events: []LongEvent{{Dir: 0, Offset: 1 << 20, Kind: Lose}, {Dir: 1, Offset: 5 << 20, Kind: Reorder}}}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if _, err := WriteLong(io.Discard, cfg); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if a := after.TotalAlloc - before.TotalAlloc; a > 1<<20 {
		t.Errorf("allocated %d bytes for 128 MiB of payload", a)
	}
}

// TestWriteLongHuge streams 5 GiB + 1 GiB through a pipe into pcapgo and a
// naive reassembler. Set SOCKSCOPE_LONG_TESTS=1 to run it (about 15 s).
func TestWriteLongHuge(t *testing.T) {
	if os.Getenv("SOCKSCOPE_LONG_TESTS") == "" {
		t.Skip("set SOCKSCOPE_LONG_TESTS=1")
	}
	cfg := LongConfig{C2S: 5 << 30, S2C: 1<<30 + 12345, ISN: [2]uint32{nearWrap, nearWrap}, Seed: 77,
		Events: []LongEvent{{Dir: 0, Offset: 1<<32 + 5, Kind: Lose}, {Dir: 0, Offset: 3 << 30, Kind: LoseForever}}}
	pr, pw := io.Pipe()
	type out struct {
		res LongResult
		err error
	}
	done := make(chan out, 1)
	go func() {
		res, err := WriteLong(pw, cfg)
		pw.CloseWithError(err)
		done <- out{res, err}
	}()
	start := time.Now()
	p := parseLong(t, pr)
	o := <-done
	if o.err != nil {
		t.Fatal(o.err)
	}
	t.Logf("%d frames, %d bytes in %v", o.res.Frames, o.res.FileBytes, time.Since(start))
	checkNaive(t, p, o.res, [2]int{})
	if p.dirs[0].wraps != 2 || p.dirs[1].wraps != 1 {
		t.Errorf("wraps %d %d", p.dirs[0].wraps, p.dirs[1].wraps)
	}
	var marks []int64
	for _, s := range o.res.Offsets {
		if s.Kind == 0 {
			marks = append(marks, s.Offset/65000*65000)
			if p.dirs[s.Dir].offs[s.Frame] != s.Offset {
				t.Errorf("%+v at offset %d", s, p.dirs[s.Dir].offs[s.Frame])
			}
		}
	}
	if !slices.Equal(marks, []int64{1 << 31 / 65000 * 65000}) { // 2^32 is in the Lose segment, 2^33 beyond
		t.Errorf("marks %v, Offsets %+v", marks, o.res.Offsets)
	}
}

func BenchmarkWriteLong(b *testing.B) {
	cfg := LongConfig{C2S: 128 << 20, S2C: 128 << 20, ISN: [2]uint32{nearWrap, nearWrap}, Seed: 1}
	res, err := WriteLong(io.Discard, cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(res.FileBytes)
	b.ResetTimer()
	for b.Loop() {
		WriteLong(io.Discard, cfg)
	}
}
