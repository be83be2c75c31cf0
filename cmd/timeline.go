package cmd

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sockscope/sockscope/capture"
	"github.com/sockscope/sockscope/decode/tlsdec"
	"github.com/sockscope/sockscope/output"
	"github.com/sockscope/sockscope/reassembly"
)

// timelineOptions are the flags of timeline (and of demo, which draws the same view).
type timelineOptions struct {
	Paths   []string              // the capture files (expandInputs), merged in time order
	Streams []reassembly.StreamID // empty: every stream, up to Limit
	// AllMatching: a STREAM named by endpoints draws every stream it
	// matches (--all-matching).
	AllMatching bool
	Format      string // text, json, mermaid
	Explain     bool
	Width       int    // 0: $COLUMNS, the terminal's width, else 80
	ASCII       bool   // ASCII arrows
	Color       string // auto, always, never
	Limit       int    // streams drawn at most without a stream argument (0: all)
	All         bool
	Framing     string       // framing spec for message labels
	In          inputOptions // timeline only: -i (live instead of FILE), -f, -c, --duration
	Bounds      boundsOptions
}

var timelineFormats = []string{"text", "json", "mermaid"}

func newTimelineCmd(io *streams) *cobra.Command {
	o := &timelineOptions{}
	c := &cobra.Command{
		Use:   "timeline FILE... [STREAM...] | timeline -i IFACE [STREAM...]",
		Short: "Draw a ladder diagram of TCP streams and UDP flows: every packet, with notes",
		Long: `timeline draws each stream as a ladder diagram: the client on the left, the
server on the right, one arrow per packet in capture order with its relative
time, flags, relative seq/ack (as Wireshark shows them), payload length, window
and, on SYN and SYN-ACK, the options. Annotations in the margin point out the
handshake, retransmissions, duplicate ACKs, zero windows, closes and resets.
--explain adds a plain-language note after every packet and a closing summary.

STREAM is tcp/N, udp/N or N (= tcp/N), numbered as Wireshark's tcp.stream and
udp.stream; or, in a capture file, HOST:PORT (the streams with that endpoint)
or HOST:PORT-HOST:PORT (the streams between the two, either order), [v6]:PORT
for IPv6. When several streams match they are listed, or all drawn with
--all-matching. Without one, the first 10 streams are drawn (--limit, --all).

Several FILEs (or a directory of captures, or a quoted pattern such as
'trace-*.pcap') are merged in time order, as mergecap merges them: frame and
stream numbers are those of the merged capture. The first argument is a
file; after it, arguments that name a file or directory, or are a pattern
that matches one, are inputs too, and the first other argument starts the
streams.

With -i IFACE it captures live and draws each arrow the moment its packet
arrives (Ctrl-C, -c or --duration stops). A stream's header comes with its
first packet; when streams interleave, a stream's title line is repeated
before its next arrow. A message label goes under the arrow of the packet
that completed the message ("#2 200 OK (3 segments from frame 5)"), not the
one that started it as in the file view.`,
		Example: `  sockscope timeline trace.pcap tcp/0 --explain
  sockscope timeline trace.pcap 3 udp/0 --width 120
  sockscope timeline trace.pcap tcp/0 --format mermaid > handshake.mmd
  sockscope timeline trace-1.pcap trace-2.pcap tcp/4
  sockscope timeline trace.pcap --format json | jq 'select(.notes != [])'
  sudo sockscope timeline -i lo -f "port 8080"`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) < 1 && o.In.Iface == "" {
				return usagef("%s needs a capture file (or - for standard input), or -i IFACE to capture live", c.CommandPath())
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			if o.In.Iface == "" {
				n := splitFilesStreams(args)
				var err error
				if o.Paths, err = expandInputs(args[:n]); err != nil {
					return err
				}
				args = args[n:]
			}
			var sels []reassembly.Selector
			byEndpoints := false
			for _, a := range args {
				sel, err := parseSelector(a)
				if err != nil {
					return err
				}
				_, named := sel.ID()
				byEndpoints = byEndpoints || !named
				sels = append(sels, sel)
			}
			var matches [][]reassembly.StreamMatch
			if byEndpoints {
				var err error
				if matches, err = resolveSelectors(io, o.Paths, &o.In, o.Bounds, sels); err != nil {
					return err
				}
			}
			for i, sel := range sels {
				var m []reassembly.StreamMatch
				if matches != nil {
					m = matches[i]
				}
				ids, err := pickStreams(io, o.Paths, "sockscope timeline", sel, m, o.AllMatching, true)
				if err != nil {
					return err
				}
				o.Streams = append(o.Streams, ids...)
			}
			return runTimeline(c.Context(), io, o)
		},
	}
	addTimelineFlags(c, o)
	f := c.Flags()
	o.In.addFlags(f, true)
	o.In.addLimitFlags(f)
	o.Bounds.addFlags(f, true)
	f.IntVar(&o.Limit, "limit", 10, "without a STREAM argument, draw at most N streams (0: all)")
	f.BoolVar(&o.All, "all", false, "without a STREAM argument, draw every stream (same as --limit 0)")
	f.BoolVar(&o.AllMatching, "all-matching", false, "a STREAM given as HOST:PORT that matches several streams draws them all (else they are listed)")
	return c
}

