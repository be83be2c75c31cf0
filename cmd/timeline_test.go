package cmd

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/sockscope/sockscope/capture"
	"github.com/sockscope/sockscope/internal/golden"
)

// TestTimelineMatchesTshark: for every TCP packet of the recorded captures,
// the timeline JSON has exactly one record, in the same stream, with the
// flags, relative seq/ack and length tshark shows (recorded once by
// testdata/tshark_timeline/record.sh).
func TestTimelineMatchesTshark(t *testing.T) {
	for _, name := range []string{"01_tcp_handshake_hello_fin.pcap", "02_tcp_conn_refused_rst.pcap", "03_tcp_abort_rst_midstream.pcap",
		"04_http11_keepalive_curl.pcap", "16_nmap_syn_scan_1-200.pcap", "17_slow_sender_1byte_per_s.pcap"} {
		t.Run(name, func(t *testing.T) {
			f, err := os.Open("testdata/tshark_timeline/" + name + ".tsv")
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			type rec struct {
				Stream      string
				Flags       string
				Seq, Ack    int64
				Len         int
				Frame, Seen int
			}
			var want []rec
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				if strings.HasPrefix(sc.Text(), "#") {
					continue
				}
				fl := strings.Split(sc.Text(), "\t")
				if len(fl) != 6 {
					t.Fatalf("bad tsv line %q", sc.Text())
				}
				n := func(s string) int64 { v, _ := strconv.ParseInt(s, 0, 64); return v }
				want = append(want, rec{Frame: int(n(fl[0])), Stream: "tcp/" + fl[1], Seq: n(fl[2]), Ack: n(fl[3]), Len: int(n(fl[4])),
					Flags: capture.TCPFlags(n(fl[5])).String()})
			}
			out, errOut, code := runCLI(t, nil, "timeline", "--all", "--format", "json", corpus+name)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			got := map[int]rec{}
			perStream := map[string]int{}
			for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
				var r struct {
					Stream, Flags string
					Frame         int
					Seq, Ack      int64
					Len           int
				}
				if err := json.Unmarshal([]byte(line), &r); err != nil {
					t.Fatalf("bad JSON %q: %v", line, err)
				}
				if _, dup := got[r.Frame]; dup {
					t.Errorf("frame %d: two records", r.Frame)
				}
				got[r.Frame] = rec{Frame: r.Frame, Stream: r.Stream, Flags: r.Flags, Seq: r.Seq, Ack: r.Ack, Len: r.Len}
				perStream[r.Stream]++
			}
			wantPerStream := map[string]int{}
			for _, w := range want {
				wantPerStream[w.Stream]++
				if g, ok := got[w.Frame]; !ok {
					t.Errorf("frame %d (%s): no record", w.Frame, w.Stream)
				} else if g != w {
					t.Errorf("frame %d: got %+v, tshark %+v", w.Frame, g, w)
				}
			}
			for s, n := range wantPerStream {
				if perStream[s] != n {
					t.Errorf("%s: %d records, tshark has %d TCP packets", s, perStream[s], n)
				}
			}
			if len(got) != len(want) {
				t.Errorf("%d records, tshark %d TCP packets", len(got), len(want))
			}
		})
	}
}

