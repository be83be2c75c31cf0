package tlsdec

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"hash"

	"golang.org/x/crypto/chacha20poly1305"
)

// recordCipher opens the records of one direction under one key.
type recordCipher interface {
	// open authenticates and decrypts rec (a whole record, header
	// included) as record number seq under this key, appending the
	// plaintext to dst. ok is false when authentication fails: the
	// returned bytes must then not be used.
	open(dst, rec []byte, seq uint64) (pt []byte, ok bool)
}

// errKeyLen is returned when a secret from the key log has the wrong length
// for the suite. It carries no key material.
var errKeyLen = errors.New("secret has the wrong length for the cipher suite")

func newAEAD(kind cipherKind, key []byte) (cipher.AEAD, error) {
	switch kind {
	case kindGCM:
		b, err := aes.NewCipher(key)
		if err != nil {
			return nil, errKeyLen
		}
		return cipher.NewGCM(b)
	case kindChaCha:
		a, err := chacha20poly1305.New(key)
		if err != nil {
			return nil, errKeyLen
		}
		return a, nil
	case kindCCM:
		b, err := aes.NewCipher(key)
		if err != nil {
			return nil, errKeyLen
		}
		return newCCM(b), nil
	}
	return nil, errKeyLen
}

// xorNonce sets nonce to iv XOR the big-endian sequence number (RFC 8446 §5.3,
// RFC 7905 §2).
func xorNonce(nonce *[12]byte, iv *[12]byte, seq uint64) {
	*nonce = *iv
	var s [8]byte
	binary.BigEndian.PutUint64(s[:], seq)
	for i := range 8 {
		nonce[4+i] ^= s[i]
	}
}

// tls13Cipher: AEAD with nonce iv^seq and the record header as additional data.
type tls13Cipher struct {
	aead  cipher.AEAD
	iv    [12]byte
	nonce [12]byte // scratch: a local would escape through the interface call
}

func (c *tls13Cipher) open(dst, rec []byte, seq uint64) ([]byte, bool) {
	if len(rec) < 5+c.aead.Overhead() {
		return nil, false
	}
	xorNonce(&c.nonce, &c.iv, seq)
	pt, err := c.aead.Open(dst, c.nonce[:], rec[5:], rec[:5])
	return pt, err == nil
}

// hkdfExpandLabel is HKDF-Expand-Label (RFC 8446 §7.1) with an empty context.
func hkdfExpandLabel(h func() hash.Hash, secret []byte, label string, n int) []byte {
	full := "tls13 " + label
	info := make([]byte, 0, 4+len(full))
	info = append(info, byte(n>>8), byte(n), byte(len(full)))
	info = append(info, full...)
	info = append(info, 0) // empty context
	out, err := hkdf.Expand(h, secret, string(info), n)
	if err != nil {
		return nil
	}
	return out
}

// newTLS13Cipher derives the write key and IV of a traffic secret.
func newTLS13Cipher(s *suiteInfo, secret []byte) (*tls13Cipher, error) {
	if len(secret) != s.hashLen {
		return nil, errKeyLen
	}
	key := hkdfExpandLabel(s.prf, secret, "key", s.keyLen)
	iv := hkdfExpandLabel(s.prf, secret, "iv", 12)
	if key == nil || iv == nil {
		return nil, errKeyLen
	}
	a, err := newAEAD(s.kind, key)
	if err != nil {
		return nil, err
	}
	c := &tls13Cipher{aead: a}
	copy(c.iv[:], iv)
	return c, nil
}

// nextTrafficSecret is the KeyUpdate step (RFC 8446 §7.2).
func nextTrafficSecret(s *suiteInfo, secret []byte) []byte {
	return hkdfExpandLabel(s.prf, secret, "traffic upd", s.hashLen)
}

