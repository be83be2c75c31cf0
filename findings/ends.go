package findings

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/sockscope/sockscope/capture"
	"github.com/sockscope/sockscope/internal/human"
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

//
// Memory: unclosed connections and established resets are aggregated as
// they come (counts, the lowest MaxEvidence streams and frames, the first
// MaxEvidence details). Resets during the handshake wait for the port-scan
// verdict on their client in a compact log (32 bytes each, at most
// MaxTracked of them; the rest are counted in analysis_limit).

type endEntry struct {
	ref   StreamRef
	state reassembly.State
	by    reassembly.Direction
	frame int
	end   time.Time
	text  string
	seq   int // order among resets
}

// hsReset is a reset during the handshake, in the log.
type hsReset struct {
	id, seq int32
	frame   int
	cli     uint64 // IPv4 address, or 1<<32 + index in endDetector.v6
	text    uint32 // index in endDetector.texts
	by      reassembly.Direction
}

type endDetector struct {
	cfg *Config
	seq int

	// Resets of established connections.
	estN     int
	estBy    [2]int
	estEv    evidence
	estFirst []endEntry
	// Resets during the handshake.
	hs      []hsReset
	texts   []string
	textIdx map[string]uint32
	v6      map[netip.Addr]uint32
	v6list  []netip.Addr

	// Unclosed.
	unN, unHalf int
	unEv        evidence
	unFirst     []endEntry
	unQuiet     endEntry // the first with the earliest end
}

func (ed *endDetector) init(cfg *Config) {
	ed.cfg = cfg
	ed.estEv, ed.unEv = evidence{max: cfg.MaxEvidence}, evidence{max: cfg.MaxEvidence}
	ed.textIdx = map[string]uint32{}
	ed.v6 = map[netip.Addr]uint32{}
}

func (ed *endDetector) cli(a netip.Addr, create bool) (uint64, bool) {
	if k, ok := addr4(a); ok {
		return k, true
	}
	i, ok := ed.v6[a]
	if !ok {
		if !create {
			return 0, false
		}
		i = uint32(len(ed.v6list))
		ed.v6[a] = i
		ed.v6list = append(ed.v6list, a)
	}
	return 1<<32 + uint64(i), true
}

func (ed *endDetector) text(t string) uint32 {
	if i, ok := ed.textIdx[t]; ok {
		return i
	}
	i := uint32(len(ed.texts))
	ed.texts = append(ed.texts, t)
	if len(ed.textIdx) < 4096 {
		ed.textIdx[t] = i
	}
	return i
}

func (ed *endDetector) stream(s *reassembly.Stream, l *limits) {
	if s.Proto != capture.ProtoTCP {
		return
	}
	max := ed.cfg.MaxEvidence
	switch s.State {
	case reassembly.StateReset:
		ed.seq++
		frame := s.Dirs[s.ResetBy].RSTFrame
		if s.HandshakeRTT > 0 || s.Midstream || s.Dirs[0].Bytes+s.Dirs[1].Bytes > 0 {
			ed.estN++
			ed.estBy[s.ResetBy]++
			ed.estEv.stream(RefOf(s))
			ed.estEv.frame(frame)
			if len(ed.estFirst) < max {
				ed.estFirst = append(ed.estFirst, endEntry{ref: RefOf(s), by: s.ResetBy, frame: frame, text: s.Describe(), seq: ed.seq})
			}
			return
		}
		if len(ed.hs) >= ed.cfg.MaxTracked {
			l.tracked++
			return
		}
		c, _ := ed.cli(s.Client.Addr(), true)
		ed.hs = append(ed.hs, hsReset{id: int32(s.ID), seq: int32(ed.seq), frame: frame, cli: c, text: ed.text(s.Describe()), by: s.ResetBy})
	case reassembly.StateOpen, reassembly.StateHalfClosed:
		e := endEntry{ref: RefOf(s), state: s.State, end: s.End, frame: s.LastFrame}
		if s.State == reassembly.StateHalfClosed {
			e.by, e.frame = s.ClosedBy, s.Dirs[s.ClosedBy].FINFrame
			ed.unHalf++
		}
		if ed.unN == 0 || e.end.Before(ed.unQuiet.end) {
			ed.unQuiet = e
		}
		ed.unN++
		ed.unEv.stream(e.ref)
		ed.unEv.frame(e.frame)
		if len(ed.unFirst) < max {
			e.text = s.Describe()
			ed.unFirst = append(ed.unFirst, e)
		}
	}
}

