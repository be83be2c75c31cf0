package pcapgen

import (
	"bufio"
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/netip"
	"slices"
	"time"
)

// LongConfig describes one TCP connection (127.0.0.1:40000 → 127.0.0.2:9000)
// carrying C2S bytes from the client and S2C bytes from the server, written
// by WriteLong without ever holding the stream or the file in memory.
type LongConfig struct {
	C2S, S2C int64 // payload bytes per direction (e.g. 5<<30)
	// SegSize is the payload of each data segment (0: 65000, at most 65495
	// so the IPv4 total length fits 16 bits). The SYN and SYN-ACK announce an
	// MSS of 65495, SACK-permitted and window scale 7.
	SegSize int
	// ISN holds the client and server initial sequence numbers; the first
	// payload byte of direction d has sequence number ISN[d]+1. An ISN near
	// 2^32 (e.g. 1<<32 - 1000) makes a 5 GiB direction wrap twice.
	ISN [2]uint32
	// Seed selects the payload: byte i of direction d is a fixed
	// pseudo-random function of (Seed, d, i).
	Seed   uint64
	Events []LongEvent // impairments, at most one per segment
	// Snaplen cuts frames longer than it (0: full frames, file snaplen
	// 262144). Cut payload bytes are gaps for the reassembler.
	Snaplen int
	// Burst is how many payload bytes one side sends before the other side
	// acknowledges and takes its turn (0: 1 MiB); a burst holds at least one
	// segment, and is extended past Burst until its pending reorders and
	// retransmissions are written.
	Burst int64
}

// LongEventKind is the kind of impairment of a LongEvent.
type LongEventKind uint8

// Impairments. In LongSegmentInfo, a zero Kind marks a segment listed only
// because it holds the 2^31, 2^32 or 2^33 stream offset.
const (
	// Lose: the segment is missing where it belongs and is retransmitted
	// after After (default 3) further new segments of its direction.
	Lose LongEventKind = iota + 1
	// Reorder: the segment is written after the next segment of its direction.
	Reorder
	// Duplicate: the segment is written twice in a row.
	Duplicate
	// LoseForever: the segment is never written (a capture gap). The other
	// side's ACKs still cover it, as when the capture point misses a packet.
	LoseForever
)

func (k LongEventKind) String() string {
	switch k {
	case 0:
		return "mark"
	case Lose:
		return "lose"
	case Reorder:
		return "reorder"
	case Duplicate:
		return "duplicate"
	case LoseForever:
		return "lose-forever"
	}
	return fmt.Sprintf("LongEventKind(%d)", uint8(k))
}

// LongEvent impairs the segment of direction Dir (0 client to server, 1
// server to client) that contains stream offset Offset.
type LongEvent struct {
	Dir    int
	Offset int64
	Kind   LongEventKind
	After  int // Lose: new segments written before the retransmission (0: 3)
}

// LongSegmentInfo locates one written (or, for LoseForever, missing) segment.
type LongSegmentInfo struct {
	Frame   int // 1-based frame number in the file; 0 if never written
	Dir     int
	Offset  int64 // stream offset of the segment's first byte
	Len     int   // payload length on the wire
	Kind    LongEventKind
	Retrans bool // a retransmission (of a Lose) or second copy (Duplicate)
}

// LongResult is what WriteLong wrote and what a correct reassembler delivers.
type LongResult struct {
	Frames    int
	FileBytes int64 // bytes written to w, pcap header included
	// Bytes is the payload a correct reassembler delivers per direction: all
	// bytes minus LoseForever segments and bytes cut by Snaplen.
	Bytes [2]int64
	// SHA256 is the hash of those bytes per direction, in stream order,
	// gaps skipped.
	SHA256  [2][32]byte
	Retrans [2]int // retransmitted segments (Lose retransmissions + Duplicate copies)
	// Offsets lists, in the order written, every frame of a segment touched
	// by an event (LoseForever ones with Frame 0) and of the segments that
	// contain stream offsets 2^31, 2^32 and 2^33.
	Offsets []LongSegmentInfo
}

const (
	longMaxSeg   = 65495 // 65535 - IPv4 header - TCP header
	longDataHdr  = 14 + 20 + 20
	longStep     = 50 * time.Microsecond
	longBufSize  = 256 << 10
	longDefBurst = 1 << 20
)

var (
	longClient = netip.MustParseAddrPort("127.0.0.1:40000")
	longServer = netip.MustParseAddrPort("127.0.0.2:9000")
)

type longEv struct {
	seg   int64 // segment index
	kind  LongEventKind
	after int
}

