package cmd

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sockscope/sockscope/capture"
	"github.com/sockscope/sockscope/decode"
	"github.com/sockscope/sockscope/findings"
	"github.com/sockscope/sockscope/internal/textsafe"
	"github.com/sockscope/sockscope/output"
	"github.com/sockscope/sockscope/reassembly"
)

type liveOptions struct {
	Iface       string
	In          inputOptions
	Format      string
	Count       int
	Duration    time.Duration
	Framing     string
	IdleTimeout time.Duration
	MaxBuffer   int
	Limit       int
	Find        findingsOptions
	Bounds      boundsOptions
}

func newLiveCmd(io *streams) *cobra.Command {
	o := &liveOptions{}
	c := &cobra.Command{
		Use:   "live IFACE | live -i IFACE",
		Short: "Capture on an interface and show connections and messages as they happen",
		Long: `live captures on a network interface (AF_PACKET, no libpcap) and prints one
line per event as it happens: connections opened (with the handshake RTT),
refused, reset and closed (with duration and volume), each application
message (decoded when the framing is known, with the segments it took), and
UDP flows and datagrams. Ctrl-C, -c or --duration stops it; then it prints
the read summary and the kernel's received/dropped counts.

It needs CAP_NET_RAW: run it as root, or once
  sudo setcap cap_net_raw,cap_net_admin+eip $(command -v sockscope)`,
		Example: `  sudo sockscope live lo
  sudo sockscope live eth0 -f "tcp port 443" -w out.pcapng
  sudo sockscope live -i lo -c 1000 --format json | jq 'select(.type=="message")'`,
		Args: func(c *cobra.Command, args []string) error {
			// The interface as an argument, or with -i as every other
			// command that captures takes it (and tcpdump does).
			switch {
			case len(args) == 1 && o.Iface != "" && args[0] != o.Iface:
				return usagef("%s: interface %q and -i %q: give one", c.CommandPath(), args[0], o.Iface)
			case len(args) > 1 || len(args) == 0 && o.Iface == "":
				return usagef("%s needs an interface name, as IFACE or -i IFACE (see sockscope interfaces)", c.CommandPath())
			}
			return nil
		},
		ValidArgsFunction: func(c *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			var names []cobra.Completion
			if ifs, err := capture.Interfaces(); err == nil && len(args) == 0 {
				for _, i := range ifs {
					names = append(names, i.Name)
				}
			}
			return names, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.Iface = args[0]
			}
			if !c.Flags().Changed("limit") && !io.OutTTY {
				o.Limit = 0
			}
			return runLive(c.Context(), io, o)
		},
	}
	f := c.Flags()
	f.StringVarP(&o.Iface, "interface", "i", "", "capture on interface `IFACE` (the same as the IFACE argument)")
	o.In.addFlags(f, false)
	f.StringVarP(&o.In.Write, "write", "w", "", "also write the captured frames to pcapng `FILE`")
	f.StringVar(&o.Format, "format", "text", "output format: text or json (one object per line)")
	f.IntVarP(&o.Count, "count", "c", 0, "stop after N packets (0: no limit)")
	f.DurationVar(&o.Duration, "duration", 0, "stop after this long, e.g. 30s (0: no limit)")
	f.StringVar(&o.Framing, "framing", "auto", "how to cut streams into messages: auto, line, len:u32be, http1, tls, dns, resp, ws, h2, raw, ...")
	f.DurationVar(&o.IdleTimeout, "idle-timeout", 5*time.Minute, "forget a flow after this long without packets (keeps memory flat on long runs)")
	f.IntVar(&o.MaxBuffer, "max-message", decode.DefaultMaxBuffer>>20, "MiB held per stream direction for one incomplete message; larger ones are reported and skipped")
	f.IntVar(&o.Limit, "limit", 100, "summary: show at most N streams (0: all; all when piped)")
	o.Find.addFlags(f)
	o.Bounds.addFlags(f, false)
	c.RegisterFlagCompletionFunc("format", fixedCompletion("text", "json"))
	return c
}

// maxKeptStreams bounds the finished streams kept for the closing summary,
// so that a long run's memory stays flat; the oldest are let go first.
const maxKeptStreams = 10000

