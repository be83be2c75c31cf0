package findings

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// corpusKinds is the exact set of finding kinds each corpus capture must
// give, with why (see testdata/README.md for what each capture is). Every
// detector runs over every capture: a kind not listed must not appear.
var corpusKinds = map[string]struct {
	kinds []Kind
	why   string
}{
	"01_tcp_handshake_hello_fin.pcap": {[]Kind{KindCleartext, KindServices},
		"plain text lines (\"hello\\n\") are a readable protocol, so cleartext; each line came in its own segment: no framing hazard"},
	"02_tcp_conn_refused_rst.pcap": {[]Kind{KindRefused},
		"three SYNs answered by RST on ports 9, 10, 9: refused; 3 targets is far from a scan"},
	"03_tcp_abort_rst_midstream.pcap":      {[]Kind{KindReset, KindCleartext, KindServices}, "the client aborts with RST after data (SO_LINGER=0); text lines"},
	"04_http11_keepalive_curl.pcap":        {[]Kind{KindDelayedACK, KindCleartext, KindServices}, "python http.server writes headers and body separately: the body waits ~40 ms for curl's delayed ACK, 4 times (Nagle); HTTP/1"},
	"05_http11_pipelined_10req.pcapng":     {[]Kind{KindCleartext, KindServices}, "HTTP/1 (pipelining is HTTP's own business: http1 is not a hazard framing)"},
	"06_http10_50_short_conns_ab.pcap":     {[]Kind{KindCleartext, KindServices}, "50 successful HTTP/1.0 connections from one client to one port: not a scan"},
	"08_redis_benchmark_pipeline_P16.pcap": {[]Kind{KindCleartext, KindServices}, "Redis RESP in cleartext"},
	"09_lines_odd_chunks_nodelay.pcap": {[]Kind{KindCleartext, KindFramingHazard, KindServices},
		"text lines written in odd chunks: lines split across segments and several lines per segment; 150 ms between chunks is not a slow sender (500 ms) and TCP_NODELAY leaves no Nagle stall"},
	"10_lenprefix_u32be_split_coalesced.pcap": {[]Kind{KindFramingHazard, KindServices},
		"u32be length prefix (guessed): split headers and coalesced messages; binary framing, so not called cleartext"},
	"11_tls13_curl_openssl_sni.pcap":         {[]Kind{KindTLS, KindServices}, "TLS 1.3 with SNI sockscope.test"},
	"12_tls12_curl_openssl_sni.pcap":         {[]Kind{KindTLS, KindServices}, "TLS 1.2 with SNI sockscope.test"},
	"13_dns_udp_dnsmasq_sll2.pcap":           {nil, "UDP only: the content and connection detectors look at TCP (DNS over UDP has no TLS on the same transport to compare)"},
	"14_dns_tcp_keepopen_u16be.pcap":         {[]Kind{KindCleartext, KindServices}, "DNS over TCP; one message per segment (and dns is not a hazard framing)"},
	"15_udp_echo_sll.pcap":                   {nil, "UDP only"},
	"16_nmap_syn_scan_1-200.pcap":            {[]Kind{KindPortScan, KindRefused, KindServices}, "nmap SYN scan: 197 refused, 22/80/111 open (the scanner's handshake resets belong to the scan, not to reset)"},
	"17_slow_sender_1byte_per_s.pcap":        {[]Kind{KindSlowSender, KindCleartext, KindServices}, "an HTTP request whose first 10 bytes come one per second"},
	"18_websocket_echo.pcap":                 {[]Kind{KindCleartext, KindServices}, "WebSocket after an HTTP/1 upgrade, unencrypted"},
	"19_h2c_nghttp.pcap":                     {[]Kind{KindCleartext, KindServices}, "HTTP/2 with prior knowledge and no TLS (h2c)"},
	"20_ipv6_loopback_http_nanosec.pcap":     {[]Kind{KindCleartext, KindServices}, "HTTP/1 over ::1"},
	"22_veth_udp_ip_fragments.pcap":          {nil, "UDP only"},
	"23_veth_http_1MiB_snaplen64.pcap":       {[]Kind{KindSnaplen, KindServices}, "every frame cut at 64 bytes: no payload captured, so no content claim (cleartext cannot be shown)"},
	"24_mixed_linktypes_eth_sll_sll2.pcapng": {[]Kind{KindCleartext, KindServices}, "01's TCP stream plus UDP"},
	"25_truncated_mid_packet.pcap": {[]Kind{KindDelayedACK, KindUnclosed, KindCleartext, KindServices},
		"04 cut short: its Nagle stalls, and the connection is still open where the file ends (active until the end: info)"},
	"26_corrupt_record_length.pcap": {[]Kind{KindUnclosed, KindCleartext, KindServices}, "04 cut at frame 6: open at the end"},
	"27_truncated_mid_block.pcapng": {[]Kind{KindUnclosed, KindCleartext, KindServices}, "05 cut short: half-closed at the end"},
	"28_routed_http_loss_retransmit.pcap": {[]Kind{KindRetransmit, KindCleartext, KindServices},
		"a router drops every 40th server segment: 6 retransmissions and 13 late hole fills; HTTP across a routed path (warning)"},
	// Large captures of the shared corpus (SOCKSCOPE_CORPUS).
	"07_http_download_5MiB_lo.pcap":           {[]Kind{KindCleartext, KindServices}, "one 5 MiB HTTP download on loopback"},
	"21_veth_ethernet_http_2MiB_mtu1500.pcap": {[]Kind{KindCleartext, KindServices}, "two HTTP downloads over veth"},
}

