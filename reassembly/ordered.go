package reassembly

import (
	"slices"
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
// streams.
type Ordered struct {
	Emit   func(*Summary) error
	Settle time.Duration
	Late   int // stream deliveries that came after the stream was emitted

	err     error
	next    [2]int
	pending [2]map[int32]*Summary
	now     int64
}

// Add takes a finished stream (use it as Options.OnStream).
func (o *Ordered) Add(s *Stream) {
	p := 0
	if s.Proto == capture.ProtoUDP {
		p = 1
	}
	if o.pending[p] == nil {
		o.pending[p] = make(map[int32]*Summary)
	}
	sm := s.Summary()
	id := int32(s.ID)
	switch old := o.pending[p][id]; {
	case s.ID < o.next[p]:
		o.Late++
	case old != nil:
		old.Merge(&sm)
	default:
		o.pending[p][id] = &sm
	}
	o.now = max(o.now, s.End.UnixNano())
	o.flush(false)
}

func (o *Ordered) flush(all bool) {
	for o.err == nil {
		sm := o.pending[0][int32(o.next[0])]
		if sm == nil || (!all && time.Duration(o.now-sm.end) < o.Settle) {
			break
		}
		delete(o.pending[0], int32(o.next[0]))
		o.next[0]++
		o.err = o.Emit(sm)
	}
}

// Finish delivers everything still held, in order, and returns the first
// error Emit returned.
func (o *Ordered) Finish() error {
	o.flush(true)
	for p := range o.pending {
		ids := make([]int32, 0, len(o.pending[p]))
		for id := range o.pending[p] {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for _, id := range ids {
			if o.err != nil {
				return o.err
			}
			o.err = o.Emit(o.pending[p][id])
		}
		o.pending[p] = nil
	}
	return o.err
}
