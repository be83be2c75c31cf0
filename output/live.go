package output

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/sockscope/sockscope/capture"
	"github.com/sockscope/sockscope/decode"
	"github.com/sockscope/sockscope/findings"
	"github.com/sockscope/sockscope/internal/human"
	"github.com/sockscope/sockscope/internal/textsafe"
	"github.com/sockscope/sockscope/reassembly"
	"github.com/sockscope/sockscope/sockets"
)

// NewLiveView returns a live view writing text, or JSON lines with
// jsonOut, to w.
func NewLiveView(w io.Writer, jsonOut bool) *LiveView {
	v := &LiveView{json: jsonOut, out: bufio.NewWriterSize(w, 64<<10), shown: map[string]bool{}}
	v.enc = NewJSONEncoder(v.out)
	return v
}

// SetPacket tells the view which packet is being processed (nil once the
// capture ended): messages and findings take its time and frame.
func (v *LiveView) SetPacket(p *capture.Packet) { v.cur = p }

// LiveView renders a live capture as it happens, one text line or one JSON
// object per event: the capture's start, connections opened, refused,
// closed and reset, UDP flows and datagrams, each stream's framing, each
// message as it completes, findings as they become certain, and the
// closing summary. Text goes out as each packet is processed (Flush); JSON
// records are documented in the README.
type LiveView struct {
	json  bool
	out   *bufio.Writer
	enc   *json.Encoder
	dirty bool
	err   error
	cur   *capture.Packet // the packet being processed: messages complete at its time
	// msgFrame is the last frame that completed a message, so a datagram
	// whose message was shown does not get a second line.
	msgFrame int
	// shown holds the findings written as they became certain (findingKey).
	shown map[string]bool
	// Ends, when set, names the processes behind a connection as it opens
	// (live --processes).
	Ends func(s *reassembly.Stream) sockets.Ends
}

func (v *LiveView) printf(format string, args ...any) {
	if v.err == nil {
		_, v.err = fmt.Fprintf(v.out, format, args...)
		v.dirty = true
	}
}

func (v *LiveView) record(x any) {
	if v.err == nil {
		v.err = v.enc.Encode(x)
		v.dirty = true
	}
}

// Flush writes out the lines of the last packet, so they appear as it happens.
func (v *LiveView) Flush() {
	if v.dirty && v.err == nil {
		v.err = v.out.Flush()
		v.dirty = false
	}
}

func clock(t time.Time) string { return t.UTC().Format("15:04:05.000000") }

type liveStart struct {
	Type        string `json:"type"`
	Interface   string `json:"interface"`
	LinkType    string `json:"link_type"`
	HWType      string `json:"hw_type"`
	Filter      string `json:"filter"`
	Snaplen     int    `json:"snaplen"`
	Promiscuous bool   `json:"promiscuous"`
	Method      string `json:"method"`
	Fallback    string `json:"fallback,omitempty"`
	Write       string `json:"write,omitempty"`
	// Privileges says what was given up once the capture was open:
	// "running as nobody (uid 65534)", "capabilities dropped", or why not.
	Privileges string `json:"privileges,omitempty"`
}

// LiveHeader describes the capture for the first line or record.
type LiveHeader struct {
	Interface, HWType, LinkType string
	Filter                      string
	Snaplen                     int
	Promiscuous                 bool
	Method, Fallback            string // how packets are read; why the ring could not be used
	Write                       string // -w file
	Privileges                  string // what was given up once the capture was open
}

// Header writes the capture's first line (or start record).
func (v *LiveView) Header(h LiveHeader) {
	if v.json {
		v.record(liveStart{Type: "start", Interface: h.Interface, LinkType: h.LinkType, HWType: h.HWType,
			Filter: h.Filter, Snaplen: h.Snaplen, Promiscuous: h.Promiscuous, Method: h.Method, Fallback: h.Fallback, Write: h.Write,
			Privileges: h.Privileges})
	} else {
		parts := []string{fmt.Sprintf("listening on %s (%s, %s)", textsafe.Escape(h.Interface), h.HWType, h.LinkType)}
		if h.Filter != "" {
			parts = append(parts, fmt.Sprintf("filter %q", h.Filter))
		}
		m := h.Method
		if h.Fallback != "" {
			m += " (ring unavailable: " + h.Fallback + ")"
		}
		parts = append(parts, m)
		if h.Write != "" {
			parts = append(parts, "writing "+textsafe.Escape(h.Write))
		}
		if h.Privileges != "" {
			parts = append(parts, h.Privileges)
		}
		parts = append(parts, "times UTC", "Ctrl-C to stop")
		v.printf("%s\n", strings.Join(parts, " · "))
	}
	v.Flush()
}

