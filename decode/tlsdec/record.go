package tlsdec

import (
	"fmt"

	"github.com/sockscope/sockscope/reassembly"
)

// ContentType is a TLS record content type (RFC 8446 §5.1).
type ContentType uint8

const (
	ChangeCipherSpec ContentType = 20
	Alert            ContentType = 21
	Handshake        ContentType = 22
	ApplicationData  ContentType = 23
	Heartbeat        ContentType = 24
)

// String names the content type ("application_data"), or "type(N)".
func (c ContentType) String() string {
	switch c {
	case ChangeCipherSpec:
		return "change_cipher_spec"
	case Alert:
		return "alert"
	case Handshake:
		return "handshake"
	case ApplicationData:
		return "application_data"
	case Heartbeat:
		return "heartbeat"
	}
	return fmt.Sprintf("type(%d)", uint8(c))
}

// Record is one TLS record as the Session saw it. Plaintext (and the Record
// itself) is valid only during the OnRecord call: copy what you keep.
type Record struct {
	Dir reassembly.Direction
	// N numbers the records of this direction from 1.
	N int
	// Range is where the record (5-byte header included) lies in this
	// direction's byte stream, counting from the first byte given to the
	// Session for this direction.
	Range reassembly.ByteRange
	// Type is the content type in the record header (outer type).
	Type ContentType
	// Version is the record header's legacy version (0x0303 for TLS 1.2 and 1.3).
	Version uint16
	// Encrypted says the record is protected (by the keys in force for its
	// direction), whether or not it could be decrypted.
	Encrypted bool
	// Decrypted says Plaintext is the authenticated plaintext of an
	// encrypted record. A record that failed authentication is never
	// Decrypted and has no Plaintext.
	Decrypted bool
	// Inner is the real content type: for a decrypted TLS 1.3 record the
	// inner type (padding removed); otherwise Type. Zero when an encrypted
	// record could not be decrypted.
	Inner ContentType
	// Plaintext is the record's content: the decrypted plaintext (for TLS
	// 1.3 without the inner type and padding), or, for a record sent in the
	// clear, its fragment. Nil for an encrypted record not decrypted.
	Plaintext []byte
	// AppOffset is the offset of Plaintext in this direction's stream of
	// decrypted application data (what Wireshark's Follow TLS Stream shows),
	// when Inner is ApplicationData and Decrypted; -1 otherwise.
	AppOffset int64
	// Err says why an encrypted record has no plaintext (a *DecryptError),
	// or why the record is malformed. Nil when all is well.
	Err error
}

// Reason classifies why a record was not decrypted.
type Reason uint8

const (
	// NoKey: the key log has no usable secret for this connection's client random.
	NoKey Reason = iota + 1
	// UnsupportedSuite: the negotiated cipher suite is not one this package decrypts.
	UnsupportedSuite
	// UnsupportedVersion: the negotiated protocol version is below TLS 1.2.
	UnsupportedVersion
	// AuthFailed: the record's authentication tag (AEAD tag, HMAC, CBC
	// padding) did not verify with any key that could apply.
	AuthFailed
	// NoHandshake: the hellos were not seen (capture started mid-connection,
	// or a gap), so the keys cannot be chosen.
	NoHandshake
	// Malformed: the bytes are not a well-formed TLS record; the direction
	// lost record sync and nothing after it in this direction is decoded.
	Malformed
	// Truncated: the stream ended (Close) inside this record.
	Truncated
	// Lost: bytes of this direction were missing (Gap), so records are no
	// longer found.
	Lost
)

// DecryptError says why a record has no plaintext. It never holds key material.
type DecryptError struct {
	Reason Reason
	Record int // the record's N
	// Suite is the negotiated cipher suite (UnsupportedSuite).
	Suite uint16
	// ClientRandom is the connection's client random (NoKey); it is public.
	ClientRandom Random
	// Version is the negotiated version (UnsupportedVersion).
	Version uint16
	// Detail adds a short, key-free explanation (Malformed).
	Detail string
}

func (e *DecryptError) Error() string {
	switch e.Reason {
	case NoKey:
		return fmt.Sprintf("record %d: no key for client random %s", e.Record, e.ClientRandom)
	case UnsupportedSuite:
		return fmt.Sprintf("record %d: cipher suite %s (0x%04X) not supported", e.Record, SuiteName(e.Suite), e.Suite)
	case UnsupportedVersion:
		return fmt.Sprintf("record %d: %s not supported (TLS 1.2 and 1.3 only)", e.Record, VersionName(e.Version))
	case AuthFailed:
		return fmt.Sprintf("record %d failed authentication: wrong key or damaged capture", e.Record)
	case NoHandshake:
		return fmt.Sprintf("record %d: handshake not seen, keys unknown", e.Record)
	case Malformed:
		return fmt.Sprintf("record %d malformed: %s", e.Record, e.Detail)
	case Truncated:
		return fmt.Sprintf("record %d truncated: the stream ended inside it", e.Record)
	case Lost:
		return fmt.Sprintf("record %d: bytes missing from the capture, record sync lost", e.Record)
	}
	return fmt.Sprintf("record %d: not decrypted", e.Record)
}

// VersionName names a protocol version: "TLS 1.2", "TLS 1.3", ...
func VersionName(v uint16) string {
	switch v {
	case 0x0300:
		return "SSL 3.0"
	case 0x0301:
		return "TLS 1.0"
	case 0x0302:
		return "TLS 1.1"
	case 0x0303:
		return "TLS 1.2"
	case 0x0304:
		return "TLS 1.3"
	case 0:
		return "unknown version"
	}
	return fmt.Sprintf("version 0x%04X", v)
}
