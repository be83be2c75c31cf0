package ui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/sockscope/sockscope/capture"
	"github.com/sockscope/sockscope/decode"
	"github.com/sockscope/sockscope/decode/tlsdec"
	"github.com/sockscope/sockscope/findings"
	"github.com/sockscope/sockscope/output"
	"github.com/sockscope/sockscope/reassembly"
)

// ScanOptions wire read's pipeline (capture → reassembly → decode framing
// → findings) for the UI; cmd fills them from the same flags as read.
type ScanOptions struct {
	// Tracker holds the bounds (read's --max-flows and the like); the hooks
	// are set by Scan.
	Tracker reassembly.Options
	Engine  *findings.Engine // nil: no findings (--no-findings)
	Keys    *tlsdec.KeyLog   // TLS secrets, nil or empty when none
	Refresh func()           // re-reads the key log (may be nil)
	Defrag  *capture.Defragmenter
	// Findings returns the findings of the finished capture (cmd's
	// finishFindings: it knows the kernel's drops when live).
	Findings func(st reassembly.Stats) []findings.Finding
	// Size is the capture file's size in bytes (0: unknown, as for a
	// gzip-compressed file or standard input) and Offset how much of it
	// was read; they drive the progress line.
	Size   int64
	Offset func() int64
	// Live is a live capture: streams show as they open and their state
	// and counters change as packets come (snapshots sent every
	// batchEvery), and findings as the engine comes to them. The tracker
	// holds no stream's bytes: the detail pane reads them from what the
	// capture wrote so far (cmd's Load), as from a file.
	Live bool
	// Kernel returns the kernel's counters of a live capture (cmd's
	// LiveSource.Stats); it is asked between two frames, at most once a
	// second, on the goroutine that reads them.
	Kernel func() (received, dropped uint64, err error)
}

// Progress is how far the reading got.
type Progress struct {
	Frames int
	Read   int64 // bytes read (Size > 0)
	Size   int64
	// Live: the kernel's counters, when known.
	KernelKnown       bool
	Received, Dropped uint64
}

type (
	streamsMsg  []reassembly.Summary // streams that ended (or were seen again)
	liveMsg     []reassembly.Summary // snapshots of streams still open (live)
	findingsMsg []findings.Finding   // findings so far (live)
	progressMsg Progress
	doneMsg     struct {
		rep *output.ReadReport
		err error // why the capture stopped early (damage), or nil
	}
	detailMsg struct {
		id   reassembly.StreamID
		d    *Detail
		err  error
		took time.Duration
	}
)

// Feed carries what the pipeline finds to the model as messages
// (tea.Program.Send, or a test's collector). Streams are sent in batches,
// at most every batchEvery, so that a capture of a million short flows does
// not re-sort the table a million times.
//
// Live, the tracker's goroutine leaves what changed (snapshots of open
// streams, ended streams, findings) under mu, and a ticker sends it every
// batchEvery: the screen follows a quiet interface as well as a busy one,
// and the tracker never waits for the screen.
type Feed struct {
	send  func(tea.Msg)
	batch []reassembly.Summary
	last  time.Time

	live   bool
	frames atomic.Int64              // frames read (live: the ticker sends them)
	kernel atomic.Pointer[[2]uint64] // the kernel's received and dropped counts (live)
	sent   int64
	sentAt time.Time
	mu     sync.Mutex
	open   map[reassembly.StreamID]reassembly.Summary // snapshots since the last tick
	ended  []reassembly.Summary
	found  []findings.Finding
	pop    func() []findings.Finding // the findings engine's new findings
	// info is what an open stream's summary does not say yet (the
	// tracker settles state and byte counts when a stream ends); kept on
	// the tracker's goroutine.
	info map[*reassembly.Stream]*openInfo
}

// openInfo is an open stream's state so far, from the tracker's events,
// and the bytes delivered in order each way.
type openInfo struct {
	state reassembly.State
	bytes [2]int64
}

func (f *Feed) infoOf(s *reassembly.Stream) *openInfo {
	if f.info == nil {
		f.info = map[*reassembly.Stream]*openInfo{}
	}
	in := f.info[s]
	if in == nil {
		in = &openInfo{}
		f.info[s] = in
	}
	return in
}

// event notes a state change of an open stream.
func (f *Feed) event(e reassembly.Event) {
	in := f.infoOf(e.Stream)
	switch e.Kind {
	case reassembly.EventRefused:
		in.state = reassembly.StateRefused
	case reassembly.EventReset:
		in.state = reassembly.StateReset
	case reassembly.EventHalfClosed:
		in.state = reassembly.StateHalfClosed
	case reassembly.EventClosed:
		in.state = reassembly.StateClosed
	}
}

// data notes bytes of an open stream delivered in order.
func (f *Feed) data(s *reassembly.Stream, d reassembly.Direction, r reassembly.ByteRange) {
	in := f.infoOf(s)
	in.bytes[d] = max(in.bytes[d], r.End)
}

