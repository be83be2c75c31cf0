package cmd

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sockscope/sockscope/internal/golden"
	"github.com/sockscope/sockscope/internal/pcapgen"
)

func TestFollowGolden(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"lines_split_coalesced", []string{corpus + "09_lines_odd_chunks_nodelay.pcap", "tcp/0", "--framing", "line"}},
		{"u32be", []string{corpus + "10_lenprefix_u32be_split_coalesced.pcap.gz", "0", "--framing", "len:u32be"}},
		{"http_keepalive_auto", []string{corpus + "04_http11_keepalive_curl.pcap", "0"}},
		{"http_pipelining", []string{corpus + "05_http11_pipelined_10req.pcapng", "0"}},
		{"redis_pipeline", []string{corpus + "08_redis_benchmark_pipeline_P16.pcap.gz", "tcp/1", "--dir", "c2s"}},
		{"tls13", []string{corpus + "11_tls13_curl_openssl_sni.pcap", "0"}},
		{"tls_split_records", []string{"../testdata/captures/tls13_records_split_mtu1500.pcap", "0", "--dir", "s2c"}},
		{"dns_tcp", []string{corpus + "14_dns_tcp_keepopen_u16be.pcap", "0"}},
		{"websocket", []string{corpus + "18_websocket_echo.pcap.gz", "0"}},
		{"h2c", []string{corpus + "19_h2c_nghttp.pcap", "0"}},
		{"resp_replies", []string{corpus + "08_redis_benchmark_pipeline_P16.pcap.gz", "tcp/2", "--dir", "s2c"}},
		{"tls12_certificate", []string{corpus + "12_tls12_curl_openssl_sni.pcap", "0"}},
		{"loss_elided", []string{corpus + "28_routed_http_loss_retransmit.pcap", "0", "--dir", "s2c"}},
		// raw framing in stream order: each segment carries its own message, the
		// ones that came ahead of the lost segment too.
		{"loss_raw", []string{corpus + "28_routed_http_loss_retransmit.pcap", "0", "--dir", "s2c", "--framing", "raw"}},
		{"snaplen_gaps", []string{corpus + "23_veth_http_1MiB_snaplen64.pcap", "0", "--dir", "c2s"}},
		{"udp_fragments", []string{corpus + "22_veth_udp_ip_fragments.pcap", "udp/0"}},
		{"dns_udp", []string{corpus + "13_dns_udp_dnsmasq_sll2.pcap", "udp/5"}},
		{"json_lines", []string{corpus + "09_lines_odd_chunks_nodelay.pcap", "0", "--framing", "line", "--format", "json"}},
		{"transcript", []string{corpus + "01_tcp_handshake_hello_fin.pcap", "0", "--transcript"}},
		{"framing_error", []string{corpus + "04_http11_keepalive_curl.pcap", "0", "--framing", "tls", "--dir", "c2s"}},
		{"pgsql_error", []string{"../testdata/captures/pg_psql_query_error.pcap", "0", "--dir", "s2c"}},
		{"pgsql_extended", []string{"../testdata/captures/pg_pgbench_extended.pcap", "1"}},
		{"pgsql_ssl_switch", []string{"../testdata/captures/pg_sslrequest_tls.pcap", "0"}},
		{"mysql", []string{"../testdata/captures/mysql_query_error.pcap", "0", "--dir", "c2s"}},
		{"mqtt", []string{"../testdata/captures/mqtt_v311_v5.pcap", "1"}},
		{"kafka_produce", []string{"../testdata/captures/kafka_franz_kfake.pcap", "3"}},
		{"nats", []string{"../testdata/captures/nats_go_pub_sub_request.pcap", "0", "--dir", "s2c"}},
		{"amqp", []string{"../testdata/captures/amqp_pika_rabbitmq.pcap", "0"}},
		{"grpc_tls_decrypted", []string{"../testdata/captures/grpc_go_tls_keylog.pcap", "0", "--dir", "s2c", "--keylog", "../testdata/keys/grpc_go_tls_keylog.keys"}},
		{"grpc_go", []string{"../testdata/captures/grpc_go_unary_stream.pcap", "0", "--dir", "c2s"}},
		{"ssh", []string{"../testdata/captures/ssh_exec.pcap", "0", "--dir", "s2c"}},
		{"memcached_binary", []string{"../testdata/captures/memcached_text_binary.pcap", "3"}},
		{"memcached_stats", []string{"../testdata/captures/memcached_text_binary.pcap", "2", "--dir", "s2c"}},
		{"http_connect_tls", []string{"../testdata/captures/http_connect_tls.pcap", "0"}},
		{"smtp", []string{"../testdata/captures/smtp_curl_python.pcap", "0"}},
		{"ftp", []string{"../testdata/captures/ftp_curl_pyftpdlib.pcap", "2"}},
		{"pop3_stls", []string{"../testdata/captures/pop3_dovecot_stls.pcap", "2"}},
		{"imap", []string{"../testdata/captures/imap_dovecot_starttls.pcap", "0"}},
		{"tunnel_geneve_path", []string{"../testdata/captures/tunnels/tunnel_geneve.pcap", "0", "--dir", "c2s"}},
		{"dup_mirror_copies", []string{"../testdata/captures/tunnels/dup_mirror.pcap", "1", "--dir", "c2s"}},
		{"dup_mirror_copies_json", []string{"../testdata/captures/tunnels/dup_mirror.pcap", "0", "--dir", "c2s", "--format", "json"}},
		{"tls13_decrypted", []string{corpus + "11_tls13_curl_openssl_sni.pcap", "0", "--keylog", "../testdata/keys/11_tls13_curl_openssl_sni.keys"}},
		{"tls12_decrypted_json", []string{corpus + "12_tls12_curl_openssl_sni.pcap", "0", "--keylog", "../testdata/keys/12_tls12_curl_openssl_sni.keys", "--format", "json"}},
		{"tls13_h2_decrypted", []string{"../decode/tlsdec/testdata/51_tls13_curl_nghttpd_h2.pcap", "0", "--dir", "s2c", "--keylog", "../decode/tlsdec/testdata/51_tls13_curl_nghttpd_h2.keys"}},
		{"tls13_embedded_secrets", []string{"../decode/tlsdec/testdata/50_tls13_embedded_secrets.pcapng", "0", "--dir", "c2s", "--framing", "line"}},
		{"imap_starttls_decrypted", []string{"../testdata/captures/imap_dovecot_starttls_keys.pcap", "0", "--keylog", "../testdata/keys/imap_dovecot_starttls_keys.keys"}},
		{"pop3_stls_decrypted", []string{"../testdata/captures/pop3_dovecot_stls_keys.pcap", "0", "--dir", "s2c", "--keylog", "../testdata/keys/pop3_dovecot_stls_keys.keys"}},
		{"smtp_starttls_decrypted", []string{"../testdata/captures/smtp_python_starttls_keys.pcap", "0", "--dir", "c2s", "--keylog", "../testdata/keys/smtp_python_starttls_keys.keys"}},
		{"tls13_no_keys_hint", []string{corpus + "11_tls13_curl_openssl_sni.pcap", "0", "--dir", "c2s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := runCLI(t, nil, append([]string{"follow", "--width", "100"}, tt.args...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			golden.Check(t, []byte(out))
		})
	}
}

