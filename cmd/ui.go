package cmd

import (
	"context"
	"os"

	"github.com/spf13/cobra"

	"github.com/sockscope/sockscope/findings"
	"github.com/sockscope/sockscope/reassembly"
	"github.com/sockscope/sockscope/ui"
)

type uiOptions struct {
	Path   string
	ASCII  bool
	Color  string       // auto, always, never
	In     inputOptions // -f, --keylog
	Find   findingsOptions
	Bounds boundsOptions
}

func newUICmd(io *streams) *cobra.Command {
	o := &uiOptions{}
	c := &cobra.Command{
		Use:   "ui FILE",
		Short: "Browse a capture in a full-screen terminal UI: connections, ladders, message maps, findings",
		Long: `ui shows a capture full-screen: the connections table (read's), filling in
while the file is read, sortable and filterable as you type; Enter opens a
stream's ladder (timeline's), its segment ↔ message map and transcript
(follow's) and its findings with their evidence frames; F lists every
finding, most important first. ? shows every key; q quits.

It needs a terminal on standard input and output. NO_COLOR (or --color
never) draws it without colour: states are words and the selected row has a
marker. --ascii draws with ASCII only.`,
		Example: `  sockscope ui trace.pcap
  sockscope ui trace.pcapng -f "tcp port 443" --keylog keys.txt
  NO_COLOR=1 sockscope ui trace.pcap --ascii`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("%s needs a capture file", c.CommandPath())
			}
			if args[0] == "-" {
				return usagef("%s reads its keys from standard input: give a capture file, not -", c.CommandPath())
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			o.Path = args[0]
			return runUI(c.Context(), io, o)
		},
	}
	f := c.Flags()
	f.BoolVar(&o.ASCII, "ascii", false, "draw with plain ASCII (arrows, rules, markers)")
	f.StringVar(&o.Color, "color", "auto", "colour: auto (unless NO_COLOR is set or TERM is dumb), always or never")
	o.In.addFlags(f, false)
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
	// Opened before the screen is taken, so that a bad file or flag is
	// reported as by every other command.
	src, err := openInput(ctx, io, o.Path, &o.In)
	if err != nil {
		return err
	}
	so := ui.ScanOptions{Tracker: topts, Engine: eng, Keys: src.Keys, Refresh: src.refresher(), Defrag: src.Defrag,
		Findings: func(st reassembly.Stats) []findings.Finding { return finishFindings(eng, src, st) }}
	if st, err := os.Stat(o.Path); err == nil && !src.Info().Gzip {
		so.Size, so.Offset = st.Size(), src.file.Offset
	}
	return ui.Run(ctx, ui.RunOptions{
		Options: ui.Options{Name: o.Path, Color: color, ASCII: o.ASCII,
			Load: func(ctx context.Context, id reassembly.StreamID) (*ui.Detail, error) {
				// The detail reads the file again for that one stream, as
				// timeline and follow do: memory for one stream, not all.
				s, err := openInput(ctx, io, o.Path, &o.In)
				if err != nil {
					return nil, err
				}
				defer s.Close()
				return ui.LoadStream(s, id, topts, s.Keys)
			}},
		In: in, Out: out, Env: os.Environ(),
		Scan: func(ctx context.Context, f *ui.Feed) {
			defer src.Close()
			ui.Scan(ctx, src, so, f)
		},
	})
}
