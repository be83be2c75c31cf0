package cmd

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFollowTLSRawAgainstTshark: follow --keylog --format raw writes, for
// every stream of every TLS capture in decode/tlsdec/testdata, exactly the
// decrypted application data tshark's Follow TLS Stream gives (recorded
// there); the pcapng with embedded secrets needs no --keylog.
func TestFollowTLSRawAgainstTshark(t *testing.T) {
	const dir = "../decode/tlsdec/testdata"
	answers, _ := filepath.Glob(filepath.Join(dir, "*.tshark.c2s"))
	if len(answers) < 20 {
		t.Fatalf("only %d recorded answers in %s", len(answers), dir)
	}
	for _, ans := range answers {
		base := strings.TrimSuffix(filepath.Base(ans), ".tshark.c2s")
		name, stream := base, "0"
		if i := strings.LastIndexByte(base, '.'); i > 0 {
			name, stream = base[:i], base[i+1:]
		}
		t.Run(base, func(t *testing.T) {
			capFile := filepath.Join(dir, name+".pcap")
			args := []string{"--keylog", filepath.Join(dir, name+".keys")}
			if _, err := os.Stat(capFile); err != nil {
				capFile, args = filepath.Join(dir, name+".pcapng"), nil // secrets inside
			}
			for _, d := range []string{"c2s", "s2c"} {
				want, err := os.ReadFile(filepath.Join(dir, base+".tshark."+d))
				if err != nil {
					t.Fatal(err)
				}
				out, errOut, code := runCLI(t, nil, append([]string{"follow", capFile, stream, "--format", "raw", "--dir", d}, args...)...)
				if code != 0 {
					t.Fatalf("%s: exit %d: %s", d, code, errOut)
				}
				if !bytes.Equal([]byte(out), want) {
					t.Errorf("%s: %d bytes, tshark %d; first difference at %d", d, len(out), len(want), firstDiff([]byte(out), want))
				}
			}
		})
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestFollowTLSLayers: --layer tcp writes the TCP bytes whatever the keys;
// --layer tls without keys fails and says why; a wrong key fails too.
func TestFollowTLSLayers(t *testing.T) {
	const c = "../decode/tlsdec/testdata/30_tls13_aes128gcm"
	tcp, _, code := runCLI(t, nil, "follow", c+".pcap", "0", "--format", "raw", "--dir", "c2s", "--layer", "tcp", "--keylog", c+".keys")
	plain, _, code2 := runCLI(t, nil, "follow", c+".pcap", "0", "--format", "raw", "--dir", "c2s")
	if code != 0 || code2 != 0 || tcp != plain || !strings.HasPrefix(tcp, "\x16\x03\x01") {
		t.Errorf("--layer tcp (exit %d) and no keys (exit %d) should both give the TCP bytes, from the ClientHello", code, code2)
	}
	_, errOut, code := runCLI(t, nil, "follow", c+".pcap", "0", "--format", "raw", "--dir", "c2s", "--layer", "tls")
	if code != 1 || !strings.Contains(errOut, "no TLS record could be decrypted") || !strings.Contains(errOut, "no key") {
		t.Errorf("--layer tls without keys: exit %d, %q", code, errOut)
	}
	other := "../decode/tlsdec/testdata/31_tls13_aes256gcm.keys"
	_, errOut, code = runCLI(t, nil, "follow", c+".pcap", "0", "--format", "raw", "--dir", "s2c", "--keylog", other)
	if code != 1 || !strings.Contains(errOut, "no key") {
		t.Errorf("another connection's keys: exit %d, %q", code, errOut)
	}
	_, errOut, code = runCLI(t, nil, "follow", c+".pcap", "0", "--keylog", "/nonexistent/keys")
	if code == 0 || !strings.Contains(errOut, "--keylog /nonexistent/keys") {
		t.Errorf("missing key log: exit %d, %q", code, errOut)
	}
	t.Setenv("SSLKEYLOGFILE", c+".keys")
	out, errOut, code := runCLI(t, nil, "follow", c+".pcap", "0", "--format", "raw", "--dir", "c2s")
	if code != 0 || !strings.Contains(errOut, "TLS keys from SSLKEYLOGFILE="+c+".keys (1 client random") || strings.HasPrefix(out, "\x16") {
		t.Errorf("SSLKEYLOGFILE: exit %d, stderr %q, %s", code, errOut, fmt.Sprintf("%.20q", out))
	}
}
