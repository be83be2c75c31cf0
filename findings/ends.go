package findings

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/sockscope/sockscope/capture"
	"github.com/sockscope/sockscope/reassembly"
)

// Resets.
//
// Rule: every TCP stream that ended with RST, with who sent it and after
// how many bytes. Resets during the handshake sent by a source the port-scan
// detector flagged are part of the scan and left out here. Warning when an
// established connection was reset (an abort: data may have been lost),
// info when only handshakes were.
//
// Unclosed and half-open connections.
//
// Rule: every TCP stream still open at the end of the capture (no FIN or
// RST either way, handshake incomplete included) or half-closed (FIN one way
// only: the other side never closed, CLOSE_WAIT on its host). Warning when
// one of them had been quiet for at least UnclosedWarnIdle when the capture
// ended (a possible socket leak), info otherwise (probably still in use when
// the capture stopped).

type endEntry struct {
	ref         StreamRef
	client      netip.Addr
	state       reassembly.State
	by          reassembly.Direction
	frame       int
	established bool
	after       int64
	end         time.Time
	text        string
}

type endDetector struct {
	cfg      *Config
	resets   []endEntry
	unclosed []endEntry
}

func (ed *endDetector) stream(s *reassembly.Stream, l *limits) {
	if s.Proto != capture.ProtoTCP {
		return
	}
	e := endEntry{ref: RefOf(s), client: s.Client.Addr(), state: s.State, end: s.End, text: s.Describe(),
		established: s.HandshakeRTT > 0 || s.Midstream || s.Dirs[0].Bytes+s.Dirs[1].Bytes > 0}
	var list *[]endEntry
	switch s.State {
	case reassembly.StateReset:
		e.by, e.frame, e.after = s.ResetBy, s.Dirs[s.ResetBy].RSTFrame, s.ResetAfter
		list = &ed.resets
	case reassembly.StateOpen:
		e.frame = s.LastFrame
		list = &ed.unclosed
	case reassembly.StateHalfClosed:
		e.by, e.frame = s.ClosedBy, s.Dirs[s.ClosedBy].FINFrame
		list = &ed.unclosed
	default:
		return
	}
	if len(*list) >= ed.cfg.MaxTracked {
		l.tracked++
		return
	}
	*list = append(*list, e)
}

func (ed *endDetector) findings(out *[]Finding, scanners map[netip.Addr]bool, last time.Time) {
	cfg := ed.cfg
	// Resets.
	ev := evidence{max: cfg.MaxEvidence}
	f := Finding{Kind: KindReset, Severity: Info}
	var byWho [2]int
	n := 0
	for _, e := range ed.resets {
		if !e.established && scanners[e.client] {
			continue
		}
		n++
		byWho[e.by]++
		if e.established {
			f.Severity = Warning
		}
		ev.stream(e.ref)
		ev.frame(e.frame)
		if len(f.Details) < cfg.MaxEvidence {
			f.Details = append(f.Details, fmt.Sprintf("%s: %s (RST in frame %d)", e.ref, e.text, e.frame))
		}
	}
	if n > 0 {
		f.Message = fmt.Sprintf("%s ended with a reset (RST): %d by the client, %d by the server.", plural(n, "connection", "connections"), byWho[0], byWho[1])
		ev.finish(&f)
		*out = append(*out, f)
	}
	// Unclosed.
	if len(ed.unclosed) == 0 {
		return
	}
	ev = evidence{max: cfg.MaxEvidence}
	f = Finding{Kind: KindUnclosed, Severity: Info}
	half := 0
	var longest time.Duration
	var longestRef StreamRef
	for i, e := range ed.unclosed {
		idle := time.Duration(0)
		if !last.IsZero() && last.After(e.end) {
			idle = last.Sub(e.end)
		}
		if i == 0 || idle > longest {
			longest, longestRef = idle, e.ref
		}
		if e.state == reassembly.StateHalfClosed {
			half++
		}
		ev.stream(e.ref)
		ev.frame(e.frame)
		if len(f.Details) < cfg.MaxEvidence {
			d := fmt.Sprintf("%s: %s, active until the end", e.ref, e.text)
			if idle >= time.Second {
				d = fmt.Sprintf("%s: %s, quiet for %s at the end", e.ref, e.text, dur(idle))
			}
			if e.state == reassembly.StateHalfClosed {
				d += fmt.Sprintf(" (the %s never closed its side)", who(e.by.Reverse()))
			}
			f.Details = append(f.Details, d)
		}
	}
	if longest >= cfg.UnclosedWarnIdle {
		f.Severity = Warning
	}
	n = len(ed.unclosed)
	f.Message = fmt.Sprintf("%s still open at the end of the capture (%d half-closed); ", plural(n, "connection was", "connections were"), half)
	switch {
	case f.Severity == Warning:
		f.Message += fmt.Sprintf("%s had been quiet for %s: a possible socket leak.", longestRef, dur(longest))
	case longest < time.Second:
		f.Message += "all were active until the end: probably still in use when the capture stopped."
	default:
		f.Message += fmt.Sprintf("the quietest, %s, for %s: probably still in use when the capture stopped.", longestRef, dur(longest))
	}
	ev.finish(&f)
	*out = append(*out, f)
}
