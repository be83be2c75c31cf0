package reassembly

import (
	"fmt"
	"sort"
	"time"

	"github.com/sockscope/sockscope/capture"
)

// aheadSeg is a piece of a direction's stream seen beyond the contiguous
// prefix, waiting for the bytes before it.
type aheadSeg struct {
	r      ByteRange
	capEnd int64 // bytes [capEnd, r.End) were not captured (snaplen)
	frame  int
	data   []byte // captured bytes [r.Start, capEnd), when keeping data or feeding OnData
	noData bool   // captured, but the bytes were dropped to bound memory (OnData sees nil)
}

// maxAheadOnData bounds the out-of-order payload buffered only to feed
// Options.OnData (streams whose data is not kept). Past it the buffered
// bytes are dropped, their ranges kept: counts stay exact, OnData sees a gap.
const maxAheadOnData = 1 << 20

// halfState is the reassembly state of one direction.
type halfState struct {
	h        *Half
	baseSet  bool
	isn      Seq   // relative sequence 0; offset 0 is isn+1
	base     int64 // offset this part of the stream starts at (0; where it was flushed, when resumed)
	next     int64 // every offset below next is resolved (delivered or declared missing)
	highest  int64 // highest end offset seen
	highTime time.Time
	ahead    []aheadSeg
	aheadB   int64
	pool     *aheadPool // the tracker's count of out-of-order bytes over all streams
	keep     bool
	hold     bool  // buffer out-of-order contents up to maxAhead (kept or followed streams)
	finOff   int64 // offset of the FIN, -1 until seen
	peerMSS  int   // MSS announced by the other side (segments above it are offload artifacts)
	maxAhead int64 // cap on buffered out-of-order bytes (keep) or ranges*1024 (no keep)
	reorder  time.Duration

	rev         *halfState // the other direction
	lastAck     uint32     // last ACK number this direction sent
	lastWin     uint16
	lastAckTime time.Time
	dupAcks     int // duplicate ACKs in a row for lastAck

	onData func(r ByteRange, b []byte, frame int) // Options.OnData for this direction
}

// ack tracks duplicate ACKs as Wireshark defines them: no payload, no
// SYN/FIN/RST, same ACK number and window as the previous ACK.
func (hs *halfState) ack(p *capture.Packet) {
	if !p.Flags.Has(capture.ACK) {
		return
	}
	if p.PayloadLen == 0 && p.Flags&(capture.SYN|capture.FIN|capture.RST) == 0 && p.Ack == hs.lastAck && p.Window == hs.lastWin {
		hs.dupAcks++
		hs.lastAckTime = p.Time
		return
	}
	if p.Ack != hs.lastAck {
		hs.dupAcks = 0
		hs.lastAckTime = p.Time
	}
	hs.lastAck, hs.lastWin = p.Ack, p.Window
}

// maxAheadRanges bounds the out-of-order ranges held for a stream; past it
// the lowest hole is declared missing (and reported). Real loss leaves a
// handful of holes; the bound keeps a flood of scattered tiny segments from
// costing more than O(maxAheadRanges) per segment.
const maxAheadRanges = 1024

// setBase fixes relative sequence 0 from the first packet of this direction.
func (hs *halfState) setBase(p *capture.Packet) {
	hs.baseSet = true
	if p.Flags.Has(capture.SYN) {
		hs.isn = Seq(p.Seq)
	} else {
		hs.isn = Seq(p.Seq - 1)
	}
	hs.h.ISN = uint32(hs.isn)
	hs.finOff = -1
}

// rel returns the relative sequence number of a raw one (1 = the first byte
// after the SYN), unwrapped into 64 bits: the 32-bit number is compared
// (RFC 1982 serial arithmetic) with the highest byte seen so far, so a
// stream of any length, wrapping any number of times, keeps exact offsets.
// It equals Wireshark's tcp.seq below 4 GiB; past it, Wireshark's wraps.
func (hs *halfState) rel(seq uint32) int64 {
	ref := hs.highest + 1
	return ref + Seq(seq).Diff(hs.isn.Add(ref))
}