// prf12 is the TLS 1.2 PRF (RFC 5246 §5): P_hash(secret, label+seed).
func prf12(h func() hash.Hash, secret []byte, label string, seed []byte, n int) []byte {
	ls := append([]byte(label), seed...)
	mac := hmac.New(h, secret)
	mac.Write(ls)
	a := mac.Sum(nil) // A(1)
	out := make([]byte, 0, n+mac.Size())
	for len(out) < n {
		mac.Reset()
		mac.Write(a)
		mac.Write(ls)
		out = mac.Sum(out)
		mac.Reset()
		mac.Write(a)
		a = mac.Sum(a[:0])
	}
	return out[:n]
}

// tls12Keys are one direction's keys from the TLS 1.2 key block.
type tls12Keys struct{ mac, key, iv []byte }

// keyBlock12 splits PRF(master, "key expansion", server_random +
// client_random) into the client's and the server's keys (RFC 5246 §6.3).
func keyBlock12(s *suiteInfo, master []byte, cr, sr Random) (client, server tls12Keys) {
	ivLen := 0
	switch s.kind {
	case kindGCM, kindCCM:
		ivLen = 4
	case kindChaCha:
		ivLen = 12
	}
	n := 2*s.macLen + 2*s.keyLen + 2*ivLen
	seed := append(append([]byte(nil), sr[:]...), cr[:]...)
	kb := prf12(s.prf, master, "key expansion", seed, n)
	take := func(k int) []byte { v := kb[:k:k]; kb = kb[k:]; return v }
	client.mac, server.mac = take(s.macLen), take(s.macLen)
	client.key, server.key = take(s.keyLen), take(s.keyLen)
	client.iv, server.iv = take(ivLen), take(ivLen)
	return client, server
}

// aad12 is the TLS 1.2 additional data / MAC prefix: seq, type, version, length.
func aad12(buf *[13]byte, seq uint64, rec []byte, n int) []byte {
	binary.BigEndian.PutUint64(buf[:8], seq)
	buf[8], buf[9], buf[10] = rec[0], rec[1], rec[2]
	binary.BigEndian.PutUint16(buf[11:], uint16(n))
	return buf[:]
}

// gcm12Cipher: AES-GCM (RFC 5288) or AES-CCM (RFC 6655) with a 4-byte salt
// and an 8-byte explicit nonce.
type gcm12Cipher struct {
	aead  cipher.AEAD
	salt  [4]byte
	nonce [12]byte // scratch
	ad    [13]byte // scratch
}

func (c *gcm12Cipher) open(dst, rec []byte, seq uint64) ([]byte, bool) {
	body := rec[5:]
	if len(body) < 8+c.aead.Overhead() {
		return nil, false
	}
	copy(c.nonce[:4], c.salt[:])
	copy(c.nonce[4:], body[:8])
	ct := body[8:]
	pt, err := c.aead.Open(dst, c.nonce[:], ct, aad12(&c.ad, seq, rec, len(ct)-c.aead.Overhead()))
	return pt, err == nil
}

// chacha12Cipher: ChaCha20-Poly1305 for TLS 1.2 (RFC 7905): nonce iv^seq.
type chacha12Cipher struct {
	aead  cipher.AEAD
	iv    [12]byte
	nonce [12]byte // scratch
	ad    [13]byte // scratch
}

func (c *chacha12Cipher) open(dst, rec []byte, seq uint64) ([]byte, bool) {
	ct := rec[5:]
	if len(ct) < c.aead.Overhead() {
		return nil, false
	}
	xorNonce(&c.nonce, &c.iv, seq)
	pt, err := c.aead.Open(dst, c.nonce[:], ct, aad12(&c.ad, seq, rec, len(ct)-c.aead.Overhead()))
	return pt, err == nil
}

// cbcCipher: AES-CBC with HMAC, MAC-then-encrypt (RFC 5246 §6.2.3.2) or
// encrypt-then-MAC (RFC 7366). Every check (padding, MAC) runs before the
// answer is given; a failure of either is an authentication failure.
type cbcCipher struct {
	block cipher.Block
	mac   hash.Hash
	etm   bool
	tag   []byte
	ad    [13]byte // scratch
}

