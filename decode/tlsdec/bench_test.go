package tlsdec

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/sockscope/sockscope/reassembly"
)

// synthConn is a generated TLS 1.3 TLS_AES_128_GCM_SHA256 connection: a
// ClientHello, a ServerHello and n full application data records from the
// server, sealed with crypto/cipher under SERVER_TRAFFIC_SECRET_0.
type synthConn struct {
	keys     *KeyLog
	c2s, s2c []byte
	appBytes int64
}

func hsMsg(typ byte, body []byte) []byte {
	m := []byte{typ, byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body))}
	return append(m, body...)
}

func plainRecord(typ byte, frag []byte) []byte {
	return append([]byte{typ, 3, 3, byte(len(frag) >> 8), byte(len(frag))}, frag...)
}

func newSynthConn(tb testing.TB, records, size int) *synthConn {
	tb.Helper()
	var cr Random
	for i := range cr {
		cr[i] = byte(i)
	}
	// ClientHello: version, random, empty session id, one suite, null compression, no extensions.
	ch := append([]byte{3, 3}, cr[:]...)
	ch = append(ch, 0, 0, 2, 0x13, 0x01, 1, 0)
	// ServerHello with supported_versions = TLS 1.3.
	sh := append([]byte{3, 3}, make([]byte, 32)...)
	sh[2] = 0x55
	sh = append(sh, 0, 0x13, 0x01, 0)
	sh = append(sh, 0, 6, 0, 43, 0, 2, 3, 4)
	secret := sha256.Sum256([]byte("benchmark server traffic secret"))
	kl, err := ParseKeyLog(strings.NewReader("SERVER_TRAFFIC_SECRET_0 " + cr.String() + " " + hex.EncodeToString(secret[:]) + "\n"))
	if err != nil {
		tb.Fatal(err)
	}
	suite := suites[0x1301]
	key := hkdfExpandLabel(suite.prf, secret[:], "key", 16)
	iv := hkdfExpandLabel(suite.prf, secret[:], "iv", 12)
	block, _ := aes.NewCipher(key)
	aead, _ := cipher.NewGCM(block)
	c := &synthConn{keys: kl, c2s: plainRecord(22, hsMsg(hsClientHello, ch))}
	c.s2c = plainRecord(22, hsMsg(hsServerHello, sh))
	inner := make([]byte, size+1)
	for i := range size {
		inner[i] = byte(i)
	}
	inner[size] = byte(ApplicationData)
	out := make([]byte, 0, len(c.s2c)+records*(5+size+1+16))
	out = append(out, c.s2c...)
	for seq := range records {
		n := len(inner) + aead.Overhead()
		hdr := []byte{23, 3, 3, byte(n >> 8), byte(n)}
		var nonce [12]byte
		copy(nonce[:], iv)
		var sb [8]byte
		binary.BigEndian.PutUint64(sb[:], uint64(seq))
		for i := range 8 {
			nonce[4+i] ^= sb[i]
		}
		binary.BigEndian.PutUint32(inner, uint32(seq)) // records differ
		out = append(out, hdr...)
		out = aead.Seal(out, nonce[:], inner, hdr)
	}
	c.s2c = out
	c.appBytes = int64(records) * int64(size)
	return c
}

// decryptSynth feeds the connection in chunks of chunk bytes and returns the
// application bytes decrypted.
func decryptSynth(tb testing.TB, c *synthConn, chunk int) int64 {
	var app int64
	var bad int
	s := NewSession(Config{Keys: c.keys, OnRecord: func(r *Record) {
		if r.Err != nil {
			bad++
		}
		if r.Decrypted && r.Inner == ApplicationData {
			app += int64(len(r.Plaintext))
		}
	}})
	s.Feed(reassembly.ClientToServer, c.c2s)
	for b := c.s2c; len(b) > 0; {
		n := min(chunk, len(b))
		s.Feed(reassembly.ServerToClient, b[:n])
		b = b[n:]
	}
	s.Close()
	if bad > 0 {
		tb.Fatalf("%d records with errors", bad)
	}
	return app
}

func TestSynthConn(t *testing.T) {
	c := newSynthConn(t, 50, 1<<14)
	for _, chunk := range []int{1, 1460, 1 << 16} {
		if got := decryptSynth(t, c, chunk); got != c.appBytes {
			t.Errorf("chunk %d: decrypted %d bytes, want %d", chunk, got, c.appBytes)
		}
	}
}

// BenchmarkDecryptTLS13AES128GCM decrypts a 100 MiB TLS 1.3 AES-128-GCM
// application data stream (6400 full records) per iteration, fed in
// 64 KiB chunks (large reads) and 1460-byte chunks (one Ethernet segment
// each: records span chunks, so every record is copied once into the
// Session's buffer). MB/s counts application data bytes.
func BenchmarkDecryptTLS13AES128GCM(b *testing.B) {
	c := newSynthConn(b, 6400, 1<<14)
	for _, chunk := range []int{1 << 16, 1460} {
		b.Run(map[int]string{1 << 16: "chunk64KiB", 1460: "chunk1460"}[chunk], func(b *testing.B) {
			b.SetBytes(c.appBytes)
			b.ReportAllocs()
			for b.Loop() {
				if got := decryptSynth(b, c, chunk); got != c.appBytes {
					b.Fatalf("decrypted %d bytes, want %d", got, c.appBytes)
				}
			}
		})
	}
}
