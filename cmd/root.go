// Package cmd is sockscope's command line: it parses flags, opens the source,
// wires capture → reassembly → decode → output, and maps errors to exit
// codes and hints. It holds no protocol logic.
package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/sockscope/sockscope/capture"
	"github.com/sockscope/sockscope/internal/textsafe"
)

// Exit codes (see README, "Exit status").
const (
	exitOK    = 0
	exitError = 1 // the run failed or the input was damaged
	exitUsage = 2 // bad flags or arguments
)

// defaultMemoryLimit is the Go runtime's soft memory limit unless GOMEMLIMIT
// is set (see README, "Memory").
const defaultMemoryLimit = 256 << 20

// usageError marks errors that are the user's invocation, not the input.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error { return &usageError{fmt.Errorf(format, args...)} }

// silentError is returned after the command already printed what went wrong.
type silentError struct{ err error }

func (e *silentError) Error() string { return e.err.Error() }

// streams are the command's standard files.
type streams struct {
	In       io.Reader
	Out, Err io.Writer
	// OutTTY reports whether Out is a terminal (decides row limits and colour).
	OutTTY bool
}

// Main runs sockscope with args and returns the exit status.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if os.Getenv("GOMEMLIMIT") == "" {
		// A soft limit: the garbage collector works harder instead of letting
		// the heap double past what is live. Huge captures stay within a
		// laptop's means; GOMEMLIMIT overrides it.
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
	io := &streams{In: stdin, Out: stdout, Err: stderr, OutTTY: isTerminal(stdout)}
	root := newRootCmd(io)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	var ue *usageError
	var se *silentError
	switch {
	case errors.As(err, &se):
		return exitError
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "sockscope: %s\nRun 'sockscope --help' for usage.\n", errorText(err))
		return exitUsage
	}
	fmt.Fprintf(stderr, "sockscope: %s\n", errorText(err))
	if hint := hintFor(err); hint != "" {
		fmt.Fprintf(stderr, "hint: %s\n", hint)
	}
	return exitError
}

// errorText is err's message made safe for a terminal: file names, stream
// arguments and damage reasons can hold any bytes (a file called
// "\x1b]52;c;...\a.pcap" must not write the clipboard, and a newline in it
// must not forge a line of its own), so every control byte is escaped.
func errorText(err error) string { return textsafe.Escape(err.Error()) }

func hintFor(err error) string {
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "check the path; use - to read a capture from standard input"
	case errors.Is(err, capture.ErrNotCapture):
		return "sockscope reads pcap and pcapng files (optionally gzip-compressed), as written by tcpdump -w, dumpcap or Wireshark"
	case errors.Is(err, os.ErrPermission):
		return "live capture needs CAP_NET_RAW: run as root or `sudo setcap cap_net_raw,cap_net_admin+eip $(command -v sockscope)`"
	}
	return ""
}

func newRootCmd(io *streams) *cobra.Command {
	root := &cobra.Command{
		Use:   "sockscope",
		Short: "See what really happened on the wire: TCP streams, UDP flows, and where messages fall across segments",
		Long: `sockscope reads pcap/pcapng captures, tracks every TCP stream and UDP flow,
and shows how each one opened and ended, how much went each way, and what
looked wrong. Stream numbers match Wireshark's tcp.stream / udp.stream.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return &usageError{err} })
	root.AddCommand(newReadCmd(io), newFollowCmd(io), newTimelineCmd(io), newDemoCmd(io), newLiveCmd(io), newInterfacesCmd(io), newSocketsCmd(io), newReportCmd(io), newUICmd(io), newVersionCmd(io))
	return root
}

func newVersionCmd(io *streams) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			v, rev := "(devel)", ""
			if bi, ok := debug.ReadBuildInfo(); ok {
				if bi.Main.Version != "" {
					v = bi.Main.Version
				}
				for _, s := range bi.Settings {
					if s.Key == "vcs.revision" && len(s.Value) >= 12 {
						rev = " " + s.Value[:12]
					}
				}
			}
			_, err := fmt.Fprintf(io.Out, "sockscope %s%s\n", v, rev)
			return err
		},
	}
}

func noArgs(c *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("%s takes no arguments", c.CommandPath())
	}
	return nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// terminalWidth returns $COLUMNS when set, else the terminal's width when
// standard output is one, else def.
func terminalWidth(io *streams, def int) int {
	if n, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && n > 20 {
		return n
	}
	if io.OutTTY {
		if f, ok := io.Out.(*os.File); ok {
			if n := terminalCols(f); n > 20 {
				return n
			}
		}
	}
	return def
}