// TestFollowRaw: --format raw writes exactly tshark's Follow TCP Stream bytes.
func TestFollowRaw(t *testing.T) {
	raw, err := os.ReadFile("../testdata/tshark/04_http11_keepalive_curl.pcap.json")
	if err != nil {
		t.Fatal(err)
	}
	var want struct {
		TCP []struct {
			Sides []struct {
				Endpoint, SHA256 string
			}
		}
	}
	json.Unmarshal(raw, &want)
	for i, dir := range []string{"c2s", "s2c"} {
		out, _, code := runCLI(t, nil, "follow", corpus+"04_http11_keepalive_curl.pcap", "tcp/0", "--format", "raw", "--dir", dir)
		sum := sha256.Sum256([]byte(out))
		if code != 0 || hex.EncodeToString(sum[:]) != want.TCP[0].Sides[i].SHA256 {
			t.Errorf("%s: exit %d, sha256 %x, tshark %s", dir, code, sum, want.TCP[0].Sides[i].SHA256)
		}
	}
}

// TestFollowEscapes: a payload full of terminal attacks prints as visible
// escapes in every text view; only --format raw passes bytes through.
func TestFollowEscapes(t *testing.T) {
	attack := "\x1b[2J\x1b[H\x1b]52;c;cm0gLXJmIH4K\x07\u202eevil\u2066\x9b31m\x00\x7f\r\n"
	var c pcapgen.Capture
	k := pcapgen.NewConn(&c, netip.MustParseAddrPort("10.0.0.1:40000"), netip.MustParseAddrPort("10.0.0.2:80"), 1, 2)
	k.Handshake()
	k.Send(0, []byte("GET /"+attack+" HTTP/1.1\r\nHost: "+attack+"\r\n\r\n"))
	k.Send(1, []byte(attack+"line two\n"))
	k.Fin(0)
	k.Fin(1)
	path := filepath.Join(t.TempDir(), "attack.pcap")
	if err := os.WriteFile(path, c.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"follow", path, "0"},
		{"follow", path, "0", "--transcript"},
		{"follow", path, "0", "--framing", "line"},
		{"follow", path, "0", "--framing", "raw"},
		{"read", path},
	} {
		out, errOut, code := runCLI(t, nil, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d %s", args, code, errOut)
		}
		for _, bad := range []string{"\x1b", "\x07", "\u202e", "\u2066", "\u009b", "\x00", "\x7f", "\r"} {
			if strings.Contains(out, bad) {
				t.Errorf("%v: output contains raw %q", args, bad)
			}
		}
	}
	out, _, _ := runCLI(t, nil, "follow", path, "0", "--format", "raw", "--dir", "s2c")
	if out != attack+"line two\n" {
		t.Errorf("raw output changed the bytes: %q", out)
	}
}

