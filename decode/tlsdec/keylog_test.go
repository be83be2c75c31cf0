package tlsdec

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	cr1 = "0101010101010101010101010101010101010101010101010101010101010101"
	cr2 = "0202020202020202020202020202020202020202020202020202020202020202"
	ms  = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" // 48 bytes
	s32 = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

func mustRandom(t *testing.T, h string) Random {
	t.Helper()
	var r Random
	if n, err := hex.Decode(r[:], []byte(h)); err != nil || n != 32 {
		t.Fatalf("bad random %q", h)
	}
	return r
}

func TestKeyLogParse(t *testing.T) {
	text := strings.Join([]string{
		"# a comment",
		"",
		"CLIENT_RANDOM " + cr1 + " " + ms,
		"SERVER_HANDSHAKE_TRAFFIC_SECRET " + cr2 + " " + s32,
		"CLIENT_HANDSHAKE_TRAFFIC_SECRET " + cr2 + " " + s32,
		"CLIENT_TRAFFIC_SECRET_0 " + cr2 + " " + s32 + "\r", // CRLF file
		"SERVER_TRAFFIC_SECRET_0 " + cr2 + " " + s32,
		"CLIENT_EARLY_TRAFFIC_SECRET " + cr2 + " " + s32,
		"EXPORTER_SECRET " + cr2 + " " + s32,
		"CLIENT_RANDOM " + cr1,                       // malformed: 2 fields
		"CLIENT_RANDOM 0102 " + ms,                   // malformed: short random
		"CLIENT_RANDOM " + cr2 + " zz",               // malformed: not hex
		"CLIENT_RANDOM " + cr2 + " " + s32,           // malformed: master secret not 48 bytes
		"SERVER_TRAFFIC_SECRET_0 " + cr1 + " " + s32, // no newline at the end
	}, "\n")
	kl, err := ParseKeyLog(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	st := kl.Stats()
	want := KeyLogStats{Lines: 14, Secrets: 7, Ignored: 1, Malformed: 4}
	if st != want {
		t.Errorf("stats %+v, want %+v", st, want)
	}
	if kl.Len() != 2 {
		t.Errorf("Len %d, want 2", kl.Len())
	}
	s1, _ := kl.lookup(mustRandom(t, cr1))
	s2, _ := kl.lookup(mustRandom(t, cr2))
	if len(s1.master) != 48 || len(s1.serverApp) != 32 || s1.clientHS != nil {
		t.Errorf("cr1 secrets: master %d serverApp %d clientHS %d bytes", len(s1.master), len(s1.serverApp), len(s1.clientHS))
	}
	for i, b := range [][]byte{s2.clientHS, s2.serverHS, s2.clientApp, s2.serverApp, s2.clientEarl} {
		if len(b) != 32 {
			t.Errorf("cr2 secret %d: %d bytes", i, len(b))
		}
	}
	if s2.master != nil {
		t.Error("cr2 has a master secret from a malformed line")
	}
}

// TestKeyLogIncremental writes a real key log in every split of 1..n bytes:
// the same secrets come out as from one read.
func TestKeyLogIncremental(t *testing.T) {
	text, err := os.ReadFile("testdata/11_tls13_curl_openssl_sni.keys")
	if err != nil {
		t.Fatal(err)
	}
	whole, _ := ParseKeyLog(bytes.NewReader(text))
	for _, chunk := range []int{1, 2, 7, 64, 100} {
		var kl KeyLog
		for b := text; len(b) > 0; {
			n := min(chunk, len(b))
			kl.Write(b[:n])
			b = b[n:]
		}
		kl.Flush()
		if kl.Stats() != whole.Stats() || kl.Len() != whole.Len() {
			t.Errorf("chunk %d: stats %+v len %d, want %+v %d", chunk, kl.Stats(), kl.Len(), whole.Stats(), whole.Len())
		}
		for cr := range whole.m {
			a, _ := kl.lookup(cr)
			b, _ := whole.lookup(cr)
			if !bytes.Equal(a.clientApp, b.clientApp) || !bytes.Equal(a.serverHS, b.serverHS) {
				t.Errorf("chunk %d: secrets differ", chunk)
			}
		}
	}
	// An over-long line is dropped up to its newline, and the next line still parses.
	var kl KeyLog
	kl.Write([]byte(strings.Repeat("x", maxLine+10)))
	kl.Write([]byte("yyy\nCLIENT_RANDOM " + cr1 + " " + ms + "\n"))
	if st := kl.Stats(); st.Malformed != 1 || st.Secrets != 1 {
		t.Errorf("long line: stats %+v", st)
	}
}

func TestKeyLogMerge(t *testing.T) {
	a, _ := ParseKeyLog(strings.NewReader("CLIENT_HANDSHAKE_TRAFFIC_SECRET " + cr2 + " " + s32 + "\n"))
	b, _ := ParseKeyLog(strings.NewReader("CLIENT_RANDOM " + cr1 + " " + ms + "\nSERVER_TRAFFIC_SECRET_0 " + cr2 + " " + s32 + "\n"))
	a.Merge(b)
	a.Merge(nil)
	a.Merge(a)
	if a.Len() != 2 || !a.Has(mustRandom(t, cr1)) {
		t.Fatalf("merged Len %d", a.Len())
	}
	s, _ := a.lookup(mustRandom(t, cr2))
	if s.clientHS == nil || s.serverApp == nil {
		t.Error("merge lost a secret")
	}
}

func TestFileTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys")
	if err := os.WriteFile(path, []byte("CLIENT_RANDOM "+cr1+" "+ms[:10]), 0o600); err != nil {
		t.Fatal(err)
	}
	kl := &KeyLog{}
	ft := NewFileTail(path, kl)
	if _, err := ft.Refresh(); err != nil {
		t.Fatal(err)
	}
	if kl.Len() != 0 {
		t.Fatal("a line without its newline was parsed before it was complete")
	}
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(ms[10:] + "\nCLIENT_RANDOM " + cr2 + " " + ms + "\n")
	f.Close()
	if _, err := ft.Refresh(); err != nil {
		t.Fatal(err)
	}
	if kl.Len() != 2 {
		t.Fatalf("after append: Len %d, want 2", kl.Len())
	}
	// Truncated and rewritten: read again from the start.
	os.WriteFile(path, []byte("SERVER_TRAFFIC_SECRET_0 "+cr1+" "+s32+"\n"), 0o600)
	if _, err := ft.Refresh(); err != nil {
		t.Fatal(err)
	}
	if s, _ := kl.lookup(mustRandom(t, cr1)); s.serverApp == nil {
		t.Fatal("a rewritten file was not read again")
	}
}

