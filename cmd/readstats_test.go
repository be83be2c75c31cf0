package cmd

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/sockscope/sockscope/internal/golden"
)

// TestReadStatsFacts: read --stats frames every stream as it streams through
// and counts messages; the totals equal the corpus facts (checked with tshark,
// shared/corpus/README.txt).
func TestReadStatsFacts(t *testing.T) {
	tests := []struct {
		file, framing string
		c2s, s2c      int
	}{
		{"04_http11_keepalive_curl.pcap", "http1", 5, 5},
		{"05_http11_pipelined_10req.pcapng", "http1", 10, 10},
		{"06_http10_50_short_conns_ab.pcap.gz", "http1", 50, 50},
		{"08_redis_benchmark_pipeline_P16.pcap.gz", "resp", 3202, 3202},
		{"09_lines_odd_chunks_nodelay.pcap", "line", 11, 11},
		{"13_dns_udp_dnsmasq_sll2.pcap", "dns", 8, 8},
		{"14_dns_tcp_keepopen_u16be.pcap", "dns", 4, 4},
		{"17_slow_sender_1byte_per_s.pcap", "http1", 1, 1},
		{"20_ipv6_loopback_http_nanosec.pcap", "http1", 2, 2},
		{"28_routed_http_loss_retransmit.pcap", "http1", 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			out, errOut, code := runCLI(t, nil, "read", "--stats", "--no-findings", "--format", "json", corpus+tt.file)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			var c2s, s2c int
			for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
				var r struct {
					Type, Framing string
					C2S           *int `json:"messages_c2s"`
					S2C           *int `json:"messages_s2c"`
				}
				if err := json.Unmarshal([]byte(line), &r); err != nil {
					t.Fatal(err)
				}
				if r.Type != "stream" {
					continue
				}
				if r.C2S == nil || r.S2C == nil {
					t.Fatalf("stream record without message counts: %s", line)
				}
				if r.Framing != tt.framing && r.Framing != "" {
					t.Errorf("framing %q, want %q", r.Framing, tt.framing)
				}
				c2s += *r.C2S
				s2c += *r.S2C
			}
			if c2s != tt.c2s || s2c != tt.s2c {
				t.Errorf("messages c2s %d s2c %d, want %d %d", c2s, s2c, tt.c2s, tt.s2c)
			}
		})
	}
}

func TestReadStatsGolden(t *testing.T) {
	for _, tt := range []struct{ name, file, format string }{
		{"text", "04_http11_keepalive_curl.pcap", "text"},
		{"json", "13_dns_udp_dnsmasq_sll2.pcap", "json"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := runCLI(t, nil, "read", "--stats", "--format", tt.format, corpus+tt.file)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			golden.Check(t, []byte(out))
		})
	}
}
