package findings

import (
	"fmt"
	"strings"
	"time"

	"github.com/sockscope/sockscope/capture"
	"github.com/sockscope/sockscope/internal/human"
	"github.com/sockscope/sockscope/reassembly"
)

// Receiver not reading (zero window).
//
// Rule: a side advertises a window of 0 (its receive buffer is full: the
// application is not reading) until it advertises a non-zero window again
// (or the stream ends). Every such period is counted, with the other side's
// zero-window probes. Warning when the periods add up to at least
// ZeroWindowWarn, info otherwise.

type zeroWindowState struct {
	inZero     bool
	start      time.Time
	startFrame int
	periods    int
	total      time.Duration
	longest    time.Duration
	longestAt  int
	openAtEnd  bool
	probes     int // probes the other side sent into this window
	frames     []int
}

func (z *zeroWindowState) close(t time.Time, atEnd bool) {
	p := t.Sub(z.start)
	z.inZero = false
	z.periods++
	z.total += p
	if p >= z.longest {
		if p > z.longest || z.longestAt == 0 {
			z.longestAt = z.startFrame
		}
		z.longest = p
	}
	z.openAtEnd = z.openAtEnd || atEnd
}

func (st *streamState) zeroWindowPacket(r *reassembly.PacketRecord) {
	// A packet has one of these notes at most (HasNote writes no words).
	z := &st.zw[r.Dir]
	switch {
	case r.HasNote(reassembly.NoteZeroWindow):
		z.inZero, z.start, z.startFrame = true, r.Time, r.Frame
		if len(z.frames) < st.e.cfg.MaxEvidence {
			z.frames = append(z.frames, r.Frame)
		}
	case r.HasNote(reassembly.NoteWindowUpdate):
		if z.inZero {
			z.close(r.Time, false)
			if len(z.frames) < st.e.cfg.MaxEvidence {
				z.frames = append(z.frames, r.Frame)
			}
		}
	}
	if r.Kind == reassembly.KindZeroWindowProbe {
		z := &st.zw[r.Dir.Reverse()]
		z.probes++
		if len(z.frames) < st.e.cfg.MaxEvidence {
			z.frames = append(z.frames, r.Frame)
		}
	}
}

func (st *streamState) zeroWindowFinding() *Finding {
	var parts, details []string
	var frames []int
	var total time.Duration
	for d := range st.zw {
		z := &st.zw[d]
		if z.periods == 0 {
			continue
		}
		rd := reassembly.Direction(d)
		total += z.total
		txt := fmt.Sprintf("the %s's receive window was zero for %s (%s, longest %s from frame %d)",
			who(rd), human.Duration(z.total), plural(z.periods, "period", "periods"), human.Duration(z.longest), z.longestAt)
		if z.openAtEnd {
			txt += ", still zero at the end"
		}
		parts = append(parts, txt)
		details = append(details, fmt.Sprintf("the %s was blocked from sending for %s; it sent %s", who(rd.Reverse()), human.Duration(z.total), plural(z.probes, "zero-window probe", "zero-window probes")))
		frames = append(frames, z.frames...)
	}
	if len(parts) == 0 {
		return nil
	}
	sev := Info
	if total >= st.e.cfg.ZeroWindowWarn {
		sev = Warning
	}
	return st.one(Finding{Kind: KindZeroWindow, Severity: sev,
		Message: "Receiver not reading: " + strings.Join(parts, "; ") + ".", Details: details}, frames...)
}

// Retransmissions.
//
// Rule: per direction, count the data segments that were retransmissions
// (all or part of their bytes seen before, or a hole filled after the
// reordering window) and the ones that filled a hole late but within it
// (out of order: a fast retransmission, or reordering), as the tracker
// classifies them (Wireshark's rules). A retransmission timeout is a
// retransmission sent after the sender had been silent for at least RTOMin.
// Reported with at least RetransMin such segments; a warning when they are
// at least RetransWarnPercent of the direction's data segments or there was
// a retransmission timeout.

type retransState struct {
	data, retrans, ooo int
	rto                int
	rtoMax             time.Duration
	rtoFrame           int
	frames             []int
}

func (st *streamState) retransPacket(r *reassembly.PacketRecord) {
	if r.Len == 0 {
		return
	}
	rt := &st.rt[r.Dir]
	switch r.Kind {
	case reassembly.KindNew:
		rt.data++
	case reassembly.KindOutOfOrder:
		rt.data++
		rt.ooo++
	case reassembly.KindRetransmission, reassembly.KindPartialRetransmission:
		rt.data++
		rt.retrans++
		if last := st.lastPkt[r.Dir]; !last.IsZero() {
			if gap := r.Time.Sub(last); gap >= st.e.cfg.RTOMin {
				rt.rto++
				if gap > rt.rtoMax {
					rt.rtoMax, rt.rtoFrame = gap, r.Frame
				}
			}
		}
	default:
		return
	}
	if r.Kind != reassembly.KindNew && len(rt.frames) < st.e.cfg.MaxEvidence {
		rt.frames = append(rt.frames, r.Frame)
	}
}

