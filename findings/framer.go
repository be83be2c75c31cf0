package findings

import (
	"errors"
	"fmt"
	"strings"

	"github.com/sockscope/sockscope/decode"
	"github.com/sockscope/sockscope/reassembly"
)

// Framing hazards ("one send is not one recv").
//
// Rule: on a stream whose framing is one of HazardFramings (by default the
// ones applications usually parse by hand: line, len, fixed), each direction
// is framed incrementally as its bytes arrive. A message whose bytes came in
// more than one segment is split; a segment that carried bytes of two or more
// messages coalesced them. A direction with at least HazardMin split or
// coalesced messages is reported (info), with the worst example of each: a
// reader that treats one recv() as one message breaks on exactly these.
//
// Memory: a framer holds only the bytes of the message it is waiting for, at
// most FramerBuffer per direction (and MaxBuffered for all together). A
// message of known length beyond that (len, fixed) is skipped to its end, its
// segments still counted; otherwise the direction's check stops and the
// analysis_limit finding says so. After a gap in the capture or a framing
// error the direction's check stops too (the counts so far stand).

type span struct {
	start, end int64
	frame      int
}

type framer struct {
	e         *Engine
	ref       StreamRef
	dir       reassembly.Direction
	dec       decode.Decoder
	stateless bool // the decoder keeps no state between messages: long ones may be skipped

	buf    []byte
	base   int64  // stream offset of buf[0]
	spans  []span // frames of the held bytes (and of the message being skipped)
	skipTo int64  // > 0: skipping a long message [msgStart, skipTo)
	dead   bool

	msgs, split, multi int
	msgStart           int64
	curSpan            int64 // end offset of the segment the last message touched (-1 none)
	curMsgs            int   // messages that touched it
	curFrame           int
	msgSegs            int // segments the current message touched
	msgFirst, msgLast  int

	worstSplit struct {
		index, segs, first, last int
		len                      int64
	}
	worstMulti struct{ frame, msgs int }
}

func (f *framer) data(r reassembly.ByteRange, b []byte, frame int) {
	if f.dead {
		return
	}
	if b == nil { // a gap: the framing cannot continue with certainty
		f.stop("")
		return
	}
	if f.skipTo > 0 {
		f.touch(span{r.Start, r.End, frame})
		if r.End < f.skipTo {
			return
		}
		cut := f.skipTo - r.Start
		f.endMessage(f.skipTo)
		b, r.Start = b[cut:], f.skipTo
		f.skipTo = 0
		f.base = r.Start
		if len(b) == 0 {
			return
		}
	}
	if len(f.buf) == 0 {
		f.base = r.Start
	}
	if f.e.buffered+int64(len(b)) > f.e.cfg.MaxBuffered {
		f.e.limits.framerTotal++
		f.e.limits.note(f.ref, f.e.cfg.MaxEvidence)
		f.stop("")
		return
	}
	f.buf = append(f.buf, b...)
	f.e.buffered += int64(len(b))
	f.spans = append(f.spans, span{r.Start, r.End, frame})
	f.run()
}

func (f *framer) run() {
	for !f.dead && len(f.buf) > 0 {
		_, n, err := safeNext(f.dec, f.dir, f.buf)
		switch {
		case err == nil && n > 0 && n <= len(f.buf):
			f.message(f.base, f.base+int64(n))
			f.consume(n)
		case errors.Is(err, decode.ErrNeedMore):
			if len(f.buf) <= f.e.cfg.FramerBuffer && (n <= f.e.cfg.FramerBuffer || !f.stateless) {
				return
			}
			if f.stateless && n > len(f.buf) {
				// A long message of known length: count its segments
				// without holding its bytes.
				f.msgStart = f.base
				f.msgSegs, f.msgFirst, f.msgLast = 0, 0, 0
				for _, sp := range f.spans {
					f.touch(sp)
				}
				f.skipTo = f.base + int64(n)
				f.release(len(f.buf))
				f.spans = f.spans[:0]
				return
			}
			f.e.limits.framerCap++
			f.e.limits.note(f.ref, f.e.cfg.MaxEvidence)
			f.stop("")
			return
		default:
			f.stop("")
			return
		}
	}
}