const batchEvery = 100 * time.Millisecond

// NewFeed returns a feed that delivers messages with send.
func NewFeed(send func(tea.Msg)) *Feed { return &Feed{send: send} }

// stream takes one finished stream (called on the tracker's goroutine).
func (f *Feed) stream(s *reassembly.Stream) {
	if f.live {
		delete(f.info, s)
		f.mu.Lock()
		delete(f.open, s.StreamID())
		f.ended = append(f.ended, s.Summary())
		f.mu.Unlock()
		return
	}
	f.batch = append(f.batch, s.Summary())
	if now := time.Now(); len(f.batch) >= 4096 || now.Sub(f.last) >= batchEvery {
		f.flush()
		f.last = now
	}
}

// changed takes a snapshot of an open stream that changed (live: a
// packet or an event), and the findings the engine has come to.
func (f *Feed) changed(s *reassembly.Stream) {
	sum := s.Summary()
	if in := f.info[s]; in != nil && s.Proto == capture.ProtoTCP {
		sum.State = in.state
		for d := range sum.Dirs {
			sum.Dirs[d].Bytes = max(sum.Dirs[d].Bytes, in.bytes[d])
		}
	}
	var fs []findings.Finding
	if f.pop != nil {
		fs = f.pop()
	}
	f.mu.Lock()
	if f.open == nil {
		f.open = map[reassembly.StreamID]reassembly.Summary{}
	}
	f.open[s.StreamID()] = sum
	f.found = append(f.found, fs...)
	f.mu.Unlock()
}

// popped takes the findings the engine came to as a stream ended (live).
func (f *Feed) popped() {
	if f.pop == nil {
		return
	}
	if fs := f.pop(); len(fs) > 0 {
		f.mu.Lock()
		f.found = append(f.found, fs...)
		f.mu.Unlock()
	}
}

// tick sends what changed since the last tick (live).
func (f *Feed) tick() {
	f.mu.Lock()
	open, ended, found := f.open, f.ended, f.found
	f.open, f.ended, f.found = nil, nil, nil
	f.mu.Unlock()
	// The count goes when it changed, and every second anyway: the rate
	// falls to 0 when the interface goes quiet.
	if n := f.frames.Load(); n != f.sent || time.Since(f.sentAt) >= time.Second {
		f.sent, f.sentAt = n, time.Now()
		pr := progressMsg{Frames: int(n)}
		if k := f.kernel.Load(); k != nil {
			pr.KernelKnown, pr.Received, pr.Dropped = true, k[0], k[1]
		}
		f.send(pr)
	}
	if len(open) > 0 {
		snaps := make([]reassembly.Summary, 0, len(open))
		for _, s := range open {
			snaps = append(snaps, s)
		}
		f.send(liveMsg(snaps))
	}
	if len(ended) > 0 {
		f.send(streamsMsg(ended))
	}
	if len(found) > 0 {
		f.send(findingsMsg(found))
	}
}

// ticking sends what changed every batchEvery until stop is closed, then
// once more; done is closed when it has.
func (f *Feed) ticking(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(batchEvery)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			f.tick()
		case <-stop:
			f.tick()
			return
		}
	}
}

func (f *Feed) flush() {
	if len(f.batch) > 0 {
		f.send(streamsMsg(f.batch))
		f.batch = nil
	}
}

// progressSource reports progress every so many frames, and ends the
// capture when ctx is done (the UI quit while reading).
type progressSource struct {
	capture.Source
	ctx    context.Context
	f      *Feed
	o      *ScanOptions
	frames int
	last   time.Time
}

// IsLive keeps a live source consumed serially (reassembly.Tracker.Consume).
func (p *progressSource) IsLive() bool {
	l, ok := p.Source.(interface{ IsLive() bool })
	return ok && l.IsLive()
}

func (p *progressSource) Next(pkt *capture.Packet) error {
	if p.o.Live {
		err := p.Source.Next(pkt)
		if err == nil {
			p.frames++
			p.f.frames.Store(int64(p.frames))
			if now := time.Now(); p.o.Kernel != nil && now.Sub(p.last) >= time.Second {
				p.last = now
				if rcv, drop, kerr := p.o.Kernel(); kerr == nil {
					p.f.kernel.Store(&[2]uint64{rcv, drop})
				}
			}
		}
		return err
	}
	if p.frames&1023 == 0 {
		if p.ctx.Err() != nil {
			return io.EOF
		}
		if now := time.Now(); now.Sub(p.last) >= batchEvery {
			p.last = now
			p.f.send(p.progress())
		}
	}
	err := p.Source.Next(pkt)
	if err == nil {
		p.frames++
	}
	return err
}

func (p *progressSource) progress() progressMsg {
	pr := Progress{Frames: p.frames, Size: p.o.Size}
	if p.o.Offset != nil && p.o.Size > 0 {
		pr.Read = min(p.o.Offset(), p.o.Size)
	}
	return progressMsg(pr)
}

