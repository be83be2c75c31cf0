package cmd

import (
	"bytes"
	"encoding/json"
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

// TestReadStatsTLSCountsInner: read --stats --keylog counts the messages
// inside TLS, the same number follow --keylog shows (its tls_message
// records), for corpus 11 (TLS 1.3) and 12 (TLS 1.2); without keys it counts
// the records.
func TestReadStatsTLSCountsInner(t *testing.T) {
	for _, name := range []string{"11_tls13_curl_openssl_sni", "12_tls12_curl_openssl_sni"} {
		t.Run(name, func(t *testing.T) {
			pcap, keys := "../testdata/corpus/"+name+".pcap", "../testdata/keys/"+name+".keys"
			stats := func(args ...string) (string, [2]int) {
				out, errOut, code := runCLI(t, nil, append([]string{"read", "--stats", "--format", "json", pcap}, args...)...)
				if code != 0 {
					t.Fatalf("read: exit %d: %s", code, errOut)
				}
				var rec struct{ Framing string }
				line := strings.SplitN(out, "\n", 2)[0]
				if err := json.Unmarshal([]byte(line), &rec); err != nil {
					t.Fatal(err)
				}
				var n struct {
					C2S int `json:"messages_c2s"`
					S2C int `json:"messages_s2c"`
				}
				json.Unmarshal([]byte(line), &n)
				return rec.Framing, [2]int{n.C2S, n.S2C}
			}
			out, errOut, code := runCLI(t, nil, "follow", pcap, "0", "--keylog", keys, "--format", "json")
			if code != 0 {
				t.Fatalf("follow: exit %d: %s", code, errOut)
			}
			var want [2]int
			for _, l := range strings.Split(out, "\n") {
				if strings.Contains(l, `"type":"tls_message"`) {
					want[map[bool]int{true: 0, false: 1}[strings.Contains(l, `"dir":"c2s"`)]]++
				}
			}
			if want[0] == 0 || want[1] == 0 {
				t.Fatalf("follow --keylog shows %v messages inside TLS", want)
			}
			if f, got := stats("--keylog", keys); f != "tls/http1" || got != want {
				t.Errorf("read --stats --keylog: %s %v, follow --keylog %v", f, got, want)
			}
			if f, got := stats(); f != "tls" || got[0] <= want[0] {
				t.Errorf("read --stats without keys: %s %v, want tls records", f, got)
			}
		})
	}
}

// TestFollowSwitchedTLSRawAgainstTshark: for a session that switches to TLS
// after cleartext (IMAP STARTTLS, POP3 STLS against dovecot, with curl's key
// log), follow --keylog --format raw writes the cleartext bytes up to the
// switch as they are, then exactly the decrypted bytes tshark's Follow TLS
// Stream gives (recorded in testdata/tshark/starttls).
func TestFollowSwitchedTLSRawAgainstTshark(t *testing.T) {
	const dir = "../testdata/tshark/starttls"
	answers, _ := filepath.Glob(filepath.Join(dir, "*.tshark.c2s"))
	if len(answers) < 2 {
		t.Fatalf("only %d recorded answers in %s", len(answers), dir)
	}
	for _, ans := range answers {
		name := strings.TrimSuffix(filepath.Base(ans), ".tshark.c2s")
		t.Run(name, func(t *testing.T) {
			capFile := "../testdata/captures/" + name + ".pcap"
			keys := "../testdata/keys/" + name + ".keys"
			for _, d := range []string{"c2s", "s2c"} {
				want, err := os.ReadFile(filepath.Join(dir, name+".tshark."+d))
				if err != nil {
					t.Fatal(err)
				}
				out, errOut, code := runCLI(t, nil, "follow", capFile, "0", "--format", "raw", "--dir", d, "--keylog", keys)
				if code != 0 {
					t.Fatalf("%s: exit %d: %s", d, code, errOut)
				}
				tcp, _, _ := runCLI(t, nil, "follow", capFile, "0", "--format", "raw", "--dir", d, "--layer", "tcp")
				if len(out) < len(want) || !bytes.Equal([]byte(out[len(out)-len(want):]), want) {
					t.Fatalf("%s: %d bytes do not end with tshark's %d decrypted bytes", d, len(out), len(want))
				}
				clear := out[:len(out)-len(want)]
				if !strings.HasPrefix(tcp, clear) || len(tcp) <= len(clear) || tcp[len(clear)] != 0x16 {
					t.Errorf("%s: the %d bytes before the decrypted ones are not the TCP bytes up to the first TLS record", d, len(clear))
				}
			}
		})
	}
}

// TestFollowSwitchedTLS: with keys, follow frames what is inside the TLS of
// a STARTTLS session as the cleartext was framed, and numbers its records
// as the messages of the cleartext framing.
func TestFollowSwitchedTLS(t *testing.T) {
	out, errOut, code := runCLI(t, nil, "follow", "../testdata/captures/imap_dovecot_starttls_keys.pcap", "0", "--format", "json",
		"--keylog", "../testdata/keys/imap_dovecot_starttls_keys.keys")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var inner, records int
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var rec struct {
			Type, Dir, Protocol, Summary string
			Index                        int
			Records                      []int
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		switch rec.Type {
		case "tls_record":
			records++
		case "tls_message":
			inner++
			if rec.Protocol != "imap" {
				t.Errorf("message inside TLS framed as %q, want imap: %s", rec.Protocol, line)
			}
			if rec.Dir == "c2s" && rec.Index == 1 && (rec.Summary != "A003 CAPABILITY" || fmt.Sprint(rec.Records) != "[6]") {
				t.Errorf("first command inside TLS: %s; want A003 CAPABILITY in record 6 (the 6th c→s message)", line)
			}
		}
	}
	if inner != 21 || records != 20+4 {
		t.Errorf("%d messages inside TLS, %d TLS records; want 21 and 24", inner, records)
	}
}
