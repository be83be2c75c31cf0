package decode

import (
	"path/filepath"
	"strings"
	"testing"
)

// detectFirst returns up to the first 512 bytes of a fixture, what the driver
// hands Detect.
func detectFirst(t testing.TB, folder, name string) []byte {
	t.Helper()
	b := bFixture(t, folder, name)
	return b[:min(len(b), 512)]
}

// TestDetectCorpus runs Detect on every TCP stream of the corpus captures that
// carry a protocol sockscope frames (and on capture 13's DNS datagrams). Most
// of them use unusual ports (8000, 4433, 8081, 8089), so content must decide.
func TestDetectCorpus(t *testing.T) {
	tests := []struct {
		folder, capture, stream string
		client, server          uint16
		spec, reason            string // reason: a substring
	}{
		{"detect", "04_http11_keepalive_curl", "0", 46472, 8000, "http1", `request line "GET /`},
		{"detect", "05_http11_pipelined_10req", "0", 46480, 8000, "http1", `request line "GET /`},
		{"resp", "08_redis_benchmark_pipeline_P16", "0", 60716, 6379, "resp", "RESP command array (CONFIG)"},
		{"resp", "08_redis_benchmark_pipeline_P16", "1", 60720, 6379, "resp", "RESP command array (SET)"},
		{"resp", "08_redis_benchmark_pipeline_P16", "2", 60732, 6379, "resp", "RESP command array (GET)"},
		{"tls", "11_tls13_curl_openssl_sni", "0", 40324, 4433, "tls", "first bytes are a TLS handshake record"},
		{"tls", "12_tls12_curl_openssl_sni", "0", 40336, 4433, "tls", "first bytes are a TLS handshake record"},
		{"dns", "14_dns_tcp_keepopen_u16be", "0", 36815, 53, "dns", "length-prefixed DNS message (A? www.sockscope.test)"},
		// The WebSocket stream starts as HTTP/1.1; the http1 decoder follows the upgrade.
		{"detect", "18_websocket_echo", "0", 48182, 8089, "http1", `request line "GET /`},
		{"h2", "19_h2c_nghttp", "0", 33736, 8081, "h2", "HTTP/2 connection preface"},
		{"h2", "19_h2c_nghttp", "1", 33742, 8081, "h2", "HTTP/2 connection preface"},
	}
	for _, tt := range tests {
		t.Run(tt.capture+"/tcp/"+tt.stream, func(t *testing.T) {
			in := DetectInput{
				Transport:  Stream,
				ClientPort: tt.client, ServerPort: tt.server,
				C2S: detectFirst(t, tt.folder, tt.capture+"."+tt.stream+".c2s.bin"),
				S2C: detectFirst(t, tt.folder, tt.capture+"."+tt.stream+".s2c.bin"),
			}
			spec, reason := Detect(in)
			if spec != tt.spec || !strings.Contains(reason, tt.reason) {
				t.Errorf("Detect = %q, %q; want %q, reason containing %q", spec, reason, tt.spec, tt.reason)
			}
			// Content alone decides, whatever the ports.
			in.ClientPort, in.ServerPort = 40000, 40001
			if spec2, _ := Detect(in); spec2 != tt.spec {
				t.Errorf("on other ports: %q, want %q", spec2, tt.spec)
			}
		})
	}
	t.Run("13_dns_udp", func(t *testing.T) {
		files, _ := filepath.Glob("testdata/dns/13_dns_udp_dnsmasq_sll2.*.c2s.0.bin")
		if len(files) != 8 {
			t.Fatalf("%d query fixtures, want 8", len(files))
		}
		for _, f := range files {
			base := strings.TrimSuffix(filepath.Base(f), ".c2s.0.bin")
			in := DetectInput{
				Transport: Datagram, ClientPort: 40000, ServerPort: 40001, // content only
				C2S: bFixture(t, "dns", base+".c2s.0.bin"),
				S2C: bFixture(t, "dns", base+".s2c.0.bin"),
			}
			if spec, reason := Detect(in); spec != "dns" || !strings.Contains(reason, "UDP payload parses as a DNS message") {
				t.Errorf("%s: Detect = %q, %q", base, spec, reason)
			}
		}
	})
}