func runLive(ctx context.Context, ios *streams, o *liveOptions) error {
	if o.Format != "text" && o.Format != "json" {
		return usagef("--format %q: want text or json", o.Format)
	}
	if o.Count < 0 || o.Duration < 0 || o.IdleTimeout < 0 || o.MaxBuffer <= 0 {
		return usagef("-c, --duration, --idle-timeout and --max-message can't be negative")
	}
	o.In.Iface = o.Iface
	if o.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Duration)
		defer cancel()
	}
	eng, err := o.Find.engine()
	if err != nil {
		return err
	}
	v := &liveView{json: o.Format == "json", out: bufio.NewWriterSize(ios.Out, 64<<10), kept: newStreamKeeper(maxKeptStreams), shown: map[string]bool{}}
	v.enc = output.NewJSONEncoder(v.out)
	if _, err := decode.ParseSpec(o.Framing); err != nil {
		return usagef("--framing: %v", err)
	}
	in, err := openInput(ctx, ios, "", &o.In)
	if err != nil {
		return err
	}
	defer in.Close()
	if eng != nil {
		eng.SetKeys(in.Keys, in.refresher())
	}
	st, err := decode.NewStreamer(decode.StreamerOptions{Framing: o.Framing, MaxBuffer: o.MaxBuffer << 20,
		OnMessage: v.message, OnFraming: v.framing, Keys: in.Keys, Refresh: in.refresher()})
	if err != nil {
		return usagef("--framing: %v", err)
	}
	v.st = st
	topts := reassembly.Options{
		IdleTimeout: o.IdleTimeout,
		OnData:      st.Data,
		OnEvent:     v.event,
		OnStream: func(s *reassembly.Stream) {
			st.End(s)
			v.kept.add(s)
		},
	}
	if err := o.Bounds.apply(&topts); err != nil {
		return err
	}
	if eng != nil {
		topts = eng.Hooks(topts)
	}
	tr := reassembly.NewTracker(topts)
	v.header(in, o.In)

	var p capture.Packet
	var readErr error
	stopped := "interrupted"
	for {
		if err := in.Next(&p); err != nil {
			if !errors.Is(err, io.EOF) {
				readErr = err
			} else if o.Duration > 0 && errors.Is(ctx.Err(), context.DeadlineExceeded) {
				stopped = fmt.Sprintf("--duration %s reached", o.Duration)
			}
			break
		}
		v.cur = &p
		tr.Add(&p)
		if eng != nil {
			v.findings(eng.Pop())
		}
		v.flush()
		if o.Count > 0 && tr.Stats.Packets >= o.Count {
			stopped = fmt.Sprintf("-c %d reached", o.Count)
			break
		}
	}
	v.cur = nil
	tr.Finish()
	in.Defrag.Finish()
	kst, kerr := in.Live.Stats()
	fs := finishFindings(eng, in, tr.Stats)
	closeErr := in.Close()
	if v.json && fs != nil {
		// Each finding is written once: those already written as they
		// became certain are left out of the closing records.
		fs = slices.DeleteFunc(fs, func(f findings.Finding) bool { return v.shown[findingKey(f)] })
	}
	rep := &output.ReadReport{Info: in.Info(), Stats: tr.Stats, Defrag: in.Defrag.Stats, Streams: v.kept.streams(), Findings: fs}
	if err := v.summary(rep, kst, kerr, o, stopped, st.Stats()); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	if readErr != nil {
		return fmt.Errorf("capture on %s stopped: %w", o.Iface, readErr)
	}
	if closeErr != nil {
		return closeErr
	}
	return nil
}

// liveView renders live events as text lines or JSON objects.
type liveView struct {
	json  bool
	out   *bufio.Writer
	enc   *json.Encoder
	dirty bool
	err   error
	cur   *capture.Packet // the packet being processed: messages complete at its time
	st    *decode.Streamer
	kept  *streamKeeper
	// msgFrame is the last frame that completed a message, so a datagram
	// whose message was shown does not get a second line.
	msgFrame int
	// shown holds the findings written as they became certain (findingKey).
	shown map[string]bool
}

func (v *liveView) printf(format string, args ...any) {
	if v.err == nil {
		_, v.err = fmt.Fprintf(v.out, format, args...)
		v.dirty = true
	}
}

func (v *liveView) record(x any) {
	if v.err == nil {
		v.err = v.enc.Encode(x)
		v.dirty = true
	}
}