// segment processes the payload of a TCP segment (PayloadLen > 0 or a probe).
// zeroWin says the receiver last advertised a zero window.
func (hs *halfState) segment(p *capture.Packet, dir Direction, zeroWin bool, rep *reporter) Segment {
	h := hs.h
	dataSeq := p.Seq
	if p.Flags.Has(capture.SYN) {
		dataSeq++
	}
	a := hs.rel(dataSeq) - 1
	L := int64(p.PayloadLen)
	c := int64(len(p.Payload))
	end := a + L
	h.Wire += L
	seg := Segment{Dir: dir, Frame: p.Frame, Time: p.Time, Seq: a + 1, Len: p.PayloadLen, Captured: len(p.Payload), Flags: p.Flags}
	if p.Truncated && c < L {
		h.Truncated++
	}
	if hs.peerMSS > 0 && L > int64(hs.peerMSS) {
		h.Oversize++
		rep.add(AnomalyOversize, fmt.Sprintf("segment of %d bytes is larger than the MSS %d the receiver announced: captured before segmentation offload (TSO/GSO) or after receive offload (GRO), not as sent on the wire", L, hs.peerMSS))
	}
	switch {
	case L <= 1 && a == hs.next-1 && hs.next > 0 && !p.Flags.Has(capture.FIN) && !p.Flags.Has(capture.SYN) && !p.Flags.Has(capture.RST):
		seg.Kind = KindKeepAlive
		rep.addSeg(AnomalyKeepAlive, &seg)
		hs.record(seg)
		return seg
	case end <= 0:
		seg.Kind = KindBeforeStart
		if h.SYN {
			seg.why = whyOldConn
		}
		rep.addSeg(AnomalyBeforeStart, &seg)
		hs.record(seg)
		return seg
	}
	payload := p.Payload
	if a < 0 { // partly before the start of the capture
		cut := -a
		if cut < c {
			payload = payload[cut:]
		} else {
			payload = nil
		}
		a = 0
	}
	capEnd := a + int64(len(payload))

	// The new portions: [a,end) minus [0,next) minus the ahead ranges.
	var portions [8]ByteRange
	np := portions[:0]
	var more []ByteRange
	add := func(r ByteRange) {
		if r.Start >= r.End {
			return
		}
		if len(np) < cap(np) {
			np = append(np, r)
		} else {
			more = append(more, r)
		}
	}
	pos := max(a, hs.next)
	i := sort.Search(len(hs.ahead), func(i int) bool { return hs.ahead[i].r.End > pos })
	for ; i < len(hs.ahead) && pos < end; i++ {
		as := hs.ahead[i].r
		if as.Start >= end {
			break
		}
		add(ByteRange{pos, min(as.Start, end)})
		pos = max(pos, as.End)
	}
	add(ByteRange{pos, end})
	np = append(np, more...)
	var newBytes int64
	for _, r := range np {
		newBytes += r.Len()
	}

	if hs.keep {
		hs.checkOverlap(a, payload, p.Frame, rep, dir)
	}
	// The facts Segment.Reason words (the new bytes are set first: a
	// partial retransmission's reason counts them).
	if newBytes > 0 {
		seg.Added = ByteRange{np[0].Start, np[len(np)-1].End}
		seg.NewBytes = newBytes
	}
	switch {
	case newBytes == 0:
		seg.Kind, seg.aux = KindRetransmission, hs.firstFrameOf(a)
	case newBytes < end-a:
		seg.Kind, seg.aux = KindPartialRetransmission, hs.firstFrameOf(a)
	case a < hs.highest:
		if rev := hs.rev; rev != nil && rev.dupAcks >= 2 && rev.lastAck == dataSeq && p.Time.Sub(rev.lastAckTime) < 20*time.Millisecond {
			seg.Kind, seg.why, seg.aux = KindRetransmission, whyFast, int64(rev.dupAcks)
		} else if p.Time.Sub(hs.highTime) < hs.reorder && end != hs.highest {
			seg.Kind, seg.aux = KindOutOfOrder, int64(p.Time.Sub(hs.highTime))
		} else {
			seg.Kind, seg.why, seg.aux = KindRetransmission, whyFillGap, int64(p.Time.Sub(hs.highTime))
		}
	default:
		seg.Kind = KindNew
		if zeroWin && L == 1 && a == hs.next {
			seg.Kind = KindZeroWindowProbe
			rep.addSeg(AnomalyZeroWindowProbe, &seg)
		}
	}
	switch seg.Kind {
	case KindRetransmission, KindPartialRetransmission:
		h.Retrans++
		rep.addSeg(AnomalyRetransmission, &seg)
	case KindOutOfOrder:
		h.OutOfOrd++
		rep.addSeg(AnomalyOutOfOrder, &seg)
	}
	if end > hs.highest {
		hs.highest = end
		hs.highTime = p.Time
	}
	for _, r := range np {
		var d []byte
		if (hs.keep || hs.onData != nil) && r.Start < capEnd {
			d = payload[r.Start-a : min(r.End, capEnd)-a]
		}
		as := aheadSeg{r: r, capEnd: max(r.Start, min(r.End, capEnd)), frame: p.Frame, data: d}
		if r.Start == hs.next {
			hs.deliver(as)
		} else {
			if (hs.keep || hs.onData != nil) && d != nil {
				as.data = append([]byte(nil), d...)
			}
			hs.insertAhead(as, rep)
		}
	}
	hs.drain()
	hs.record(seg)
	return seg
}