// addTimelineFlags registers the flags timeline and demo share.
func addTimelineFlags(c *cobra.Command, o *timelineOptions) {
	f := c.Flags()
	f.StringVar(&o.Format, "format", "text", "output format: text (ladder), json (one object per packet) or mermaid (sequenceDiagram)")
	f.BoolVar(&o.Explain, "explain", false, "add a plain-language note after each packet and a summary of the connection")
	f.IntVar(&o.Width, "width", 0, "columns to fit (default: $COLUMNS, else the terminal's width, else 80)")
	f.BoolVar(&o.ASCII, "ascii", false, "draw with plain ASCII (--> instead of ──▶)")
	f.StringVar(&o.Color, "color", "auto", "colour: auto (on a terminal, unless NO_COLOR is set), always or never")
	f.StringVar(&o.Framing, "framing", "auto", "how to find messages for the arrows' labels: auto, none, or a framing spec as for follow (len:u32be, line, http1, ...)")
	c.RegisterFlagCompletionFunc("format", fixedCompletion(timelineFormats...))
	c.RegisterFlagCompletionFunc("color", fixedCompletion("auto", "always", "never"))
}

// renderOptions turns the flags into the renderer's options: cmd decides the
// width and colour, the renderer never probes the terminal.
func (o *timelineOptions) renderOptions(io *streams) (output.TimelineOptions, error) {
	r := output.TimelineOptions{Width: o.Width, ASCII: o.ASCII, Explain: o.Explain}
	switch o.Format {
	case "text", "json", "mermaid":
	default:
		return r, usagef("--format %q: want text, json or mermaid", o.Format)
	}
	switch o.Color {
	case "auto":
		_, noColor := os.LookupEnv("NO_COLOR")
		r.Color = io.OutTTY && !noColor && os.Getenv("TERM") != "dumb"
	case "always":
		r.Color = true
	case "never":
	default:
		return r, usagef("--color %q: want auto, always or never", o.Color)
	}
	if o.Width < 0 {
		return r, usagef("--width %d: want a positive number of columns", o.Width)
	}
	if r.Width == 0 {
		r.Width = terminalWidth(io, 80)
	}
	return r, nil
}

func runTimeline(ctx context.Context, io *streams, o *timelineOptions) error {
	ro, err := o.renderOptions(io)
	if err != nil {
		return err
	}
	if o.All {
		o.Limit = 0
	}
	if o.Limit < 0 {
		return usagef("--limit %d: want 0 (all) or more", o.Limit)
	}
	if o.In.Iface != "" {
		return timelineLive(ctx, io, o, ro)
	}
	src, err := openInput(ctx, io, o.Paths, &o.In)
	if err != nil {
		return err
	}
	defer src.Close()
	return drawTimeline(io, src, src.Defrag, o, ro, src.Keys)
}

// splitFilesStreams returns how many of timeline's arguments are inputs:
// the first always; after it, those that name a file or directory, are a
// pattern that matches one, or are no stream but named like a capture file
// (so that a missing file is told as missing). The first other argument
// starts the streams (a mistyped stream is then told as one).
func splitFilesStreams(args []string) int {
	for i := 1; i < len(args); i++ {
		if _, err := os.Stat(args[i]); err == nil {
			continue
		}
		if _, err := reassembly.ParseSelector(args[i]); err != nil && captureName.MatchString(args[i]) {
			continue
		}
		if strings.ContainsAny(args[i], "*?[") {
			if m, _ := filepath.Glob(args[i]); len(m) > 0 {
				continue
			}
		}
		return i
	}
	return len(args)
}

