package cmd

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sockscope/sockscope/capture"
)

// evilName is a file or interface name that a terminal would obey if it
// were printed raw: an OSC 52 clipboard write, a bidi override, a C1 CSI
// (as a raw byte and as U+009B) and a CR that would forge a line.
const evilName = "x\x1b]52;c;cm0gLXJmIH4K\x07\u202e\x9b31m\u009b2J\r"

// checkNameEscaped fails unless out is terminal-safe and shows evilName's
// escape sequence in its escaped form.
func checkNameEscaped(t *testing.T, what, out string) {
	t.Helper()
	checkTerminalSafe(t, what, out, false)
	for _, want := range []string{`\e]52;c;`, `\u202e`, `\x9b31m`, `\u009b2J`, `\r`} {
		if !strings.Contains(out, want) {
			t.Errorf("%s: %q does not show the name escaped (no %q)", what, out, want)
		}
	}
}

// TestEscapeReportPath: "sockscope: wrote PATH" escapes the page's path.
func TestEscapeReportPath(t *testing.T) {
	dir := filepath.Join(t.TempDir(), evilName)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Skipf("the file system refuses the name: %v", err)
	}
	page := filepath.Join(dir, "page"+evilName+".html")
	_, errOut, code := runCLI(t, nil, "report", corpus+"01_tcp_handshake_hello_fin.pcap", "-o", page)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if _, err := os.Stat(page); err != nil {
		t.Fatalf("no page written: %v", err)
	}
	if !strings.Contains(errOut, "sockscope: wrote ") {
		t.Fatalf("no wrote line: %q", errOut)
	}
	checkNameEscaped(t, "report stderr", errOut)
}

// TestEscapeDemoWritePath: "wrote PATH ... sockscope timeline PATH" escapes
// both mentions of the path.
func TestEscapeDemoWritePath(t *testing.T) {
	dir := filepath.Join(t.TempDir(), evilName)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Skipf("the file system refuses the name: %v", err)
	}
	path := filepath.Join(dir, "demo.pcap")
	_, errOut, code := runCLI(t, nil, "demo", "handshake", "-w", path)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if n := strings.Count(errOut, `\e]52;c;`); n != 2 {
		t.Errorf("the path should appear twice, escaped; %d times in %q", n, errOut)
	}
	checkNameEscaped(t, "demo -w stderr", errOut)
}

// TestEscapeLiveMessages: the live capture lines on stderr (read -i,
// timeline -i, follow -i, report -i) escape the interface name, the BPF
// filter and the kernel counters' error. Interfaces can be renamed to
// almost anything (ip link set dev X name Y), so the name is hostile input.
func TestEscapeLiveMessages(t *testing.T) {
	ifc := capture.Interface{Name: evilName, HWType: "ethernet"}
	line := announceText(ifc, capture.LinkEthernet, "port 80 and "+evilName, "running as nobody (uid 65534)")
	checkNameEscaped(t, "announce", line)
	if strings.Count(line, `\u202e`) != 2 || strings.Count(line, "\n") != 1 || !strings.HasPrefix(line, "sockscope: listening on x") {
		t.Errorf("announce: name and filter should both be escaped, on one line: %q", line)
	}

	out := kernelReport(evilName, 12, capture.LiveStats{Received: 14, Dropped: 2}, nil)
	checkNameEscaped(t, "kernel counters", out)
	if !strings.Contains(out, "12 packets captured, 14 received by filter, 2 dropped by the kernel") || !strings.Contains(out, "warning: 2 packets were dropped") {
		t.Errorf("kernel counters: %q", out)
	}
	out = kernelReport("lo", 1, capture.LiveStats{}, errors.New("no counters for "+evilName))
	checkNameEscaped(t, "kernel counters error", out)
}