func (hs *halfState) record(seg Segment) {
	if hs.keep {
		hs.h.Segments.Append(seg)
	}
}

// firstFrameOf returns the frame that first supplied offset off, when known
// (kept streams only), else noFrame.
func (hs *halfState) firstFrameOf(off int64) int64 {
	if !hs.keep {
		return noFrame
	}
	ch := &hs.h.Chunks
	if i := hs.h.ChunkAt(off); i < ch.Len() && ch.At(i).Range.Start <= off {
		return int64(ch.At(i).Frame)
	}
	for _, as := range hs.ahead {
		if as.r.Start <= off && off < as.r.End {
			return int64(as.frame)
		}
	}
	return noFrame
}

// checkOverlap compares bytes a segment repeats with the copy already held
// and reports a conflict (the first copy is kept, as Wireshark does).
func (hs *halfState) checkOverlap(a int64, payload []byte, frame int, rep *reporter, dir Direction) {
	end := a + int64(len(payload))
	h := hs.h
	// Against delivered data.
	if a < hs.next {
		for i := h.ChunkAt(a); i < h.Chunks.Len(); i++ {
			c := *h.Chunks.At(i)
			if c.Range.Start >= end {
				break
			}
			s, e := max(a, c.Range.Start), min(end, c.Range.End)
			old := h.DataAt(c.Data+(s-c.Range.Start), e-s)
			if old != nil && !bytesEqual(old, payload[s-a:e-a]) {
				rep.add(AnomalyOverlapConflict, fmt.Sprintf("overlap conflict: frame %d resends bytes [%d,%d) with different contents than frame %d; kept frame %d's copy (first copy wins)", frame, s, e, c.Frame, c.Frame))
				return
			}
		}
	}
	for _, as := range hs.ahead {
		if as.r.Start >= end || as.capEnd <= a {
			continue
		}
		s, e := max(a, as.r.Start), min(end, as.capEnd)
		if s < e && !bytesEqual(as.data[s-as.r.Start:e-as.r.Start], payload[s-a:e-a]) {
			rep.add(AnomalyOverlapConflict, fmt.Sprintf("overlap conflict: frame %d resends bytes [%d,%d) with different contents than frame %d; kept frame %d's copy (first copy wins)", frame, s, e, as.frame, as.frame))
			return
		}
	}
}

func bytesEqual(a, b []byte) bool { return string(a) == string(b) }

// deliver appends a piece that starts exactly at next.
func (hs *halfState) deliver(as aheadSeg) {
	h := hs.h
	if as.capEnd > as.r.Start {
		n := as.capEnd - as.r.Start
		h.Captured += n
		if hs.onData != nil {
			var b []byte
			if !as.noData {
				b = as.data[:n]
			}
			hs.onData(ByteRange{as.r.Start, as.capEnd}, b, as.frame)
		}
		if hs.keep {
			r := ByteRange{as.r.Start, as.capEnd}
			if k := h.Chunks.Len() - 1; k >= 0 && h.Chunks.At(k).Frame == as.frame && h.Chunks.At(k).Range.End == r.Start {
				h.Chunks.At(k).Range.End = r.End // the newest block: in memory
			} else {
				h.Chunks.Append(Chunk{Range: r, Frame: as.frame, Data: h.DataLen()})
			}
			h.appendData(as.data[:n])
		}
	}
	if as.capEnd < as.r.End {
		hs.gap(ByteRange{as.capEnd, as.r.End}, GapSnaplen)
	}
	hs.next = as.r.End
}

func (hs *halfState) gap(r ByteRange, k GapKind) {
	if r.Len() <= 0 {
		return
	}
	if hs.onData != nil {
		hs.onData(r, nil, 0)
	}
	if !hs.keep {
		return
	}
	g := hs.h.Gaps
	if n := len(g) - 1; n >= 0 && g[n].Kind == k && g[n].Range.End == r.Start {
		g[n].Range.End = r.End
		return
	}
	hs.h.Gaps = append(g, Gap{Range: r, Kind: k})
}