func (ed *endDetector) findings(out *[]Finding, scanners map[netip.Addr]bool, last time.Time) {
	cfg := ed.cfg
	// Resets.
	scan := map[uint64]bool{}
	for a := range scanners {
		if c, ok := ed.cli(a, false); ok {
			scan[c] = true
		}
	}
	ev := ed.estEv
	ev.streams, ev.frames = slices.Clone(ev.streams), slices.Clone(ev.frames)
	f := Finding{Kind: KindReset, Severity: Info}
	byWho := ed.estBy
	n := ed.estN
	if n > 0 {
		f.Severity = Warning
	}
	lines := slices.Clone(ed.estFirst)
	for _, e := range ed.hs {
		if scan[e.cli] {
			continue
		}
		n++
		byWho[e.by]++
		ref := StreamRef{capture.ProtoTCP, int(e.id)}
		ev.stream(ref)
		ev.frame(e.frame)
		if len(lines) < 2*cfg.MaxEvidence {
			lines = append(lines, endEntry{ref: ref, frame: e.frame, text: ed.texts[e.text], seq: int(e.seq)})
		}
	}
	if n > 0 {
		slices.SortFunc(lines, func(a, b endEntry) int { return cmp.Compare(a.seq, b.seq) })
		for _, e := range lines[:min(len(lines), cfg.MaxEvidence)] {
			f.Details = append(f.Details, fmt.Sprintf("%s: %s (RST in frame %d)", e.ref, e.text, e.frame))
		}
		f.Message = fmt.Sprintf("%s ended with a reset (RST): %d by the client, %d by the server.", plural(n, "connection", "connections"), byWho[0], byWho[1])
		ev.finish(&f)
		*out = append(*out, f)
	}
	// Unclosed.
	if ed.unN == 0 {
		return
	}
	f = Finding{Kind: KindUnclosed, Severity: Info}
	idleOf := func(end time.Time) time.Duration {
		if !last.IsZero() && last.After(end) {
			return last.Sub(end)
		}
		return 0
	}
	longest, longestRef := idleOf(ed.unQuiet.end), ed.unQuiet.ref
	if longest == 0 {
		longestRef = ed.unFirst[0].ref
	}
	for _, e := range ed.unFirst {
		idle := idleOf(e.end)
		d := fmt.Sprintf("%s: %s, active until the end", e.ref, e.text)
		if idle >= time.Second {
			d = fmt.Sprintf("%s: %s, quiet for %s at the end", e.ref, e.text, human.Duration(idle))
		}
		if e.state == reassembly.StateHalfClosed {
			d += fmt.Sprintf(" (the %s never closed its side)", who(e.by.Reverse()))
		}
		f.Details = append(f.Details, d)
	}
	if longest >= cfg.UnclosedWarnIdle {
		f.Severity = Warning
	}
	f.Message = fmt.Sprintf("%s still open at the end of the capture (%d half-closed); ", plural(ed.unN, "connection was", "connections were"), ed.unHalf)
	switch {
	case f.Severity == Warning:
		f.Message += fmt.Sprintf("%s had been quiet for %s: a possible socket leak.", longestRef, human.Duration(longest))
	case longest < time.Second:
		f.Message += "all were active until the end: probably still in use when the capture stopped."
	default:
		f.Message += fmt.Sprintf("the quietest, %s, for %s: probably still in use when the capture stopped.", longestRef, human.Duration(longest))
	}
	ev = ed.unEv
	ev.finish(&f)
	*out = append(*out, f)
}
