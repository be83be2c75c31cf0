package cmd

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"html"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/sockscope/sockscope/internal/golden"
	"github.com/sockscope/sockscope/internal/pcapgen"
)

// hostilePcap writes an HTTP exchange on port 80 carrying req and resp, each
// split in two segments, and one UDP datagram carrying a terminal title
// escape and req again.
func hostilePcap(req, resp []byte) []byte {
	var c pcapgen.Capture
	k := pcapgen.NewConn(&c, netip.MustParseAddrPort("10.0.0.1:40000"), netip.MustParseAddrPort("10.0.0.2:80"), 1000, 5000)
	k.Handshake()
	k.Send(0, req[:len(req)/2])
	k.Send(0, req[len(req)/2:])
	k.Ack(1)
	k.Send(1, resp[:len(resp)/3])
	k.Send(1, resp[len(resp)/3:])
	k.Ack(0)
	k.Fin(0)
	k.Fin(1)
	k.Ack(0)
	c.UDP(k.T, netip.MustParseAddrPort("10.0.0.1:40001"), netip.MustParseAddrPort("10.0.0.2:9999"), append([]byte("\x1b]0;title\x07"), req...))
	return c.Bytes()
}

func reportPage(t *testing.T, args ...string) (string, string) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "r.html")
	_, stderr, code := runCLI(t, nil, append(append([]string{"report"}, args...), "-o", out)...)
	if code != 0 {
		t.Fatalf("report %v: exit %d: %s", args, code, stderr)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return string(b), stderr
}

func TestReportPageIsSelfContained(t *testing.T) {
	page, _ := reportPage(t, corpus+"09_lines_odd_chunks_nodelay.pcap")
	m := regexp.MustCompile(`<meta http-equiv="Content-Security-Policy" content="([^"]+)">`).FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no Content-Security-Policy meta tag")
	}
	csp := html.UnescapeString(m[1])
	for _, want := range []string{"default-src 'none'", "img-src data:", "base-uri 'none'", "form-action 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") || strings.Contains(csp, "http") {
		t.Errorf("CSP %q allows inline code, eval or network loads", csp)
	}
	// The hashes are those of the page's own style and script, exactly.
	hash := func(s string) string {
		h := sha256.Sum256([]byte(s))
		return "'sha256-" + base64.StdEncoding.EncodeToString(h[:]) + "'"
	}
	style := regexp.MustCompile(`(?s)<style>(.*?)</style>`).FindStringSubmatch(page)
	script := regexp.MustCompile(`(?s)<script>(.*?)</script>`).FindStringSubmatch(page)
	if style == nil || script == nil {
		t.Fatal("no inline style or script")
	}
	if !strings.Contains(csp, "style-src "+hash(style[1])) || !strings.Contains(csp, "script-src "+hash(script[1])) {
		t.Errorf("CSP %q does not carry the hashes of the page's style and script", csp)
	}
	for _, bad := range []string{"src=\"http", "href=\"http", "@import", "url(http", "<link", "<iframe"} {
		if strings.Contains(page, bad) {
			t.Errorf("page contains %q: it must load nothing from elsewhere", bad)
		}
	}
	if n := strings.Count(page, "<script"); n != 2 {
		t.Errorf("%d <script> tags, want 2 (the JSON data and the code)", n)
	}
}

func TestReportEscapesPayload(t *testing.T) {
	dir := t.TempDir()
	capPath := filepath.Join(dir, "x<img src=y onerror=alert(1)>.pcap")
	if err := os.WriteFile(capPath, hostileCapture(), 0o644); err != nil {
		t.Fatal(err)
	}
	page, _ := reportPage(t, capPath)
	for _, bad := range []string{"<img", "<svg onload", "<script>document", "</script><script>", "<a href=\"javascript", "\x1b", "\u202e"} {
		if strings.Contains(page, bad) {
			t.Errorf("page contains %q unescaped", bad)
		}
	}
	if !strings.Contains(page, `x&lt;img src=y onerror=alert(1)&gt;.pcap`) {
		t.Error("the file name is not shown, HTML-escaped, in the page")
	}
	// Payload previews pass through textsafe (the ESC of the OSC sequence
	// shows as \e), then JSON's HTML-safe escaping.
	if !strings.Contains(page, `\\e]0;title`) {
		t.Error("the terminal escape in the payload is not shown as \\e")
	}
	if !strings.Contains(page, `\u003cscript\u003edocument.body.setAttribute`) {
		t.Error("the payload's <script> is not in the JSON data as \\u003cscript\\u003e")
	}
}