type liveEvent struct {
	Type           string  `json:"type"`
	Event          string  `json:"event"`
	Stream         string  `json:"stream"`
	Time           string  `json:"time"`
	Frame          int     `json:"frame"`
	Dir            string  `json:"dir"`
	Client         string  `json:"client"`
	Server         string  `json:"server"`
	Text           string  `json:"text"`
	HandshakeRTTMs float64 `json:"handshake_rtt_ms,omitempty"`
	// ClientProcess and ServerProcess name the processes on the local ends
	// (live --processes), on "opened".
	ClientProcess *sockets.End `json:"client_process,omitempty"`
	ServerProcess *sockets.End `json:"server_process,omitempty"`
	Bytes         int64        `json:"bytes,omitempty"`
	Duration      float64      `json:"duration,omitempty"`
}

// Event writes a tracker event (reassembly.Options.OnEvent).
func (v *LiveView) Event(e reassembly.Event) {
	s := e.Stream
	if e.Kind == reassembly.EventDatagram && v.msgFrame == e.Frame {
		return // its message line says more
	}
	if v.json {
		rec := liveEvent{Type: "event", Event: e.Kind.String(), Stream: s.Name(), Time: RFC3339(e.Time), Frame: e.Frame,
			Dir: e.Dir.String(), Client: s.Client.String(), Server: s.Server.String(), Text: e.Text}
		switch e.Kind {
		case reassembly.EventOpened:
			rec.HandshakeRTTMs = float64(s.HandshakeRTT) / 1e6
			if v.Ends != nil {
				ends := v.Ends(s)
				rec.ClientProcess, rec.ServerProcess = ends.Client, ends.Server
			}
		case reassembly.EventClosed, reassembly.EventReset:
			rec.Bytes = s.Dirs[0].Bytes + s.Dirs[1].Bytes
			rec.Duration = e.Time.Sub(s.Start).Seconds()
		case reassembly.EventDatagram:
			rec.Bytes = int64(v.cur.PayloadLen)
		}
		v.record(rec)
		return
	}
	ends := fmt.Sprintf("%s → %s", s.Client, s.Server)
	switch e.Kind {
	case reassembly.EventOpened, reassembly.EventRefused:
		procs := ""
		if e.Kind == reassembly.EventOpened && v.Ends != nil {
			procs = endsText(v.Ends(s))
		}
		v.printf("%s  %-6s %s  %s%s\n", clock(e.Time), s.Name(), ends, e.Text, procs)
	case reassembly.EventUDPFlow:
		v.printf("%s  %-6s %s  new UDP flow\n", clock(e.Time), s.Name(), ends)
	case reassembly.EventDatagram:
		v.printf("%s  %-6s %s  datagram, %s\n", clock(e.Time), s.Name(), e.Dir.Arrow(), e.Text)
	default:
		v.printf("%s  %-6s %s\n", clock(e.Time), s.Name(), e.Text)
	}
}

// endsText words the processes behind a connection, "  curl[4211] fd 5 →
// python3[981] (listening fd 3)", or "" when neither is known.
func endsText(e sockets.Ends) string {
	if e.Client == nil && e.Server == nil {
		return ""
	}
	name := func(x *sockets.End) string {
		switch {
		case x == nil:
			return "?"
		case x.Listener:
			return fmt.Sprintf("%s[%d] (listening fd %d)", textsafe.Escape(x.Command), x.PID, x.FD)
		}
		return fmt.Sprintf("%s[%d] fd %d", textsafe.Escape(x.Command), x.PID, x.FD)
	}
	return "  " + name(e.Client) + " → " + name(e.Server)
}

