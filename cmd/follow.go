package cmd

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sockscope/sockscope/capture"
	"github.com/sockscope/sockscope/decode"
	"github.com/sockscope/sockscope/output"
	"github.com/sockscope/sockscope/reassembly"
)

type followOptions struct {
	Path       string
	Stream     string
	Format     string
	Framing    string
	Dir        string
	Transcript bool
	All        bool
	Width      int
}

func newFollowCmd(io *streams) *cobra.Command {
	o := &followOptions{}
	c := &cobra.Command{
		Use:   "follow FILE STREAM",
		Short: "Rebuild one stream and show which segment carried which bytes of which message",
		Long: `follow rebuilds one TCP stream (or UDP flow) and lines its segments up
with its application messages: messages split across segments, segments
carrying several messages, partial messages at a gap or at the end.

STREAM is tcp/N, udp/N, or N (= tcp/N), numbered as Wireshark's tcp.stream.

Framing (--framing): auto (default: by content and port, and says why), raw
(one message per segment), line, line:<delim>, fixed:N,
len:u8|u16be|u16le|u32be|u32le|u64be[,offset=N][,adjust=N][,include],
http1, tls, dns, resp, ws, h2.`,
		Example: `  sockscope follow trace.pcap tcp/3 --framing len:u32be
  sockscope follow trace.pcap 0 --transcript
  sockscope follow trace.pcap tcp/0 --format raw --dir s2c > body.bin`,
		Args: exactArgs(2, "a capture file and a stream (tcp/N, udp/N or N)"),
		RunE: func(c *cobra.Command, args []string) error {
			o.Path, o.Stream = args[0], args[1]
			return runFollow(io, o)
		},
	}
	f := c.Flags()
	f.StringVar(&o.Format, "format", "text", "output format: text, json (one object per line), or raw (the bytes of --dir, unchanged)")
	f.StringVar(&o.Framing, "framing", "auto", "how to find message boundaries (see above)")
	f.StringVar(&o.Dir, "dir", "", "direction: c2s or s2c (required with --format raw; otherwise limits the text view)")
	f.BoolVar(&o.Transcript, "transcript", false, "show both directions interleaved in capture order, payload escaped, with message boundaries")
	f.BoolVar(&o.All, "all", false, "show every segment and message (no elision)")
	f.IntVar(&o.Width, "width", 0, "output width in columns (default: $COLUMNS, else 100)")
	c.RegisterFlagCompletionFunc("format", fixedCompletion("text", "json", "raw"))
	c.RegisterFlagCompletionFunc("dir", fixedCompletion("c2s", "s2c"))
	c.RegisterFlagCompletionFunc("framing", fixedCompletion("auto", "raw", "line", "len:u32be", "len:u16be", "fixed:", "http1", "tls", "dns", "resp", "ws", "h2"))
	return c
}

// parseStream reads "tcp/3", "udp/0" or "3".
func parseStream(s string) (capture.Proto, int, error) {
	proto := capture.ProtoTCP
	num := s
	if p, n, ok := strings.Cut(s, "/"); ok {
		switch p {
		case "tcp":
		case "udp":
			proto = capture.ProtoUDP
		default:
			return 0, 0, usagef("stream %q: want tcp/N, udp/N or N", s)
		}
		num = n
	}
	id, err := strconv.Atoi(num)
	if err != nil || id < 0 {
		return 0, 0, usagef("stream %q: want tcp/N, udp/N or N", s)
	}
	return proto, id, nil
}

func runFollow(io *streams, o *followOptions) error {
	switch o.Format {
	case "text", "json", "raw":
	default:
		return usagef("--format %q: want text, json or raw", o.Format)
	}
	var dirs []reassembly.Direction
	switch o.Dir {
	case "":
		if o.Format == "raw" {
			return usagef("--format raw needs --dir c2s or --dir s2c")
		}
	case "c2s":
		dirs = []reassembly.Direction{reassembly.ClientToServer}
	case "s2c":
		dirs = []reassembly.Direction{reassembly.ServerToClient}
	default:
		return usagef("--dir %q: want c2s or s2c", o.Dir)
	}
	if _, err := decode.ParseSpec(o.Framing); err != nil {
		return usagef("--framing: %v", err)
	}
	proto, id, err := parseStream(o.Stream)
	if err != nil {
		return err
	}
	src, err := openSource(io, o.Path)
	if err != nil {
		return err
	}
	defer src.Close()
	var found *reassembly.Stream
	tr := reassembly.NewTracker(reassembly.Options{
		Keep: func(p capture.Proto, n int) bool { return p == proto && n == id },
		OnStream: func(s *reassembly.Stream) {
			if s.Proto == proto && s.ID == id {
				if found == nil {
					found = s
				} else {
					found.Merge(s)
				}
			}
		},
	})
	damage := tr.Consume(src)
	if found == nil {
		if damage != nil {
			return damage
		}
		return usagef("%s has no %s/%d: it has %d TCP streams and %d UDP flows", o.Path, proto, id, tr.Stats.TCPStreams, tr.Stats.UDPFlows)
	}
	a, err := decode.Analyze(found, o.Framing)
	if err != nil {
		return usagef("--framing: %v", err)
	}
	width := o.Width
	if width <= 0 {
		width = terminalWidth(100)
	}
	switch {
	case o.Format == "raw":
		_, err = io.Out.Write(found.Dirs[dirs[0]].Data)
	case o.Format == "json":
		err = output.FollowJSON(io.Out, a)
	case o.Transcript:
		err = output.FollowTranscript(io.Out, a, output.FollowOptions{Width: width})
	default:
		err = output.FollowText(io.Out, a, output.FollowOptions{Width: width, All: o.All, Dirs: dirs})
	}
	if err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	if damage != nil {
		return fmt.Errorf("%w (every frame before it was analyzed)", damage)
	}
	return nil
}