type longPend struct {
	off    int64
	n      int
	left   int
	kind   LongEventKind
	record bool
}

type longWriter struct {
	bw      *bufio.Writer
	err     error
	res     *LongResult
	frame   []byte // the one frame buffer: pcap record header, then the frame
	snap    int
	seg     int64
	burst   int64
	t0      time.Time
	total   [2]int64
	sent    [2]int64 // offset of the next new segment per direction
	isn     [2]uint32
	key     [2]uint64
	sha     [2]hash.Hash
	evs     [2][]longEv
	marks   [2][]int64 // segment indexes holding 2^31, 2^32, 2^33
	queue   [2][]longPend
	held    [2]longPend
	hasHeld [2]bool
}

// WriteLong writes a pcap (little-endian, microsecond timestamps from Epoch,
// 50 µs apart, Ethernet/IPv4/TCP) of one connection: handshake, then data in
// alternating bursts (each followed by a pure ACK from the other side
// covering it), then FIN/ACK both ways. Memory use does not depend on the
// stream sizes.
func WriteLong(w io.Writer, cfg LongConfig) (LongResult, error) {
	var res LongResult
	lw, err := newLongWriter(w, cfg, &res)
	if err != nil {
		return res, err
	}
	lw.run()
	if lw.err == nil {
		lw.err = lw.bw.Flush()
	}
	for d := range 2 {
		lw.sha[d].Sum(res.SHA256[d][:0])
	}
	return res, lw.err
}

func newLongWriter(w io.Writer, cfg LongConfig, res *LongResult) (*longWriter, error) {
	if cfg.C2S < 0 || cfg.S2C < 0 {
		return nil, errors.New("pcapgen: negative stream length")
	}
	seg := cfg.SegSize
	if seg == 0 {
		seg = 65000
	}
	if seg < 0 || seg > longMaxSeg {
		return nil, fmt.Errorf("pcapgen: SegSize %d out of range 1..%d", cfg.SegSize, longMaxSeg)
	}
	if cfg.Snaplen < 0 {
		return nil, errors.New("pcapgen: negative snaplen")
	}
	lw := &longWriter{
		res:   res,
		frame: make([]byte, 0, 16+128+seg),
		snap:  cfg.Snaplen,
		seg:   int64(seg),
		burst: cfg.Burst,
		t0:    Epoch,
		total: [2]int64{cfg.C2S, cfg.S2C},
		isn:   cfg.ISN,
	}
	if lw.snap == 0 {
		lw.snap = 262144
	}
	if lw.burst <= 0 {
		lw.burst = longDefBurst
	}
	for d := range 2 {
		lw.key[d] = payloadKey(cfg.Seed, d)
		lw.sha[d] = sha256.New()
		for _, m := range []int64{1 << 31, 1 << 32, 1 << 33} {
			if m < lw.total[d] {
				lw.marks[d] = append(lw.marks[d], m/lw.seg)
			}
		}
	}
	for _, e := range cfg.Events {
		if e.Dir != 0 && e.Dir != 1 {
			return nil, fmt.Errorf("pcapgen: event direction %d", e.Dir)
		}
		if e.Offset < 0 || e.Offset >= lw.total[e.Dir] {
			return nil, fmt.Errorf("pcapgen: event offset %d outside direction %d (%d bytes)", e.Offset, e.Dir, lw.total[e.Dir])
		}
		if e.Kind < Lose || e.Kind > LoseForever {
			return nil, fmt.Errorf("pcapgen: event kind %d", e.Kind)
		}
		after := e.After
		if after <= 0 {
			after = 3
		}
		lw.evs[e.Dir] = append(lw.evs[e.Dir], longEv{seg: e.Offset / lw.seg, kind: e.Kind, after: after})
	}
	for d := range 2 {
		slices.SortFunc(lw.evs[d], func(a, b longEv) int { return cmp.Compare(a.seg, b.seg) })
		for i := 1; i < len(lw.evs[d]); i++ {
			if lw.evs[d][i].seg == lw.evs[d][i-1].seg {
				return nil, fmt.Errorf("pcapgen: two events on direction %d segment at offset %d", d, lw.evs[d][i].seg*lw.seg)
			}
		}
	}
	lw.bw = bufio.NewWriterSize(w, longBufSize)
	h := fileHeader(lw.snap, false)
	lw.write(h[:])
	return lw, nil
}

func (lw *longWriter) write(b []byte) {
	if lw.err != nil {
		return
	}
	n, err := lw.bw.Write(b)
	lw.res.FileBytes += int64(n)
	lw.err = err
}

