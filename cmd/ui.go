package cmd

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sockscope/sockscope/capture"
	"github.com/sockscope/sockscope/findings"
	"github.com/sockscope/sockscope/internal/textsafe"
	"github.com/sockscope/sockscope/reassembly"
	"github.com/sockscope/sockscope/ui"
)

type uiOptions struct {
	Path    string
	ASCII   bool
	Explain bool
	NoMouse bool
	Color   string       // auto, always, never
	In      inputOptions // -f, --keylog
	Find    findingsOptions
	Bounds  boundsOptions
}

func newUICmd(io *streams) *cobra.Command {
	o := &uiOptions{}
	c := &cobra.Command{
		Use:   "ui FILE | ui -i IFACE",
		Short: "Browse a capture in a full-screen terminal UI: connections, ladders, message maps, findings",
		Long: `ui shows a capture full-screen: the connections table (read's), filling in
while the file is read, sortable and filterable as you type; Enter opens a
stream's ladder (timeline's), its segment ↔ message map and transcript
(follow's) and its findings with their evidence frames; F lists every
finding, most important first. ? shows every key; q quits.

With -i IFACE it captures live instead (as live IFACE --ui): streams show
as they open, their counters tick and their state changes as they close or
reset. What is captured goes to a pcapng file as it comes (-w FILE, else a
temporary file removed on exit), and a stream's detail is read from it, open
or ended; an open stream's detail grows as it does.

It needs a terminal on standard input and output. NO_COLOR (or --color
never) draws it without colour: states are words and the selected row has a
marker. --ascii draws with ASCII only. The mouse scrolls and selects
(--no-mouse leaves it to the terminal).`,
		Example: `  sockscope ui trace.pcap
  sudo sockscope ui -i lo -f "tcp port 8080"
  sockscope ui trace.pcapng -f "tcp port 443" --keylog keys.txt
  NO_COLOR=1 sockscope ui trace.pcap --ascii`,
		Args: func(c *cobra.Command, args []string) error {
			switch {
			case o.In.Iface != "" && len(args) > 0:
				return usagef("%s -i IFACE takes no capture file", c.CommandPath())
			case o.In.Iface != "":
				return nil
			case len(args) != 1:
				return usagef("%s needs a capture file, or -i IFACE to capture live", c.CommandPath())
			case args[0] == "-":
				return usagef("%s reads its keys from standard input: give a capture file, not -", c.CommandPath())
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.Path = args[0]
			}
			return runUI(c.Context(), io, o)
		},
	}
	f := c.Flags()
	f.BoolVar(&o.ASCII, "ascii", false, "draw with plain ASCII (arrows, rules, markers)")
	f.BoolVar(&o.Explain, "explain", false, "start the ladder with a plain-language note after each packet (e toggles it)")
	f.BoolVar(&o.NoMouse, "no-mouse", false, "leave the mouse to the terminal (to select text) instead of wheel scrolling and clicks")
	f.StringVar(&o.Color, "color", "auto", "colour: auto (unless NO_COLOR is set or TERM is dumb), always or never")
	o.In.addFlags(f, true)
	o.In.addLimitFlags(f)
	f.StringVarP(&o.In.Write, "write", "w", "", "live: also write the captured frames to pcapng `FILE`")
	o.Find.addFlags(f)
	withTuningSection(c)
	o.Bounds.addFlags(f, true)
	c.RegisterFlagCompletionFunc("color", fixedCompletion("auto", "always", "never"))
	return c
}

func runUI(ctx context.Context, io *streams, o *uiOptions) error {
	color := false
	switch o.Color {
	case "auto":
		_, noColor := os.LookupEnv("NO_COLOR")
		color = !noColor && os.Getenv("TERM") != "dumb"
	case "always":
		color = true
	case "never":
	default:
		return usagef("--color %q: want auto, always or never", o.Color)
	}
	in, _ := io.In.(*os.File)
	out, _ := io.Out.(*os.File)
	if in == nil || out == nil || !isTerminal(in) || !isTerminal(out) {
		return usagef("sockscope ui needs a terminal on standard input and output (read, follow and timeline write text)")
	}
	eng, err := o.Find.engine()
	if err != nil {
		return err
	}
	var topts reassembly.Options
	if err := o.Bounds.apply(&topts); err != nil {
		return err
	}
	if o.In.Iface != "" {
		return runUILive(ctx, io, o, eng, topts, color, in, out)
	}
	// Opened before the screen is taken, so that a bad file or flag is
	// reported as by every other command.
	src, err := openInput(ctx, io, []string{o.Path}, &o.In)
	if err != nil {
		return err
	}
	so := ui.ScanOptions{Tracker: topts, Engine: eng, Keys: src.Keys, Refresh: src.refresher(), Defrag: src.Defrag,
		Findings: func(st reassembly.Stats) []findings.Finding { return finishFindings(eng, src, st) }}
	if st, err := os.Stat(o.Path); err == nil && !src.Info().Gzip {
		so.Size, so.Offset = st.Size(), src.file.Offset
	}
	return ui.Run(ctx, ui.RunOptions{
		Options: ui.Options{Name: o.Path, Color: color, ASCII: o.ASCII, Explain: o.Explain, NoMouse: o.NoMouse,
			Load: loadFrom(io, o.Path, &o.In, topts)},
		In: in, Out: out, Env: os.Environ(),
		Scan: func(ctx context.Context, f *ui.Feed) {
			defer src.Close()
			ui.Scan(ctx, src, so, f)
		},
	})
}

