package cmd

import (
	"bufio"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sockscope/sockscope/capture"
	"github.com/sockscope/sockscope/decode"
	"github.com/sockscope/sockscope/output"
	"github.com/sockscope/sockscope/reassembly"
)

type readOptions struct {
	Paths  []string // the capture files (expandInputs), merged in time order
	Format string
	Limit  int
	All    bool
	Sort   string
	Stats  bool         // frame every stream and count its messages
	Group  string       // --group-by: "" (a row per stream) or "path"
	In     inputOptions // -i (live instead of FILE), -f
	Find   findingsOptions
	Bounds boundsOptions
}

func newReadCmd(io *streams) *cobra.Command {
	o := &readOptions{}
	c := &cobra.Command{
		Use:   "read FILE...",
		Short: "Summarize a capture: every TCP stream and UDP flow, how it ended, what looks wrong",
		Example: `  sockscope read trace.pcap
  sockscope read trace.pcapng --sort bytes --limit 20
  tcpdump -w - -i lo | sockscope read -
  sockscope read trace.pcap --format json | jq 'select(.state=="reset")'
  sockscope read rotated/            # every capture file in it, merged in time order
  sockscope read 'trace-*.pcap'      # a pattern (expanded by sockscope when quoted)
  sockscope read tunnels.pcapng --group-by path`,
		Args: filesOrIface(func() string { return o.In.Iface }),
		ValidArgsFunction: func(c *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			return []cobra.Completion{"pcap", "pcapng", "gz"}, cobra.ShellCompDirectiveFilterFileExt
		},
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) > 0 {
				var err error
				if o.Paths, err = expandInputs(args); err != nil {
					return err
				}
			}
			if !c.Flags().Changed("limit") && !io.OutTTY {
				o.Limit = 0 // piped: everything
			}
			return runRead(c.Context(), io, o)
		},
	}
	f := c.Flags()
	f.StringVar(&o.Format, "format", "text", "output format: text or json (one object per line)")
	f.IntVar(&o.Limit, "limit", 100, "show at most N streams in the text view (0: all; all when piped)")
	f.BoolVar(&o.All, "all", false, "show every stream (same as --limit 0)")
	f.StringVar(&o.Sort, "sort", "id", "text view order: "+strings.Join(output.SortKeys, ", "))
	f.StringVar(&o.Group, "group-by", "", "one row per group instead of per stream: path (the encapsulations each stream came through)")
	f.BoolVar(&o.Stats, "stats", false, "reassemble every stream and count its application messages (framing chosen per stream, as follow's auto)")
	o.In.addFlags(f, true)
	o.In.addLimitFlags(f)
	o.Find.addFlags(f)
	withTuningSection(c)
	o.Bounds.addFlags(f, false)
	c.RegisterFlagCompletionFunc("format", fixedCompletion("text", "json"))
	c.RegisterFlagCompletionFunc("sort", fixedCompletion(output.SortKeys...))
	c.RegisterFlagCompletionFunc("group-by", fixedCompletion("path"))
	return c
}

func fixedCompletion(vals ...string) func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
	return func(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return vals, cobra.ShellCompDirectiveNoFileComp
	}
}

func runRead(ctx context.Context, io *streams, o *readOptions) error {
	if o.Format != "text" && o.Format != "json" {
		return usagef("--format %q: want text or json", o.Format)
	}
	if !slices.Contains(output.SortKeys, o.Sort) {
		return usagef("--sort %q: want one of %s", o.Sort, strings.Join(output.SortKeys, ", "))
	}
	if o.Group != "" && o.Group != "path" {
		return usagef("--group-by %q: want path", o.Group)
	}
	if o.All {
		o.Limit = 0
	}
	eng, err := o.Find.engine()
	if err != nil {
		return err
	}
	src, err := openInput(ctx, io, o.Paths, &o.In)
	if err != nil {
		return err
	}
	defer src.Close()
	if eng != nil {
		eng.SetKeys(src.Keys, src.refresher())
	}
	if src.Live != nil {
		announceLive(io, src, o.In.Filter)
	}
	// Both views take the streams in ID order as the capture is read
	// (memory bounded by the streams still open): JSON writes each record
	// at once; text holds the rows it shows (see output.ReadTextWriter).
	out := bufio.NewWriterSize(io.Out, 64<<10)
	defer out.Flush()
	jw := output.NewReadJSONWriter(out)
	jw.Stats = o.Stats
	jw.Async = src.Live == nil // a live capture's records go out at once
	tw := output.NewReadTextWriter(out, output.ReadOptions{Limit: o.Limit, Sort: o.Sort, Stats: o.Stats})
	// Interleaved: UDP flows go out as they settle too, not all at the end.
	ord := &reassembly.Ordered{Emit: tw.Stream, OnLate: tw.Merge, Settle: 5 * time.Second, Interleave: true}
	if o.Format == "json" {
		ord = &reassembly.Ordered{Emit: jw.Stream, Settle: 5 * time.Second, Interleave: true}
	}
	topts := reassembly.Options{OnStream: ord.Add}
	var groups *reassembly.PathGroups
	if o.Group == "path" {
		groups = &reassembly.PathGroups{}
		topts.OnStream = groups.Add
	}
	if err := o.Bounds.apply(&topts); err != nil {
		return err
	}
	if o.Stats {
		// Frame every stream as its bytes arrive, holding only the bytes of
		// incomplete messages, and count the messages on the stream itself.
		st, err := decode.NewStreamer(decode.StreamerOptions{
			OnMessage: func(s *reassembly.Stream, m *decode.Message) { s.Messages[m.Dir]++ },
			OnFraming: func(s *reassembly.Stream, framing, _ string) { s.Framing = framing },
			Keys:      src.Keys, Refresh: src.refresher(),
		})
		if err != nil {
			return err
		}
		done := topts.OnStream
		topts.OnData = st.Data
		topts.OnStream = func(s *reassembly.Stream) {
			st.End(s)
			done(s)
		}
	}
	if eng != nil {
		topts = eng.Hooks(topts)
	}
	tr := reassembly.NewTracker(topts)
	damage := tr.Consume(src)
	src.Defrag.Finish()
	if src.Live != nil {
		reportLive(io, src)
	}
	rep := &output.ReadReport{Info: src.Info(), Stats: tr.Stats, Defrag: src.Defrag.Stats, Damage: damage,
		Findings: finishFindings(eng, src, tr.Stats)}
	switch {
	case groups != nil && o.Format == "json":
		err = output.ReadGroupsJSON(out, rep, groups.Groups())
	case groups != nil:
		err = output.ReadGroupsText(out, rep, groups.Groups())
	default:
		err = ord.Finish()
	}
	if err == nil && groups == nil {
		rep.Late = ord.Late
		if o.Format == "json" {
			err = jw.Finish(rep)
		} else {
			err = tw.Finish(rep)
		}
	}
	return endView(out, err, damage, "analyzed")
}

// openSourceSize opens one capture file ("-": standard input) with a read
// buffer of size bytes (0: the default).
func openSourceSize(io *streams, path string, size int) (*capture.FileSource, error) {
	if path == "-" {
		return capture.NewReader("-", io.In)
	}
	open := capture.Open
	if size > 0 {
		open = func(p string) (*capture.FileSource, error) { return capture.OpenSize(p, size) }
	}
	s, err := open(path)
	if err != nil {
		return nil, fmt.Errorf("open capture: %w", err)
	}
	return s, nil
}