// Scan reads src through read's pipeline and reports to f: the streams as
// they end, progress while reading, and the capture's totals and findings
// at the end. It returns when src is exhausted or ctx is done.
func Scan(ctx context.Context, src capture.Source, o ScanOptions, f *Feed) {
	topts := o.Tracker
	topts.OnStream = f.stream
	// Frame every stream as its bytes arrive (read --stats): the table's
	// framing and message counts.
	st, err := decode.NewStreamer(decode.StreamerOptions{
		OnMessage: func(s *reassembly.Stream, m *decode.Message) { s.Messages[m.Dir]++ },
		OnFraming: func(s *reassembly.Stream, framing, _ string) { s.Framing = framing },
		Keys:      o.Keys, Refresh: o.Refresh,
	})
	if err != nil {
		f.send(doneMsg{err: err})
		return
	}
	done := topts.OnStream
	topts.OnData = st.Data
	topts.OnStream = func(s *reassembly.Stream) {
		st.End(s)
		done(s)
	}
	stopTicker := func() {}
	if o.Live {
		f.live = true
	}
	if o.Engine != nil {
		o.Engine.SetKeys(o.Keys, o.Refresh)
		topts = o.Engine.Hooks(topts)
	}
	if o.Live {
		if o.Engine != nil {
			f.pop = o.Engine.Pop
		}
		onPacket, onEvent, onStream := topts.OnPacket, topts.OnEvent, topts.OnStream
		topts.OnPacket = func(s *reassembly.Stream, r *reassembly.PacketRecord) {
			if onPacket != nil {
				onPacket(s, r)
			}
			f.changed(s)
		}
		topts.OnEvent = func(e reassembly.Event) {
			if onEvent != nil {
				onEvent(e)
			}
			f.event(e)
			f.changed(e.Stream)
		}
		onData := topts.OnData
		topts.OnData = func(s *reassembly.Stream, d reassembly.Direction, r reassembly.ByteRange, b []byte, frame int) {
			onData(s, d, r, b, frame)
			f.data(s, d, r)
		}
		topts.OnStream = func(s *reassembly.Stream) {
			onStream(s) // the engine's findings of s come here
			f.popped()
		}
		stop, ticked := make(chan struct{}), make(chan struct{})
		go f.ticking(stop, ticked)
		stopTicker = func() { close(stop); <-ticked }
	}
	ps := &progressSource{Source: src, ctx: ctx, f: f, o: &o}
	tr := reassembly.NewTracker(topts)
	damage := tr.Consume(ps)
	rep := &output.ReadReport{Info: src.Info(), Stats: tr.Stats, Damage: damage}
	if o.Defrag != nil {
		o.Defrag.Finish()
		rep.Defrag = o.Defrag.Stats
	}
	if o.Findings != nil {
		rep.Findings = o.Findings(tr.Stats)
	}
	stopTicker()
	f.flush()
	f.send(ps.progress())
	f.send(doneMsg{rep: rep, err: damage})
}

// Detail is one stream as the detail pane shows it.
type Detail struct {
	Stream   *reassembly.Stream
	Timeline output.TimelineStream
	Analysis *decode.Analysis // nil when the stream carried no bytes
	TLS      *decode.TLSLayer // the stream decrypted, when keys open it
}

// errNoStream is returned by LoadStream when src has no stream id.
var errNoStream = errors.New("not in the capture")

// LoadStream reads src again for one stream, holding only that stream (as
// timeline and follow do), and frames it as they do.
func LoadStream(src capture.Source, id reassembly.StreamID, topts reassembly.Options, keys *tlsdec.KeyLog) (*Detail, error) {
	topts.Keep = func(p capture.Proto, n int) bool { return reassembly.StreamID{Proto: p, ID: n} == id }
	var found *reassembly.Stream
	topts.OnStream = func(s *reassembly.Stream) {
		if s.StreamID() != id {
			return
		}
		if found == nil {
			found = s
		} else {
			found.Merge(s)
		}
	}
	tr := reassembly.NewTracker(topts)
	damage := tr.Consume(src)
	if found == nil {
		if damage != nil {
			return nil, damage
		}
		return nil, fmt.Errorf("%s: %w", id, errNoStream)
	}
	d := &Detail{Stream: found, Timeline: output.TimelineStream{Stream: found}}
	d.Timeline.Labels, d.Timeline.Framing = output.MessageLabels(found, "auto", keys)
	if found.Dirs[0].Bytes+found.Dirs[1].Bytes > 0 {
		if keys.Len() > 0 {
			if d.TLS, _ = decode.AnalyzeTLS(found, keys, "auto"); d.TLS != nil {
				d.Analysis = d.TLS.Outer
			}
		}
		if d.Analysis == nil {
			a, err := decode.Analyze(found, "auto")
			if err != nil {
				return nil, err
			}
			d.Analysis = a
		}
	}
	return d, nil
}