// message records a whole message [start, end) of the held bytes.
func (f *framer) message(start, end int64) {
	f.msgStart = start
	f.msgSegs, f.msgFirst, f.msgLast = 0, 0, 0
	for _, sp := range f.spans {
		if sp.end <= start || sp.start >= end {
			continue
		}
		f.touch(sp)
	}
	f.endMessage(end)
}

// touch notes that the current message has bytes from segment sp.
func (f *framer) touch(sp span) {
	f.msgSegs++
	if f.msgFirst == 0 {
		f.msgFirst = sp.frame
	}
	f.msgLast = sp.frame
	if sp.end == f.curSpan && sp.frame == f.curFrame {
		f.curMsgs++
		return
	}
	f.closeSegment()
	f.curSpan, f.curFrame, f.curMsgs = sp.end, sp.frame, 1
}

func (f *framer) closeSegment() {
	if f.curMsgs >= 2 {
		f.multi++
		if f.curMsgs > f.worstMulti.msgs {
			f.worstMulti.frame, f.worstMulti.msgs = f.curFrame, f.curMsgs
		}
	}
	f.curMsgs = 0
}

func (f *framer) endMessage(end int64) {
	f.msgs++
	if f.msgSegs > 1 {
		f.split++
		if f.msgSegs > f.worstSplit.segs {
			w := &f.worstSplit
			w.index, w.segs, w.first, w.last, w.len = f.msgs, f.msgSegs, f.msgFirst, f.msgLast, end-f.msgStart
		}
	}
}

func (f *framer) consume(n int) {
	f.e.buffered -= int64(n)
	f.buf = f.buf[n:]
	f.base += int64(n)
	k := 0
	for k < len(f.spans) && f.spans[k].end <= f.base {
		k++
	}
	f.spans = f.spans[k:]
	if len(f.buf) == 0 {
		f.buf, f.spans = nil, f.spans[:0]
	}
}

func (f *framer) release(n int) {
	f.e.buffered -= int64(n)
	if n == len(f.buf) {
		f.buf = nil
	}
}

func (f *framer) stop(string) {
	if !f.dead {
		f.dead = true
		f.e.buffered -= int64(len(f.buf))
		f.buf, f.spans = nil, nil
	}
}

func (f *framer) finish() {
	f.closeSegment()
	f.stop("")
}

func safeNext(dec decode.Decoder, d reassembly.Direction, b []byte) (m decode.Message, n int, err error) {
	defer func() {
		if r := recover(); r != nil {
			m, n, err = decode.Message{}, 0, &decode.Error{Protocol: "decoder", Reason: fmt.Sprint(r)}
		}
	}()
	return dec.Next(d, b, false)
}

func (st *streamState) hazardFinding() *Finding {
	ct := &st.ct
	if !ct.hazard {
		return nil
	}
	var parts, details []string
	var frames []int
	for _, f := range ct.fr {
		if f == nil || f.split+f.multi < st.e.cfg.HazardMin || f.split+f.multi == 0 {
			continue
		}
		arrow := f.dir.Arrow()
		var p []string
		if f.split > 0 {
			p = append(p, fmt.Sprintf("%d of %d messages split across segments", f.split, f.msgs))
			w := f.worstSplit
			details = append(details, fmt.Sprintf("worst split: %s message #%d (%s) came in %d segments, frames %d–%d", arrow, w.index, bytesText(w.len), w.segs, w.first, w.last))
			frames = append(frames, w.first, w.last)
		}
		if f.multi > 0 {
			p = append(p, fmt.Sprintf("%s carried several messages", plural(f.multi, "segment", "segments")))
			details = append(details, fmt.Sprintf("worst coalescing: %s frame %d carried %d messages", arrow, f.worstMulti.frame, f.worstMulti.msgs))
			frames = append(frames, f.worstMulti.frame)
		}
		parts = append(parts, arrow+" "+strings.Join(p, " and "))
	}
	if len(parts) == 0 {
		return nil
	}
	return st.one(Finding{Kind: KindFramingHazard, Severity: Info,
		Message: fmt.Sprintf("One send is not one recv (%s framing): %s; a reader that takes one recv() as one message breaks here.", ct.framing, strings.Join(parts, "; ")),
		Details: append(details, "framing "+ct.framing+": "+ct.why)}, frames...)
}