func (hs *halfState) insertAhead(as aheadSeg, rep *reporter) {
	i := sort.Search(len(hs.ahead), func(i int) bool { return hs.ahead[i].r.Start > as.r.Start })
	if as.data == nil && !hs.keep && as.capEnd == as.r.End && hs.onData == nil {
		// No bytes kept: a range touching its neighbour merges with it, so
		// in-order runs beyond a hole (and reverse-order floods) stay one entry.
		if i > 0 && hs.ahead[i-1].data == nil && hs.ahead[i-1].capEnd == hs.ahead[i-1].r.End && hs.ahead[i-1].r.End == as.r.Start {
			hs.ahead[i-1].r.End, hs.ahead[i-1].capEnd = as.r.End, as.r.End
			if i < len(hs.ahead) && hs.ahead[i].data == nil && hs.ahead[i].capEnd == hs.ahead[i].r.End && hs.ahead[i].r.Start == as.r.End {
				hs.ahead[i-1].r.End, hs.ahead[i-1].capEnd = hs.ahead[i].r.End, hs.ahead[i].r.End
				hs.ahead = append(hs.ahead[:i], hs.ahead[i+1:]...)
			}
			return
		}
		if i < len(hs.ahead) && hs.ahead[i].data == nil && hs.ahead[i].capEnd == hs.ahead[i].r.End && hs.ahead[i].r.Start == as.r.End {
			hs.ahead[i].r.Start = as.r.Start
			return
		}
	}
	hs.ahead = append(hs.ahead, aheadSeg{})
	copy(hs.ahead[i+1:], hs.ahead[i:])
	hs.ahead[i] = as
	hs.addAhead(int64(len(as.data)))
	if !hs.hold && (hs.aheadB > maxAheadOnData || hs.pool.over()) {
		for i := range hs.ahead {
			if hs.ahead[i].data != nil {
				hs.ahead[i].data, hs.ahead[i].noData = nil, true
			}
		}
		what := fmt.Sprintf("out-of-order bytes beyond %d buffered", maxAheadOnData)
		if hs.aheadB <= maxAheadOnData {
			what = fmt.Sprintf("out-of-order bytes of all streams together beyond %d buffered (total cap)", hs.pool.max)
		}
		hs.addAhead(-hs.aheadB)
		rep.add(AnomalyBufferCap, what+": their contents were not kept for analysis (counts are unaffected)")
	}
	for len(hs.ahead) > 0 && (hs.aheadB > hs.maxAhead || len(hs.ahead) > maxAheadRanges || hs.pool.over()) {
		first := hs.ahead[0].r.Start
		what := "out-of-order buffer cap reached"
		if hs.aheadB <= hs.maxAhead && len(hs.ahead) <= maxAheadRanges {
			what = fmt.Sprintf("out-of-order buffer cap of all streams together (%d bytes) reached", hs.pool.max)
		}
		rep.add(AnomalyBufferCap, fmt.Sprintf("%s: bytes [%d,%d) declared missing so that buffered data can be delivered", what, hs.next, first))
		hs.gap(ByteRange{hs.next, first}, GapBuffer)
		hs.next = first
		hs.drain()
	}
}

// aheadPool counts the out-of-order bytes buffered by all streams of a
// tracker, against Options.MaxBufferedTotal.
type aheadPool struct{ bytes, max int64 }

// over reports whether the buffered bytes exceed the cap (a nil pool has
// none).
func (p *aheadPool) over() bool { return p != nil && p.bytes > p.max }

// addAhead counts n more (or, negative, fewer) buffered bytes.
func (hs *halfState) addAhead(n int64) {
	hs.aheadB += n
	if hs.pool != nil {
		hs.pool.bytes += n
	}
}

// drain delivers ahead pieces that have become contiguous.
func (hs *halfState) drain() {
	for len(hs.ahead) > 0 && hs.ahead[0].r.Start <= hs.next {
		as := hs.ahead[0]
		hs.ahead = hs.ahead[1:]
		hs.addAhead(-int64(len(as.data)))
		if as.r.End <= hs.next {
			continue
		}
		hs.deliver(as)
	}
	if len(hs.ahead) == 0 {
		hs.ahead = nil
	}
}

// finish declares the remaining holes missing and computes the totals.
func (hs *halfState) finish() {
	h := hs.h
	for len(hs.ahead) > 0 {
		first := hs.ahead[0].r.Start
		hs.gap(ByteRange{hs.next, first}, GapLost)
		hs.next = first
		hs.drain()
	}
	end := hs.highest
	if hs.finOff > end {
		end = hs.finOff
	}
	if end > hs.next {
		hs.gap(ByteRange{hs.next, end}, GapLost)
		hs.next = end
	}
	h.Bytes = end - hs.base
	h.End = end
	h.Missing = h.Bytes - h.Captured
}
