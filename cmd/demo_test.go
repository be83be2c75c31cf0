package cmd

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sockscope/sockscope/internal/demo"
	"github.com/sockscope/sockscope/internal/golden"
)

// TestDemoRead: every scenario's capture, written with -w, is read back by
// `sockscope read` with the state the scenario is about.
func TestDemoRead(t *testing.T) {
	want := map[string][]string{ // scenario -> "id state" of each stream, as read --format json says
		"handshake":          {"tcp/0 closed client"},
		"refused":            {"tcp/0 refused server"},
		"reset":              {"tcp/0 reset server"},
		"half-close":         {"tcp/0 half_closed client"},
		"simultaneous-close": {"tcp/0 closed client"},
		"retransmission":     {"tcp/0 closed client retrans=1"},
		"zero-window":        {"tcp/0 closed server"},
		"split-message":      {"tcp/0 closed client"},
		"tcp-vs-udp":         {"tcp/0 closed client", "udp/0 udp"},
	}
	for _, sc := range demo.All() {
		t.Run(sc.Name, func(t *testing.T) {
			w, ok := want[sc.Name]
			if !ok {
				t.Fatalf("no expectation for scenario %q: add one", sc.Name)
			}
			path := filepath.Join(t.TempDir(), sc.Name+".pcap")
			_, errOut, code := runCLI(t, nil, "demo", sc.Name, "-w", path)
			if code != 0 || !strings.Contains(errOut, "wrote "+path) {
				t.Fatalf("demo -w: exit %d, stderr %q", code, errOut)
			}
			if b, err := os.ReadFile(path); err != nil || string(b) != string(sc.Pcap()) {
				t.Fatalf("written capture differs from the scenario's (err %v)", err)
			}
			out, errOut, code := runCLI(t, nil, "read", "--format", "json", path)
			if code != 0 {
				t.Fatalf("read: exit %d: %s", code, errOut)
			}
			var got []string
			for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
				var r struct {
					Type, ID, State, ClosedBy, ResetBy string
					Retrans                            int `json:"retransmissions_c2s"`
				}
				json.Unmarshal([]byte(line), &r)
				if r.Type != "stream" {
					continue
				}
				var by string
				json.Unmarshal([]byte(line), &struct {
					ClosedBy *string `json:"closed_by"`
					ResetBy  *string `json:"reset_by"`
				}{&by, &by})
				s := r.ID + " " + r.State
				if by != "" {
					s += " " + by
				}
				if r.Retrans > 0 {
					s += " retrans=" + string(rune('0'+r.Retrans))
				}
				got = append(got, s)
			}
			if strings.Join(got, "; ") != strings.Join(w, "; ") {
				t.Errorf("read says %q, want %q", got, w)
			}
		})
	}
}

func TestDemoGolden(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"list", []string{"demo"}},
		{"handshake_explain", []string{"demo", "handshake", "--explain"}},
		{"refused_explain", []string{"demo", "refused", "--explain"}},
		{"reset_explain", []string{"demo", "reset", "--explain"}},
		{"half_close_explain", []string{"demo", "half-close", "--explain"}},
		{"simultaneous_close_explain", []string{"demo", "simultaneous-close", "--explain"}},
		{"retransmission_explain", []string{"demo", "retransmission", "--explain"}},
		{"zero_window_explain", []string{"demo", "zero-window", "--explain"}},
		{"split_message", []string{"demo", "split-message", "--width", "100"}},
		{"tcp_vs_udp_explain", []string{"demo", "tcp-vs-udp", "--explain"}},
		{"retransmission_120", []string{"demo", "retransmission", "--width", "120"}},
		{"zero_window_mermaid", []string{"demo", "zero-window", "--format", "mermaid"}},
		{"retransmission_json", []string{"demo", "retransmission", "--format", "json"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := runCLI(t, nil, tt.args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			golden.Check(t, []byte(out+"--- stderr\n"+errOut))
		})
	}
}

func TestDemoErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unknown", []string{"demo", "teleport"}, 2, `no demo called "teleport"; scenarios: handshake, refused`},
		{"two names", []string{"demo", "handshake", "refused"}, 2, "at most one scenario"},
		{"write without name", []string{"demo", "-w", "x.pcap"}, 2, "-w needs a scenario name"},
		{"bad format", []string{"demo", "handshake", "--format", "xml"}, 2, `--format "xml"`},
		{"unwritable", []string{"demo", "handshake", "-w", "/nonexistent/dir/x.pcap"}, 1, "write capture"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errOut, code := runCLI(t, nil, tt.args...)
			if code != tt.code || !strings.Contains(errOut, tt.want) {
				t.Fatalf("exit %d stderr %q; want exit %d and %q", code, errOut, tt.code, tt.want)
			}
		})
	}
}

// TestDemoWriteStdout: -w - writes the pcap, and only the pcap, to stdout.
func TestDemoWriteStdout(t *testing.T) {
	sc, _ := demo.Find("refused")
	out, errOut, code := runCLI(t, nil, "demo", "refused", "-w", "-")
	if code != 0 || out != string(sc.Pcap()) || errOut != "" {
		t.Fatalf("exit %d, %d bytes out (want %d), stderr %q", code, len(out), len(sc.Pcap()), errOut)
	}
}
