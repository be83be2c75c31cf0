//go:build linux

package cmd

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestLiveTLSKeylog: live --keylog decrypts a TLS connection made after the
// capture started, with a key log that did not exist when it started and
// that curl writes during the handshake (SSLKEYLOGFILE): the JSON shows the
// HTTP request inside, with the TLS records that carried it, and the
// response; text mode shows the same lines.
func TestLiveTLSKeylog(t *testing.T) {
	ns := newTestNS(t)
	for _, tool := range []string{"openssl", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (apt-get install openssl curl)", tool)
		}
	}
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if out, err := exec.Command("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
		"-subj", "/CN=sockscope.test", "-days", "1", "-keyout", key, "-out", cert).CombinedOutput(); err != nil {
		t.Fatalf("openssl req: %v: %s", err, out)
	}
	for _, tc := range []struct{ name, format, tlsFlag string }{
		{"json-tls1.3", "json", "--tlsv1.3"},
		{"text-tls1.2", "text", "--tls-max"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			keylog := filepath.Join(t.TempDir(), "keys.log") // does not exist yet
			out, errOut, stop := runLiveCLI(t, ns, "live", "lo", "--format", tc.format, "-f", "tcp port 4433", "--keylog", keylog)
			ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
			defer cancel()
			srv := exec.CommandContext(ctx, "ip", "netns", "exec", ns.name, "openssl", "s_server", "-accept", "127.0.0.1:4433",
				"-cert", cert, "-key", key, "-www", "-quiet")
			if err := srv.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { srv.Process.Kill(); srv.Wait() }()
			args := []string{"netns", "exec", ns.name, "curl", "-sS", "-k", "--max-time", "5", "--retry", "20", "--retry-delay", "0",
				"--retry-connrefused", "--http1.1", "-o", "/dev/null"}
			if tc.tlsFlag == "--tls-max" {
				args = append(args, "--tls-max", "1.2")
			} else {
				args = append(args, tc.tlsFlag)
			}
			cl := exec.CommandContext(ctx, "ip", append(args, "https://127.0.0.1:4433/sockscope-live")...)
			cl.Env = append(os.Environ(), "SSLKEYLOGFILE="+keylog)
			if b, err := cl.CombinedOutput(); err != nil {
				t.Fatalf("curl: %v: %s", err, b)
			}
			wantReq := `"summary":"GET /sockscope-live"`
			if tc.format == "text" {
				wantReq = "http1  GET /sockscope-live"
			}
			seen := out.waitFor(ctx, func(s string) bool { return strings.Contains(s, wantReq) && strings.Contains(s, "200 ok") })
			if code := stop(); code != 0 {
				t.Fatalf("exit %d; stderr: %s", code, errOut)
			}
			if !seen {
				t.Fatalf("no decrypted request and response within 15 s:\n%s\nstderr: %s", out, errOut)
			}
			if tc.format == "text" {
				if !strings.Contains(out.String(), "GET /sockscope-live  · ") || !strings.Contains(out.String(), "in 1 TLS record in 1 segment") {
					t.Errorf("request line without its records and segments:\n%s", out)
				}
				return
			}
			var framing bool
			for _, r := range records(t, out.String()) {
				if r.Type == "framing" && strings.HasPrefix(r.Framing, "tls/http1") {
					framing = true
				}
			}
			if !framing {
				t.Errorf("no tls/http1 framing record:\n%s", out)
			}
			for _, line := range strings.Split(out.String(), "\n") {
				if strings.Contains(line, wantReq) && (!strings.Contains(line, `"protocol":"http1"`) || !strings.Contains(line, `"tls_records":[`)) {
					t.Errorf("request record without protocol or records: %s", line)
				}
			}
		})
	}
}