func TestDetect(t *testing.T) {
	tests := []struct {
		name   string
		in     DetectInput
		spec   string
		reason string
	}{
		{"port 6379, no bytes yet", DetectInput{ClientPort: 51000, ServerPort: 6379}, "resp", "port 6379 (Redis)"},
		{"port 443", DetectInput{ClientPort: 51000, ServerPort: 443}, "tls", "port 443 (HTTPS)"},
		{"port 80", DetectInput{ClientPort: 51000, ServerPort: 80}, "http1", "port 80 (HTTP)"},
		{"port 8080", DetectInput{ClientPort: 51000, ServerPort: 8080}, "http1", "port 8080 (HTTP alternate)"},
		{"port 53 over TCP", DetectInput{ClientPort: 51000, ServerPort: 53}, "dns", "port 53 (DNS)"},
		{"client and server swapped", DetectInput{ClientPort: 6379, ServerPort: 51000}, "resp", "port 6379 (Redis)"},
		{"UDP port 53", DetectInput{Transport: Datagram, ClientPort: 51000, ServerPort: 53}, "dns", "port 53 (DNS)"},
		{"UDP 443 is QUIC, not TLS", DetectInput{Transport: Datagram, ClientPort: 51000, ServerPort: 443}, "raw", "no known protocol"},
		{"nothing known", DetectInput{ClientPort: 51000, ServerPort: 9000, C2S: []byte{0, 0, 0, 4, 1, 2, 3, 4}}, "raw", "no known protocol in the first bytes"},
		{"content beats port", DetectInput{ClientPort: 51000, ServerPort: 443, C2S: []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")}, "http1", `request line "GET / HTTP/1.1"`},
		{"request line cut short", DetectInput{ServerPort: 9000, C2S: []byte("POST /upl")}, "http1", `request line "POST /upl"`},
		{"unknown method, complete line", DetectInput{ServerPort: 9000, C2S: []byte("BREW /pot HTTP/1.1\r\n")}, "http1", `"BREW /pot HTTP/1.1"`},
		{"h2 preface beats the request line", DetectInput{ServerPort: 80, C2S: []byte(h2Preface)}, "h2", "HTTP/2 connection preface"},
		{"server speaks first: TLS", DetectInput{ServerPort: 9000, S2C: bHex(t, "16 0303 0004 | 02 000000")}, "tls", "server's first bytes are a TLS handshake record"},
		{"server speaks first: HTTP response", DetectInput{ServerPort: 9000, S2C: []byte("HTTP/1.1 200 OK\r\n")}, "http1", `status line "HTTP/1.1 200 OK"`},
		{"server speaks first: h2 SETTINGS", DetectInput{ServerPort: 9000, S2C: bHex(t, "000006 04 00 00000000 | 0003 00000064")}, "h2", "SETTINGS frame"},
		{"server speaks first: SMTP banner", DetectInput{ServerPort: 2525, S2C: []byte("220 mail.test ESMTP ready\r\n")}, "smtp", `server greeting "220 mail.test ESMTP ready"`},
		{"220 banner, client USER: FTP", DetectInput{ServerPort: 2121, C2S: []byte("USER anonymous\r\n"), S2C: []byte("220 pyftpdlib 1.5.7 ready.\r\n")}, "ftp", "client USER"},
		{"220 banner of no known protocol", DetectInput{ServerPort: 9000, S2C: []byte("220 welcome\r\n")}, "line", `server sends text lines ("220 welcome")`},
		{"POP3 greeting", DetectInput{ServerPort: 1110, S2C: []byte("+OK Dovecot ready.\r\n")}, "pop3", `server greeting "+OK Dovecot ready."`},
		{"client text lines", DetectInput{ServerPort: 9000, C2S: []byte("msg1\nms")}, "line", `client sends text lines ("msg1")`},
		{"RESP command, cut short", DetectInput{ServerPort: 7000, C2S: []byte("*3\r\n$3\r\nSET\r\n$1")}, "resp", "RESP command array"},
		{"TLS record that is not a hello", DetectInput{ServerPort: 9000, C2S: bHex(t, "16 0303 0004 | 0e 000000")}, "raw", "no known protocol"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec, reason := Detect(tt.in)
			if spec != tt.spec || !strings.Contains(reason, tt.reason) {
				t.Errorf("Detect = %q, %q; want %q, reason containing %q", spec, reason, tt.spec, tt.reason)
			}
		})
	}
}

// detectSpecs are the framings Detect may choose.
var detectSpecs = func() map[string]bool {
	m := map[string]bool{"raw": true}
	for _, n := range Framers() {
		m[n] = true
	}
	delete(m, "len")
	delete(m, "fixed")
	delete(m, "ws") // chosen by http1's upgrade, never by Detect
	return m
}()

// FuzzDetect checks that Detect never panics, always names a known framing
// with a reason, and gives the same answer twice.
func FuzzDetect(f *testing.F) {
	f.Add(detectFirst(f, "detect", "04_http11_keepalive_curl.0.c2s.bin"), detectFirst(f, "detect", "04_http11_keepalive_curl.0.s2c.bin"), uint16(8000), false)
	f.Add(detectFirst(f, "tls", "11_tls13_curl_openssl_sni.0.c2s.bin"), detectFirst(f, "tls", "11_tls13_curl_openssl_sni.0.s2c.bin"), uint16(4433), false)
	f.Add(detectFirst(f, "h2", "19_h2c_nghttp.0.c2s.bin"), detectFirst(f, "h2", "19_h2c_nghttp.0.s2c.bin"), uint16(8081), false)
	f.Add(detectFirst(f, "resp", "08_redis_benchmark_pipeline_P16.1.c2s.bin"), detectFirst(f, "resp", "08_redis_benchmark_pipeline_P16.1.s2c.bin"), uint16(6379), false)
	f.Add(detectFirst(f, "dns", "14_dns_tcp_keepopen_u16be.0.c2s.bin"), detectFirst(f, "dns", "14_dns_tcp_keepopen_u16be.0.s2c.bin"), uint16(53), false)
	f.Add(detectFirst(f, "dns", "13_dns_udp_dnsmasq_sll2.4.c2s.0.bin"), detectFirst(f, "dns", "13_dns_udp_dnsmasq_sll2.4.s2c.0.bin"), uint16(5353), true)
	f.Add(detectFirst(f, "kafka", "kafka_franz_kfake.1.c2s.bin"), detectFirst(f, "kafka", "kafka_franz_kfake.1.s2c.bin"), uint16(19092), false)
	f.Add(detectFirst(f, "nats", "nats_go_pub_sub_request.0.c2s.bin"), detectFirst(f, "nats", "nats_go_pub_sub_request.0.s2c.bin"), uint16(14222), false)
	f.Add(detectFirst(f, "amqp", "amqp_pika_rabbitmq.0.c2s.bin"), detectFirst(f, "amqp", "amqp_pika_rabbitmq.0.s2c.bin"), uint16(5673), false)
	f.Add(detectFirst(f, "grpc", "grpc_go_unary_stream.0.c2s.bin"), detectFirst(f, "grpc", "grpc_go_unary_stream.0.s2c.bin"), uint16(50052), false)
	f.Fuzz(func(t *testing.T, c2s, s2c []byte, port uint16, udp bool) {
		in := DetectInput{Transport: Stream, ClientPort: 50000, ServerPort: port, C2S: c2s, S2C: s2c}
		if udp {
			in.Transport = Datagram
		}
		spec, reason := Detect(in)
		if !detectSpecs[spec] || reason == "" {
			t.Fatalf("Detect = %q, %q", spec, reason)
		}
		if spec2, reason2 := Detect(in); spec2 != spec || reason2 != reason {
			t.Fatalf("not deterministic: %q %q then %q %q", spec, reason, spec2, reason2)
		}
	})
}