func TestTimelineGolden(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"handshake_80", []string{"timeline", corpus + "01_tcp_handshake_hello_fin.pcap", "--width", "80"}},
		{"handshake_120", []string{"timeline", corpus + "01_tcp_handshake_hello_fin.pcap", "tcp/0", "--width", "120"}},
		{"handshake_ascii", []string{"timeline", corpus + "01_tcp_handshake_hello_fin.pcap", "--ascii"}},
		{"handshake_explain", []string{"timeline", corpus + "01_tcp_handshake_hello_fin.pcap", "0", "--explain"}},
		{"refused_explain_120", []string{"timeline", corpus + "02_tcp_conn_refused_rst.pcap", "tcp/2", "--explain", "--width", "120"}},
		{"reset_explain", []string{"timeline", corpus + "03_tcp_abort_rst_midstream.pcap", "--explain"}},
		{"keepalive_120", []string{"timeline", corpus + "04_http11_keepalive_curl.pcap", "--width", "120"}},
		{"tunnel_erspan3_path", []string{"timeline", "../testdata/captures/tunnels/tunnel_erspan3.pcap", "0", "--width", "100"}},
		{"dup_mirror_copies", []string{"timeline", "../testdata/captures/tunnels/dup_mirror.pcap", "0", "--width", "100"}},
		{"dup_mirror_copies_json", []string{"timeline", "../testdata/captures/tunnels/dup_mirror.pcap", "1", "--format", "json"}},
		{"tls13_decrypted_120", []string{"timeline", corpus + "11_tls13_curl_openssl_sni.pcap", "0", "--width", "120", "--keylog", "../testdata/keys/11_tls13_curl_openssl_sni.keys"}},
		{"smtp_starttls_decrypted_120", []string{"timeline", "../testdata/captures/smtp_python_starttls_keys.pcap", "0", "--width", "120", "--keylog", "../testdata/keys/smtp_python_starttls_keys.keys"}},
		{"scan_limit", []string{"timeline", corpus + "16_nmap_syn_scan_1-200.pcap", "--limit", "2"}},
		{"scan_streams", []string{"timeline", corpus + "16_nmap_syn_scan_1-200.pcap", "tcp/7", "0", "--explain"}},
		{"udp_dns", []string{"timeline", corpus + "13_dns_udp_dnsmasq_sll2.pcap", "udp/0", "--explain"}},
		{"mermaid_handshake", []string{"timeline", corpus + "01_tcp_handshake_hello_fin.pcap", "--format", "mermaid"}},
		{"mermaid_refused_explain", []string{"timeline", corpus + "02_tcp_conn_refused_rst.pcap", "--format", "mermaid", "--explain"}},
		{"json_handshake", []string{"timeline", corpus + "01_tcp_handshake_hello_fin.pcap", "--format", "json"}},
		{"json_reset_explain", []string{"timeline", corpus + "03_tcp_abort_rst_midstream.pcap", "--format", "json", "--explain"}},
		{"damaged", []string{"timeline", corpus + "25_truncated_mid_packet.pcap", "--width", "100"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := runCLI(t, nil, tt.args...)
			if code != 0 && tt.name != "damaged" {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			golden.Check(t, []byte(out+"--- stderr\n"+errOut))
		})
	}
}

// TestTimelineWidth: the text ladder fits the width it is given (the
// explanations included), and uses more of it when there is more.
func TestTimelineWidth(t *testing.T) {
	files := []string{"01_tcp_handshake_hello_fin.pcap", "03_tcp_abort_rst_midstream.pcap", "04_http11_keepalive_curl.pcap",
		"13_dns_udp_dnsmasq_sll2.pcap", "20_ipv6_loopback_http_nanosec.pcap", "28_routed_http_loss_retransmit.pcap"}
	for _, f := range files {
		for _, w := range []int{60, 80, 120, 200} {
			out, _, code := runCLI(t, nil, "timeline", corpus+f, "--explain", "--limit", "2", "--width", strconv.Itoa(w))
			if code != 0 {
				t.Fatalf("%s: exit %d", f, code)
			}
			widest := 0
			for _, line := range strings.Split(out, "\n") {
				n := utf8.RuneCountInString(line)
				widest = max(widest, n)
				if n > w {
					t.Errorf("%s --width %d: line of %d columns: %q", f, w, n, line)
				}
			}
			if w == 120 && widest <= 80 {
				t.Errorf("%s --width 120: widest line %d columns: the extra room is not used", f, widest)
			}
		}
	}
}

// mermaidLine is what a line of a sequenceDiagram we write may be.
var mermaidLine = regexp.MustCompile(`^(sequenceDiagram|    autonumber|    participant [A-Z][0-9]+ as [^;#\n]+|    [A-Z][0-9]+--?>>[A-Z][0-9]+: [^;#\n]*|    Note (right of|left of|over) [A-Z][0-9]+(,[A-Z][0-9]+)?: [^;#\n]*)$`)

// TestTimelineMermaid checks the Mermaid export structurally: it starts with
// sequenceDiagram, and every line is a participant, arrow or note line with
// no character Mermaid would misread (entity codes "#NN;" aside).
func TestTimelineMermaid(t *testing.T) {
	for _, args := range [][]string{
		{corpus + "01_tcp_handshake_hello_fin.pcap"},
		{corpus + "02_tcp_conn_refused_rst.pcap", "--explain"},
		{corpus + "16_nmap_syn_scan_1-200.pcap", "--limit", "3"},
		{corpus + "13_dns_udp_dnsmasq_sll2.pcap", "--explain"},
		{corpus + "20_ipv6_loopback_http_nanosec.pcap", "--explain"},
		{corpus + "28_routed_http_loss_retransmit.pcap"},
	} {
		out, errOut, code := runCLI(t, nil, append([]string{"timeline", "--format", "mermaid"}, args...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errOut)
		}
		if !strings.HasPrefix(out, "sequenceDiagram\n") {
			t.Fatalf("%v: does not start with sequenceDiagram: %q", args, out[:min(len(out), 40)])
		}
		entity := regexp.MustCompile(`#[0-9]+;`)
		for i, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
			plain := entity.ReplaceAllString(line, "")
			if !mermaidLine.MatchString(plain) {
				t.Errorf("%v line %d: not a Mermaid line we expect: %q", args, i+1, line)
			}
			text := plain
			if _, after, ok := strings.Cut(plain, ": "); ok {
				text = after
			} else if _, after, ok := strings.Cut(plain, " as "); ok {
				text = after
			}
			if strings.ContainsAny(text, "<>&%{}\x1b") {
				t.Errorf("%v line %d: unescaped special character: %q", args, i+1, line)
			}
		}
	}
}

