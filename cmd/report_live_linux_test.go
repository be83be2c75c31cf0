package cmd

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestLiveReport checks report -i lo --duration: the capture stops by
// itself, and the page holds the connection the test made.
func TestLiveReport(t *testing.T) {
	ns := newTestNS(t)
	page := filepath.Join(t.TempDir(), "live.html")
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	out, errOut := newSyncBuffer(), newSyncBuffer()
	code := make(chan int, 1)
	go func() {
		var c int
		ns.do(func() {
			c = Main(ctx, []string{"report", "-i", "lo", "--duration", "3s", "-o", page}, nil, out, errOut)
		})
		code <- c
	}()
	if !errOut.waitFor(ctx, func(s string) bool { return strings.Contains(s, "listening on lo") }) {
		t.Fatalf("report -i lo did not start capturing; stderr: %s", errOut)
	}
	if _, _, err := loTraffic(ns, 10); err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-code:
		if c != 0 {
			t.Fatalf("exit %d; stderr: %s", c, errOut)
		}
	case <-ctx.Done():
		t.Fatalf("report -i lo --duration 3s did not stop; stderr: %s", errOut)
	}
	b, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	html := string(b)
	if !strings.Contains(html, "live capture on lo for 3s") || !strings.Contains(html, `<section class="stream" id="tcp-0"`) {
		t.Errorf("page lacks the live source or tcp/0; stderr: %s", errOut)
	}
}
