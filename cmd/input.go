package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/sockscope/sockscope/capture"
	"github.com/sockscope/sockscope/capture/filter"
	"github.com/sockscope/sockscope/decode/tlsdec"
	"github.com/sockscope/sockscope/internal/textsafe"
)

// inputOptions pick a view's input: a capture file or, with -i, a live
// capture; -f filters either. Views add them with addFlags and open the
// input with openInput.
type inputOptions struct {
	Iface     string // -i: capture live on this interface instead of reading a file
	Filter    string // -f: tcpdump filter expression
	Snaplen   int
	NoPromisc bool
	RingMiB   int
	NoRing    bool
	Libpcap   bool   // --libpcap: capture through libpcap (a -tags pcap build on Linux)
	Write     string // -w: also write what was captured to this pcapng file (live only)
	// User is the account to switch to once the capture is open (--user);
	// without it, a privileged process drops its capabilities instead.
	User     string
	Count    int           // -c: stop a live capture after this many packets (0: no limit)
	Duration time.Duration // --duration: stop a live capture after this long (0: no limit)
	KeyLog   string        // --keylog: TLS key log (else SSLKEYLOGFILE)
	// KeepPtrace keeps CAP_SYS_PTRACE when the capabilities are dropped
	// (live --processes reads other processes' /proc/PID/fd).
	KeepPtrace bool
	// flushWrites: -w is flushed after every frame, to be read while the
	// capture runs (the terminal UI's detail pane).
	flushWrites bool
}

func (o *inputOptions) addFlags(f *pflag.FlagSet, withIface bool) {
	if withIface {
		f.StringVarP(&o.Iface, "interface", "i", "", "capture live on interface `IFACE` instead of reading a file (Ctrl-C stops; see sockscope interfaces)")
	}
	f.StringVarP(&o.Filter, "filter", "f", "", "only frames matching tcpdump filter `EXPR` (run in the kernel when live), e.g. \"tcp port 80\"")
	f.IntVar(&o.Snaplen, "snaplen", capture.DefaultSnaplen, "live: bytes kept of each frame")
	f.BoolVar(&o.NoPromisc, "no-promisc", false, "live: don't put the interface in promiscuous mode")
	f.IntVar(&o.RingMiB, "ring-size", capture.DefaultRingSize>>20, "live: MiB of kernel ring buffer (more absorbs longer bursts without drops)")
	f.BoolVar(&o.NoRing, "no-ring", false, "live: read with a plain packet socket instead of the TPACKET_V3 ring")
	if capture.HaveLibpcap && runtime.GOOS == "linux" {
		// Only a -tags pcap build has it; elsewhere libpcap is the only way.
		f.BoolVar(&o.Libpcap, "libpcap", false, "live: capture through libpcap instead of AF_PACKET")
	}
	f.StringVar(&o.User, "user", "", "live: once the capture is open, run as user `NAME` (as tcpdump -Z); without it, root drops its capabilities")
	f.StringVar(&o.KeyLog, "keylog", "", "decrypt TLS with the key log `FILE` (SSLKEYLOGFILE format; default $SSLKEYLOGFILE; re-read as it grows when live)")
}

// addLimitFlags adds -c and --duration, which stop a live capture, for views
// that have no flags of their own for it.
func (o *inputOptions) addLimitFlags(f *pflag.FlagSet) {
	f.IntVarP(&o.Count, "count", "c", 0, "live: stop after N packets (0: no limit)")
	f.DurationVar(&o.Duration, "duration", 0, "live: stop after this long, e.g. 30s (0: no limit)")
}

// input is an opened capture file or live capture.
type input struct {
	capture.Source
	Defrag *capture.Defragmenter
	Live   *capture.LiveSource // nil for a file
	// Privileges says what was given up once the live capture was open.
	Privileges capture.Privileges
	file       *capture.FileSource // the capture file when one is read directly; nil when live or merged
	// Keys are the TLS secrets: --keylog (or SSLKEYLOGFILE), plus those of
	// pcapng Decryption Secrets Blocks as they are read; tail re-reads the
	// key log file as it grows.
	Keys    *tlsdec.KeyLog
	tail    *tlsdec.FileTail
	w       *os.File        // -w output
	ctx     context.Context // the live capture's: done at --duration
	cancel  context.CancelFunc
	count   int // -c
	frames  int // frames returned
	stopped string
}

