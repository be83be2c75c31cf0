package cmd

import (
	"bufio"
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sockscope/sockscope/capture"
	"github.com/sockscope/sockscope/decode"
	"github.com/sockscope/sockscope/decode/tlsdec"
	"github.com/sockscope/sockscope/output"
	"github.com/sockscope/sockscope/reassembly"
)

// followSpillOver is how many bytes of a direction follow holds in memory
// before it moves them to a temporary file (reassembly.Options.SpillOver).
var followSpillOver int64 = 8 << 20

type followOptions struct {
	Paths      []string     // the capture files (expandInputs), merged in time order
	In         inputOptions // -i (live instead of FILE), -f, -c, --duration
	Stream     string
	Format     string
	Framing    string
	Dir        string
	Transcript bool
	All        bool
	Width      int
	Layer      string
	Bounds     boundsOptions
}

func newFollowCmd(io *streams) *cobra.Command {
	o := &followOptions{}
	c := &cobra.Command{
		Use:   "follow FILE... STREAM | follow -i IFACE STREAM",
		Short: "Rebuild one stream and show which segment carried which bytes of which message",
		Long: `follow rebuilds one TCP stream (or UDP flow) and lines its segments up
with its application messages: messages split across segments, segments
carrying several messages, partial messages at a gap or at the end.

STREAM is tcp/N, udp/N, or N (= tcp/N), numbered as Wireshark's tcp.stream;
or, in a capture file, HOST:PORT (the stream with that endpoint) or
HOST:PORT-HOST:PORT (the stream between the two, either order), [v6]:PORT for
IPv6. When several streams match, they are listed and none is shown.

Several FILEs (or a directory of captures, or a quoted pattern such as
'trace-*.pcap') are merged in time order, as mergecap merges them: frame and
stream numbers are those of the merged capture, and a stream that goes on
from one rotated file into the next is one stream. STREAM is the last
argument.

With -i IFACE it captures live instead: streams are numbered as they
appear, only STREAM's bytes are kept, and the view is shown when the capture
stops (Ctrl-C, -c or --duration); stderr says when STREAM appears and ends.

Framing (--framing): auto (default: by content and port, and says why), raw
(one message per segment), line, line:<delim>, fixed:N,
len:u8|u16be|u16le|u32be|u32le|u64be[,offset=N][,adjust=N][,include],
http1, tls, dns, resp, ws, h2, grpc, pgsql, mysql, mqtt, kafka, nats,
amqp, ssh, memcached, smtp, ftp, pop3, imap.

TLS: with a key log (--keylog FILE, $SSLKEYLOGFILE, or the secrets a pcapng
carries, as editcap --inject-secrets writes them) a TLS stream is
decrypted: the view lines up TCP segments, TLS records and the messages
inside (framed as ALPN says, else auto; --framing chooses the inner
framing), and --format raw writes the decrypted application data (what
Wireshark's Follow TLS Stream gives). --layer tcp shows the TCP bytes
instead.`,
		Example: `  sockscope follow trace.pcap tcp/3 --framing len:u32be
  sockscope follow trace.pcap 0 --transcript
  sockscope follow trace.pcap 10.0.0.5:443 --format json
  sockscope follow rotated/ tcp/7
  sockscope follow trace.pcap tcp/0 --format raw --dir s2c > body.bin
  sockscope follow https.pcap 0 --keylog keys.txt --format raw --dir s2c
  sudo sockscope follow -i lo -f "port 8080" tcp/0 --duration 30s`,
		Args: func(c *cobra.Command, args []string) error {
			switch {
			case o.In.Iface != "" && len(args) != 1:
				return usagef("%s -i IFACE needs one stream (tcp/N, udp/N or N), and no capture file", c.CommandPath())
			case o.In.Iface == "" && len(args) < 2:
				return usagef("%s needs a capture file and a stream (tcp/N, udp/N or N), or -i IFACE and a stream; several files (a directory, a pattern) go before the stream", c.CommandPath())
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			if o.In.Iface == "" {
				var err error
				if o.Paths, err = expandInputs(args[:len(args)-1]); err != nil {
					return err
				}
			}
			o.Stream = args[len(args)-1]
			return runFollow(c.Context(), io, o)
		},
	}
	f := c.Flags()
	o.In.addFlags(f, true)
	o.In.addLimitFlags(f)
	f.StringVar(&o.Format, "format", "text", "output format: text, json (one object per line), or raw (the bytes of --dir, unchanged)")
	f.StringVar(&o.Framing, "framing", "auto", "how to find message boundaries (see above)")
	f.StringVar(&o.Dir, "dir", "", "direction: c2s or s2c (required with --format raw; otherwise limits the text view)")
	f.BoolVar(&o.Transcript, "transcript", false, "show both directions interleaved in capture order, payload escaped, with message boundaries")
	f.BoolVar(&o.All, "all", false, "show every segment and message (no elision)")
	f.IntVar(&o.Width, "width", 0, "output width in columns (default: $COLUMNS, else 100)")
	f.StringVar(&o.Layer, "layer", "auto", "auto (TLS decrypted when there are keys), tls (decrypt: fail without keys) or tcp (the TCP bytes)")
	o.Bounds.addFlags(f, true)
	c.RegisterFlagCompletionFunc("format", fixedCompletion("text", "json", "raw"))
	c.RegisterFlagCompletionFunc("dir", fixedCompletion("c2s", "s2c"))
	c.RegisterFlagCompletionFunc("layer", fixedCompletion("auto", "tls", "tcp"))
	c.RegisterFlagCompletionFunc("framing", fixedCompletion(decode.Completions()...))
	return c
}

func runFollow(ctx context.Context, io *streams, o *followOptions) error {
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
	switch o.Layer {
	case "auto", "tls", "tcp":
	default:
		return usagef("--layer %q: want auto, tls or tcp", o.Layer)
	}
	sel, err := parseSelector(o.Stream)
	if err != nil {
		return err
	}
	want, named := sel.ID()
	if !named {
		m, err := resolveSelectors(io, o.Paths, &o.In, o.Bounds, []reassembly.Selector{sel})
		if err != nil {
			return err
		}
		ids, err := pickStreams(io, o.Paths, "sockscope follow", sel, m[0], false, false)
		if err != nil {
			return err
		}
		want = ids[0]
	}
	src, err := openInput(ctx, io, o.Paths, &o.In)
	if err != nil {
		return err
	}
	defer src.Close()
	// Stream numbers are given in order of first packet, so the stream to
	// keep is known before it exists, live as in a file.
	wanted := func(p capture.Proto, n int) bool { return reassembly.StreamID{Proto: p, ID: n} == want }
	// A kept stream's bytes go to a temporary file past followSpillOver:
	// following a stream of any length costs memory for its segment map
	// and messages, not for its bytes.
	// follow draws no ladder: the packet list is not kept either.
	topts := reassembly.Options{Keep: wanted, SpillOver: followSpillOver, NoPackets: true}
	if err := o.Bounds.apply(&topts); err != nil {
		return err
	}
	// Every view is written buffered, not a write per line (a transcript
	// of a bulk stream is a million lines).
	bw := bufio.NewWriterSize(io.Out, 64<<10)
	var raw *output.RawWriter
	if o.Format == "raw" {
		// The bytes go out as soon as they are in order: nothing of the
		// stream is kept, so memory does not grow with its length.
		raw = &output.RawWriter{W: bw, Want: want, Dir: dirs[0]}
		topts.Keep, topts.Follow, topts.OnData = nil, wanted, raw.Data
		if o.Layer == "tls" || o.Layer == "auto" && (src.tail != nil || src.Live == nil) {
			// Decrypt as the bytes come; streams that are not TLS, or
			// (auto) TLS with no key known by its first bytes, pass
			// through as TCP bytes.
			raw.TLS = decode.NewTLSPlain(src.Keys, raw.Plain)
			raw.TLS.Refresh, raw.TLS.Auto = src.RefreshKeys, o.Layer == "auto"
			topts.OnData = func(s *reassembly.Stream, d reassembly.Direction, r reassembly.ByteRange, b []byte, frame int) {
				if (s.StreamID()) == want {
					raw.TLS.Data(s, d, r, b, frame)
				}
			}
		}
	}
	var found *reassembly.Stream
	topts.OnStream = func(s *reassembly.Stream) {
		if s.StreamID() == want {
			if found == nil {
				found = s
			} else {
				found.Merge(s)
			}
		}
	}
	if src.Live != nil {
		announceLive(io, src, o.In.Filter)
		topts.OnEvent = followProgress(io, want)
	}
	tr := reassembly.NewTracker(topts)
	damage := tr.Consume(src)
	if src.Live != nil {
		reportLive(io, src)
	}
	if found == nil {
		if damage != nil {
			return damage
		}
		if src.Live != nil {
			return fmt.Errorf("no %s was seen on %s in %d packets (%s, %s)", want, src.Info().Name, tr.Stats.Packets,
				countStreams(tr.Stats.TCPStreams, "TCP stream", "tcp"), countStreams(tr.Stats.UDPFlows, "UDP flow", "udp"))
		}
		return usagef("%s has no %s: it has %d TCP streams and %d UDP flows", inputsName(o.Paths), want, tr.Stats.TCPStreams, tr.Stats.UDPFlows)
	}
	if raw == nil {
		defer found.Release()
		if err := writeFollow(io, bw, found, o, dirs, src.Keys); err != nil {
			return err
		}
		for d := range found.Dirs {
			if err := found.Dirs[d].DataErr(); err != nil {
				if ferr := bw.Flush(); ferr != nil {
					return fmt.Errorf("write output: %w", ferr)
				}
				return fmt.Errorf("%w: the view above lacks the bytes after it", err)
			}
		}
	} else {
		err = raw.Err // the bytes were written as they came
		if raw.TLS != nil && err == nil {
			if terr := raw.TLS.End(found); terr != nil {
				if ferr := bw.Flush(); ferr != nil {
					return fmt.Errorf("write output: %w", ferr)
				}
				return terr
			}
		}
	}
	return endView(bw, err, damage, "analyzed")
}

// endView flushes a view's buffered output and returns what ended it: a
// write error first, then the file's damage, after the view of every
// frame before it (done: "analyzed", "drawn").
func endView(bw *bufio.Writer, err, damage error, done string) error {
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	if damage != nil {
		return fmt.Errorf("%w (every frame before it was %s)", damage, done)
	}
	return nil
}

// writeFollow frames a kept stream and writes its text, transcript or JSON
// view.
func writeFollow(io *streams, bw *bufio.Writer, found *reassembly.Stream, o *followOptions, dirs []reassembly.Direction, keys *tlsdec.KeyLog) error {
	var layer *decode.TLSLayer
	hint := ""
	if o.Layer != "tcp" {
		var err error
		if layer, err = decode.AnalyzeTLS(found, keys, o.Framing); err != nil {
			return usagef("--framing: %v", err)
		}
		switch {
		case layer == nil && o.Layer == "tls":
			return fmt.Errorf("%s does not start with a TLS record: --layer tls has nothing to decrypt", found.Name())
		case layer != nil && keys.Len() == 0 && o.Layer == "auto":
			layer, hint = nil, "none: --keylog FILE (or $SSLKEYLOGFILE, as curl, browsers and Go's KeyLogWriter write it) shows what the records carry"
		}
	}
	var a *decode.Analysis
	var err error
	var jv *output.FollowJSONView
	var tv *output.FollowTextView
	switch {
	case layer != nil:
		a = layer.Outer // --framing is the framing inside
	case o.Format == "json":
		// The messages' records are written as they are framed, not held.
		jv = output.NewFollowJSONView()
		defer jv.Close()
		if a, err = decode.AnalyzeTo(found, o.Framing, jv.Message); err != nil {
			return usagef("--framing: %v", err)
		}
	case !o.Transcript:
		// Only the messages the table lists are held (all with --all).
		tv = output.NewFollowTextView(o.All)
		if a, err = decode.AnalyzeTo(found, o.Framing, tv.Message); err != nil {
			return usagef("--framing: %v", err)
		}
	case o.Transcript:
		// The transcript marks where messages start: it needs no more.
		if a, err = decode.AnalyzeTo(found, o.Framing, func(decode.Message) {}); err != nil {
			return usagef("--framing: %v", err)
		}
	default:
		if a, err = decode.Analyze(found, o.Framing); err != nil {
			return usagef("--framing: %v", err)
		}
	}
	defer a.Release()
	if o.All && o.Format == "text" && !o.Transcript {
		allNote(io, a, dirs)
	}
	width := o.Width
	if width <= 0 {
		width = terminalWidth(io, 100)
	}
	switch {
	case jv != nil:
		err = jv.Write(bw, a, nil)
	case tv != nil:
		err = tv.Write(bw, a, output.FollowOptions{Width: width, Dirs: dirs, KeysHint: hint})
	case o.Format == "json":
		err = output.FollowJSON(bw, a, layer)
	case o.Transcript:
		err = output.FollowTranscript(bw, a, output.FollowOptions{Width: width})
	default:
		err = output.FollowText(bw, a, output.FollowOptions{Width: width, All: o.All, Dirs: dirs, TLS: layer, KeysHint: hint})
	}
	if err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}

// allNoteOver is the number of table rows past which follow --all says on
// stderr what it holds.
var allNoteOver = 100_000

// allNote says, for --all on a long stream, how many rows the text view
// holds to lay out its tables (the view without --all holds a few dozen).
func allNote(io *streams, a *decode.Analysis, dirs []reassembly.Direction) {
	if len(dirs) == 0 {
		dirs = []reassembly.Direction{reassembly.ClientToServer, reassembly.ServerToClient}
	}
	segs, msgs := 0, 0
	for _, d := range dirs {
		segs += a.Stream.Dirs[d].Segments.Len()
		msgs += a.MessageCount(d)
	}
	if segs+msgs > allNoteOver {
		fmt.Fprintf(io.Err, "sockscope: --all holds every row of %s's tables in memory to lay them out: %d segments and %d messages (about 1.2 KB each); without --all the view holds a few dozen\n",
			a.Stream.Name(), segs, msgs)
	}
}

// followProgress says on stderr when the followed stream of a live capture
// shows up and when it ends, so that one knows when to stop the capture.
func followProgress(io *streams, want reassembly.StreamID) func(reassembly.Event) {
	seen := false
	return func(e reassembly.Event) {
		s := e.Stream
		if (s.StreamID()) != want {
			return
		}
		end := ""
		switch e.Kind {
		case reassembly.EventClosed, reassembly.EventReset, reassembly.EventRefused:
			end = "; Ctrl-C shows it"
		case reassembly.EventDatagram, reassembly.EventHalfClosed:
			if seen {
				return
			}
		}
		who := ""
		if !seen {
			seen = true
			who = fmt.Sprintf(" %s → %s:", s.Client, s.Server)
		}
		fmt.Fprintf(io.Err, "sockscope: %s:%s %s, frame %d%s\n", s.Name(), who, e.Text, e.Frame, end)
	}
}
