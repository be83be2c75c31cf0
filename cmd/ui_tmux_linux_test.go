//go:build linux

package cmd

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// tmuxUI runs the built sockscope in a detached tmux session of its own
// server (-L: no other session is touched) and drives it as a person
// would: send-keys to type, capture-pane to read the screen.
type tmuxUI struct {
	t      *testing.T
	socket string
	dir    string
}

func newTmuxUI(t *testing.T, w, h int, env, args string) *tmuxUI {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux not installed (apt-get install tmux): the terminal UI's end-to-end test skips")
	}
	bin := builtCLI(t)
	x := &tmuxUI{t: t, socket: fmt.Sprintf("sockscope-ui-test-%d", os.Getpid()), dir: t.TempDir()}
	// After the UI exits the pane's shell records the exit status and the
	// terminal's modes, then waits to be killed with the server.
	script := fmt.Sprintf("%s %s %s; echo $? > %s/exit; stty -a > %s/stty 2>&1; sleep 60",
		env, bin, args, x.dir, x.dir)
	// In a directory of its own: what the UI writes (w) goes there.
	x.tmux("-f", "/dev/null", "new-session", "-d", "-c", x.dir, "-x", fmt.Sprint(w), "-y", fmt.Sprint(h), script)
	t.Cleanup(func() { exec.Command("tmux", "-L", x.socket, "kill-server").Run() })
	return x
}

// absCorpus is the absolute path of a bundled capture: the session runs
// in a directory of its own.
func absCorpus(t *testing.T, name string) string {
	p, err := filepath.Abs(corpus + name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (x *tmuxUI) tmux(args ...string) string {
	x.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-L", x.socket}, args...)...).CombinedOutput()
	if err != nil {
		x.t.Fatalf("tmux %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (x *tmuxUI) screen() string { return x.tmux("capture-pane", "-p") }

// waitFor polls the screen until it holds every one of want.
func (x *tmuxUI) waitFor(want ...string) string {
	x.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s := x.screen()
		missing := ""
		for _, w := range want {
			if !strings.Contains(s, w) {
				missing = w
				break
			}
		}
		if missing == "" {
			return s
		}
		if time.Now().After(deadline) {
			x.t.Fatalf("the screen never showed %q:\n%s", missing, s)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// keys sends keys one at a time (an Esc directly followed by a letter
// would read as Alt+letter).
func (x *tmuxUI) keys(keys ...string) {
	x.t.Helper()
	for _, k := range keys {
		x.tmux("send-keys", k)
		time.Sleep(150 * time.Millisecond)
	}
}

// save writes the screen to $SOCKSCOPE_UI_SCREENS/name.txt when set (the
// README's screens come from here).
func (x *tmuxUI) save(name, screen string) {
	if dir := os.Getenv("SOCKSCOPE_UI_SCREENS"); dir != "" {
		lines := strings.Split(strings.TrimRight(screen, "\n"), "\n")
		for i := range lines {
			lines[i] = strings.TrimRight(lines[i], " ")
		}
		os.WriteFile(filepath.Join(dir, name+".txt"), []byte(strings.Join(lines, "\n")+"\n"), 0o644)
	}
}

func (x *tmuxUI) format(f string) string {
	return strings.TrimSpace(x.tmux("display-message", "-p", f))
}

func TestUITmux(t *testing.T) {
	x := newTmuxUI(t, 120, 40, "NO_COLOR=1", "ui "+absCorpus(t, "04_http11_keepalive_curl.pcap"))
	s := x.waitFor("sockscope ui", "streams 1 TCP · 0 UDP · 3 findings (1 warning)", "▶ tcp/0", "closed by client (FIN first)")
	x.save("conns", s)
	if e := x.tmux("capture-pane", "-p", "-e"); strings.Contains(e, "\x1b[") {
		t.Errorf("NO_COLOR: the screen has attributes: %q", e)
	}
	if x.format("#{alternate_on}") != "1" || x.format("#{mouse_any_flag}") != "1" {
		t.Errorf("the UI is not on the alternate screen (%s) or has no mouse (%s)", x.format("#{alternate_on}"), x.format("#{mouse_any_flag}"))
	}
	x.keys("Enter")
	x.save("ladder", x.waitFor("[l ladder]", "SYN,ACK seq=0 ack=1", "handshake"))
	x.keys("m")
	x.save("map", x.waitFor("[m map]", "c→s segments", "#1 whole (88 B)"))
	x.keys("t")
	x.save("transcript", x.waitFor("[t transcript]", `GET /index.html HTTP/1.1\r\n`))
	x.keys("f")
	x.waitFor("[f findings (3)]", "warning delayed_ack")
	x.keys("Escape", "F")
	x.save("findings", x.waitFor("3 findings (1 warning), most important first", "▶ warning  delayed_ack"))
	x.keys("Escape", "?")
	x.save("help", x.waitFor("keys (any key closes this list)", "q  ctrl+c"))
	x.keys("x", "/", "u", "d", "p")
	x.waitFor("no stream matches the filter", "/udp")
	x.keys("Escape")
	x.waitFor("▶ tcp/0")
	x.keys("q")
	checkRestored(t, x)
}

// checkRestored waits for the UI to exit and checks that it left the
// terminal as it found it: main screen, cursor shown, no mouse reporting,
// canonical mode and echo back on.
func checkRestored(t *testing.T, x *tmuxUI) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if b, err := os.ReadFile(filepath.Join(x.dir, "stty")); err == nil && len(b) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sockscope ui did not exit:\n%s", x.screen())
		}
		time.Sleep(50 * time.Millisecond)
	}
	code, _ := os.ReadFile(filepath.Join(x.dir, "exit"))
	if strings.TrimSpace(string(code)) != "0" {
		t.Errorf("exit status %q", code)
	}
	stty, _ := os.ReadFile(filepath.Join(x.dir, "stty"))
	modes := strings.Fields(strings.ReplaceAll(string(stty), ";", " "))
	for _, mode := range []string{"icanon", "echo", "isig", "icrnl", "opost"} {
		if !slices.Contains(modes, mode) || slices.Contains(modes, "-"+mode) {
			t.Errorf("terminal mode %s not restored: %s", mode, stty)
		}
	}
	for f, want := range map[string]string{"#{alternate_on}": "0", "#{cursor_flag}": "1", "#{mouse_any_flag}": "0", "#{keypad_flag}": "0"} {
		if got := x.format(f); got != want {
			t.Errorf("%s = %s after quitting, want %s", f, got, want)
		}
	}
}

// TestUITmuxCtrlCAscii: the ASCII, 80×24 screen, and Ctrl-C restores the
// terminal too.
func TestUITmuxCtrlCAscii(t *testing.T) {
	x := newTmuxUI(t, 80, 24, "", "ui --ascii "+absCorpus(t, "16_nmap_syn_scan_1-200.pcap"))
	s := x.waitFor("sockscope ui - ", "streams 200 TCP - 0 UDP", "> tcp/0")
	for _, r := range s {
		if r > 0x7e {
			t.Errorf("--ascii screen has %U:\n%s", r, s)
			break
		}
	}
	if e := x.tmux("capture-pane", "-p", "-e"); !strings.Contains(e, "\x1b[") {
		t.Errorf("without NO_COLOR the screen has no colour or reverse video: %q", e)
	}
	x.keys("End")
	x.waitFor("> tcp/199")
	x.keys("C-c")
	checkRestored(t, x)
}
