package cmd

import (
	"bytes"
	"encoding/json"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/sockscope/sockscope/sockets"
)

func TestSocketsUsage(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"sockets", "--format", "xml"}, `--format "xml": want text or json`},
		{[]string{"sockets", "extra"}, "takes no arguments"},
		{[]string{"sockets", "--watch", "--interval", "0s"}, "--interval positive"},
		{[]string{"sockets", "--count", "-1"}, "--count must be 0 or more"},
		{[]string{"live", "lo", "--processes", "--user", "nobody"}, "--processes reads other processes' /proc/PID/fd, which needs CAP_SYS_PTRACE: not with --user"},
	} {
		_, stderr, code := runCLI(t, nil, tt.args...)
		if code != exitUsage || !strings.Contains(stderr, tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tt.args, code, stderr, tt.want)
		}
	}
}

// TestSocketsHere takes snapshots of this machine's namespace: no root
// needed (sock_diag answers anyone; only other users' processes go
// unmapped). --watch off a terminal prints one snapshot after another.
func TestSocketsHere(t *testing.T) {
	out, stderr, code := runCLI(t, nil, "sockets", "--format", "json", "--watch", "--count", "2", "--interval", "10ms")
	if runtime.GOOS != "linux" {
		if code != exitError || !strings.Contains(stderr, "needs Linux") || strings.Count(stderr, "\n") != 1 {
			t.Errorf("exit %d, stderr %q: want one line saying it needs Linux", code, stderr)
		}
		return
	}
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2 snapshots:\n%s", len(lines), out)
	}
	for _, l := range lines {
		var rec struct {
			Type    string           `json:"type"`
			Sockets []sockets.Socket `json:"sockets"`
			Scan    sockets.ScanStats
		}
		if err := json.Unmarshal([]byte(l), &rec); err != nil || rec.Type != "sockets" {
			t.Errorf("not a sockets record (%v): %s", err, l)
		}
	}
	text, stderr, code := runCLI(t, nil, "sockets")
	if code != 0 || !strings.HasPrefix(text, "sockets  ") || !strings.Contains(text, "\nlistening (") {
		t.Errorf("text: exit %d %s\n%s", code, stderr, text)
	}
}

// TestSocketsWatchTerminal: on a terminal --watch redraws in place (home,
// clear) each time.
func TestSocketsWatchTerminal(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("needs sock_diag")
	}
	var out bytes.Buffer
	o := &socketsOptions{format: "text", watch: true, count: 2, interval: 10 * time.Millisecond, notes: sockets.DefaultNoteOptions,
		io: &streams{Out: &out, Err: io.Discard, OutTTY: true}}
	if err := runSockets(t.Context(), o); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out.String(), "\x1b[H\x1b[2J"); n != 2 || !strings.Contains(out.String(), "snapshot 2 · every 10ms · Ctrl-C to stop") {
		t.Errorf("%d redraws, want 2:\n%q", n, out.String())
	}
}