type liveFraming struct {
	Type    string `json:"type"`
	Stream  string `json:"stream"`
	Framing string `json:"framing"`
	Reason  string `json:"reason"`
}

// Framing writes the framing chosen for a stream (decode.StreamerOptions.OnFraming).
func (v *LiveView) Framing(s *reassembly.Stream, framing, reason string) {
	if v.json {
		v.record(liveFraming{Type: "framing", Stream: s.Name(), Framing: framing, Reason: reason})
		return
	}
	if framing == "raw" {
		return // nothing will be framed: no need to say so per stream
	}
	v.printf("%s  %-6s framing %s: %s\n", clock(v.now()), s.Name(), framing, textsafe.Escape(reason))
}

// now is the time of the packet being processed (the last one at the end).
func (v *LiveView) now() time.Time {
	if v.cur != nil {
		return v.cur.Time
	}
	return time.Time{}
}

type liveMessage struct {
	Type     string `json:"type"`
	Stream   string `json:"stream"`
	Time     string `json:"time"`
	Frame    int    `json:"frame"`
	Dir      string `json:"dir"`
	Index    int    `json:"index"`
	Protocol string `json:"protocol"`
	Summary  string `json:"summary"`
	Start    int64  `json:"start"`
	End      int64  `json:"end"`
	Length   int64  `json:"length"`
	Segments int    `json:"segments"`
	Frames   []int  `json:"frames"`
	// Records, for a message decrypted from TLS (--keylog), lists the TLS
	// records that carried it; start and end are then offsets in the
	// direction's decrypted application data.
	Records []int `json:"tls_records,omitempty"`
	Partial bool  `json:"partial"`
}

// Message writes a message as it completes (decode.StreamerOptions.OnMessage).
func (v *LiveView) Message(s *reassembly.Stream, m *decode.Message) {
	frame := 0
	if v.cur != nil {
		frame = v.cur.Frame
	}
	v.msgFrame = frame
	t := v.now()
	if t.IsZero() {
		t = s.End // flushed at the end of the capture
	}
	if v.json {
		frames := m.Frames
		if frames == nil {
			frames = []int{}
		}
		v.record(liveMessage{Type: "message", Stream: s.Name(), Time: RFC3339(t), Frame: frame, Dir: m.Dir.String(), Index: m.Index,
			Protocol: m.Protocol, Summary: m.Summary, Start: m.Range.Start, End: m.Range.End, Length: m.Range.Len(),
			Segments: len(m.Frames), Frames: frames, Records: m.Records, Partial: m.Partial})
		return
	}
	size := human.Bytes(m.Range.Len())
	if len(m.Records) > 0 {
		size += fmt.Sprintf(" in %d TLS record%s", len(m.Records), plural(len(m.Records)))
	}
	if s.Proto == capture.ProtoTCP {
		size += fmt.Sprintf(" in %d segment%s", len(m.Frames), plural(len(m.Frames)))
	}
	if m.Partial {
		size += " (partial)"
	}
	v.printf("%s  %-6s %s  %-6s %s  · %s\n", clock(t), s.Name(), m.Dir.Arrow(), m.Protocol, textsafe.Escape(m.Summary), size)
}

// Findings writes findings that just became certain (findings.Engine.Pop):
// their streams ended. Capture-wide ones (port scans, services, kernel
// drops) come with the summary.
func (v *LiveView) Findings(fs []findings.Finding) {
	for _, f := range fs {
		v.shown[findingKey(f)] = true
		if v.json {
			v.record(NewFindingRecord(f))
			continue
		}
		name := ""
		if len(f.Streams) == 1 {
			name = f.Streams[0].String()
		}
		v.printf("%s  %-6s finding (%s) %s: %s\n", clock(v.now()), name, f.Severity, f.Kind, textsafe.Escape(f.Message))
		const indent = "                 "
		for _, d := range f.Details {
			v.printf("%s%s\n", indent, textsafe.Escape(d))
		}
		if ev := EvidenceText(f); ev != "" {
			v.printf("%s%s\n", indent, ev)
		}
	}
}

// findingKey identifies a finding, to write it only once.
func findingKey(f findings.Finding) string {
	return fmt.Sprintf("%s\x00%s\x00%v", f.Kind, f.Message, f.Streams)
}

