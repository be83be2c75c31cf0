package tlsdec

import (
	"bytes"
	"crypto/aes"
	"testing"
)

// TestCCMRoundTrip: Open undoes Seal for every length around the block
// size, and any changed byte (ciphertext, tag, nonce or additional data)
// fails. That CCM matches the standard is shown by the openssl captures
// 48 and 49, decrypted to tshark's bytes.
func TestCCMRoundTrip(t *testing.T) {
	b, _ := aes.NewCipher(bytes.Repeat([]byte{7}, 16))
	c := newCCM(b)
	nonce := []byte("twelve bytes")
	ad := []byte("additional")
	for n := range 50 {
		pt := bytes.Repeat([]byte{byte(n)}, n)
		ct := c.Seal(nil, nonce, pt, ad)
		got, err := c.Open(nil, nonce, ct, ad)
		if err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("len %d: open %v", n, err)
		}
		for i := range ct {
			bad := bytes.Clone(ct)
			bad[i] ^= 1
			if _, err := c.Open(nil, nonce, bad, ad); err == nil {
				t.Fatalf("len %d: byte %d changed, still authentic", n, i)
			}
		}
		if _, err := c.Open(nil, []byte("twelve bytez"), ct, ad); err == nil {
			t.Fatalf("len %d: wrong nonce authentic", n)
		}
		if _, err := c.Open(nil, nonce, ct, []byte("additionaL")); err == nil {
			t.Fatalf("len %d: wrong additional data authentic", n)
		}
	}
	if _, err := c.Open(nil, nonce, make([]byte, 5), ad); err == nil {
		t.Fatal("short ciphertext authentic")
	}
}
