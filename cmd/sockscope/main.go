// Command sockscope shows what really happened on the wire: TCP streams and
// UDP flows, how they opened and ended, and where application messages fall
// across TCP segments.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/sockscope/sockscope/cmd"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cmd.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
