// Command sockscope shows what really happened on the wire: TCP streams and
// UDP flows, how they opened and ended, and where application messages fall
// across TCP segments.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/sockscope/sockscope/cmd"
)

func main() {
	// SOCKSCOPE_CPUPROFILE=FILE and SOCKSCOPE_MEMPROFILE=FILE write
	// profiles of the run (bench/README.md, "Profiling"; not a user feature).
	if path := os.Getenv("SOCKSCOPE_CPUPROFILE"); path != "" {
		if f, err := os.Create(path); err != nil {
			fmt.Fprintf(os.Stderr, "sockscope: SOCKSCOPE_CPUPROFILE: %v\n", err)
		} else if err := pprof.StartCPUProfile(f); err == nil {
			defer f.Close()
			defer pprof.StopCPUProfile()
		}
	}
	if path := os.Getenv("SOCKSCOPE_MEMPROFILE"); path != "" {
		// The heap as of the last garbage collection before exit: what
		// was live near the end of the run.
		defer func() {
			if f, err := os.Create(path); err == nil {
				pprof.Lookup("heap").WriteTo(f, 0)
				f.Close()
			}
		}()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cmd.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	if code != 0 {
		pprof.StopCPUProfile()
		os.Exit(code)
	}
}
