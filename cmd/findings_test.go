package cmd

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/sockscope/sockscope/internal/golden"
)

// TestFindings: the Findings section of read, text and JSON, on captures
// that show each kind of finding.
func TestFindings(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
	}{
		{"text_scan", []string{"read", corpus + "16_nmap_syn_scan_1-200.pcap", "--limit", "3"}, 0},
		{"text_slow_sender", []string{"read", corpus + "17_slow_sender_1byte_per_s.pcap"}, 0},
		{"text_nagle_cleartext", []string{"read", corpus + "04_http11_keepalive_curl.pcap"}, 0},
		{"text_framing_hazard_lines", []string{"read", corpus + "09_lines_odd_chunks_nodelay.pcap"}, 0},
		{"text_framing_hazard_len", []string{"read", corpus + "10_lenprefix_u32be_split_coalesced.pcap.gz"}, 0},
		{"text_tls", []string{"read", corpus + "11_tls13_curl_openssl_sni.pcap"}, 0},
		{"text_loss", []string{"read", corpus + "28_routed_http_loss_retransmit.pcap"}, 0},
		{"text_none", []string{"read", corpus + "15_udp_echo_sll.pcap"}, 0},
		{"text_tuned_off", []string{"read", corpus + "17_slow_sender_1byte_per_s.pcap", "--slow-min-segments", "11", "--hazard-framings", "http1"}, 0},
		{"text_disabled", []string{"read", corpus + "16_nmap_syn_scan_1-200.pcap", "--limit", "1", "--no-findings"}, 0},
		{"json_scan", []string{"read", "--format", "json", corpus + "16_nmap_syn_scan_1-200.pcap"}, 0},
		{"json_reset", []string{"read", "--format", "json", corpus + "03_tcp_abort_rst_midstream.pcap"}, 0},
		{"json_damaged_unclosed", []string{"read", "--format", "json", corpus + "27_truncated_mid_block.pcapng"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := runCLI(t, nil, tt.args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tt.code, errOut)
			}
			if strings.HasPrefix(tt.name, "json") {
				// Only the finding records: the rest is TestGolden's.
				var keep []string
				for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
					var r struct{ Type string }
					if err := json.Unmarshal([]byte(line), &r); err != nil {
						t.Fatalf("bad JSON %q: %v", line, err)
					}
					if r.Type == "finding" {
						keep = append(keep, line)
					}
				}
				out = strings.Join(keep, "\n") + "\n"
			}
			golden.Check(t, []byte(out+"--- stderr\n"+errOut))
		})
	}
}

func TestFindingsFlagErrors(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"read", "--scan-min-failed", "2", corpus + "01_tcp_handshake_hello_fin.pcap"}, "--scan-min-failed 2"},
		{[]string{"read", "--hazard-framings", "xml", corpus + "01_tcp_handshake_hello_fin.pcap"}, `--hazard-framings "xml"`},
		{[]string{"read", "--slow-min-gap", "soon", corpus + "01_tcp_handshake_hello_fin.pcap"}, "slow-min-gap"},
	} {
		_, errOut, code := runCLI(t, nil, tt.args...)
		if code != exitUsage || !strings.Contains(errOut, tt.want) {
			t.Errorf("%v: exit %d stderr %q; want exit 2 and %q", tt.args, code, errOut, tt.want)
		}
	}
}

// TestHelpPutsTuningLast: read, report and live list the findings'
// thresholds under a heading of their own after the flags most users need,
// and every one of them is still there and still accepted.
func TestHelpPutsTuningLast(t *testing.T) {
	for _, cmd := range []string{"read", "report", "live"} {
		out, _, code := runCLI(t, nil, cmd, "--help")
		if code != 0 {
			t.Fatalf("%s --help: exit %d", cmd, code)
		}
		main, tuning, ok := strings.Cut(out, "\nFindings tuning")
		if !ok {
			t.Fatalf("%s --help has no Findings tuning section:\n%s", cmd, out)
		}
		if strings.Contains(main, "findings:") || strings.Count(tuning, "\n      --") < 19 {
			t.Errorf("%s --help: thresholds before the tuning heading, or fewer than 19 after it:\n%s", cmd, out)
		}
		if !strings.Contains(main, "--no-findings") {
			t.Errorf("%s --help: --no-findings should stay with the main flags", cmd)
		}
	}
	// Hidden only while help is written: the flags still parse.
	f := corpus + "01_tcp_handshake_hello_fin.pcap"
	if _, errOut, code := runCLI(t, nil, "read", f, "--scan-min-targets", "5", "--rto-min", "1s"); code != 0 {
		t.Errorf("read with tuning flags: exit %d %s", code, errOut)
	}
}