func TestTimelineStreamRef(t *testing.T) {
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{"tcp/3", "tcp/3", true}, {"3", "tcp/3", true}, {"udp/0", "udp/0", true}, {"TCP/12", "tcp/12", true},
		{"icmp/1", "", false}, {"tcp/", "", false}, {"-1", "", false}, {"tcp/x", "", false}, {"", "", false},
		// By endpoints: no number until the file is read.
		{"10.0.0.1:80", "", true}, {"[::1]:443-10.0.0.1:5", "", true},
		{"10.0.0.1", "", false}, {"10.0.0.1:80-", "", false}, {"host.example:80", "", false},
	}
	for _, tt := range tests {
		sel, err := parseSelector(tt.in)
		id, named := sel.ID()
		if (err == nil) != tt.ok || (tt.ok && named != (tt.want != "")) || (named && id.String() != tt.want) {
			t.Errorf("parseSelector(%q) = %v (%v), %v; want %q ok=%v", tt.in, id, named, err, tt.want, tt.ok)
		}
		var ue *usageError
		if err != nil && !errors.As(err, &ue) {
			t.Errorf("parseSelector(%q): %v is not a usage error", tt.in, err)
		}
	}
}

func TestTimelineErrors(t *testing.T) {
	f := corpus + "01_tcp_handshake_hello_fin.pcap"
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no file", []string{"timeline"}, 2, "needs a capture file"},
		{"bad stream", []string{"timeline", f, "tcp/x"}, 2, `stream "tcp/x"`},
		{"missing stream", []string{"timeline", f, "tcp/4", "udp/1"}, 2, "tcp/4, udp/1: no such stream (the capture has 1 TCP stream (tcp/0) and no UDP flows)"},
		{"bad format", []string{"timeline", f, "--format", "svg"}, 2, `--format "svg"`},
		{"bad color", []string{"timeline", f, "--color", "pink"}, 2, `--color "pink"`},
		{"bad width", []string{"timeline", f, "--width", "-3"}, 2, "--width -3"},
		{"missing file", []string{"timeline", "/nonexistent.pcap"}, 1, "no such file"},
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

// TestTimelineOptions: flags to renderer options; cmd decides colour and
// width, honouring NO_COLOR and $COLUMNS.
func TestTimelineOptions(t *testing.T) {
	tests := []struct {
		name    string
		tty     bool
		env     map[string]string
		color   string
		width   int
		wantCol bool
		wantW   int
	}{
		{"pipe", false, nil, "auto", 0, false, 80},
		{"tty", true, map[string]string{"COLUMNS": "132"}, "auto", 0, true, 132},
		{"tty NO_COLOR", true, map[string]string{"NO_COLOR": "1", "COLUMNS": "100"}, "auto", 0, false, 100},
		{"always", false, nil, "always", 0, true, 80},
		{"never on tty", true, map[string]string{"COLUMNS": "90"}, "never", 0, false, 90},
		{"width flag wins", false, map[string]string{"COLUMNS": "90"}, "auto", 70, false, 70},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("COLUMNS", "")
			os.Unsetenv("COLUMNS")
			t.Setenv("NO_COLOR", "")
			os.Unsetenv("NO_COLOR")
			t.Setenv("TERM", "xterm")
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			o := &timelineOptions{Format: "text", Color: tt.color, Width: tt.width}
			ro, err := o.renderOptions(&streams{OutTTY: tt.tty, Out: &strings.Builder{}})
			if err != nil {
				t.Fatal(err)
			}
			if ro.Color != tt.wantCol || ro.Width != tt.wantW {
				t.Errorf("color %v width %d; want %v %d", ro.Color, ro.Width, tt.wantCol, tt.wantW)
			}
		})
	}
	out, _, _ := runCLI(t, nil, "timeline", corpus+"03_tcp_abort_rst_midstream.pcap", "--color", "always")
	if !strings.Contains(out, "\x1b[31m") {
		t.Errorf("--color always: no red RST arrow in %q", out)
	}
	out, _, _ = runCLI(t, nil, "timeline", corpus+"03_tcp_abort_rst_midstream.pcap")
	if strings.Contains(out, "\x1b") {
		t.Errorf("colour when not on a terminal")
	}
}
