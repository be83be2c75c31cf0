package tlsdec

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/sockscope/sockscope/reassembly"
)

// fuzzCaptures are the real connections whose keys the fuzz key log holds
// and whose streams seed the corpus.
var fuzzCaptures = []string{
	"30_tls13_aes128gcm", "32_tls13_chacha20", "33_tls12_ecdhe_rsa_aes128gcm",
	"36_tls12_ecdhe_rsa_aes128sha_etm", "37_tls12_ecdhe_rsa_aes128sha_noetm", "41_tls13_keyupdate",
}

// FuzzSession feeds arbitrary bytes both ways, in chunks of a fuzzed size,
// with a key log that holds the keys of real connections. Invariants: no
// panic; a record that is reported with an error has no plaintext; and a
// record reported as decrypted is byte for byte a record of the real
// connection's stream (a changed record never authenticates, so a record
// whose tag fails never yields plaintext); every record lies within the
// bytes fed.
func FuzzSession(f *testing.F) {
	kl := &KeyLog{}
	var genuine [2][]byte
	for _, name := range fuzzCaptures {
		k, err := ReadKeyLogFile(filepath.Join("testdata", name+".keys"))
		if err != nil {
			f.Fatal(err)
		}
		kl.Merge(k)
		var all [2][]byte
		for _, g := range tcpSegments(f, filepath.Join("testdata", name+".pcap"), 0) {
			all[g.dir] = append(all[g.dir], g.data...)
		}
		for d := range 2 {
			genuine[d] = append(genuine[d], all[d]...)
		}
		// Seeds: the start of the connection (handshake and a little data;
		// small inputs keep the fuzzer fast).
		f.Add(all[0][:min(len(all[0]), 800)], all[1][:min(len(all[1]), 4000)], uint16(0))
		f.Add(all[0][:min(len(all[0]), 600)], all[1][:min(len(all[1]), 2500)], uint16(97))
	}
	f.Add([]byte{22, 3, 1, 0, 4, 1, 0, 0, 0}, []byte{23, 3, 3, 0, 0}, uint16(1))
	f.Fuzz(func(t *testing.T, c2s, s2c []byte, chunk uint16) {
		in := [2][]byte{c2s, s2c}
		s := NewSession(Config{Keys: kl, MaxWaiting: 4096, OnRecord: func(r *Record) {
			if r.Err != nil && (r.Plaintext != nil || r.Decrypted) {
				t.Fatalf("%s record %d: plaintext with error %v", r.Dir, r.N, r.Err)
			}
			if r.Range.Start < 0 || r.Range.End < r.Range.Start || (r.Err == nil && r.Range.End > int64(len(in[r.Dir]))) {
				t.Fatalf("%s record %d: range %v outside the %d bytes fed", r.Dir, r.N, r.Range, len(in[r.Dir]))
			}
			if r.Decrypted {
				raw := in[r.Dir][r.Range.Start:r.Range.End]
				if !bytes.Contains(genuine[r.Dir], raw) {
					t.Fatalf("%s record %d: decrypted a record that is not in the real streams", r.Dir, r.N)
				}
			}
		}})
		n := int(chunk%1500) + 1
		for len(c2s) > 0 || len(s2c) > 0 {
			for d, b := range []*[]byte{&c2s, &s2c} {
				k := min(n, len(*b))
				s.Feed(reassembly.Direction(d), (*b)[:k])
				*b = (*b)[k:]
			}
		}
		if chunk&0x8000 != 0 {
			s.Gap(reassembly.ServerToClient, 10)
		}
		s.Close()
		_ = s.Info()
	})
}