func TestFollowErrors(t *testing.T) {
	f := corpus + "01_tcp_handshake_hello_fin.pcap"
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"follow", f, "tcp/9"}, 2, "has no tcp/9: it has 1 TCP streams"},
		{[]string{"follow", f, "http/0"}, 2, "want tcp/N, udp/N or N"},
		{[]string{"follow", f, "0", "--format", "raw"}, 2, "needs --dir"},
		{[]string{"follow", f, "0", "--framing", "len:u24"}, 2, "--framing"},
		{[]string{"follow", f}, 2, "needs a capture file and a stream"},
	}
	for _, tt := range tests {
		_, errOut, code := runCLI(t, nil, tt.args...)
		if code != tt.code || !strings.Contains(errOut, tt.want) {
			t.Errorf("%v: exit %d %q, want %d %q", tt.args, code, errOut, tt.code, tt.want)
		}
	}
}

// TestStreamSpellings: follow and timeline take the same stream spellings
// (reassembly.ParseStreamID) and refuse the same ones with the same words.
func TestStreamSpellings(t *testing.T) {
	f := corpus + "01_tcp_handshake_hello_fin.pcap"
	for _, view := range []string{"follow", "timeline"} {
		want, _, code := runCLI(t, nil, view, f, "tcp/0")
		if code != 0 {
			t.Fatalf("%s tcp/0: exit %d", view, code)
		}
		for _, s := range []string{"0", "TCP/0", "Tcp/0"} {
			got, errOut, code := runCLI(t, nil, view, f, s)
			if code != 0 || got != want {
				t.Errorf("%s %s: exit %d %q, want the output of tcp/0", view, s, code, errOut)
			}
		}
		for _, s := range []string{"tcp/+0", "tcp/-1", "http/0", "tcp/"} {
			_, errOut, code := runCLI(t, nil, view, f, s)
			if code != 2 || !strings.Contains(errOut, "want tcp/N, udp/N or N (N a stream number from 0") {
				t.Errorf("%s %s: exit %d %q, want a usage error naming the spellings", view, s, code, errOut)
			}
		}
	}
}

// TestStreamByEndpoints: follow and timeline take a stream named by one
// endpoint or both (either order), list the matches when there are several,
// and timeline --all-matching draws them all.
func TestStreamByEndpoints(t *testing.T) {
	f := corpus + "06_http10_50_short_conns_ab.pcap.gz"
	for _, view := range []string{"follow", "timeline"} {
		want, _, code := runCLI(t, nil, view, f, "tcp/1")
		if code != 0 {
			t.Fatalf("%s tcp/1: exit %d", view, code)
		}
		for _, s := range []string{"127.0.0.1:36618", "127.0.0.1:8080-127.0.0.1:36618", "127.0.0.1:36618-127.0.0.1:8080", "[::ffff:127.0.0.1]:36618"} {
			got, errOut, code := runCLI(t, nil, view, f, s)
			if code != 0 || got != want || !strings.Contains(errOut, s+" is tcp/1 127.0.0.1:36618 → 127.0.0.1:8080 (12 packets)") {
				t.Errorf("%s %s: exit %d, stderr %q; want tcp/1's view and a line naming it", view, s, code, errOut)
			}
		}
		_, errOut, code := runCLI(t, nil, view, f, "127.0.0.1:8080")
		if code != exitUsage || !strings.Contains(errOut, "  tcp/0 127.0.0.1:36604 → 127.0.0.1:8080 (12 packets)\n") ||
			!strings.Contains(errOut, "  … and 30 more\n") || !strings.Contains(errOut, "matches the 50 streams of") {
			t.Errorf("%s 127.0.0.1:8080: exit %d, stderr %q; want the 50 streams listed, exit 2", view, code, errOut)
		}
		if _, errOut, code := runCLI(t, nil, view, f, "127.0.0.1:9"); code != exitUsage || !strings.Contains(errOut, "has no stream with 127.0.0.1:9") {
			t.Errorf("%s 127.0.0.1:9: exit %d %q", view, code, errOut)
		}
		if _, errOut, code := runCLI(t, []byte{}, view, "-", "127.0.0.1:9"); code != exitUsage || !strings.Contains(errOut, "needs a capture file") {
			t.Errorf("%s - 127.0.0.1:9: exit %d %q", view, code, errOut)
		}
	}
	all, _, _ := runCLI(t, nil, "timeline", f, "--all")
	if got, errOut, code := runCLI(t, nil, "timeline", f, "127.0.0.1:8080", "--all-matching"); code != 0 || got != all {
		t.Errorf("timeline 127.0.0.1:8080 --all-matching: exit %d %q; want every stream drawn", code, errOut)
	}
}
