package tlsdec

import (
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"hash"
)

// cipherKind is how a suite protects records.
type cipherKind uint8

const (
	kindGCM    cipherKind = iota + 1 // AES-GCM
	kindChaCha                       // ChaCha20-Poly1305
	kindCBC                          // AES-CBC + HMAC (TLS 1.2)
	kindCCM                          // AES-CCM, 16-byte tag
)

// suiteInfo is what the record layer needs to know about a cipher suite.
type suiteInfo struct {
	id      uint16
	name    string
	tls13   bool
	kind    cipherKind
	keyLen  int
	macLen  int              // CBC: HMAC key and tag length
	mac     func() hash.Hash // CBC: HMAC hash
	prf     func() hash.Hash // TLS 1.2 PRF hash; TLS 1.3 HKDF hash
	hashLen int              // TLS 1.3: secret length
}

func sha384() hash.Hash { return sha512.New384() }

var suites = map[uint16]*suiteInfo{}

func addSuite(s suiteInfo) {
	if s.prf == nil {
		s.prf = sha256.New
	}
	s.hashLen = s.prf().Size()
	suites[s.id] = &s
}

func init() {
	// TLS 1.3 (RFC 8446 §B.4).
	addSuite(suiteInfo{id: 0x1301, name: "TLS_AES_128_GCM_SHA256", tls13: true, kind: kindGCM, keyLen: 16})
	addSuite(suiteInfo{id: 0x1302, name: "TLS_AES_256_GCM_SHA384", tls13: true, kind: kindGCM, keyLen: 32, prf: sha384})
	addSuite(suiteInfo{id: 0x1303, name: "TLS_CHACHA20_POLY1305_SHA256", tls13: true, kind: kindChaCha, keyLen: 32})
	addSuite(suiteInfo{id: 0x1304, name: "TLS_AES_128_CCM_SHA256", tls13: true, kind: kindCCM, keyLen: 16})
	// TLS 1.2 AES-CCM (RFC 6655, RFC 7251), 16-byte tag.
	for _, s := range []struct {
		id     uint16
		name   string
		keyLen int
	}{
		{0xC09C, "TLS_RSA_WITH_AES_128_CCM", 16}, {0xC09D, "TLS_RSA_WITH_AES_256_CCM", 32},
		{0xC09E, "TLS_DHE_RSA_WITH_AES_128_CCM", 16}, {0xC09F, "TLS_DHE_RSA_WITH_AES_256_CCM", 32},
		{0xC0AC, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM", 16}, {0xC0AD, "TLS_ECDHE_ECDSA_WITH_AES_256_CCM", 32},
	} {
		addSuite(suiteInfo{id: s.id, name: s.name, kind: kindCCM, keyLen: s.keyLen})
	}
	// TLS 1.2 AEAD.
	for _, s := range []struct {
		id   uint16
		name string
	}{
		{0xC02F, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"}, {0xC02B, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"},
		{0x009C, "TLS_RSA_WITH_AES_128_GCM_SHA256"}, {0x009E, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256"},
	} {
		addSuite(suiteInfo{id: s.id, name: s.name, kind: kindGCM, keyLen: 16})
	}
	for _, s := range []struct {
		id   uint16
		name string
	}{
		{0xC030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"}, {0xC02C, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"},
		{0x009D, "TLS_RSA_WITH_AES_256_GCM_SHA384"}, {0x009F, "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384"},
	} {
		addSuite(suiteInfo{id: s.id, name: s.name, kind: kindGCM, keyLen: 32, prf: sha384})
	}
	for _, s := range []struct {
		id   uint16
		name string
	}{
		{0xCCA8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"}, {0xCCA9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"},
		{0xCCAA, "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256"},
	} {
		addSuite(suiteInfo{id: s.id, name: s.name, kind: kindChaCha, keyLen: 32})
	}
	// TLS 1.2 AES-CBC with HMAC. The PRF is SHA-256 except for *_SHA384.
	for _, s := range []struct {
		id     uint16
		name   string
		keyLen int
		mac    func() hash.Hash
		prf    func() hash.Hash
	}{
		{0x002F, "TLS_RSA_WITH_AES_128_CBC_SHA", 16, sha1New, nil},
		{0x0035, "TLS_RSA_WITH_AES_256_CBC_SHA", 32, sha1New, nil},
		{0x0033, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA", 16, sha1New, nil},
		{0x0039, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA", 32, sha1New, nil},
		{0xC013, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", 16, sha1New, nil},
		{0xC014, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", 32, sha1New, nil},
		{0xC009, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", 16, sha1New, nil},
		{0xC00A, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", 32, sha1New, nil},
		{0x003C, "TLS_RSA_WITH_AES_128_CBC_SHA256", 16, sha256.New, nil},
		{0x003D, "TLS_RSA_WITH_AES_256_CBC_SHA256", 32, sha256.New, nil},
		{0x0067, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256", 16, sha256.New, nil},
		{0x006B, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256", 32, sha256.New, nil},
		{0xC027, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", 16, sha256.New, nil},
		{0xC023, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", 16, sha256.New, nil},
		{0xC028, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384", 32, sha384, sha384},
		{0xC024, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384", 32, sha384, sha384},
	} {
		addSuite(suiteInfo{id: s.id, name: s.name, kind: kindCBC, keyLen: s.keyLen, mac: s.mac, macLen: s.mac().Size(), prf: s.prf})
	}
}

// knownNames names suites this package recognises but cannot decrypt, so the
// "not supported" report can say which.
var knownNames = map[uint16]string{
	0xC0A0: "TLS_RSA_WITH_AES_128_CCM_8",
	0xC0AE: "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8",
	0x1305: "TLS_AES_128_CCM_8_SHA256",
	0x000A: "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
	0xC012: "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
	0x0005: "TLS_RSA_WITH_RC4_128_SHA",
	0x0004: "TLS_RSA_WITH_RC4_128_MD5",
	0xC011: "TLS_ECDHE_RSA_WITH_RC4_128_SHA",
	0x0041: "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA",
	0x0084: "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA",
	0x00AE: "TLS_PSK_WITH_AES_128_CBC_SHA256",
	0x00A8: "TLS_PSK_WITH_AES_128_GCM_SHA256",
	0xC0A4: "TLS_PSK_WITH_AES_128_CCM",
}

// SuiteName returns the IANA name of a cipher suite, or "0xXXXX" when this
// package does not know it.
func SuiteName(id uint16) string {
	if s := suites[id]; s != nil {
		return s.name
	}
	if n, ok := knownNames[id]; ok {
		return n
	}
	return fmt.Sprintf("0x%04X", id)
}

// SuiteSupported reports whether records protected by the suite can be
// decrypted by this package.
func SuiteSupported(id uint16) bool { return suites[id] != nil }
