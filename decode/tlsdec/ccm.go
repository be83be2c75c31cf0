package tlsdec

import (
	"crypto/cipher"
	"crypto/subtle"
	"errors"
)

// ccm is AES-CCM (NIST SP 800-38C, RFC 3610) with a 12-byte nonce and a
// 16-byte tag, as TLS uses it (RFC 8446 TLS_AES_128_CCM_SHA256, RFC 6655).
// Neither the standard library nor golang.org/x/crypto provides CCM, so it
// is built here on crypto/cipher's block and CTR mode: CBC-MAC over the
// formatted nonce, additional data and plaintext; CTR encryption from
// counter 1; the tag masked with the keystream block of counter 0.
type ccm struct {
	b   cipher.Block
	mac [16]byte // scratch
	blk [16]byte // scratch
	s0  [16]byte // scratch
	ctr [16]byte // scratch
}

const (
	ccmNonce = 12
	ccmTag   = 16
	ccmQ     = 15 - ccmNonce // bytes of the message length field
)

var errCCMOpen = errors.New("ccm: message authentication failed")

func newCCM(b cipher.Block) cipher.AEAD { return &ccm{b: b} }

func (c *ccm) NonceSize() int { return ccmNonce }
func (c *ccm) Overhead() int  { return ccmTag }

// cbcMAC computes the untruncated CBC-MAC of (B0, encoded ad, plaintext) into c.mac.
func (c *ccm) cbcMAC(nonce, ad, pt []byte) {
	flags := byte(0)
	if len(ad) > 0 {
		flags = 0x40
	}
	flags |= byte((ccmTag-2)/2) << 3
	flags |= ccmQ - 1
	c.mac[0] = flags
	copy(c.mac[1:], nonce)
	n := len(pt)
	c.mac[13], c.mac[14], c.mac[15] = byte(n>>16), byte(n>>8), byte(n)
	c.b.Encrypt(c.mac[:], c.mac[:])
	if len(ad) > 0 {
		// ad is short in TLS (< 2^16 - 2^8): a 2-byte length prefix.
		c.blk = [16]byte{}
		c.blk[0], c.blk[1] = byte(len(ad)>>8), byte(len(ad))
		i := copy(c.blk[2:], ad)
		c.absorb(c.blk[:])
		c.absorbPadded(ad[i:])
	}
	c.absorbPadded(pt)
}

func (c *ccm) absorb(block []byte) {
	subtle.XORBytes(c.mac[:], c.mac[:], block)
	c.b.Encrypt(c.mac[:], c.mac[:])
}

// absorbPadded MACs p, zero-padded to a whole number of blocks.
func (c *ccm) absorbPadded(p []byte) {
	for len(p) >= 16 {
		c.absorb(p[:16])
		p = p[16:]
	}
	if len(p) > 0 {
		c.blk = [16]byte{}
		copy(c.blk[:], p)
		c.absorb(c.blk[:])
	}
}

// counters sets c.ctr to counter block 1 and c.s0 to E(counter block 0).
func (c *ccm) counters(nonce []byte) {
	c.ctr = [16]byte{}
	c.ctr[0] = ccmQ - 1
	copy(c.ctr[1:], nonce)
	c.b.Encrypt(c.s0[:], c.ctr[:])
	c.ctr[15] = 1
}

func (c *ccm) Seal(dst, nonce, pt, ad []byte) []byte {
	if len(nonce) != ccmNonce || len(pt) >= 1<<(8*ccmQ) {
		panic("tlsdec: bad CCM nonce or message length")
	}
	c.cbcMAC(nonce, ad, pt)
	c.counters(nonce)
	start := len(dst)
	dst = append(dst, make([]byte, len(pt)+ccmTag)...)
	out := dst[start:]
	cipher.NewCTR(c.b, c.ctr[:]).XORKeyStream(out[:len(pt)], pt)
	subtle.XORBytes(out[len(pt):], c.mac[:ccmTag], c.s0[:ccmTag])
	return dst
}

func (c *ccm) Open(dst, nonce, ct, ad []byte) ([]byte, error) {
	if len(nonce) != ccmNonce || len(ct) < ccmTag || len(ct)-ccmTag >= 1<<(8*ccmQ) {
		return nil, errCCMOpen
	}
	n := len(ct) - ccmTag
	c.counters(nonce)
	start := len(dst)
	dst = extend(dst, n)
	pt := dst[start:]
	cipher.NewCTR(c.b, c.ctr[:]).XORKeyStream(pt, ct[:n])
	c.cbcMAC(nonce, ad, pt)
	var want [ccmTag]byte
	subtle.XORBytes(want[:], c.mac[:ccmTag], c.s0[:ccmTag])
	if subtle.ConstantTimeCompare(want[:], ct[n:]) != 1 {
		clear(pt)
		return nil, errCCMOpen
	}
	return dst, nil
}
