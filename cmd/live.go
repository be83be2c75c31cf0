package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/sockscope/sockscope/capture"
	"github.com/sockscope/sockscope/decode"
	"github.com/sockscope/sockscope/output"
	"github.com/sockscope/sockscope/reassembly"
	"github.com/sockscope/sockscope/sockets"
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
	Processes   bool
	UI          bool // --ui: the full-screen UI (as ui -i IFACE)
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
	f.BoolVar(&o.Processes, "processes", false, "name the process on each local end of a new TCP connection (Linux, sock_diag and /proc; keeps CAP_SYS_PTRACE, not --user)")
	f.IntVar(&o.Limit, "limit", 100, "summary: show at most N streams (0: all; all when piped)")
	f.BoolVar(&o.UI, "ui", false, "show the capture in the full-screen terminal UI instead of a log (as sockscope ui -i IFACE)")
	o.Find.addFlags(f)
	withTuningSection(c)
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
	if o.Processes && o.In.User != "" {
		return usagef("--processes reads other processes' /proc/PID/fd, which needs CAP_SYS_PTRACE: not with --user")
	}
	o.In.KeepPtrace = o.Processes
	if o.UI && o.Processes {
		return usagef("--ui does not show --processes (yet): use one or the other")
	}
	if o.UI {
		in := o.In
		in.Count, in.Duration = o.Count, o.Duration
		return runUI(ctx, ios, &uiOptions{In: in, Color: "auto", Find: o.Find, Bounds: o.Bounds})
	}
	if o.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Duration)
		defer cancel()
	}
	eng, err := o.Find.engine()
	if err != nil {
		return err
	}
	v := output.NewLiveView(ios.Out, o.Format == "json")
	kept := &reassembly.Collector{Limit: maxKeptStreams}
	if _, err := decode.ParseSpec(o.Framing); err != nil {
		return usagef("--framing: %v", err)
	}
	in, err := openInput(ctx, ios, nil, &o.In)
	if err != nil {
		return err
	}
	defer in.Close()
	if eng != nil {
		eng.SetKeys(in.Keys, in.refresher())
	}
	st, err := decode.NewStreamer(decode.StreamerOptions{Framing: o.Framing, MaxBuffer: o.MaxBuffer << 20,
		OnMessage: v.Message, OnFraming: v.Framing, Keys: in.Keys, Refresh: in.refresher()})
	if err != nil {
		return usagef("--framing: %v", err)
	}
	topts := reassembly.Options{
		IdleTimeout: o.IdleTimeout,
		OnData:      st.Data,
		OnEvent: func(e reassembly.Event) {
			st.Event(e) // a message cut short by the close comes first
			v.Event(e)
		},
		OnStream: func(s *reassembly.Stream) {
			st.End(s)
			kept.Add(s)
		},
	}
	if err := o.Bounds.apply(&topts); err != nil {
		return err
	}
	if eng != nil {
		topts = eng.Hooks(topts)
	}
	if o.Processes {
		// Looked up on this goroutine, as packets are: in the capture's
		// network namespace.
		at := sockets.NewAttributor()
		v.Ends = func(s *reassembly.Stream) sockets.Ends {
			return at.Ends(s.Proto.String(), s.Client, s.Server)
		}
	}
	tr := reassembly.NewTracker(topts)
	v.Header(liveHeader(in, o.In))

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
		v.SetPacket(&p)
		tr.Add(&p)
		if eng != nil {
			v.Findings(eng.Pop())
		}
		v.Flush()
		if o.Count > 0 && tr.Stats.Packets >= o.Count {
			stopped = fmt.Sprintf("-c %d reached", o.Count)
			break
		}
	}
	v.SetPacket(nil)
	tr.Finish()
	in.Defrag.Finish()
	kst, kerr := in.Live.Stats()
	fs := finishFindings(eng, in, tr.Stats)
	closeErr := in.Close()
	if fs != nil {
		fs = v.Unwritten(fs) // JSON writes each finding once
	}
	rep := &output.ReadReport{Info: in.Info(), Stats: tr.Stats, Defrag: in.Defrag.Stats, Streams: kept.Streams(), Findings: fs}
	if err := v.Summary(rep, output.LiveSummary{Interface: o.Iface, Stopped: stopped, Kernel: kst, KernelErr: kerr, IdleTimeout: o.IdleTimeout,
		Limit: o.Limit, NotListed: kept.Dropped, Kept: maxKeptStreams, Decoded: st.Stats()}); err != nil {
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

// liveHeader describes the live capture in for the view's first line.
func liveHeader(in *input, o inputOptions) output.LiveHeader {
	src := in.Live
	ifc := src.Interface()
	info := src.Info()
	return output.LiveHeader{Interface: ifc.Name, HWType: ifc.HWType, LinkType: info.LinkTypes[0].String(), Filter: o.Filter,
		Snaplen: info.Snaplen, Promiscuous: !o.NoPromisc, Method: src.Method(), Fallback: src.Fallback(), Write: o.Write,
		Privileges: in.Privileges.String()}
}