func (c *cbcCipher) open(dst, rec []byte, seq uint64) ([]byte, bool) {
	body := rec[5:]
	bs := c.block.BlockSize()
	ms := c.mac.Size()
	if c.etm {
		if len(body) < bs+bs+ms || (len(body)-ms)%bs != 0 {
			return nil, false
		}
		enc, tag := body[:len(body)-ms], body[len(body)-ms:]
		c.mac.Reset()
		c.mac.Write(aad12(&c.ad, seq, rec, len(enc)))
		c.mac.Write(enc)
		c.tag = c.mac.Sum(c.tag[:0])
		if !hmac.Equal(c.tag, tag) {
			return nil, false
		}
		pt := decryptCBC(c.block, dst, enc)
		pad := int(pt[len(pt)-1])
		if pad+1 > len(pt) {
			return nil, false
		}
		good := 1
		for _, b := range pt[len(pt)-1-pad:] {
			good &= subtle.ConstantTimeByteEq(b, byte(pad))
		}
		if good != 1 {
			return nil, false
		}
		return pt[:len(pt)-1-pad], true
	}
	if len(body) < bs+bs || len(body)%bs != 0 || len(body)-bs < ms+1 {
		return nil, false
	}
	pt := decryptCBC(c.block, dst, body)
	n := len(pt)
	pad := int(pt[n-1])
	good := 1
	if pad+1+ms > n {
		good = 0
		pad = 0
	}
	// Check up to 256 trailing bytes whatever pad is.
	for i := 1; i <= 256 && i <= n; i++ {
		inPad := subtle.ConstantTimeLessOrEq(i, pad+1)
		eq := subtle.ConstantTimeByteEq(pt[n-i], byte(pad))
		good &= eq | (1 ^ inPad)
	}
	content := pt[:n-1-pad-ms]
	tag := pt[n-1-pad-ms : n-1-pad]
	c.mac.Reset()
	c.mac.Write(aad12(&c.ad, seq, rec, len(content)))
	c.mac.Write(content)
	c.tag = c.mac.Sum(c.tag[:0])
	good &= subtle.ConstantTimeCompare(c.tag, tag)
	if good != 1 {
		return nil, false
	}
	return content, true
}

// decryptCBC decrypts enc (IV || ciphertext) and appends the plaintext to dst.
// len(enc) is a multiple of the block size and at least two blocks.
func decryptCBC(b cipher.Block, dst, enc []byte) []byte {
	bs := b.BlockSize()
	n := len(enc) - bs
	start := len(dst)
	dst = extend(dst, n)
	cipher.NewCBCDecrypter(b, enc[:bs]).CryptBlocks(dst[start:], enc[bs:])
	return dst[start:]
}

// extend returns dst grown by n bytes (reallocated only when it lacks the
// capacity); the n bytes are dst[len(dst)-n:] of the result.
func extend(dst []byte, n int) []byte {
	start := len(dst)
	if cap(dst)-start < n {
		nd := make([]byte, start, start+n)
		copy(nd, dst)
		dst = nd
	}
	return dst[:start+n]
}

// newTLS12Cipher builds one direction's record cipher from its key block part.
func newTLS12Cipher(s *suiteInfo, k tls12Keys, etm bool) (recordCipher, error) {
	switch s.kind {
	case kindGCM, kindCCM:
		a, err := newAEAD(s.kind, k.key)
		if err != nil {
			return nil, err
		}
		c := &gcm12Cipher{aead: a}
		copy(c.salt[:], k.iv)
		return c, nil
	case kindChaCha:
		a, err := newAEAD(kindChaCha, k.key)
		if err != nil {
			return nil, err
		}
		c := &chacha12Cipher{aead: a}
		copy(c.iv[:], k.iv)
		return c, nil
	case kindCBC:
		b, err := aes.NewCipher(k.key)
		if err != nil {
			return nil, errKeyLen
		}
		return &cbcCipher{block: b, mac: hmac.New(s.mac, k.mac), etm: etm}, nil
	}
	return nil, errKeyLen
}
