package cmd

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/sockscope/sockscope/output"
	"github.com/sockscope/sockscope/sockets"
)

// socketsOptions are sockets' flags and what it writes to.
type socketsOptions struct {
	format   string
	watch    bool
	count    int
	interval time.Duration
	notes    sockets.NoteOptions
	io       *streams
}

func newSocketsCmd(io *streams) *cobra.Command {
	o := &socketsOptions{io: io, notes: sockets.DefaultNoteOptions}
	c := &cobra.Command{
		Use:   "sockets",
		Short: "List listening sockets and connections with the processes that own them (Linux)",
		Long: `sockets asks the kernel (sock_diag netlink, /proc) for every TCP and UDP
socket in this network namespace: what is listening and who owns it, on
which address (all interfaces or loopback only), how full each accept
queue is, the connections each listener accepted (a socket of their own,
with fd numbers), the other connections by process, and notes: sockets in
CLOSE_WAIT, receive queues the application has not read, accept-queue
overflows, piles of TIME_WAIT.

Without root (or CAP_SYS_PTRACE) other users' processes cannot be mapped:
their sockets are listed with no process, and the output says so.`,
		Args: noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			if o.format != "text" && o.format != "json" {
				return usagef("--format %q: want text or json", o.format)
			}
			if o.count < 0 || o.interval <= 0 {
				return usagef("--count must be 0 or more and --interval positive")
			}
			return runSockets(c.Context(), o)
		},
	}
	f := c.Flags()
	f.StringVar(&o.format, "format", "text", "output format: text or json (one object per snapshot)")
	f.BoolVar(&o.watch, "watch", false, "take a snapshot every --interval until interrupted (or --count): in place on a terminal, one after another otherwise")
	f.IntVar(&o.count, "count", 0, "with --watch, stop after this many snapshots (0: until interrupted)")
	f.DurationVar(&o.interval, "interval", 2*time.Second, "with --watch, time between snapshots")
	f.IntVar(&o.notes.TimeWaitPile, "time-wait-pile", o.notes.TimeWaitPile, "TIME_WAIT sockets to one server address that make a note")
	c.RegisterFlagCompletionFunc("format", fixedCompletion("text", "json"))
	return c
}

// runSockets takes one snapshot, or with --watch one per interval. The
// netlink socket is opened on the calling goroutine's thread each time, so
// the sockets are those of its network namespace.
func runSockets(ctx context.Context, o *socketsOptions) error {
	sc := sockets.NewScanner()
	render := output.SocketsText
	if o.format == "json" {
		render = output.SocketsJSON
	}
	inPlace := o.watch && o.io.OutTTY && o.format == "text"
	for n := 1; ; n++ {
		snap, err := sc.Take()
		if err != nil {
			return err
		}
		var b bytes.Buffer
		if inPlace {
			b.WriteString("\x1b[H\x1b[2J") // home, clear: redraw in place
		} else if n > 1 && o.format == "text" {
			b.WriteString("\n")
		}
		if err := render(&b, snap, output.SocketsOptions{Notes: o.notes}); err != nil {
			return err
		}
		if inPlace {
			fmt.Fprintf(&b, "\nsnapshot %d · every %s · Ctrl-C to stop\n", n, o.interval)
		}
		if _, err := o.io.Out.Write(b.Bytes()); err != nil {
			return fmt.Errorf("write output: %w", err)
		}
		if !o.watch || o.count > 0 && n >= o.count {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(o.interval):
		}
	}
}