// drawTimeline tracks the streams of src that o selects and renders them
// (TLS decrypted with keys, which may be nil).
func drawTimeline(io *streams, src capture.Source, defrag *capture.Defragmenter, o *timelineOptions, ro output.TimelineOptions, keys *tlsdec.KeyLog) error {
	want := map[reassembly.StreamID]bool{}
	for _, r := range o.Streams {
		want[r] = true
	}
	keep := func(p capture.Proto, id int) bool {
		if len(want) > 0 {
			return want[reassembly.StreamID{Proto: p, ID: id}]
		}
		return o.Limit == 0 || id < o.Limit
	}
	var col reassembly.Collector
	// Only the streams that may be drawn are held: a scan of a million
	// flows costs the flow table, not a million streams.
	topts := reassembly.Options{Keep: keep, OnStream: func(s *reassembly.Stream) {
		if s.KeptData {
			col.Add(s)
		}
	}}
	if err := o.Bounds.apply(&topts); err != nil {
		return err
	}
	tr := reassembly.NewTracker(topts)
	damage := tr.Consume(src)
	defrag.Finish()

	var picked []*reassembly.Stream
	for _, s := range col.Streams() {
		if s.KeptData && (len(want) > 0 || o.Limit == 0 || len(picked) < o.Limit) {
			picked = append(picked, s)
		}
	}
	if len(want) > 0 {
		// Draw in the order asked for; name the ones that do not exist.
		byRef := map[reassembly.StreamID]*reassembly.Stream{}
		for _, s := range picked {
			byRef[s.StreamID()] = s
		}
		picked = picked[:0]
		var missing []string
		for _, r := range o.Streams {
			if s := byRef[r]; s != nil {
				picked = append(picked, s)
				delete(byRef, r)
			} else if !containsStream(picked, r) {
				missing = append(missing, r.String())
			}
		}
		if len(missing) > 0 && damage != nil {
			return fmt.Errorf("%s: not found before the capture stopped: %w", strings.Join(missing, ", "), damage)
		}
		if len(missing) > 0 {
			// As follow: naming a stream the file does not have is a usage
			// error (2); the capture itself was fine.
			return usagef("%s: no such stream (the capture has %s and %s)", strings.Join(missing, ", "),
				countStreams(tr.Stats.TCPStreams, "TCP stream", "tcp"), countStreams(tr.Stats.UDPFlows, "UDP flow", "udp"))
		}
	} else {
		ro.Omitted = tr.Stats.TCPStreams + tr.Stats.UDPFlows - len(picked)
	}
	tls := make([]output.TimelineStream, len(picked))
	for i, s := range picked {
		tls[i] = output.TimelineStream{Stream: s}
		tls[i].Labels, tls[i].Framing = output.MessageLabels(s, o.Framing, keys)
	}
	var err error
	bw := bufio.NewWriterSize(io.Out, 64<<10) // written at the end: buffered
	switch o.Format {
	case "json":
		err = output.TimelineJSON(bw, tls, ro)
	case "mermaid":
		err = output.TimelineMermaid(bw, tls, ro)
	default:
		err = output.TimelineText(bw, tls, ro)
	}
	return endView(bw, err, damage, "drawn")
}

func containsStream(list []*reassembly.Stream, r reassembly.StreamID) bool {
	for _, s := range list {
		if s.Proto == r.Proto && s.ID == r.ID {
			return true
		}
	}
	return false
}

// countStreams says "3 TCP streams (tcp/0 to tcp/2)" or "no UDP flows".
func countStreams(n int, noun, proto string) string {
	switch n {
	case 0:
		return "no " + noun + "s"
	case 1:
		return fmt.Sprintf("1 %s (%s/0)", noun, proto)
	}
	return fmt.Sprintf("%d %ss (%s/0 to %s/%d)", n, noun, proto, proto, n-1)
}

// captureName matches the names capture files are given: trace.pcap,
// trace.pcapng, trace.cap, trace.pcap.gz, and tcpdump -C's trace.pcap1.
var captureName = regexp.MustCompile(`(?i)\.(pcap|pcapng|cap|gz)[0-9]*$`)