func TestReportDeterministic(t *testing.T) {
	a, _ := reportPage(t, corpus+"04_http11_keepalive_curl.pcap")
	b, _ := reportPage(t, corpus+"04_http11_keepalive_curl.pcap")
	if a != b {
		t.Error("two runs on the same capture wrote different pages")
	}
}

func TestReportMaxSize(t *testing.T) {
	full, _ := reportPage(t, corpus+"16_nmap_syn_scan_1-200.pcap")
	page, stderr := reportPage(t, corpus+"16_nmap_syn_scan_1-200.pcap", "--max-size", "150KB")
	if len(page) > 150_000 {
		t.Errorf("page is %d bytes, over --max-size 150KB", len(page))
	}
	if len(page) >= len(full) {
		t.Errorf("capped page %d bytes, not smaller than the full page %d", len(page), len(full))
	}
	for _, want := range []string{"Left out of this page", "to keep the page under --max-size"} {
		if !strings.Contains(page, want) {
			t.Errorf("capped page lacks %q", want)
		}
		if !strings.Contains(stderr, "left out") {
			t.Errorf("stderr does not say what was left out: %q", stderr)
		}
	}
	small, _ := reportPage(t, corpus+"16_nmap_syn_scan_1-200.pcap", "--streams", "3")
	if n := strings.Count(small, `<section class="stream"`); n != 3 {
		t.Errorf("--streams 3: %d stream sections, want 3", n)
	}
	if !strings.Contains(small, "197 streams beyond the first 3") {
		t.Error("--streams 3: the page does not say 197 streams are not drawn")
	}
}

func TestReportUDPAndPreviews(t *testing.T) {
	page, _ := reportPage(t, corpus+"13_dns_udp_dnsmasq_sll2.pcap", "--preview", "0")
	if !strings.Contains(page, `<section class="stream" id="udp-0"`) {
		t.Error("no section for udp/0")
	}
	if strings.Contains(page, `"p":"`) {
		t.Error("--preview 0 still wrote payload previews")
	}
}

func TestReportErrors(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "r.html")
	tests := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"bad_size", []string{"report", corpus + "04_http11_keepalive_curl.pcap", "-o", out, "--max-size", "lots"}, 2, "--max-size"},
		{"duration_without_iface", []string{"report", corpus + "04_http11_keepalive_curl.pcap", "-o", out, "--duration", "5s"}, 2, "-i IFACE"},
		{"bad_framing", []string{"report", corpus + "04_http11_keepalive_curl.pcap", "-o", out, "--framing", "nope"}, 2, "--framing"},
		{"negative_streams", []string{"report", corpus + "04_http11_keepalive_curl.pcap", "-o", out, "--streams", "-1"}, 2, "--streams"},
		{"no_file", []string{"report", "-o", out}, 2, "needs a capture file"},
		{"missing_file", []string{"report", filepath.Join(dir, "nope.pcap"), "-o", out}, 1, "no such file"},
		{"bad_dir", []string{"report", corpus + "04_http11_keepalive_curl.pcap", "-o", filepath.Join(dir, "no", "r.html")}, 1, "write report"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, code := runCLI(t, nil, tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.msg) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, stderr, tc.code, tc.msg)
			}
			if _, err := os.Stat(out); err == nil {
				t.Errorf("a page was written despite the error")
			}
		})
	}
}

func TestReportStdout(t *testing.T) {
	stdout, _, code := runCLI(t, nil, "report", corpus+"01_tcp_handshake_hello_fin.pcap", "-o", "-")
	if code != 0 || !strings.HasPrefix(stdout, "<!DOCTYPE html>") {
		t.Errorf("exit %d, stdout starts %q", code, stdout[:min(len(stdout), 40)])
	}
	// Not a terminal: standard output is the default.
	stdout2, _, _ := runCLI(t, nil, "report", corpus+"01_tcp_handshake_hello_fin.pcap")
	if !bytes.Equal([]byte(stdout), []byte(stdout2)) {
		t.Error("report without -o (piped) differs from -o -")
	}
}

