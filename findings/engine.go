package findings

import (
	"fmt"

	"github.com/sockscope/sockscope/capture"
	"github.com/sockscope/sockscope/reassembly"
)

// Engine runs every detector over one capture. Feed it through the tracker's
// hooks (Hooks), then call Finish once the tracker has finished. It keeps no
// payload beyond SniffBytes per direction and the bounded framer buffers, and
// forgets a stream's state once the stream is delivered. Like the tracker, it
// is not safe for concurrent use.
type Engine struct {
	cfg     Config
	streams map[StreamRef]*streamState
	// last is the most recently used entry of streams (a bulk transfer's
	// segments come one after another: no map lookup for them).
	lastRef StreamRef
	last    *streamState
	perStr  []Finding // per-stream findings so far (at most MaxPerKind of each kind)
	popped  int       // how many of perStr Pop has returned
	perKind map[Kind]int
	over    map[Kind]*overflow // per-stream findings past MaxPerKind

	buffered int64 // bytes held by all framers
	limits   limits

	scan     scanDetector
	services serviceDetector
	content  contentDetector
	ends     endDetector
	arts     artifactDetector
	tls      *tlsDetector
}

// limits counts analysis given up because of a memory cap.
type limits struct {
	framerCap   int // directions whose framing-hazard check stopped: per-direction buffer cap
	framerTotal int // ... stopped: total buffer cap
	tracked     int // scan targets / services / reset / unclosed entries not remembered
	firstStream []StreamRef
}

// New returns an engine with cfg's thresholds (defaults for zero fields).
func New(cfg Config) *Engine {
	cfg = cfg.withDefaults()
	e := &Engine{cfg: cfg, streams: make(map[StreamRef]*streamState), perKind: map[Kind]int{}, over: map[Kind]*overflow{}}
	e.scan.init(&e.cfg)
	e.services.init(&e.cfg)
	e.content.init(&e.cfg)
	e.ends.init(&e.cfg)
	e.arts.cfg = &e.cfg
	e.tls = &tlsDetector{e: e}
	return e
}

// Config returns the thresholds in use (defaults filled in).
func (e *Engine) Config() Config { return e.cfg }

// Hooks returns o with the engine's hooks added: each of OnStream, OnPacket
// and OnData calls o's own function first (when set), then the engine's, so
// the engine composes with other consumers (a Collector, a live printer).
func (e *Engine) Hooks(o reassembly.Options) reassembly.Options {
	onStream, onPacket, onData := o.OnStream, o.OnPacket, o.OnData
	o.OnStream = func(s *reassembly.Stream) {
		if onStream != nil {
			onStream(s)
		}
		e.Stream(s)
	}
	o.OnPacket = func(s *reassembly.Stream, r *reassembly.PacketRecord) {
		if onPacket != nil {
			onPacket(s, r)
		}
		e.Packet(s, r)
	}
	o.OnData = func(s *reassembly.Stream, d reassembly.Direction, r reassembly.ByteRange, b []byte, frame int) {
		if onData != nil {
			onData(s, d, r, b, frame)
		}
		e.Data(s, d, r, b, frame)
	}
	return o
}

func (e *Engine) state(s *reassembly.Stream) *streamState {
	if st := e.lookup(s); st != nil {
		return st
	}
	st := newStreamState(e, s)
	e.streams[RefOf(s)] = st
	e.lastRef, e.last = RefOf(s), st
	return st
}

// lookup returns s's state, or nil.
func (e *Engine) lookup(s *reassembly.Stream) *streamState {
	ref := RefOf(s)
	if e.last != nil && e.lastRef == ref {
		return e.last
	}
	st := e.streams[ref]
	if st != nil {
		e.lastRef, e.last = ref, st
	}
	return st
}

// Packet takes one TCP packet record (reassembly.Options.OnPacket).
//
// A stream gets per-stream state only at its first packet that a per-stream
// detector can use: SYNs and RSTs without payload feed none of them (the
// MSS comes from the stream itself), so the SYN/RST-only streams of a scan
// or a flood cost nothing here.
func (e *Engine) Packet(s *reassembly.Stream, r *reassembly.PacketRecord) {
	if s.Proto != capture.ProtoTCP {
		return
	}
	st := e.lookup(s)
	if st == nil {
		if r.Len == 0 && r.Flags&(capture.SYN|capture.RST) != 0 {
			return
		}
		st = e.state(s)
	}
	st.packet(s, r)
}

// Data takes bytes as they become contiguous (reassembly.Options.OnData).
func (e *Engine) Data(s *reassembly.Stream, d reassembly.Direction, r reassembly.ByteRange, b []byte, frame int) {
	if s.Proto != capture.ProtoTCP {
		return
	}
	st := e.state(s)
	e.tls.data(st, s, d, r, b, frame)
	st.data(s, d, r, b, frame)
}

// Stream takes a finished stream (reassembly.Options.OnStream): its
// per-stream findings become available to Pop, and its state is released.
func (e *Engine) Stream(s *reassembly.Stream) {
	ref := RefOf(s)
	e.addPerStream(e.tls.end(s)...)
	if s.Proto == capture.ProtoTCP {
		if st := e.streams[ref]; st != nil {
			st.finish(s)
			e.addPerStream(st.findings(s)...)
			delete(e.streams, ref)
			if e.last == st {
				e.last = nil
			}
		} else if f := e.heldOpen(s); f != nil {
			// No payload, no window news: only the held-open rule applies.
			e.addPerStream(*f)
		}
	}
	if !s.Resumed { // a later part of a connection counted already
		e.scan.stream(s)
		e.services.stream(s)
	}
	e.ends.stream(s, &e.limits)
	e.arts.stream(s)
}