func corpusFiles(t *testing.T) []string {
	files, _ := filepath.Glob("../testdata/corpus/*")
	if d := os.Getenv("SOCKSCOPE_CORPUS"); d != "" {
		for _, big := range []string{"07_http_download_5MiB_lo.pcap", "21_veth_ethernet_http_2MiB_mtu1500.pcap"} {
			if _, err := os.Stat(filepath.Join(d, big)); err == nil {
				files = append(files, filepath.Join(d, big))
			}
		}
	}
	if len(files) == 0 {
		t.Fatal("no corpus files")
	}
	return files
}

// TestCorpusKinds runs every detector over every corpus capture and checks
// the set of kinds exactly.
func TestCorpusKinds(t *testing.T) {
	for _, p := range corpusFiles(t) {
		name := strings.TrimSuffix(filepath.Base(p), ".gz")
		t.Run(name, func(t *testing.T) {
			want, ok := corpusKinds[name]
			if !ok {
				t.Fatalf("no expected findings for %s: add it to corpusKinds", name)
			}
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			fs := analyze(t, name, b, Config{})
			got := kindsOf(fs)
			var w []string
			for _, k := range want.kinds {
				w = append(w, string(k))
			}
			slices.Sort(got)
			slices.Sort(w)
			if !slices.Equal(got, w) {
				t.Errorf("kinds %v, want %v (%s)%s", got, w, want.why, describe(fs))
			}
		})
	}
}

func corpusFindings(t *testing.T, name string) []Finding {
	t.Helper()
	b, err := os.ReadFile("../testdata/corpus/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return analyze(t, name, b, Config{})
}

func TestCorpusDetails(t *testing.T) {
	tests := []struct {
		file string
		kind Kind
		sev  Severity
		has  []string
	}{
		{"16_nmap_syn_scan_1-200.pcap", KindPortScan, Warning, []string{"127.0.0.1 sent SYNs to 200 ports on 127.0.0.1", "197 refused", "3 open: 22, 80, 111"}},
		{"17_slow_sender_1byte_per_s.pcap", KindSlowSender, Warning, []string{"client trickled 10 B in 10 segments of at most 1 B over 9.003 s"}},
		{"02_tcp_conn_refused_rst.pcap", KindRefused, Info, []string{"3 connection attempts were refused", "127.0.0.1 port 9-10; ::1 port 9"}},
		{"03_tcp_abort_rst_midstream.pcap", KindReset, Warning, []string{"1 by the client, 0 by the server", "reset by client after 49 B"}},
		{"04_http11_keepalive_curl.pcap", KindCleartext, Info, []string{"127.0.0.1:8000 served HTTP/1 in cleartext", "on loopback only"}},
		{"06_http10_50_short_conns_ab.pcap.gz", KindCleartext, Info, []string{"over 50 connections"}},
		{"08_redis_benchmark_pipeline_P16.pcap.gz", KindCleartext, Info, []string{"127.0.0.1:6379 served Redis (RESP)"}},
		{"11_tls13_curl_openssl_sni.pcap", KindTLS, Info, []string{"SNI sockscope.test, TLS 1.3"}},
		{"12_tls12_curl_openssl_sni.pcap", KindTLS, Info, []string{"SNI sockscope.test, TLS 1.2"}},
		{"23_veth_http_1MiB_snaplen64.pcap", KindSnaplen, Warning, []string{"1152 frames of 1152 were cut by the snapshot length (64 bytes)"}},
		{"09_lines_odd_chunks_nodelay.pcap", KindFramingHazard, Info, []string{"line framing", "c→s 4 of 11 messages split", "4 segments carried several messages", "message #7 (5 B) came in 5 segments"}},
		{"10_lenprefix_u32be_split_coalesced.pcap.gz", KindFramingHazard, Info, []string{"len:u32be", "c→s 3 of 10 messages split across segments and 2 segments carried several messages", "s→c 3 of 10 messages split"}},
		{"28_routed_http_loss_retransmit.pcap", KindRetransmit, Warning, []string{"s→c 19 of 737 data segments", "6 retransmissions, 13 out of order"}},
		{"04_http11_keepalive_curl.pcap", KindDelayedACK, Warning, []string{"4 stalls", "data frame 11, delayed ACK frame 12, next data frame 13"}},
		{"27_truncated_mid_block.pcapng", KindUnclosed, Info, []string{"1 half-closed", "the server never closed its side"}},
	}
	for _, tt := range tests {
		t.Run(tt.file+"/"+string(tt.kind), func(t *testing.T) {
			fs := ofKind(corpusFindings(t, tt.file), tt.kind)
			if len(fs) != 1 {
				t.Fatalf("%d %s findings, want 1", len(fs), tt.kind)
			}
			f := fs[0]
			text := f.Message + "\n" + strings.Join(f.Details, "\n")
			for _, h := range tt.has {
				if !strings.Contains(text, h) {
					t.Errorf("missing %q in:\n%s", h, text)
				}
			}
			if f.Severity != tt.sev {
				t.Errorf("severity %s, want %s", f.Severity, tt.sev)
			}
			if len(f.Streams) == 0 || len(f.Frames) == 0 {
				t.Errorf("no evidence: streams %v frames %v", f.Streams, f.Frames)
			}
		})
	}
}

// TestDeterministic: the same capture gives the same findings, twice.
func TestDeterministic(t *testing.T) {
	a := describe(corpusFindings(t, "16_nmap_syn_scan_1-200.pcap"))
	b := describe(corpusFindings(t, "16_nmap_syn_scan_1-200.pcap"))
	if a != b {
		t.Errorf("two runs differ:\n%s\n---\n%s", a, b)
	}
}