func TestDSB(t *testing.T) {
	keys := "CLIENT_RANDOM " + cr1 + " " + ms + "\n"
	for _, order := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
		ao := order.(binary.AppendByteOrder)
		body := ao.AppendUint32(nil, SecretsTypeTLSKeyLog)
		body = ao.AppendUint32(body, uint32(len(keys)))
		body = append(body, keys...)
		for len(body)%4 != 0 {
			body = append(body, 0)
		}
		var kl KeyLog
		ok, err := kl.AddDSB(body, order)
		if !ok || err != nil || !kl.Has(mustRandom(t, cr1)) {
			t.Errorf("%v: ok %v err %v has %v", order, ok, err, kl.Has(mustRandom(t, cr1)))
		}
		// Another secrets type (WireGuard "WGKL") is not an error, and adds nothing.
		wg := append(ao.AppendUint32(nil, 0x57474b4c), body[4:]...)
		var kl2 KeyLog
		if ok, err := kl2.AddDSB(wg, order); ok || err != nil || kl2.Len() != 0 {
			t.Errorf("WGKL: ok %v err %v", ok, err)
		}
		// A length past the block.
		bad := bytes.Clone(body)
		order.PutUint32(bad[4:], uint32(len(body)))
		if _, err := kl2.AddDSB(bad, order); !errors.Is(err, ErrDSB) {
			t.Errorf("bad length: err %v", err)
		}
		if _, _, err := ParseDSB(body[:5], order); !errors.Is(err, ErrDSB) {
			t.Errorf("short body: err %v", err)
		}
	}
}

// TestSecretsNotPrinted: nothing a caller can print holds key material.
func TestSecretsNotPrinted(t *testing.T) {
	e := &DecryptError{Reason: NoKey, Record: 3, ClientRandom: mustRandom(t, cr1)}
	if strings.Contains(e.Error(), "aaaa") || !strings.Contains(e.Error(), cr1) {
		t.Errorf("NoKey message %q", e)
	}
}

// TestPrintingRedacts: printing a KeyLog or a Session in any verb shows no
// secret (here the hex of the master secret and a traffic secret).
func TestPrintingRedacts(t *testing.T) {
	text, err := os.ReadFile("testdata/33_tls12_ecdhe_rsa_aes128gcm.keys")
	if err != nil {
		t.Fatal(err)
	}
	kl, _ := ParseKeyLog(bytes.NewReader(text))
	kl.Write([]byte("CLIENT_RANDOM " + cr1 + " " + ms[:20])) // a partial line is held
	all := streams(t, "33_tls12_ecdhe_rsa_aes128gcm")
	s := NewSession(Config{Keys: kl})
	s.Feed(c2s, all[0])
	s.Feed(s2c, all[1])
	f := strings.Fields(string(text))
	master := f[len(f)-1]
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x"} {
		for _, v := range []any{kl, s} {
			out := fmt.Sprintf(verb, v)
			if strings.Contains(out, master[:16]) || strings.Contains(out, ms[:16]) || strings.Contains(strings.ToLower(out), "aaaaaaaa") {
				t.Errorf("%s of %T shows a secret: %.80s", verb, v, out)
			}
		}
	}
}