// retransFinding words the counts; late says they are of a later part of
// a stream (packets after the flow was flushed: retransmissions after the
// close), whose earlier segments were counted in the earlier part.
func (st *streamState) retransFinding(late bool) *Finding {
	cfg := &st.e.cfg
	var parts []string
	var frames []int
	sev := Info
	for d := range st.rt {
		rt := &st.rt[d]
		n := rt.retrans + rt.ooo
		if n < cfg.RetransMin || n == 0 {
			continue
		}
		if late {
			parts = append(parts, fmt.Sprintf("%s %s after the stream had gone quiet (its flow was flushed)",
				reassembly.Direction(d).Arrow(), plural(n, "segment sent again", "segments sent again")))
			frames = append(frames, rt.frames...)
			continue
		}
		pct := 100 * float64(n) / float64(max(rt.data, 1))
		txt := fmt.Sprintf("%s %d of %d data segments (%.1f%%) were sent again or filled a hole late: %s, %d out of order",
			reassembly.Direction(d).Arrow(), n, rt.data, pct, plural(rt.retrans, "retransmission", "retransmissions"), rt.ooo)
		if rt.rto > 0 {
			txt += fmt.Sprintf("; %s, the longest after %s of silence (frame %d)", plural(rt.rto, "retransmission timeout", "retransmission timeouts"), human.Duration(rt.rtoMax), rt.rtoFrame)
			sev = Warning
		}
		if pct >= cfg.RetransWarnPercent {
			sev = Warning
		}
		parts = append(parts, txt)
		frames = append(frames, rt.frames...)
	}
	if len(parts) == 0 {
		return nil
	}
	if late {
		return st.one(Finding{Kind: KindRetransmit, Severity: Info,
			Message: "Late retransmissions: " + strings.Join(parts, "; ") + "; the receiver had the bytes already."}, frames...)
	}
	return st.one(Finding{Kind: KindRetransmit, Severity: sev,
		Message: "Segments were lost or reordered: " + strings.Join(parts, "; ") + "."}, frames...)
}

// Nagle + delayed ACK stalls.
//
// Rule: side A sends a data segment smaller than the MSS B announced; B's
// next packet is a pure ACK covering it, sent 40 ms or 200 ms later (within
// ±DelayedACKTolerance: Linux's minimum delayed-ACK timer, and the classic
// 200 ms one); and A's next data segment follows that ACK at once (within
// max(5 ms, 1.5 × handshake RTT)). A was holding its data until the ACK
// (Nagle's algorithm) while B was waiting to piggyback the ACK (delayed
// ACK): each such round costs the delay. At least DelayedACKMin stalls make
// a warning.

type delackState struct {
	valid    bool // A's last data segment waits for B's next packet
	t        time.Time
	frame    int
	end      int64
	pending  bool // B's delayed ACK seen; waiting for A's next data
	ackT     time.Time
	ackFrame int
	delay    time.Duration
}

func (st *streamState) delackWindow(d time.Duration) bool {
	tol := st.e.cfg.DelayedACKTolerance
	for _, c := range []time.Duration{40 * time.Millisecond, 200 * time.Millisecond} {
		lo, hi := time.Duration(float64(c)*(1-tol)), time.Duration(float64(c)*(1+tol))
		if d >= lo && d <= hi {
			return true
		}
	}
	return false
}

func (st *streamState) delackPacket(s *reassembly.Stream, r *reassembly.PacketRecord) {
	if r.Flags.Has(capture.SYN) || r.Flags.Has(capture.RST) {
		return
	}
	a := &st.da[r.Dir]           // r's sender as a data sender
	b := &st.da[r.Dir.Reverse()] // the other side's data, which r may acknowledge
	if b.valid {
		b.valid = false
		pure := r.Len == 0 && !r.Flags.Has(capture.FIN) && r.Flags.Has(capture.ACK)
		if pure && r.Ack >= b.end {
			if delay := r.Time.Sub(b.t); st.delackWindow(delay) {
				b.pending, b.ackT, b.ackFrame, b.delay = true, r.Time, r.Frame, delay
			}
		}
	}
	if r.Len == 0 || r.Kind != reassembly.KindNew {
		return
	}
	if a.pending {
		a.pending = false
		follow := max(5*time.Millisecond, s.HandshakeRTT*3/2)
		if r.Time.Sub(a.ackT) <= follow {
			st.daN++
			st.daT += a.delay
			if len(st.daEx) < st.e.cfg.MaxEvidence {
				st.daEx = append(st.daEx, a.frame, a.ackFrame, r.Frame)
			}
		}
	}
	mss := s.Dirs[r.Dir.Reverse()].MSS // as announced on the other side's SYN
	if mss == 0 {
		mss = 1460
	}
	a.valid = r.Len < mss
	a.t, a.frame, a.end = r.Time, r.Frame, r.Seq+int64(r.Len)
}

func (st *streamState) delackFinding() *Finding {
	if st.daN < st.e.cfg.DelayedACKMin {
		return nil
	}
	return st.one(Finding{Kind: KindDelayedACK, Severity: Warning,
		Message: fmt.Sprintf("%d stalls of about 40 ms or 200 ms (%s in total): small segments waited for a delayed ACK before the next data went out, the Nagle + delayed-ACK interaction (TCP_NODELAY on the sender avoids it).",
			st.daN, human.Duration(st.daT)),
		Details: []string{fmt.Sprintf("first stall: data frame %d, delayed ACK frame %d, next data frame %d", st.daEx[0], st.daEx[1], st.daEx[2])},
	}, st.daEx...)
}
