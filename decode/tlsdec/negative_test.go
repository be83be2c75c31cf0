package tlsdec

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sockscope/sockscope/reassembly"
)

// streams returns the whole bytes of each direction of TCP stream 0.
func streams(t *testing.T, name string) [2][]byte {
	t.Helper()
	var all [2][]byte
	for _, g := range tcpSegments(t, filepath.Join("testdata", name+".pcap"), 0) {
		all[g.dir] = append(all[g.dir], g.data...)
	}
	return all
}

// recordStarts returns the offsets of the records of type typ in b.
func recordStarts(b []byte, typ byte) []int {
	var out []int
	for off := 0; off+5 <= len(b); {
		n := int(b[off+3])<<8 | int(b[off+4])
		if b[off] == typ {
			out = append(out, off)
		}
		off += 5 + n
	}
	return out
}

func feedAll(kl *KeyLog, all [2][]byte) *result {
	segs := []seg{{dir: reassembly.ClientToServer, data: all[0]}, {dir: reassembly.ServerToClient, data: all[1]}}
	_, res := run(kl, segs, feeders[0])
	return res
}

func authFailures(t *testing.T, res *result) []*DecryptError {
	t.Helper()
	var out []*DecryptError
	for _, e := range res.errs {
		var de *DecryptError
		if !errors.As(e, &de) || de.Reason != AuthFailed {
			t.Errorf("unexpected error %v", e)
			continue
		}
		if !strings.HasSuffix(e.Error(), "failed authentication: wrong key or damaged capture") {
			t.Errorf("message %q", e)
		}
		out = append(out, de)
	}
	return out
}

// TestFlippedByte damages one ciphertext byte of an application data record
// in each suite's capture: that record must fail authentication and give no
// plaintext; the records around it still decrypt to tshark's bytes.
func TestFlippedByte(t *testing.T) {
	for _, name := range []string{
		"30_tls13_aes128gcm", "32_tls13_chacha20", "33_tls12_ecdhe_rsa_aes128gcm", "35_tls12_ecdhe_rsa_chacha20",
		"36_tls12_ecdhe_rsa_aes128sha_etm", "37_tls12_ecdhe_rsa_aes128sha_noetm", "39_tls12_ecdhe_rsa_aes256sha384",
		"48_tls13_aes128ccm", "49_tls12_rsa_aes128ccm",
	} {
		t.Run(name, func(t *testing.T) {
			kl, err := ReadKeyLogFile(filepath.Join("testdata", name+".keys"))
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(filepath.Join("testdata", name+".tshark.s2c"))
			if err != nil {
				t.Fatal(err)
			}
			all := streams(t, name)
			at := -1 // the first full-size record
			for _, st := range recordStarts(all[1], 23) {
				if int(all[1][st+3])<<8|int(all[1][st+4]) >= 1<<14 {
					at = st
					break
				}
			}
			if at < 0 {
				t.Fatal("no full-size application data record s2c")
			}
			for _, pos := range []int{5 + 20, int(all[1][at+3])<<8 | int(all[1][at+4]) + 4} { // inside; the tag's last byte
				t.Run("", func(t *testing.T) {
					var damaged [2][]byte
					damaged[0] = all[0]
					damaged[1] = bytes.Clone(all[1])
					damaged[1][at+pos] ^= 0x40
					res := feedAll(kl, damaged)
					fails := authFailures(t, res)
					if len(fails) != 1 {
						t.Fatalf("%d authentication failures, want 1", len(fails))
					}
					var failed Record
					for _, r := range res.records[1] {
						if r.N == fails[0].Record {
							failed = r
						}
					}
					if failed.Decrypted || failed.Range.Start != int64(at) {
						t.Fatalf("failed record %+v, want the one at %d, not decrypted", failed, at)
					}
					got := res.app[1]
					// What came before the damaged record is tshark's prefix, what
					// came after its suffix; the damaged record's bytes are missing.
					lost := len(want) - len(got)
					if lost <= 0 || lost > MaxRecordLen {
						t.Fatalf("decrypted %d of tshark's %d bytes", len(got), len(want))
					}
					for cut := 0; cut <= len(got); cut++ {
						if bytes.Equal(got[:cut], want[:cut]) && bytes.Equal(got[cut:], want[cut+lost:]) {
							return
						}
					}
					t.Fatal("decrypted bytes are not tshark's with one record missing")
				})
			}
		})
	}
}

// TestWrongKey: a key log whose secrets are all wrong gives an
// authentication failure for every protected record, and no plaintext.
func TestWrongKey(t *testing.T) {
	for _, name := range []string{"30_tls13_aes128gcm", "33_tls12_ecdhe_rsa_aes128gcm", "37_tls12_ecdhe_rsa_aes128sha_noetm"} {
		t.Run(name, func(t *testing.T) {
			text, err := os.ReadFile(filepath.Join("testdata", name+".keys"))
			if err != nil {
				t.Fatal(err)
			}
			// Change the last hex digit of every secret.
			var wrong bytes.Buffer
			for _, line := range strings.Split(strings.TrimSpace(string(text)), "\n") {
				b := []byte(line)
				if b[len(b)-1] == '0' {
					b[len(b)-1] = '1'
				} else {
					b[len(b)-1] = '0'
				}
				wrong.Write(b)
				wrong.WriteByte('\n')
			}
			kl, err := ParseKeyLog(&wrong)
			if err != nil {
				t.Fatal(err)
			}
			res := feedAll(kl, streams(t, name))
			fails := authFailures(t, res)
			if len(fails) == 0 {
				t.Fatal("no authentication failure")
			}
			for d := range 2 {
				if len(res.app[d]) != 0 {
					t.Errorf("%s: %d bytes of plaintext with a wrong key", reassembly.Direction(d), len(res.app[d]))
				}
				for _, r := range res.records[d] {
					if r.Encrypted && (r.Decrypted || r.Err == nil) {
						t.Errorf("%s record %d: decrypted %v err %v", r.Dir, r.N, r.Decrypted, r.Err)
					}
				}
			}
		})
	}
}

