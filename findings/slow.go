package findings

import (
	"fmt"
	"time"

	"github.com/sockscope/sockscope/internal/human"
	"github.com/sockscope/sockscope/reassembly"
)

// Slow sender (slowloris-like).
//
// Rule 1, trickle: in one direction, at least SlowMinSegments consecutive
// data segments each carrying at most SlowMaxBytes, each sent at least
// SlowMinGap after the previous one. A segment bigger than SlowMaxBytes, or
// one sent sooner, ends the run; the longest run counts. Retransmissions,
// keep-alives and window probes are not data and neither extend nor end it.
// Warning: a request trickled like this ties up a server worker for the
// whole time (slowloris), or a client is starved.
//
// Rule 2, held open: a connection that lasted at least IdleMinDuration and
// carried less than IdleMaxRate bytes per second (both directions together).
// Info: keep-alive pools do this on purpose, leaks and slowloris too.

type slowRun struct {
	n            int
	bytes        int64
	maxSeg       int
	start, last  time.Time
	frames       []int
	first, final int
}

type slowState struct {
	cur, best slowRun
}

func (st *streamState) slowPacket(r *reassembly.PacketRecord) {
	if !isData(r) {
		return
	}
	cfg := &st.e.cfg
	sl := &st.slow[r.Dir]
	c := &sl.cur
	if r.Len > cfg.SlowMaxBytes {
		c.n = 0
		return
	}
	if c.n == 0 || r.Time.Sub(c.last) < cfg.SlowMinGap {
		*c = slowRun{start: r.Time, first: r.Frame, frames: c.frames[:0]}
	}
	c.n++
	c.bytes += int64(r.Len)
	c.maxSeg = max(c.maxSeg, r.Len)
	c.last, c.final = r.Time, r.Frame
	if len(c.frames) < cfg.MaxEvidence {
		c.frames = append(c.frames, r.Frame)
	}
	if c.n > sl.best.n {
		b := *c
		b.frames = append([]int(nil), c.frames...)
		sl.best = b
	}
}

func (st *streamState) slowFinding(s *reassembly.Stream) *Finding {
	cfg := &st.e.cfg
	var worst reassembly.Direction
	for d := range st.slow {
		if st.slow[d].best.n > st.slow[worst].best.n {
			worst = reassembly.Direction(d)
		}
	}
	if b := st.slow[worst].best; b.n >= cfg.SlowMinSegments {
		span := b.last.Sub(b.start)
		return st.one(Finding{Kind: KindSlowSender, Severity: Warning,
			Message: fmt.Sprintf("The %s trickled %s in %d segments of at most %s over %s (%s, one segment every %s): a slow sender (slowloris-like) holding the connection open.",
				who(worst), bytesText(b.bytes), b.n, bytesText(int64(b.maxSeg)), human.Duration(span), rate(b.bytes, span), human.Duration(span/time.Duration(max(b.n-1, 1)))),
			Details: []string{fmt.Sprintf("%s frames %d–%d: %d tiny segments at least %s apart", worst.Arrow(), b.first, b.final, b.n, human.Duration(cfg.SlowMinGap))},
		}, b.frames...)
	}
	return st.e.heldOpen(s)
}

// heldOpen applies rule 2 to a finished stream (nil s: not delivered).
func (e *Engine) heldOpen(s *reassembly.Stream) *Finding {
	if s == nil {
		return nil
	}
	cfg := &e.cfg
	total := s.Dirs[0].Bytes + s.Dirs[1].Bytes
	if d := s.Duration(); d >= cfg.IdleMinDuration && float64(total) < cfg.IdleMaxRate*d.Seconds() {
		ev := evidence{max: cfg.MaxEvidence}
		ev.stream(RefOf(s))
		ev.frame(s.FirstFrame)
		ev.frame(s.LastFrame)
		f := Finding{Kind: KindSlowSender, Severity: Info,
			Message: fmt.Sprintf("The connection was held open for %s carrying only %s (%s): almost no data, as a slow or idle client holding a server slot.",
				human.Duration(d), bytesText(total), rate(total, d))}
		ev.finish(&f)
		return &f
	}
	return nil
}