func (lw *longWriter) seqAt(d int, off int64) uint32 { return lw.isn[d] + 1 + uint32(off) }

// capLen is how many of n payload bytes of a data frame the snaplen keeps.
func (lw *longWriter) capLen(n int) int { return max(0, min(n, lw.snap-longDataHdr)) }

// emit writes one frame from side d; for n > 0 its payload is bytes
// [off, off+n) of direction d. It returns the frame number and the captured
// payload (valid until the next frame).
func (lw *longWriter) emit(d int, seq, ack uint32, flags uint8, opts []byte, off int64, n int) (int, []byte) {
	src, dst := longClient, longServer
	if d == 1 {
		src, dst = dst, src
	}
	optLen := (len(opts) + 3) &^ 3
	b := appendL3Header(lw.frame[:16], 6, src.Addr(), dst.Addr(), 20+optLen+n)
	b = appendTCPHeader(b, Segment{Src: src, Dst: dst, Seq: seq, Ack: ack, Flags: flags, Options: opts})
	end := len(b) // end of headers in b
	hdr := end - 16
	p := b[end : end+max(0, min(n, lw.snap-hdr))]
	fillPayload(p, lw.key[d], off)
	b = b[:end+len(p)]
	t := lw.t0.Add(time.Duration(lw.res.Frames) * longStep)
	rh := recordHeader(t, false, len(b)-16, hdr+n)
	copy(b, rh[:])
	lw.write(b)
	lw.res.Frames++
	return lw.res.Frames, p
}

// data writes segment [off, off+n) of direction d.
func (lw *longWriter) data(d int, off int64, n int, kind LongEventKind, record, retrans bool) []byte {
	f, p := lw.emit(d, lw.seqAt(d, off), lw.seqAt(1-d, lw.sent[1-d]), PSH|ACK, nil, off, n)
	if retrans {
		lw.res.Retrans[d]++
	}
	if record {
		lw.res.Offsets = append(lw.res.Offsets, LongSegmentInfo{Frame: f, Dir: d, Offset: off, Len: n, Kind: kind, Retrans: retrans})
	}
	return p
}

// hashOnly adds the captured bytes of segment [off, off+n) to the delivered
// stream of direction d without writing it.
func (lw *longWriter) hashOnly(d int, off int64, n int) {
	p := lw.frame[:lw.capLen(n)]
	fillPayload(p, lw.key[d], off)
	lw.sha[d].Write(p)
}

func (lw *longWriter) run() {
	syn := []byte{2, 4, byte(longMaxSeg >> 8), byte(longMaxSeg & 0xff), 4, 2, 3, 3, 7}
	lw.emit(0, lw.isn[0], 0, SYN, syn, 0, 0)
	lw.emit(1, lw.isn[1], lw.seqAt(0, 0), SYN|ACK, syn, 0, 0)
	lw.emit(0, lw.seqAt(0, 0), lw.seqAt(1, 0), ACK, nil, 0, 0)
	for lw.err == nil && (lw.sent[0] < lw.total[0] || lw.sent[1] < lw.total[1]) {
		for d := range 2 {
			if lw.sent[d] < lw.total[d] {
				lw.doBurst(d)
			}
		}
	}
	e0, e1 := lw.seqAt(0, lw.total[0]), lw.seqAt(1, lw.total[1])
	lw.emit(0, e0, e1, FIN|ACK, nil, 0, 0)
	lw.emit(1, e1, e0+1, FIN|ACK, nil, 0, 0)
	lw.emit(0, e0+1, e1+1, ACK, nil, 0, 0)
}

func (lw *longWriter) pending(d int) bool { return lw.hasHeld[d] || len(lw.queue[d]) > 0 }

func (lw *longWriter) doBurst(d int) {
	var n int64
	for lw.err == nil && lw.sent[d] < lw.total[d] {
		next := min(lw.seg, lw.total[d]-lw.sent[d])
		if n > 0 && n+next > lw.burst && !lw.pending(d) {
			break
		}
		n += int64(lw.segment(d))
	}
	if lw.sent[d] == lw.total[d] {
		if lw.hasHeld[d] {
			h := lw.held[d]
			lw.hasHeld[d] = false
			lw.data(d, h.off, h.n, h.kind, h.record, false)
		}
		for _, q := range lw.queue[d] {
			lw.data(d, q.off, q.n, q.kind, q.record, true)
		}
		lw.queue[d] = lw.queue[d][:0]
	}
	lw.emit(1-d, lw.seqAt(1-d, lw.sent[1-d]), lw.seqAt(d, lw.sent[d]), ACK, nil, 0, 0)
}

