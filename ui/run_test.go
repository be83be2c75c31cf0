package ui

import (
	"bytes"
	"context"
	"io"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sockscope/sockscope/capture"
)

// lockedBuffer is the terminal's output, read while Run writes it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// altScreenOff is what leaving the alternate screen writes.
const altScreenOff = "\x1b[?1049l"

// TestRun runs the whole UI (bubbletea's program, the pipeline on its
// goroutine) on a pipe: q ends it, the alternate screen is left, the
// pipeline has stopped and no goroutine is left behind.
func TestRun(t *testing.T) {
	before := goroutines()
	path := corpus("04_http11_keepalive_curl.pcap")
	src, err := capture.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	keys, typing := io.Pipe()
	var out lockedBuffer
	scanned := false
	done := make(chan error, 1)
	go func() {
		done <- Run(context.Background(), RunOptions{Options: Options{Name: path, Load: loader(path)}, In: keys, Out: &out,
			Env: []string{"TERM=xterm-256color"}, Width: 100, Height: 30,
			Scan: func(ctx context.Context, f *Feed) {
				Scan(ctx, src, scanOptions(t, src), f)
				scanned = true
			}})
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "3 findings") {
		if time.Now().After(deadline) {
			t.Fatalf("the screen never showed the totals: %q", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	typing.Write([]byte("q"))
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("q did not end Run")
	}
	typing.Close()
	if !scanned {
		t.Error("Run returned before its pipeline")
	}
	if s := out.String(); !strings.Contains(s, altScreenOff) {
		t.Errorf("the alternate screen was not left: %q", s[max(len(s)-200, 0):])
	}
	for i := 0; goroutines() > before && i < 100; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if n := goroutines(); n > before {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines after Run, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}

// goroutines counts the goroutines but os/signal's, which the first
// signal.Notify of the process starts for good.
func goroutines() int {
	buf := make([]byte, 1<<20)
	n := 0
	for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
		if !strings.Contains(g, "os/signal.loop") {
			n++
		}
	}
	return n
}

// TestRunPipelinePanics: a panic in the pipeline restores the terminal
// before it is reported (as an error, with its stack).
func TestRunPipelinePanics(t *testing.T) {
	keys, typing := io.Pipe()
	defer typing.Close()
	var out lockedBuffer
	err := Run(context.Background(), RunOptions{In: keys, Out: &out, Env: []string{"TERM=xterm-256color"}, Width: 80, Height: 24,
		Scan: func(ctx context.Context, f *Feed) {
			time.Sleep(100 * time.Millisecond) // the screen is up
			panic("boom")
		}})
	if err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("Run: %v", err)
	}
	if s := out.String(); !strings.Contains(s, altScreenOff) {
		t.Errorf("the alternate screen was not left: %q", s)
	}
}