// Next returns the next frame, or io.EOF once -c frames were returned.
func (in *input) Next(p *capture.Packet) error {
	if in.count > 0 && in.frames >= in.count {
		in.stopped = fmt.Sprintf("-c %d reached", in.count)
		return io.EOF
	}
	err := in.Source.Next(p)
	switch {
	case err == nil:
		in.frames++
	case errors.Is(err, io.EOF) && in.Live != nil && in.stopped == "":
		in.stopped = "interrupted"
		if errors.Is(in.ctx.Err(), context.DeadlineExceeded) && context.Cause(in.ctx) == errDuration {
			in.stopped = "--duration reached"
		}
	}
	return err
}

// loadKeys reads --keylog, or the file SSLKEYLOGFILE names (saying so on
// stderr), into in.Keys. A live capture may start before the key log file
// exists: it is read when it appears and re-read as it grows (RefreshKeys).
func (in *input) loadKeys(io *streams, o *inputOptions) error {
	in.Keys = &tlsdec.KeyLog{}
	path, from := o.KeyLog, "--keylog"
	if path == "" {
		if path = os.Getenv("SSLKEYLOGFILE"); path == "" {
			return nil
		}
		from = "SSLKEYLOGFILE"
	}
	in.tail = tlsdec.NewFileTail(path, in.Keys)
	if _, err := in.tail.Refresh(); err != nil && !(errors.Is(err, os.ErrNotExist) && in.Live != nil) {
		return fmt.Errorf("%s %s: %w", from, path, err)
	}
	if from == "SSLKEYLOGFILE" {
		fmt.Fprintf(io.Err, "sockscope: TLS keys from SSLKEYLOGFILE=%s (%d client randoms)\n", path, in.Keys.Len())
	}
	return nil
}

// RefreshKeys re-reads the key log file for what was appended since (live
// captures: a browser or curl writes its keys during the connection).
func (in *input) RefreshKeys() {
	if in.tail != nil && in.Live != nil {
		in.tail.Refresh()
	}
}

// refresher returns RefreshKeys for a live capture with a key log file,
// else nil (nothing can be added to the keys as the capture goes on).
func (in *input) refresher() func() {
	if in.tail == nil || in.Live == nil {
		return nil
	}
	return in.RefreshKeys
}

// errDuration is the cause of a live capture's end at --duration.
var errDuration = errors.New("--duration reached")

// Stopped says why a live capture ended: "interrupted", "-c 10 reached"...
func (in *input) Stopped() string {
	if in.stopped == "" {
		return "interrupted"
	}
	return in.stopped
}

// Close stops the capture and closes the -w file.
func (in *input) Close() error {
	err := in.Source.Close()
	if in.w != nil {
		if cerr := in.w.Close(); err == nil {
			err = cerr
		}
		in.w = nil
	}
	if in.cancel != nil {
		in.cancel()
	}
	return err
}

// dropImplicitly says whether a privileged process drops its capabilities
// when no --user is given. Dropping is per process and for good, and a test
// binary runs many captures in one process, so only a real sockscope process
// does it (the live tests check it on the built binary); --user is explicit
// and applies everywhere. The package's tests turn it off (export_test.go),
// so the binary does not link the testing package to find out.
var dropImplicitly = true