// Unwritten returns the findings of fs not written yet by Findings (in
// JSON each finding is written once: at the end, only the others).
func (v *LiveView) Unwritten(fs []findings.Finding) []findings.Finding {
	if !v.json {
		return fs
	}
	return slices.DeleteFunc(fs, func(f findings.Finding) bool { return v.shown[findingKey(f)] })
}

type liveCapture struct {
	Type           string `json:"type"`
	Interface      string `json:"interface"`
	Stopped        string `json:"stopped"`
	Frames         int    `json:"frames"`
	KernelReceived uint64 `json:"kernel_received"`
	KernelDropped  uint64 `json:"kernel_dropped"`
	KernelFreezes  uint64 `json:"kernel_freezes"`
	Method         string `json:"method"`
	FlushedIdle    int    `json:"flushed_idle"`
	IdleTimeout    string `json:"idle_timeout"`
	StreamsNotKept int    `json:"streams_not_in_summary"`
	Messages       int    `json:"messages"`
	SkippedBytes   int64  `json:"undecoded_bytes"`
	PeakBuffered   int64  `json:"peak_buffered_bytes"`
	StatsError     string `json:"stats_error,omitempty"`
}

// LiveSummary is what the closing summary says besides the read view.
type LiveSummary struct {
	Interface   string
	Stopped     string // "interrupted", "-c 10 reached", ...
	Kernel      capture.LiveStats
	KernelErr   error // the kernel's counters could not be read
	IdleTimeout time.Duration
	Limit       int                  // streams listed at most (text)
	NotListed   int                  // streams counted but not kept for the list
	Kept        int                  // how many the summary keeps
	Decoded     decode.StreamerStats // messages framed, bytes not decoded
}

// Summary writes, once the capture stopped, the read view of what was
// captured and the kernel's counters, and flushes.
func (v *LiveView) Summary(rep *ReadReport, o LiveSummary) error {
	k, kerr, ds := o.Kernel, o.KernelErr, o.Decoded
	if v.json {
		if v.err == nil {
			v.err = ReadJSON(v.out, rep)
		}
		rec := liveCapture{Type: "capture", Interface: o.Interface, Stopped: o.Stopped, Frames: rep.Stats.Packets,
			KernelReceived: k.Received, KernelDropped: k.Dropped, KernelFreezes: k.Freezes, Method: k.Method,
			FlushedIdle: rep.Stats.FlushedIdle, IdleTimeout: o.IdleTimeout.String(), StreamsNotKept: o.NotListed,
			Messages: ds.Messages, SkippedBytes: ds.Skipped, PeakBuffered: ds.PeakBuffered}
		if kerr != nil {
			rec.StatsError = kerr.Error()
		}
		v.record(rec)
	} else {
		v.printf("\n")
		if v.err == nil {
			v.err = ReadText(v.out, rep, ReadOptions{Limit: o.Limit})
		}
		if o.NotListed > 0 {
			v.printf("… %d earlier streams are counted above but not listed (the summary keeps the last %d)\n", o.NotListed, o.Kept)
		}
		v.printf("\ncapture  %s · %d packets · %s\n", o.Stopped, rep.Stats.Packets, k.Method)
		switch {
		case kerr != nil:
			v.printf("kernel   counters unavailable: %s\n", textsafe.Escape(kerr.Error()))
		default:
			v.printf("kernel   %d received by filter · %d dropped\n", k.Received, k.Dropped)
		}
		v.printf("flows    %d flushed after --idle-timeout %s · %d messages · %s not decoded\n",
			rep.Stats.FlushedIdle, o.IdleTimeout, ds.Messages, human.Bytes(ds.Skipped))
		if k.Dropped > 0 {
			v.printf("warning: the kernel dropped %d of %d packets (%.2f%%): sockscope did not see them, so streams may show gaps and\n"+
				"         retransmissions that were not on the wire; try a larger --ring-size, a narrower -f filter, or --framing raw\n",
				k.Dropped, k.Received, 100*float64(k.Dropped)/float64(max(k.Received, 1)))
		}
	}
	v.Flush()
	return v.err
}
