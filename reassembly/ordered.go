package reassembly

import (
	"time"

	"github.com/sockscope/sockscope/capture"
)

// Ordered delivers finished streams as Summaries in stream-ID order (TCP by
// ID, then UDP by ID) while the capture is still being read, holding only the
// streams that finished ahead of a lower-numbered one: memory does not grow
// with the number of streams. A TCP stream is delivered once Settle of
// capture time has passed since its last packet, so a late packet (the last
// ACK, a retransmission) can still be merged into it; a packet even later is
// counted in Late instead. UDP flows are delivered at Finish, after all TCP
// streams, unless Interleave is set.
type Ordered struct {
	Emit   func(*Summary) error
	Settle time.Duration
	// Interleave delivers UDP flows as they settle too (each protocol still
	// in ID order, the two interleaved) instead of holding every UDP flow
	// until Finish: a capture of a million DNS exchanges is a million UDP
	// flows.
	Interleave bool
	// OnLate, when set, is offered a stream delivered again after it was
	// emitted; it returns true when it merged it into what it holds (a
	// view that has not printed that stream yet). Otherwise the delivery
	// counts in Late.
	OnLate func(*Summary) bool
	Late   int // stream deliveries that came after the stream was emitted

	err     error
	pending [2]window // [tcp, udp]
	now     int64
}

// window holds summaries by ID from base (the lowest ID not yet emitted)
// upward, in a ring: a lookup is an index, not a hash (stream IDs are dense).
type window struct {
	base, head int        // lowest ID held; its index in buf
	buf        []*Summary // len is a power of two (or 0)
}

// slot returns where ID id (>= base) lives, growing the ring to reach it.
func (w *window) slot(id int) **Summary {
	for id-w.base >= len(w.buf) {
		nb := make([]*Summary, max(64, 2*len(w.buf)))
		for i := range w.buf {
			nb[i] = w.buf[(w.head+i)&(len(w.buf)-1)]
		}
		w.buf, w.head = nb, 0
	}
	return &w.buf[(w.head+id-w.base)&(len(w.buf)-1)]
}

// get returns the summary of ID id, or nil.
func (w *window) get(id int) *Summary {
	if id < w.base || id-w.base >= len(w.buf) {
		return nil
	}
	return *w.slot(id)
}

// pop removes and returns the summary at base (nil when absent) and moves
// base on.
func (w *window) pop() *Summary {
	if len(w.buf) == 0 {
		w.base++
		return nil
	}
	sm := w.buf[w.head]
	w.buf[w.head] = nil
	w.head = (w.head + 1) & (len(w.buf) - 1)
	w.base++
	return sm
}

// last returns one past the highest ID that may be held.
func (w *window) last() int { return w.base + len(w.buf) }

// Add takes a finished stream (use it as Options.OnStream).
func (o *Ordered) Add(s *Stream) {
	p := 0
	if s.Proto == capture.ProtoUDP {
		p = 1
	}
	w := &o.pending[p]
	sm := s.Summary()
	switch {
	case s.ID < w.base:
		if o.OnLate == nil || !o.OnLate(&sm) {
			o.Late++
		}
	default:
		if at := w.slot(s.ID); *at != nil {
			(*at).Merge(&sm)
		} else {
			*at = &sm
		}
	}
	o.now = max(o.now, s.End.UnixNano())
	o.flush(false)
}

func (o *Ordered) flush(all bool) {
	for p := range o.pending {
		if p == 1 && !o.Interleave {
			break
		}
		w := &o.pending[p]
		for o.err == nil {
			sm := w.get(w.base)
			if sm == nil || (!all && time.Duration(o.now-sm.end) < o.Settle) {
				break
			}
			w.pop()
			o.err = o.Emit(sm)
		}
	}
}

// Finish delivers everything still held, in order, and returns the first
// error Emit returned.
func (o *Ordered) Finish() error {
	o.flush(true)
	for p := range o.pending {
		w := &o.pending[p]
		for end := w.last(); w.base < end && o.err == nil; {
			if sm := w.pop(); sm != nil {
				o.err = o.Emit(sm)
			}
		}
		*w = window{base: w.base}
	}
	return o.err
}