// TestReportTLSDecrypted: with --keylog the report names the TLS layer and
// the messages inside on the ladder; without, neither appears.
func TestReportTLSDecrypted(t *testing.T) {
	page, _ := reportPage(t, corpus+"11_tls13_curl_openssl_sni.pcap", "--keylog", "../testdata/keys/11_tls13_curl_openssl_sni.keys")
	for _, want := range []string{"TLS 1.3 · TLS_AES_256_GCM_SHA384 · SNI sockscope.test · 11 of 11 encrypted records decrypted",
		"↳ http1 #1 GET /", "↳ http1 #1 200 ok 4.3 KiB text/html", "1 http1 message in 10 TLS records in 5 segments"} {
		if !strings.Contains(html.UnescapeString(page), want) {
			t.Errorf("report with keys lacks %q", want)
		}
	}
	page, _ = reportPage(t, corpus+"11_tls13_curl_openssl_sni.pcap")
	if strings.Contains(page, "↳ http1") || strings.Contains(page, "encrypted records decrypted") {
		t.Error("report without keys shows decrypted messages")
	}
}

// TestReportTunnelPath: the report names the path each stream came through
// (in the table and in the stream's facts) and the packets seen twice
// through two paths.
func TestReportTunnelPath(t *testing.T) {
	page, _, code := runCLI(t, nil, "report", "../testdata/captures/tunnels/tunnel_pppoe-qinq.pcap", "-o", "-")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"via 802.1ad 300 › VLAN 10 › PPPoE session 0x1234", "path 802.1ad 300 › VLAN 10 › PPPoE session 0x1234"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	page, _, _ = runCLI(t, nil, "report", "../testdata/captures/tunnels/dup_mirror.pcap", "-o", "-")
	for _, want := range []string{"via IPv4 10.97.0.1→10.97.0.2 › VXLAN 77", "12 packets seen twice (no encapsulation, then IPv4 10.97.0.1→10.97.0.2 › VXLAN 77)", "path_duplicates"} {
		if !strings.Contains(page, want) {
			t.Errorf("dup_mirror page lacks %q", want)
		}
	}
}

// TestReportTLSGolden: the page of a decrypted stream, its framing map data
// in three rows (segments, TLS records, the messages inside with the records
// they span). The page's own stylesheet, script and their hashes in the
// Content-Security-Policy are left out (other tests check them); the JSON
// the script draws from is indented, one field a line.
func TestReportTLSGolden(t *testing.T) {
	for _, tc := range []struct{ name, capture, keys string }{
		{"tls13", "11_tls13_curl_openssl_sni.pcap", "11_tls13_curl_openssl_sni.keys"},
		{"tls12", "12_tls12_curl_openssl_sni.pcap", "12_tls12_curl_openssl_sni.keys"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			page, _ := reportPage(t, corpus+tc.capture, "--keylog", "../testdata/keys/"+tc.keys)
			golden.Check(t, []byte(reportSkeleton(t, page)))
		})
	}
}

// reportSkeleton is page without its stylesheet, script and policy, and
// with its data indented.
func reportSkeleton(t *testing.T, page string) string {
	t.Helper()
	page = regexp.MustCompile(`(?s)<style>.*?</style>`).ReplaceAllString(page, "<style>…</style>")
	page = regexp.MustCompile(`(?s)<script>.*?</script>`).ReplaceAllString(page, "<script>…</script>")
	page = regexp.MustCompile(`(<meta http-equiv="Content-Security-Policy" content=")[^"]*"`).ReplaceAllString(page, `${1}…"`)
	re := regexp.MustCompile(`(?s)(<script type="application/json" id="report-data">)(.*?)(</script>)`)
	m := re.FindStringSubmatchIndex(page)
	if m == nil {
		t.Fatal("no report data in the page")
	}
	var b bytes.Buffer
	if err := json.Indent(&b, []byte(page[m[4]:m[5]]), "", " "); err != nil {
		t.Fatal(err)
	}
	return page[:m[4]] + "\n" + b.String() + "\n" + page[m[5]:]
}
