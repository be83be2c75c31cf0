package cmd

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sockscope/sockscope/capture"
	"github.com/sockscope/sockscope/decode"
	"github.com/sockscope/sockscope/internal/human"
	"github.com/sockscope/sockscope/internal/textsafe"
	"github.com/sockscope/sockscope/output"
	"github.com/sockscope/sockscope/reassembly"
)

type reportOptions struct {
	Paths       []string // the capture files (expandInputs), merged in time order
	Out         string
	In          inputOptions // -i IFACE, -f
	Duration    time.Duration
	Streams     int // streams drawn in detail: the first N TCP and the first N UDP
	MaxSize     string
	MaxPackets  int
	MaxSegments int
	Preview     int
	Framing     string
	Find        findingsOptions
	Bounds      boundsOptions
}

func newReportCmd(io *streams) *cobra.Command {
	o := &reportOptions{}
	c := &cobra.Command{
		Use:   "report FILE... -o report.html",
		Short: "Write one self-contained HTML page: summary, streams, findings, ladders and framing maps",
		Long: `report writes one HTML file that tells a capture's story: the summary and
a sortable, filterable streams table, the findings with links to their
evidence, and for each stream a ladder diagram (one arrow per packet, with
plain-language explanations on demand) and a framing map (segments above,
messages below, on a byte ruler: select one to see the other).

The page is self-contained: no scripts, fonts or styles from the network,
so it opens from disk, works offline and can be mailed. Its
Content-Security-Policy forbids any load from elsewhere, and payload text is
shown escaped. It prints (or saves as PDF) with every explanation expanded.

Big captures are bounded: the first --streams TCP streams and UDP flows are
drawn, and when the page would exceed --max-size, payload previews, then
packets and segments beyond a smaller bound per stream, then whole streams
are left out. The page says what it left out.`,
		Example: `  sockscope report trace.pcap -o trace.html
  sockscope report trace.pcap -o trace.html --streams 20 --max-size 2MB
  sudo sockscope report -i eth0 --duration 10s -f "tcp port 80" -o live.html`,
		Args: filesOrIface(func() string { return o.In.Iface }),
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) > 0 {
				var err error
				if o.Paths, err = expandInputs(args); err != nil {
					return err
				}
			}
			return runReport(c.Context(), io, o)
		},
	}
	f := c.Flags()
	f.StringVarP(&o.Out, "output", "o", "", "write the page to `FILE` (- for standard output)")
	f.DurationVar(&o.Duration, "duration", 0, "with -i: stop capturing after this long (e.g. 10s); without it, Ctrl-C stops")
	f.IntVar(&o.Streams, "streams", 100, "draw the first N TCP streams and the first N UDP flows in detail (the table lists all)")
	f.StringVar(&o.MaxSize, "max-size", "10MB", "largest page to write (e.g. 500KB, 10MB); past it, details are left out and the page says so")
	f.IntVar(&o.MaxPackets, "max-packets", 2000, "ladder arrows per stream at most")
	f.IntVar(&o.MaxSegments, "max-segments", 2000, "segments (and messages) per direction in a framing map at most")
	f.IntVar(&o.Preview, "preview", 64, "payload bytes previewed per segment and message (0: none)")
	f.StringVar(&o.Framing, "framing", "auto", "how to find message boundaries (see follow --framing)")
	o.In.addFlags(f, true)
	o.Find.addFlags(f)
	withTuningSection(c)
	o.Bounds.addFlags(f, true)
	c.RegisterFlagCompletionFunc("framing", fixedCompletion(decode.Completions()...))
	return c
}

// parseSize reads "10MB", "500KB", "2MiB", "1048576".
func parseSize(s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KIB", 1 << 10}, {"MIB", 1 << 20}, {"GIB", 1 << 30}, {"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000}, {"K", 1000}, {"M", 1000 * 1000}, {"B", 1}} {
		if rest, ok := strings.CutSuffix(t, u.suffix); ok {
			t, mult = strings.TrimSpace(rest), u.mult
			break
		}
	}
	n, err := strconv.ParseFloat(t, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("want a size such as 500KB or 10MB")
	}
	return int64(n * float64(mult)), nil
}