// Pop returns the per-stream findings (slow sender, zero window,
// retransmission, delayed ACK, framing hazard) that became certain since the
// last call, when their streams were delivered. Live views print these as
// they come; Finish returns them again with the capture-wide ones.
func (e *Engine) Pop() []Finding {
	out := e.perStr[e.popped:]
	e.popped = len(e.perStr)
	return out
}

// Summary is what Finish needs to know about the capture as a whole.
type Summary struct {
	Info  capture.Info
	Stats reassembly.Stats
	// DropsKnown says Dropped is the capturing kernel's count (live
	// capture); files do not record it.
	DropsKnown bool
	Dropped    uint64
	Received   uint64
}

// Finish returns every finding, sorted most important first (see Sort). Call
// it after the tracker's Finish, so that every stream has been delivered.
func (e *Engine) Finish(sum Summary) []Finding {
	for _, st := range e.streams { // streams never delivered (should not happen after Tracker.Finish)
		e.addPerStream(st.findings(nil)...)
	}
	clear(e.streams)
	e.last = nil
	out := append([]Finding(nil), e.perStr...)
	for _, k := range Kinds {
		if o := e.over[k]; o != nil {
			out = append(out, o.finding(k, e.cfg.MaxPerKind))
		}
	}
	var wide []Finding
	scanners := e.scan.findings(&wide)
	e.content.findings(&wide)
	out = append(out, capPerKind(wide, e.cfg.MaxPerKind, e.cfg.MaxEvidence)...)
	e.services.findings(&out)
	e.ends.findings(&out, scanners, sum.Stats.Last)
	e.arts.findings(&out, sum)
	e.limitFindings(&out)
	Sort(out)
	return out
}

func (e *Engine) limitFindings(out *[]Finding) {
	l := &e.limits
	l.tracked += e.scan.dropped + e.services.dropped + e.content.dropped
	if l.framerCap+l.framerTotal+l.tracked == 0 {
		return
	}
	f := Finding{Kind: KindLimit, Severity: Info,
		Message: "Some analysis was skipped to keep memory bounded; the findings above may be incomplete."}
	if l.framerCap > 0 {
		f.Details = append(f.Details, plural(l.framerCap, "direction", "directions")+" stopped framing-hazard checks: a message outgrew the per-direction buffer ("+bytesText(int64(e.cfg.FramerBuffer))+")")
	}
	if l.framerTotal > 0 {
		f.Details = append(f.Details, plural(l.framerTotal, "direction", "directions")+" skipped framing-hazard checks: all framers together held "+bytesText(e.cfg.MaxBuffered))
	}
	if l.tracked > 0 {
		f.Details = append(f.Details, plural(l.tracked, "entry", "entries")+" (scan targets, services, handshake resets, cleartext/TLS endpoints) not remembered: more than the cap of "+itoa(e.cfg.MaxTracked))
	}
	ev := evidence{max: e.cfg.MaxEvidence}
	for _, r := range l.firstStream {
		ev.stream(r)
	}
	ev.finish(&f)
	*out = append(*out, f)
}

func (l *limits) note(r StreamRef, max int) {
	if len(l.firstStream) < max {
		l.firstStream = append(l.firstStream, r)
	}
}

// overflow sums up the findings of one kind past MaxPerKind.
type overflow struct {
	n, warn int
	ev      evidence
}

func (o *overflow) add(f *Finding) {
	o.n++
	if f.Severity == Warning {
		o.warn++
	}
	for _, r := range f.Streams {
		o.ev.stream(r)
	}
	o.ev.count += f.StreamCount - len(f.Streams)
	for _, fr := range f.Frames {
		o.ev.frame(fr)
	}
}

func (o *overflow) finding(k Kind, cap int) Finding {
	f := Finding{Kind: k, Severity: Info,
		Message: fmt.Sprintf("%s of this kind (%s) are not listed one by one: only the first %d are.", plural(o.n, "more finding", "more findings"), plural(o.warn, "warning", "warnings"), cap)}
	if o.warn > 0 {
		f.Severity = Warning
	}
	o.ev.finish(&f)
	return f
}

// addPerStream keeps per-stream findings, at most MaxPerKind of each kind;
// the rest are summed up in one finding of their kind.
func (e *Engine) addPerStream(fs ...Finding) {
	for i := range fs {
		f := &fs[i]
		if e.perKind[f.Kind] < e.cfg.MaxPerKind {
			e.perKind[f.Kind]++
			e.perStr = append(e.perStr, *f)
			continue
		}
		o := e.over[f.Kind]
		if o == nil {
			o = &overflow{ev: evidence{max: e.cfg.MaxEvidence}}
			e.over[f.Kind] = o
		}
		o.add(f)
	}
}

// capPerKind keeps the first cap findings of each kind of fs (in their
// order) and sums up the rest in one finding per kind.
func capPerKind(fs []Finding, cap, maxEvidence int) []Finding {
	n := map[Kind]int{}
	over := map[Kind]*overflow{}
	var out []Finding
	for i := range fs {
		f := &fs[i]
		if n[f.Kind] < cap {
			n[f.Kind]++
			out = append(out, *f)
			continue
		}
		o := over[f.Kind]
		if o == nil {
			o = &overflow{ev: evidence{max: maxEvidence}}
			over[f.Kind] = o
		}
		o.add(f)
	}
	for _, k := range Kinds {
		if o := over[k]; o != nil {
			out = append(out, o.finding(k, cap))
		}
	}
	return out
}