// flush writes out the lines of the last packet, so they appear as it happens.
func (v *liveView) flush() {
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

func (v *liveView) header(in *input, o inputOptions) {
	src := in.Live
	ifc := src.Interface()
	info := src.Info()
	priv := in.Privileges.String()
	if v.json {
		v.record(liveStart{Type: "start", Interface: ifc.Name, LinkType: info.LinkTypes[0].String(), HWType: ifc.HWType,
			Filter: o.Filter, Snaplen: info.Snaplen, Promiscuous: !o.NoPromisc, Method: src.Method(), Fallback: src.Fallback(), Write: o.Write,
			Privileges: priv})
	} else {
		parts := []string{fmt.Sprintf("listening on %s (%s, %s)", textsafe.Escape(ifc.Name), ifc.HWType, info.LinkTypes[0])}
		if o.Filter != "" {
			parts = append(parts, fmt.Sprintf("filter %q", o.Filter))
		}
		m := src.Method()
		if src.Fallback() != "" {
			m += " (ring unavailable: " + src.Fallback() + ")"
		}
		parts = append(parts, m)
		if o.Write != "" {
			parts = append(parts, "writing "+textsafe.Escape(o.Write))
		}
		if priv != "" {
			parts = append(parts, priv)
		}
		parts = append(parts, "times UTC", "Ctrl-C to stop")
		v.printf("%s\n", strings.Join(parts, " · "))
	}
	v.flush()
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
	Bytes          int64   `json:"bytes,omitempty"`
	Duration       float64 `json:"duration,omitempty"`
}

func (v *liveView) event(e reassembly.Event) {
	s := e.Stream
	if e.Kind == reassembly.EventDatagram && v.msgFrame == e.Frame {
		return // its message line says more
	}
	switch e.Kind {
	case reassembly.EventHalfClosed:
		v.st.CloseDir(s, e.Dir)
	case reassembly.EventClosed, reassembly.EventReset, reassembly.EventRefused:
		v.st.CloseDir(s, reassembly.ClientToServer)
		v.st.CloseDir(s, reassembly.ServerToClient)
	}
	if v.json {
		rec := liveEvent{Type: "event", Event: e.Kind.String(), Stream: s.Name(), Time: output.RFC3339(e.Time), Frame: e.Frame,
			Dir: e.Dir.String(), Client: s.Client.String(), Server: s.Server.String(), Text: e.Text}
		switch e.Kind {
		case reassembly.EventOpened:
			rec.HandshakeRTTMs = float64(s.HandshakeRTT) / 1e6
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
		v.printf("%s  %-6s %s  %s\n", clock(e.Time), s.Name(), ends, e.Text)
	case reassembly.EventUDPFlow:
		v.printf("%s  %-6s %s  new UDP flow\n", clock(e.Time), s.Name(), ends)
	case reassembly.EventDatagram:
		v.printf("%s  %-6s %s  datagram, %s\n", clock(e.Time), s.Name(), e.Dir.Arrow(), e.Text)
	default:
		v.printf("%s  %-6s %s\n", clock(e.Time), s.Name(), e.Text)
	}
}

type liveFraming struct {
	Type    string `json:"type"`
	Stream  string `json:"stream"`
	Framing string `json:"framing"`
	Reason  string `json:"reason"`
}

func (v *liveView) framing(s *reassembly.Stream, framing, reason string) {
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
func (v *liveView) now() time.Time {
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

func (v *liveView) message(s *reassembly.Stream, m *decode.Message) {
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
		v.record(liveMessage{Type: "message", Stream: s.Name(), Time: output.RFC3339(t), Frame: frame, Dir: m.Dir.String(), Index: m.Index,
			Protocol: m.Protocol, Summary: m.Summary, Start: m.Range.Start, End: m.Range.End, Length: m.Range.Len(),
			Segments: len(m.Frames), Frames: frames, Records: m.Records, Partial: m.Partial})
		return
	}
	size := reassembly.HumanBytes(m.Range.Len())
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

// findings writes findings that just became certain (Engine.Pop): their
// streams ended. Capture-wide ones (port scans, services, kernel drops)
// come with the summary.
func (v *liveView) findings(fs []findings.Finding) {
	for _, f := range fs {
		v.shown[findingKey(f)] = true
		if v.json {
			v.record(output.NewFindingRecord(f))
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
		if ev := output.EvidenceText(f); ev != "" {
			v.printf("%s%s\n", indent, ev)
		}
	}
}

// findingKey identifies a finding, to write it only once.
func findingKey(f findings.Finding) string {
	return fmt.Sprintf("%s\x00%s\x00%v", f.Kind, f.Message, f.Streams)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
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

// summary prints, once the capture stopped, the read view of what was
// captured and the kernel's counters.
func (v *liveView) summary(rep *output.ReadReport, k capture.LiveStats, kerr error, o *liveOptions, stopped string, ds decode.StreamerStats) error {
	if v.json {
		if v.err == nil {
			v.err = output.ReadJSON(v.out, rep)
		}
		rec := liveCapture{Type: "capture", Interface: o.Iface, Stopped: stopped, Frames: rep.Stats.Packets,
			KernelReceived: k.Received, KernelDropped: k.Dropped, KernelFreezes: k.Freezes, Method: k.Method,
			FlushedIdle: rep.Stats.FlushedIdle, IdleTimeout: o.IdleTimeout.String(), StreamsNotKept: v.kept.dropped,
			Messages: ds.Messages, SkippedBytes: ds.Skipped, PeakBuffered: ds.PeakBuffered}
		if kerr != nil {
			rec.StatsError = kerr.Error()
		}
		v.record(rec)
	} else {
		v.printf("\n")
		if v.err == nil {
			v.err = output.ReadText(v.out, rep, output.ReadOptions{Limit: o.Limit})
		}
		if v.kept.dropped > 0 {
			v.printf("… %d earlier streams are counted above but not listed (the summary keeps the last %d)\n", v.kept.dropped, maxKeptStreams)
		}
		v.printf("\ncapture  %s · %d packets · %s\n", stopped, rep.Stats.Packets, k.Method)
		switch {
		case kerr != nil:
			v.printf("kernel   counters unavailable: %s\n", textsafe.Escape(kerr.Error()))
		default:
			v.printf("kernel   %d received by filter · %d dropped\n", k.Received, k.Dropped)
		}
		v.printf("flows    %d flushed after --idle-timeout %s · %d messages · %s not decoded\n",
			rep.Stats.FlushedIdle, o.IdleTimeout, ds.Messages, reassembly.HumanBytes(ds.Skipped))
		if k.Dropped > 0 {
			v.printf("warning: the kernel dropped %d of %d packets (%.2f%%): sockscope did not see them, so streams may show gaps and\n"+
				"         retransmissions that were not on the wire; try a larger --ring-size, a narrower -f filter, or --framing raw\n",
				k.Dropped, k.Received, 100*float64(k.Dropped)/float64(max(k.Received, 1)))
		}
	}
	v.flush()
	return v.err
}

// streamKeeper collects finished streams for the summary, keeping at most
// limit of them (the most recent by ID); a stream flushed early and
// delivered again is merged into its first record.
type streamKeeper struct {
	limit   int
	byID    map[streamID]*reassembly.Stream
	list    []*reassembly.Stream
	dropped int
}

type streamID struct {
	proto capture.Proto
	id    int
}

func newStreamKeeper(limit int) *streamKeeper {
	return &streamKeeper{limit: limit, byID: make(map[streamID]*reassembly.Stream)}
}

func (k *streamKeeper) add(s *reassembly.Stream) {
	id := streamID{s.Proto, s.ID}
	if old := k.byID[id]; old != nil {
		old.Merge(s)
		return
	}
	k.byID[id] = s
	k.list = append(k.list, s)
	if len(k.list) >= 2*k.limit {
		k.trim()
	}
}

func (k *streamKeeper) trim() {
	k.sort()
	n := len(k.list) - k.limit
	for _, s := range k.list[:n] {
		delete(k.byID, streamID{s.Proto, s.ID})
	}
	k.dropped += n
	k.list = slices.Delete(k.list, 0, n)
}

func (k *streamKeeper) sort() {
	slices.SortFunc(k.list, func(a, b *reassembly.Stream) int {
		// Oldest first: by ID, TCP and UDP interleaved by first frame.
		if a.FirstFrame != b.FirstFrame {
			return a.FirstFrame - b.FirstFrame
		}
		return int(a.Proto) - int(b.Proto)
	})
}

// streams returns the kept streams as the read view wants them: TCP by ID, then UDP by ID.
func (k *streamKeeper) streams() []*reassembly.Stream {
	if len(k.list) > k.limit {
		k.trim()
	}
	slices.SortFunc(k.list, func(a, b *reassembly.Stream) int {
		if a.Proto != b.Proto {
			return int(a.Proto) - int(b.Proto)
		}
		return a.ID - b.ID
	})
	return k.list
}