// segment handles the next new segment of direction d and returns its length.
func (lw *longWriter) segment(d int) int {
	off := lw.sent[d]
	n := int(min(lw.seg, lw.total[d]-off))
	idx := off / lw.seg
	var ev longEv
	if evs := lw.evs[d]; len(evs) > 0 && evs[0].seg == idx {
		ev = evs[0]
		lw.evs[d] = evs[1:]
	}
	record := ev.kind != 0
	if m := lw.marks[d]; len(m) > 0 && m[0] == idx {
		record = true
		lw.marks[d] = m[1:]
	}
	prev, hadHeld := lw.held[d], lw.hasHeld[d]
	lw.hasHeld[d] = false
	switch ev.kind {
	case 0, Duplicate:
		p := lw.data(d, off, n, ev.kind, record, false)
		lw.sha[d].Write(p)
		if ev.kind == Duplicate {
			lw.data(d, off, n, ev.kind, record, true)
		}
	case Lose, Reorder:
		lw.hashOnly(d, off, n)
	case LoseForever:
		lw.res.Offsets = append(lw.res.Offsets, LongSegmentInfo{Dir: d, Offset: off, Len: n, Kind: LoseForever})
	}
	if ev.kind != LoseForever {
		lw.res.Bytes[d] += int64(lw.capLen(n))
	}
	lw.sent[d] += int64(n)
	if hadHeld {
		lw.data(d, prev.off, prev.n, prev.kind, prev.record, false)
	}
	// Retransmit losses whose countdown this segment completes.
	q := lw.queue[d][:0]
	for _, p := range lw.queue[d] {
		if p.left--; p.left <= 0 {
			lw.data(d, p.off, p.n, p.kind, p.record, true)
			continue
		}
		q = append(q, p)
	}
	lw.queue[d] = q
	switch ev.kind {
	case Lose:
		lw.queue[d] = append(lw.queue[d], longPend{off: off, n: n, left: ev.after, kind: Lose, record: true})
	case Reorder:
		lw.held[d], lw.hasHeld[d] = longPend{off: off, n: n, kind: Reorder, record: true}, true
	}
	return n
}

// mix64 is the splitmix64 finalizer.
func mix64(z uint64) uint64 {
	z ^= z >> 30
	z *= 0xbf58476d1ce4e5b9
	z ^= z >> 27
	z *= 0x94d049bb133111eb
	return z ^ z>>31
}

// payloadKey is the payload key of direction d.
func payloadKey(seed uint64, d int) uint64 { return mix64(seed ^ uint64(d+1)*0xd1b54a32d192ed03) }

// payloadWord is the little-endian 8-byte word at stream offset 8*k.
func payloadWord(key, k uint64) uint64 { return mix64(key + k*0x9e3779b97f4a7c15) }

// fillPayload fills p with the stream bytes starting at offset off.
func fillPayload(p []byte, key uint64, off int64) {
	k := uint64(off) >> 3
	if r := off & 7; r != 0 && len(p) > 0 {
		var w [8]byte
		binary.LittleEndian.PutUint64(w[:], payloadWord(key, k))
		p = p[copy(p, w[r:]):]
		k++
	}
	for len(p) >= 32 {
		binary.LittleEndian.PutUint64(p[0:], payloadWord(key, k))
		binary.LittleEndian.PutUint64(p[8:], payloadWord(key, k+1))
		binary.LittleEndian.PutUint64(p[16:], payloadWord(key, k+2))
		binary.LittleEndian.PutUint64(p[24:], payloadWord(key, k+3))
		p = p[32:]
		k += 4
	}
	for len(p) >= 8 {
		binary.LittleEndian.PutUint64(p, payloadWord(key, k))
		p = p[8:]
		k++
	}
	if len(p) > 0 {
		var w [8]byte
		binary.LittleEndian.PutUint64(w[:], payloadWord(key, k))
		copy(p, w[:])
	}
}

// PipeLong writes the capture of cfg on its own goroutine into the returned
// reader (tests feed it to a reader of captures: nothing touches the disk);
// wait returns WriteLong's result once the reader has been drained or
// closed.
func PipeLong(cfg LongConfig) (r io.ReadCloser, wait func() LongResult) {
	pr, pw := io.Pipe()
	resc := make(chan LongResult, 1)
	go func() {
		res, err := WriteLong(pw, cfg)
		pw.CloseWithError(err)
		resc <- res
	}()
	return pr, func() LongResult { return <-resc }
}