// loadFrom returns the UI's Load: a stream's detail reads the capture file
// path again for that one stream, as timeline and follow do (memory for one
// stream, not all).
func loadFrom(io *streams, path string, in *inputOptions, topts reassembly.Options) func(context.Context, reassembly.StreamID) (*ui.Detail, error) {
	return func(ctx context.Context, id reassembly.StreamID) (*ui.Detail, error) {
		s, err := openInput(ctx, io, []string{path}, in)
		if err != nil {
			return nil, err
		}
		defer s.Close()
		return ui.LoadStream(s, id, topts, s.Keys)
	}
}

// uiLiveIdle forgets a live flow after this long without packets, as live.
const uiLiveIdle = 5 * time.Minute

// runUILive shows a live capture: the same model, fed as packets arrive.
// What is captured is written to a pcapng file as it comes (-w FILE, else
// a temporary file removed at the end), flushed frame by frame: a stream's
// detail is read from it, open or ended, as ui FILE reads a file.
func runUILive(ctx context.Context, io *streams, o *uiOptions, eng *findings.Engine, topts reassembly.Options, color bool, in, out *os.File) error {
	spool := o.In.Write
	if spool == "" {
		f, err := os.CreateTemp("", "sockscope-ui-*.pcapng")
		if err != nil {
			return fmt.Errorf("the live UI's capture file: %w", err)
		}
		// Only the name is kept: openInput creates the file, as the
		// --user account when there is one.
		f.Close()
		spool = f.Name()
		os.Remove(spool)
		defer os.Remove(spool)
		o.In.Write = spool
	}
	o.In.flushWrites = true
	src, err := openInput(ctx, io, nil, &o.In)
	if err != nil {
		return err
	}
	topts.IdleTimeout = uiLiveIdle
	so := ui.ScanOptions{Tracker: topts, Engine: eng, Keys: src.Keys, Refresh: src.refresher(), Defrag: src.Defrag, Live: true,
		Findings: func(st reassembly.Stats) []findings.Finding { return finishFindings(eng, src, st) },
		Kernel: func() (uint64, uint64, error) {
			k, err := src.Live.Stats()
			return k.Received, k.Dropped, err
		}}
	file := inputOptions{KeyLog: o.In.KeyLog} // the spool holds the filtered frames
	var kernel string
	err = ui.Run(ctx, ui.RunOptions{
		Options: ui.Options{Name: o.In.Iface, Color: color, ASCII: o.ASCII, Explain: o.Explain, NoMouse: o.NoMouse, Live: true,
			Save: func() (string, error) { return saveCapture(spool, o.In.Iface) },
			Load: loadFrom(io, spool, &file, topts)},
		In: in, Out: out, Env: os.Environ(),
		Scan: func(ctx context.Context, f *ui.Feed) {
			ui.Scan(ctx, src, so, f)
			k, kerr := src.Live.Stats()
			kernel = kernelReport(src.Info().Name, src.Live.Frames(), k, kerr)
		},
		Stop: src.cancel, // the capture's reads end when its context does
	})
	cerr := src.Close()
	// Said once the terminal is back, as other views say it.
	fmt.Fprintf(io.Err, "sockscope: capture on %s stopped: %s\n", textsafe.Escape(src.Info().Name), src.Stopped())
	fmt.Fprint(io.Err, kernel)
	return cmp.Or(err, cerr)
}

// saveCapture copies what the live UI captured so far (its whole pcapng
// blocks) to a new file in the current directory, for w.
func saveCapture(spool, iface string) (string, error) {
	name := fmt.Sprintf("sockscope-%s-%s.pcapng", strings.Map(func(r rune) rune {
		if r == '/' || r < 0x20 || r == 0x7f {
			return '_'
		}
		return r
	}, iface), time.Now().Format("20060102-150405"))
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return "", err
	}
	n, err := capture.CopyPcapng(f, spool)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(name)
		return "", err
	}
	return fmt.Sprintf("wrote %d frames to %s", n, textsafe.Escape(name)), nil
}
