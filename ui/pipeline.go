package ui

import (
	"context"
	"errors"
	"fmt"
	"io"
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
}

// Progress is how far the reading got.
type Progress struct {
	Frames int
	Read   int64 // bytes read (Size > 0)
	Size   int64
}

type (
	streamsMsg  []reassembly.Summary // streams that ended (or were seen again)
	progressMsg Progress
	doneMsg     struct {
		rep *output.ReadReport
		err error // why the capture stopped early (damage), or nil
	}
	detailMsg struct {
		id  reassembly.StreamID
		d   *Detail
		err error
	}
)

// Feed carries what the pipeline finds to the model as messages
// (tea.Program.Send, or a test's collector). Streams are sent in batches,
// at most every batchEvery, so that a capture of a million short flows does
// not re-sort the table a million times.
type Feed struct {
	send  func(tea.Msg)
	batch []reassembly.Summary
	last  time.Time
}

const batchEvery = 100 * time.Millisecond

// NewFeed returns a feed that delivers messages with send.
func NewFeed(send func(tea.Msg)) *Feed { return &Feed{send: send} }

// stream takes one finished stream (called on the tracker's goroutine).
func (f *Feed) stream(s *reassembly.Stream) {
	f.batch = append(f.batch, s.Summary())
	if now := time.Now(); len(f.batch) >= 4096 || now.Sub(f.last) >= batchEvery {
		f.flush()
		f.last = now
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
	if o.Engine != nil {
		o.Engine.SetKeys(o.Keys, o.Refresh)
		topts = o.Engine.Hooks(topts)
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