// openInput opens the capture files paths (one is read directly, several
// merged in time order: expandInputs), or with o.Iface a live capture that
// stops when ctx is done. Filter and interface mistakes are usage errors.
func openInput(ctx context.Context, io *streams, paths []string, o *inputOptions) (*input, error) {
	if o.Iface == "" {
		fi, err := openFiles(io, paths, o.Filter)
		if err != nil {
			return nil, err
		}
		in := &input{Source: fi.src, Defrag: fi.defrag}
		if len(fi.files) == 1 {
			in.file = fi.files[0]
		}
		if err := in.loadKeys(io, o); err != nil {
			fi.src.Close()
			return nil, err
		}
		// The secrets of any file go to the one key log.
		for _, f := range fi.files {
			f.OnSecrets = func(typ uint32, data []byte) {
				if typ == tlsdec.SecretsTypeTLSKeyLog {
					in.Keys.Write(data)
					in.Keys.Flush()
				}
			}
		}
		return in, nil
	}
	if o.Snaplen <= 0 {
		return nil, usagef("--snaplen %d: want a positive number of bytes", o.Snaplen)
	}
	if o.RingMiB <= 0 {
		return nil, usagef("--ring-size %d: want a positive number of MiB", o.RingMiB)
	}
	if o.Count < 0 || o.Duration < 0 {
		return nil, usagef("-c and --duration can't be negative")
	}
	// Check the expression before the interface: a typo is a usage error
	// whatever the permissions.
	if _, err := filter.Parse(o.Filter); err != nil && o.Filter != "" {
		return nil, filterUsage(o.Filter, err)
	}
	var runAs *capture.RunAs
	if o.User != "" {
		var err error
		if runAs, err = capture.LookupRunAs(o.User); err != nil {
			return nil, &usageError{fmt.Errorf("--user: %w", err)}
		}
	}
	in := &input{count: o.Count}
	in.ctx, in.cancel = context.WithCancel(ctx)
	if o.Duration > 0 {
		in.ctx, in.cancel = context.WithTimeoutCause(ctx, o.Duration, errDuration)
	}
	lo := capture.LiveOptions{Snaplen: o.Snaplen, NoPromisc: o.NoPromisc, Filter: o.Filter, RingSize: o.RingMiB << 20, NoRing: o.NoRing, Libpcap: o.Libpcap,
		FlushWrites: o.flushWrites}
	// -w: with --user the file is created once the process runs as that
	// user (as tcpdump -Z does), so it belongs to them and is written with
	// their rights; otherwise it is created before the capture opens, by
	// the invoking user.
	if o.Write != "" && runAs == nil {
		f, err := os.Create(o.Write)
		if err != nil {
			in.cancel()
			return nil, fmt.Errorf("-w: %w", err)
		}
		in.w, lo.WriteTo = f, f
	}
	src, err := capture.OpenLive(in.ctx, o.Iface, lo)
	if err != nil {
		in.cancel()
		if in.w != nil {
			in.w.Close()
			os.Remove(o.Write)
		}
		var fe *filter.Error
		var ue *filter.UnsupportedError
		switch {
		case errors.As(err, &fe), errors.As(err, &ue):
			return nil, filterUsage(o.Filter, err)
		case errors.Is(err, capture.ErrNoInterface):
			return nil, &usageError{err}
		}
		return nil, err
	}
	in.Source, in.Defrag, in.Live = src, src.Defrag(), src
	if err := in.loadKeys(io, o); err != nil {
		in.Close()
		return nil, err
	}
	if runAs != nil || dropImplicitly {
		drop := capture.DropPrivileges
		if o.KeepPtrace && runAs == nil {
			drop = func(*capture.RunAs) (capture.Privileges, error) { return capture.DropPrivilegesExcept() }
		}
		if in.Privileges, err = drop(runAs); err != nil {
			created := in.w != nil
			in.Close()
			if created {
				os.Remove(o.Write)
			}
			return nil, err
		}
	}
	if o.Write != "" && runAs != nil {
		f, err := os.Create(o.Write)
		if err == nil {
			in.w = f
			err = src.SetWriteTo(f)
		}
		if err != nil {
			in.Close()
			return nil, fmt.Errorf("-w (as user %s): %w", runAs.Name, err)
		}
	}
	return in, nil
}