// TestNoKey: without the connection's keys every protected record says so,
// naming the client random (public), and no key material appears anywhere.
func TestNoKey(t *testing.T) {
	all := streams(t, "30_tls13_aes128gcm")
	other, err := ReadKeyLogFile("testdata/33_tls12_ecdhe_rsa_aes128gcm.keys")
	if err != nil {
		t.Fatal(err)
	}
	var s *Session
	var n int
	s = NewSession(Config{Keys: other, OnRecord: func(r *Record) {
		if !r.Encrypted {
			return
		}
		var de *DecryptError
		if !errors.As(r.Err, &de) || de.Reason != NoKey || r.Plaintext != nil {
			t.Errorf("record %d: err %v, want NoKey", r.N, r.Err)
			return
		}
		if !strings.Contains(r.Err.Error(), "no key for client random "+s.Info().ClientRandom.String()) {
			t.Errorf("message %q", r.Err)
		}
		n++
	}})
	s.Feed(reassembly.ClientToServer, all[0])
	s.Feed(reassembly.ServerToClient, all[1])
	s.Close()
	if n == 0 {
		t.Fatal("no record reported NoKey")
	}
}

// TestKeyArrivesLater: a live key log that gets the connection's lines only
// after the handshake records still decrypts what follows (TLS 1.2: the
// sequence numbers were counted meanwhile).
func TestKeyArrivesLater(t *testing.T) {
	name := "33_tls12_ecdhe_rsa_aes128gcm"
	all := streams(t, name)
	text, err := os.ReadFile(filepath.Join("testdata", name+".keys"))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(filepath.Join("testdata", name+".tshark.s2c"))
	kl := &KeyLog{}
	var app []byte
	s := NewSession(Config{Keys: kl, OnRecord: func(r *Record) {
		if r.Decrypted && r.Inner == ApplicationData {
			app = append(app, r.Plaintext...)
		}
	}})
	s.Feed(reassembly.ClientToServer, all[0])
	starts := recordStarts(all[1], 23)
	s.Feed(reassembly.ServerToClient, all[1][:starts[1]])
	kl.Write(text) // the key log grows now
	s.Feed(reassembly.ServerToClient, all[1][starts[1]:])
	s.Close()
	if len(app) == 0 || !bytes.HasSuffix(want, app) || len(app) == len(want) {
		t.Fatalf("decrypted %d bytes, want a proper suffix of tshark's %d", len(app), len(want))
	}
}

// TestDamagedKeyUpdate: when the record carrying a KeyUpdate is damaged,
// that record fails authentication, and the next records still decrypt
// (under the next key, which is tried when the current one fails).
func TestDamagedKeyUpdate(t *testing.T) {
	const name = "41_tls13_keyupdate"
	kl, err := ReadKeyLogFile(filepath.Join("testdata", name+".keys"))
	if err != nil {
		t.Fatal(err)
	}
	all := streams(t, name)
	var want [2][]byte
	for d, ext := range []string{".tshark.c2s", ".tshark.s2c"} {
		if want[d], err = os.ReadFile(filepath.Join("testdata", name+ext)); err != nil {
			t.Fatal(err)
		}
	}
	// Find the records that carry the KeyUpdates.
	var ku [2][]reassembly.ByteRange
	s := NewSession(Config{Keys: kl, OnRecord: func(r *Record) {
		if r.Decrypted && r.Inner == Handshake && len(r.Plaintext) > 0 && r.Plaintext[0] == hsKeyUpdate {
			ku[r.Dir] = append(ku[r.Dir], r.Range)
		}
	}})
	s.Feed(c2s, all[0])
	s.Feed(s2c, all[1])
	s.Close()
	for d := range 2 {
		if len(ku[d]) == 0 {
			t.Fatalf("%s: no KeyUpdate record", reassembly.Direction(d))
		}
		damaged := all
		damaged[d] = bytes.Clone(all[d])
		damaged[d][ku[d][0].Start+10] ^= 1
		res := feedAll(kl, damaged)
		if fails := authFailures(t, res); len(fails) != 1 {
			t.Errorf("%s: %d authentication failures, want 1", reassembly.Direction(d), len(fails))
		}
		for e := range 2 {
			if !bytes.Equal(res.app[e], want[e]) {
				t.Errorf("damaged %s KeyUpdate: %s decrypted %q, want %q", reassembly.Direction(d), reassembly.Direction(e), res.app[e], want[e])
			}
		}
	}
}