func runReport(ctx context.Context, io *streams, o *reportOptions) error {
	maxSize, err := parseSize(o.MaxSize)
	if err != nil {
		return usagef("--max-size %q: %v", o.MaxSize, err)
	}
	switch {
	case o.Streams < 0:
		return usagef("--streams %d: want 0 or more", o.Streams)
	case o.MaxPackets <= 0:
		return usagef("--max-packets %d: want 1 or more", o.MaxPackets)
	case o.MaxSegments <= 0:
		return usagef("--max-segments %d: want 1 or more", o.MaxSegments)
	case o.Preview < 0:
		return usagef("--preview %d: want 0 or more", o.Preview)
	case o.Duration < 0:
		return usagef("--duration %s: want a positive duration", o.Duration)
	case o.Duration > 0 && o.In.Iface == "":
		return usagef("--duration applies to a live capture (-i IFACE)")
	}
	if _, err := decode.ParseSpec(o.Framing); err != nil {
		return usagef("--framing: %v", err)
	}
	if o.Out == "" {
		if io.OutTTY {
			return usagef("report writes HTML: name the file with -o report.html (or -o - for standard output)")
		}
		o.Out = "-"
	}
	eng, err := o.Find.engine()
	if err != nil {
		return err
	}
	if o.In.Iface != "" && o.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Duration)
		defer cancel()
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

	// The streams drawn in detail are kept whole; the table lists the first
	// output.DefaultReportRows streams (TCP by ID, then UDP), held as compact
	// summaries (at most that many of each protocol): a scan of a million
	// flows costs neither a million streams nor rows.
	var col reassembly.Collector
	var held [2][]reassembly.Summary // [tcp, udp], each in ID order
	proto := func(s *reassembly.Summary) int {
		if s.Proto == capture.ProtoUDP {
			return 1
		}
		return 0
	}
	ord := &reassembly.Ordered{Settle: 5 * time.Second, Interleave: true,
		Emit: func(s *reassembly.Summary) error {
			if h := &held[proto(s)]; len(*h) < output.DefaultReportRows {
				*h = append(*h, *s)
			}
			return nil
		},
		OnLate: func(s *reassembly.Summary) bool {
			h := held[proto(s)]
			i, ok := slices.BinarySearchFunc(h, s.ID, func(a reassembly.Summary, id int32) int { return cmp.Compare(a.ID, id) })
			if ok {
				h[i].Merge(s)
			}
			return ok
		},
	}
	topts := reassembly.Options{
		Keep: func(p capture.Proto, id int) bool { return id < o.Streams },
		OnStream: func(s *reassembly.Stream) {
			ord.Add(s)
			if s.KeptData {
				col.Add(s)
			}
		},
	}
	if err := o.Bounds.apply(&topts); err != nil {
		return err
	}
	if eng != nil {
		topts = eng.Hooks(topts)
	}
	tr := reassembly.NewTracker(topts)
	damage := tr.Consume(src)
	src.Defrag.Finish()
	if src.Live != nil {
		reportKernel(io, src.Live)
	}
	if err := ord.Finish(); err != nil {
		return err
	}
	kept := col.Streams()
	rows := append(held[0], held[1]...) // TCP then UDP, the table's order
	rows = rows[:min(len(rows), output.DefaultReportRows)]
	if rows == nil {
		rows = []reassembly.Summary{} // none: not "convert Streams"
	}
	in := &output.ReportInput{
		Read: &output.ReadReport{Info: src.Info(), Stats: tr.Stats, Defrag: src.Defrag.Stats, Rows: rows, Damage: damage,
			Findings: finishFindings(eng, src, tr.Stats)},
		DetailLimit: o.Streams,
		Generator:   generator(),
	}
	if src.Live != nil {
		in.Source = "live capture on " + src.Live.Interface().Name
		if o.Duration > 0 {
			in.Source += " for " + o.Duration.String()
		}
	}
	in.NotKept = tr.Stats.TCPStreams + tr.Stats.UDPFlows - len(kept)
	for _, s := range kept {
		// With keys, a TLS stream is drawn as its records, and the
		// messages inside (--framing then frames those) are named.
		layer, err := decode.AnalyzeTLS(s, src.Keys, o.Framing)
		if err != nil {
			return usagef("--framing: %v", err)
		}
		if layer != nil && src.Keys.Len() > 0 {
			in.Analyses, in.TLS = append(in.Analyses, layer.Outer), append(in.TLS, layer)
			continue
		}
		a, err := decode.Analyze(s, o.Framing)
		if err != nil {
			return usagef("--framing: %v", err)
		}
		in.Analyses, in.TLS = append(in.Analyses, a), append(in.TLS, nil)
	}
	ropts := output.ReportOptions{MaxSize: maxSize, MaxPackets: o.MaxPackets, MaxSegments: o.MaxSegments, Preview: o.Preview}
	if o.Preview == 0 {
		ropts.Preview = -1
	}
	res, err := writeReport(io, o.Out, in, ropts)
	if err != nil {
		return err
	}
	if o.Out != "-" {
		fmt.Fprintf(io.Err, "sockscope: wrote %s (%s; %d stream%s in the table, %d drawn)\n", textsafe.Escape(o.Out), human.Bytes(res.Size),
			res.Rows, reportPlural(res.Rows), res.Streams)
	}
	for _, s := range res.Omitted {
		fmt.Fprintf(io.Err, "sockscope: left out: %s\n", s)
	}
	if res.Overflow {
		fmt.Fprintf(io.Err, "sockscope: warning: the page is %s, over --max-size %s even with every detail left out\n", human.Bytes(res.Size), o.MaxSize)
	}
	if damage != nil {
		return fmt.Errorf("%w (every frame before it was analyzed)", damage)
	}
	return nil
}

// writeReport renders the page to path (- for standard output). A file is
// written under a temporary name and renamed, so a failed run leaves no
// half-written page.
func writeReport(io *streams, path string, in *output.ReportInput, o output.ReportOptions) (output.ReportResult, error) {
	if path == "-" {
		res, err := output.ReportHTML(io.Out, in, o)
		if err != nil {
			return res, fmt.Errorf("write output: %w", err)
		}
		return res, nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return output.ReportResult{}, fmt.Errorf("write report: %w", err)
	}
	res, err := output.ReportHTML(tmp, in, o)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return res, fmt.Errorf("write report %q: %w", path, err)
	}
	return res, nil
}

func reportPlural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// generator names this program for the page's footer.
func generator() string {
	v := "(devel)"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		v = bi.Main.Version
	}
	return "sockscope " + v
}