func filterUsage(expr string, err error) error {
	return &usageError{fmt.Errorf("-f %q: %w", expr, err)}
}

// setFileFilter makes src skip frames expr rejects, compiling it for each
// link type as the file declares them (pcapng may hold several).
func setFileFilter(src *capture.FileSource, expr string) error {
	matchers := map[capture.LinkType]*filter.Matcher{}
	for _, l := range src.Info().LinkTypes {
		m, err := filter.NewMatcher(expr, uint16(l))
		if err != nil {
			return filterUsage(expr, err)
		}
		matchers[l] = m
	}
	src.Filter = func(l capture.LinkType, frame []byte) bool {
		m, ok := matchers[l]
		if !ok {
			// A link type declared later in the file. If expr cannot apply
			// to it (say "vlan" on raw IP), its frames cannot match.
			m, _ = filter.NewMatcher(expr, uint16(l))
			matchers[l] = m
		}
		return m != nil && m.Match(frame)
	}
	return nil
}

// filesOrIface accepts FILE arguments (files, directories, patterns), or
// none with -i IFACE.
func filesOrIface(iface func() string) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		switch {
		case iface() != "" && len(args) > 0:
			return usagef("%s takes capture files or -i IFACE, not both", c.CommandPath())
		case iface() == "" && len(args) == 0:
			return usagef("%s needs a capture file (several, a directory or a pattern are merged in time order; - for standard input), or -i IFACE to capture live", c.CommandPath())
		}
		return nil
	}
}

// announceLive says on stderr that a live capture is listening, for views
// whose output comes only when it stops (read -i).
func announceLive(io *streams, in *input, filterExpr string) {
	fmt.Fprint(io.Err, announceText(in.Live.Interface(), in.Info().LinkTypes[0], filterExpr, in.Privileges.String()))
}

// announceText is announceLive's line: the interface name is escaped, the
// filter quoted (%q escapes every control and bidi character).
func announceText(ifc capture.Interface, link capture.LinkType, filterExpr, priv string) string {
	f := ""
	if filterExpr != "" {
		f = fmt.Sprintf(" · filter %q", filterExpr)
	}
	if priv != "" {
		f += " · " + priv
	}
	return fmt.Sprintf("sockscope: listening on %s (%s, %s)%s · Ctrl-C to stop\n", textsafe.Escape(ifc.Name), ifc.HWType, link, f)
}

// reportLive tells, on stderr, why a live capture stopped and what the
// kernel counted (reportKernel, with the reason).
func reportLive(io *streams, in *input) {
	fmt.Fprintf(io.Err, "sockscope: capture on %s stopped: %s\n", textsafe.Escape(in.Info().Name), in.Stopped())
	reportKernel(io, in.Live)
}

// reportKernel tells, on stderr, what the kernel counted for a live capture
// that views other than live summarize; drops are said plainly.
func reportKernel(io *streams, src *capture.LiveSource) {
	k, err := src.Stats()
	fmt.Fprint(io.Err, kernelReport(src.Info().Name, src.Frames(), k, err))
}

// kernelReport is reportKernel's text for interface iface: the name and the
// error are escaped (an interface may be named with any bytes but / and NUL,
// ESC and bidi overrides included).
func kernelReport(iface string, frames int, k capture.LiveStats, err error) string {
	if err != nil {
		return fmt.Sprintf("sockscope: kernel counters unavailable: %s\n", textsafe.Escape(err.Error()))
	}
	s := fmt.Sprintf("sockscope: %s: %d packets captured, %d received by filter, %d dropped by the kernel\n", textsafe.Escape(iface), frames, k.Received, k.Dropped)
	if k.Dropped > 0 {
		s += fmt.Sprintf("sockscope: warning: %d packets were dropped before sockscope saw them: expect gaps; try a larger --ring-size or a narrower -f\n", k.Dropped)
	}
	return s
}

// IsLive tells reassembly.Tracker.Consume to hand live packets over one by
// one instead of in batches.
func (in *input) IsLive() bool { return in.Live != nil }
