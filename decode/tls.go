package decode

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/sockscope/sockscope/reassembly"
)

// TLS record content types (RFC 8446 §5.1, RFC 6520 for heartbeat).
const (
	tlsChangeCipherSpec = 20
	tlsAlert            = 21
	tlsHandshake        = 22
	tlsApplicationData  = 23
	tlsHeartbeat        = 24
)

const (
	// tlsHeaderLen is the size of a record header: type, version, length.
	tlsHeaderLen = 5
	// tlsMaxRecord is the largest record length TLS allows on the wire
	// (RFC 5246 §6.2.3: TLSCiphertext.length <= 2^14 + 2048). A longer length
	// means the bytes are not TLS or the stream lost sync, so it is reported
	// instead of waited for.
	tlsMaxRecord = 1<<14 + 2048
	// tlsMaxHandshakeKept bounds the bytes kept of one handshake message that
	// spans records (a certificate chain, usually a few KiB). Longer messages
	// are still framed and named; only their contents are not parsed.
	tlsMaxHandshakeKept = 64 << 10
	// tlsMaxListed bounds how many SNI/ALPN/version entries a summary lists.
	tlsMaxListed = 8
)

// tlsDecoder frames TLS records, one Message per record, and names the
// handshake messages inside cleartext handshake records. It keeps per-direction
// state because a handshake message may span several records and because
// records after ChangeCipherSpec are encrypted and must not be parsed.
type tlsDecoder struct {
	// encrypted[dir] is set once dir sent ChangeCipherSpec: its later
	// handshake and alert records are ciphertext.
	encrypted [2]bool
	// carry[dir] is the start of a handshake message that continues in the
	// next handshake record of dir.
	carry [2]tlsCarry
}

var _ Decoder = (*tlsDecoder)(nil)

var (
	_ Decoder  = (*tlsDecoder)(nil)
	_ Resyncer = (*tlsDecoder)(nil)
)

// tlsCarry is an incomplete handshake message: its first bytes (header
// included, at most tlsMaxHandshakeKept), its total length 4+body once the
// 4-byte header is complete (0 before), and how many of its bytes were seen.
type tlsCarry struct {
	buf  []byte
	need int
	seen int
}

func (c *tlsCarry) active() bool { return c.seen > 0 }

// newTLS returns a decoder of TLS records. TLS runs over a byte stream, so the
// transport is not consulted (DTLS is a different record format).
func newTLS(Transport) Decoder { return &tlsDecoder{} }

func tlsErr(off int, format string, args ...any) *Error {
	return &Error{Protocol: "tls", Offset: off, Reason: fmt.Sprintf(format, args...)}
}

// tlsRecordHeader checks the 5 bytes at the front of h and returns the record's
// fragment length, or a reason why h cannot be a record header.
func tlsRecordHeader(h []byte) (int, string) {
	if h[0] < tlsChangeCipherSpec || h[0] > tlsHeartbeat {
		return 0, fmt.Sprintf("content type %d is not a TLS record type (20-24)", h[0])
	}
	// Each reason names only its own byte, so the answer for a header that
	// arrives a byte at a time is the same as for the whole header.
	if h[1] != 3 {
		return 0, fmt.Sprintf("record version major byte 0x%02x is not 3 (SSL 3.0 to TLS 1.3)", h[1])
	}
	if h[2] > 4 {
		return 0, fmt.Sprintf("record version 3.%d is not SSL 3.0 to TLS 1.3", h[2])
	}
	n := int(binary.BigEndian.Uint16(h[3:5]))
	if n > tlsMaxRecord {
		return 0, fmt.Sprintf("record length %d exceeds the TLS maximum %d", n, tlsMaxRecord)
	}
	return n, ""
}

// Next implements Decoder: one record per call.
func (d *tlsDecoder) Next(dir reassembly.Direction, b []byte, atEOF bool) (Message, int, error) {
	dir &= 1
	if len(b) < tlsHeaderLen {
		// Check the type and version bytes present (the rest filled with
		// valid values), so that garbage is reported even when it arrives a
		// byte at a time. The length is checked once both its bytes are here.
		h := [tlsHeaderLen]byte{tlsHandshake, 3, 3, 0, 0}
		copy(h[:3], b)
		if _, why := tlsRecordHeader(h[:]); why != "" {
			return Message{}, 0, tlsErr(0, "%s", why)
		}
		return Message{}, 0, ErrNeedMore
	}
	n, why := tlsRecordHeader(b)
	if why != "" {
		return Message{}, 0, tlsErr(0, "%s", why)
	}
	total := tlsHeaderLen + n
	if len(b) < total {
		return Message{}, total, ErrNeedMore
	}
	frag := b[tlsHeaderLen:total]
	ver := binary.BigEndian.Uint16(b[1:3])
	m := Message{
		Protocol: "tls",
		Fields: []Field{
			{"type", tlsTypeName(b[0])},
			{"version", tlsVersionName(ver)},
			{"length", strconv.Itoa(n)},
		},
		Parts: []Part{{Range: reassembly.ByteRange{Start: 0, End: tlsHeaderLen}, Label: "record header"}},
	}
	body := reassembly.ByteRange{Start: tlsHeaderLen, End: int64(total)}
	switch b[0] {
	case tlsChangeCipherSpec:
		m.Summary = "ChangeCipherSpec"
		m.Parts = append(m.Parts, Part{body, "ChangeCipherSpec"})
		d.encrypted[dir] = true
	case tlsAlert:
		if d.encrypted[dir] || n != 2 {
			m.Summary = "Alert (encrypted, " + bSize(int64(n)) + ")"
			m.Parts = append(m.Parts, Part{body, "encrypted alert"})
			break
		}
		level, desc := tlsAlertLevel(frag[0]), tlsAlertName(frag[1])
		m.Summary = "Alert " + level + " " + desc
		m.Fields = append(m.Fields, Field{"alert_level", level}, Field{"alert", desc})
		m.Parts = append(m.Parts, Part{body, "alert"})
	case tlsHandshake:
		d.handshake(dir, &m, frag)
	case tlsApplicationData:
		m.Summary = "Application Data " + bSize(int64(n))
		m.Parts = append(m.Parts, Part{body, "encrypted data"})
	case tlsHeartbeat:
		m.Summary = "Heartbeat " + bSize(int64(n))
		m.Parts = append(m.Parts, Part{body, "heartbeat"})
	}
	return m, total, nil
}

// Resync implements Resyncer: it returns the offset of the first complete,
// plausible record header (type 20-23, version 3.0-3.4, length within the
// limit), and forgets any handshake message that was being carried over,
// since the bytes between are lost.
func (d *tlsDecoder) Resync(dir reassembly.Direction, b []byte) int {
	d.carry[dir&1] = tlsCarry{}
	for i := 0; i+tlsHeaderLen <= len(b); i++ {
		if b[i] < tlsChangeCipherSpec || b[i] > tlsApplicationData {
			continue
		}
		if _, why := tlsRecordHeader(b[i:]); why == "" {
			return i
		}
	}
	return -1
}

// handshake describes a handshake record: the handshake messages that start,
// continue or end in it. It updates d.carry[dir] for the next record.
func (d *tlsDecoder) handshake(dir reassembly.Direction, m *Message, frag []byte) {
	if d.encrypted[dir] && !d.carry[dir].active() {
		m.Summary = "Handshake (encrypted, " + bSize(int64(len(frag))) + ")"
		m.Parts = append(m.Parts, Part{reassembly.ByteRange{Start: tlsHeaderLen, End: int64(tlsHeaderLen + len(frag))}, "encrypted handshake"})
		return
	}
	var descs, names []string
	part := func(start, end int, label string) {
		m.Parts = append(m.Parts, Part{reassembly.ByteRange{Start: int64(tlsHeaderLen + start), End: int64(tlsHeaderLen + end)}, label})
	}
	i := 0
	c := d.carry[dir]
	if c.active() {
		if c.need == 0 {
			k := min(4-len(c.buf), len(frag))
			c.buf = append(c.buf, frag[:k]...)
			c.seen += k
			i = k
			if len(c.buf) == 4 {
				c.need = 4 + int(tlsU24(c.buf[1:4]))
			}
		}
		if c.need > 0 {
			k := min(c.need-c.seen, len(frag)-i)
			if keep := min(k, tlsMaxHandshakeKept-len(c.buf)); keep > 0 {
				c.buf = append(c.buf, frag[i:i+keep]...)
			}
			c.seen += k
			i += k
		}
		name := "handshake header"
		if len(c.buf) > 0 {
			name = tlsHandshakeName(c.buf[0])
		}
		switch {
		case c.need > 0 && c.seen == c.need:
			desc, fields := d.describe(c.buf, len(c.buf) == c.need)
			descs = append(descs, desc+" (end)")
			names = append(names, name)
			m.Fields = append(m.Fields, fields...)
			part(0, i, name+" (end)")
			c = tlsCarry{}
		default:
			descs = append(descs, name+" (continued)")
			part(0, i, name+" (continued)")
		}
	}
	for i < len(frag) {
		rest := frag[i:]
		if !tlsKnownHandshake(rest[0]) && i == 0 && !c.active() {
			// Not a handshake message we know: most likely an encrypted
			// Finished whose ChangeCipherSpec was not captured.
			m.Summary = "Handshake (encrypted, " + bSize(int64(len(frag))) + ")"
			m.Parts = append(m.Parts, Part{reassembly.ByteRange{Start: tlsHeaderLen, End: int64(tlsHeaderLen + len(frag))}, "encrypted handshake"})
			d.carry[dir] = tlsCarry{}
			return
		}
		name := tlsHandshakeName(rest[0])
		if len(rest) >= 4 && 4+int(tlsU24(rest[1:4])) <= len(rest) {
			end := 4 + int(tlsU24(rest[1:4]))
			desc, fields := d.describe(rest[:end], true)
			descs = append(descs, desc)
			names = append(names, name)
			m.Fields = append(m.Fields, fields...)
			part(i, i+end, name)
			i += end
			continue
		}
		// The message continues in the next record.
		c = tlsCarry{buf: append([]byte(nil), rest[:min(len(rest), tlsMaxHandshakeKept)]...), seen: len(rest)}
		desc := name + " (start)"
		if len(rest) >= 4 {
			c.need = 4 + int(tlsU24(rest[1:4]))
			desc = fmt.Sprintf("%s (start, %s of %s)", name, bSize(int64(len(rest))), bSize(int64(c.need)))
		}
		descs = append(descs, desc)
		part(i, len(frag), name+" (start)")
		i = len(frag)
	}
	d.carry[dir] = c
	if len(descs) == 0 {
		descs = append(descs, "(empty)")
	}
	m.Summary = "Handshake " + strings.Join(descs, ", ")
	if len(names) > 0 {
		m.Fields = append(m.Fields, Field{"handshake", strings.Join(names, ",")})
	}
}

// describe returns a summary and fields for one handshake message msg (4-byte
// header included). whole is false when only a prefix of a long message was
// kept, which is then only named.
func (d *tlsDecoder) describe(msg []byte, whole bool) (string, []Field) {
	name := tlsHandshakeName(msg[0])
	if !whole || len(msg) < 4 {
		return name, nil
	}
	body := msg[4:]
	switch msg[0] {
	case 1:
		return tlsClientHello(body)
	case 2:
		return tlsServerHello(body)
	case 11:
		return tlsCertificate(body)
	}
	return name, nil
}

// tlsClientHello describes a ClientHello: SNI, ALPN and the versions offered
// in supported_versions (GREASE values left out).
func tlsClientHello(body []byte) (string, []Field) {
	r := tlsReader{b: body}
	legacy := r.u16()
	r.take(32) // random
	r.vec8()   // session id
	suites := r.vec16()
	r.vec8() // compression methods
	var exts []byte
	if len(r.b) > 0 { // extensions are optional before TLS 1.2
		exts = r.vec16()
	}
	if r.bad {
		return "ClientHello (malformed)", nil
	}
	var sni, alpn, versions []string
	er := tlsReader{b: exts}
	for !er.bad && len(er.b) >= 4 {
		typ, data := er.u16(), er.vec16()
		dr := tlsReader{b: data}
		switch typ {
		case 0: // server_name
			lr := tlsReader{b: dr.vec16()}
			for !lr.bad && len(lr.b) > 0 {
				kind, name := lr.u8(), lr.vec16()
				if !lr.bad && kind == 0 && len(sni) < tlsMaxListed {
					sni = append(sni, string(name))
				}
			}
		case 16: // application_layer_protocol_negotiation
			lr := tlsReader{b: dr.vec16()}
			for !lr.bad && len(lr.b) > 0 {
				p := lr.vec8()
				if !lr.bad && len(alpn) < tlsMaxListed {
					alpn = append(alpn, string(p))
				}
			}
		case 43: // supported_versions
			lr := tlsReader{b: dr.vec8()}
			for !lr.bad && len(lr.b) >= 2 {
				v := lr.u16()
				if !tlsGrease(v) && len(versions) < tlsMaxListed {
					versions = append(versions, tlsVersionName(v))
				}
			}
		}
	}
	s := "ClientHello"
	fields := []Field{{"client_version", tlsVersionName(legacy)}, {"cipher_suites", strconv.Itoa(len(suites) / 2)}}
	if len(sni) > 0 {
		s += " SNI=" + strings.Join(sni, ",")
		fields = append(fields, Field{"sni", strings.Join(sni, ",")})
	}
	if len(alpn) > 0 {
		s += " ALPN=" + strings.Join(alpn, ",")
		fields = append(fields, Field{"alpn", strings.Join(alpn, ",")})
	}
	if len(versions) > 0 {
		fields = append(fields, Field{"supported_versions", strings.Join(versions, ",")})
	}
	return s, fields
}

// tlsHelloRetryRandom is the ServerHello.random that marks a HelloRetryRequest
// (RFC 8446 §4.1.3).
var tlsHelloRetryRandom = [32]byte{
	0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
	0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
}

// tlsServerHello describes a ServerHello: the version chosen (from
// supported_versions for TLS 1.3, whose legacy field says 1.2) and the cipher suite.
func tlsServerHello(body []byte) (string, []Field) {
	r := tlsReader{b: body}
	ver := r.u16()
	random := r.take(32)
	r.vec8() // session id
	suite := r.u16()
	r.u8() // compression method
	if r.bad {
		return "ServerHello (malformed)", nil
	}
	if len(r.b) >= 2 {
		er := tlsReader{b: r.vec16()}
		for !er.bad && len(er.b) >= 4 {
			typ, data := er.u16(), er.vec16()
			if typ == 43 && len(data) == 2 {
				ver = binary.BigEndian.Uint16(data)
			}
		}
	}
	name := "ServerHello"
	if len(random) == 32 && [32]byte(random) == tlsHelloRetryRandom {
		name = "HelloRetryRequest"
	}
	v, cs := tlsVersionName(ver), tls.CipherSuiteName(suite)
	return name + " " + v + " " + cs, []Field{{"selected_version", v}, {"cipher_suite", cs}}
}

// tlsCertificate describes a TLS 1.2 Certificate message: how many
// certificates and the subject CN of the first (the server's own).
func tlsCertificate(body []byte) (string, []Field) {
	r := tlsReader{b: body}
	list := tlsReader{b: r.vec24()}
	if r.bad {
		return "Certificate (malformed)", nil
	}
	count := 0
	var cn string
	for !list.bad && len(list.b) >= 3 {
		der := list.vec24()
		if list.bad {
			break
		}
		if count == 0 {
			if cert, err := x509.ParseCertificate(der); err == nil {
				cn = cert.Subject.CommonName
			}
		}
		count++
	}
	s := "Certificate " + strconv.Itoa(count) + " cert"
	if count != 1 {
		s += "s"
	}
	fields := []Field{{"certificates", strconv.Itoa(count)}}
	if cn != "" {
		s += " CN=" + cn
		fields = append(fields, Field{"subject_cn", cn})
	}
	return s, fields
}

// tlsReader reads TLS's big-endian integers and length-prefixed vectors from
// b. A read past the end sets bad and returns zero values, so parsers check
// once at the end instead of after every field.
type tlsReader struct {
	b   []byte
	bad bool
}

// take returns the next n bytes, or nil (and sets bad) if there are fewer.
func (r *tlsReader) take(n int) []byte {
	if r.bad || n > len(r.b) {
		r.bad, r.b = true, nil
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *tlsReader) u8() byte {
	if v := r.take(1); v != nil {
		return v[0]
	}
	return 0
}

func (r *tlsReader) u16() uint16 {
	if v := r.take(2); v != nil {
		return binary.BigEndian.Uint16(v)
	}
	return 0
}

func (r *tlsReader) vec8() []byte { return r.take(int(r.u8())) }

func (r *tlsReader) vec16() []byte { return r.take(int(r.u16())) }

func (r *tlsReader) vec24() []byte {
	if v := r.take(3); v != nil {
		return r.take(int(tlsU24(v)))
	}
	return nil
}

func tlsU24(b []byte) uint32 { return uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2]) }

// tlsGrease reports whether v is a GREASE value (RFC 8701: 0x0a0a, 0x1a1a, ...),
// which clients offer only to keep servers tolerant and which mean nothing.
func tlsGrease(v uint16) bool { return v&0x0f0f == 0x0a0a && v>>8 == v&0xff }

func tlsVersionName(v uint16) string {
	if v == 0x0300 || v >= 0x0301 && v <= 0x0304 {
		return tls.VersionName(v)
	}
	return fmt.Sprintf("0x%04x", v)
}

func tlsTypeName(t byte) string {
	switch t {
	case tlsChangeCipherSpec:
		return "change_cipher_spec"
	case tlsAlert:
		return "alert"
	case tlsHandshake:
		return "handshake"
	case tlsApplicationData:
		return "application_data"
	case tlsHeartbeat:
		return "heartbeat"
	}
	return strconv.Itoa(int(t))
}

// tlsHandshakeNames names handshake message types (IANA TLS HandshakeType).
var tlsHandshakeNames = map[byte]string{
	0: "HelloRequest", 1: "ClientHello", 2: "ServerHello", 3: "HelloVerifyRequest",
	4: "NewSessionTicket", 5: "EndOfEarlyData", 6: "HelloRetryRequest", 8: "EncryptedExtensions",
	11: "Certificate", 12: "ServerKeyExchange", 13: "CertificateRequest", 14: "ServerHelloDone",
	15: "CertificateVerify", 16: "ClientKeyExchange", 20: "Finished", 21: "CertificateURL",
	22: "CertificateStatus", 23: "SupplementalData", 24: "KeyUpdate", 25: "CompressedCertificate",
	254: "MessageHash",
}

func tlsKnownHandshake(t byte) bool { _, ok := tlsHandshakeNames[t]; return ok }

func tlsHandshakeName(t byte) string {
	if s, ok := tlsHandshakeNames[t]; ok {
		return s
	}
	return "handshake type " + strconv.Itoa(int(t))
}

func tlsAlertLevel(l byte) string {
	switch l {
	case 1:
		return "warning"
	case 2:
		return "fatal"
	}
	return "level " + strconv.Itoa(int(l))
}

// tlsAlertNames names alert descriptions (IANA TLS AlertDescription).
var tlsAlertNames = map[byte]string{
	0: "close_notify", 10: "unexpected_message", 20: "bad_record_mac", 21: "decryption_failed",
	22: "record_overflow", 30: "decompression_failure", 40: "handshake_failure", 41: "no_certificate",
	42: "bad_certificate", 43: "unsupported_certificate", 44: "certificate_revoked",
	45: "certificate_expired", 46: "certificate_unknown", 47: "illegal_parameter", 48: "unknown_ca",
	49: "access_denied", 50: "decode_error", 51: "decrypt_error", 60: "export_restriction",
	70: "protocol_version", 71: "insufficient_security", 80: "internal_error",
	86: "inappropriate_fallback", 90: "user_canceled", 100: "no_renegotiation",
	109: "missing_extension", 110: "unsupported_extension", 111: "certificate_unobtainable",
	112: "unrecognized_name", 113: "bad_certificate_status_response", 114: "bad_certificate_hash_value",
	115: "unknown_psk_identity", 116: "certificate_required", 120: "no_application_protocol",
}

func tlsAlertName(a byte) string {
	if s, ok := tlsAlertNames[a]; ok {
		return s
	}
	return "description " + strconv.Itoa(int(a))
}

// bSize formats a byte count for summaries the way the views do: "812 B",
// "1.2 KiB", "5.0 MiB" (binary units, one decimal), and "16 KiB" without the
// decimal when the count is an exact multiple, as HTTP/2 frame sizes usually
// are. Shared by the tls, dns, resp and h2 decoders.
func bSize(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, suffix := int64(unit), "KiB"
	for _, s := range []string{"MiB", "GiB", "TiB"} {
		if n < div*unit {
			break
		}
		div, suffix = div*unit, s
	}
	if n%div == 0 {
		return strconv.FormatInt(n/div, 10) + " " + suffix
	}
	return strconv.FormatFloat(float64(n)/float64(div), 'f', 1, 64) + " " + suffix
}

// bTrunc shortens s to at most max bytes, cutting at a UTF-8 boundary and
// marking the cut with "…", so summaries stay one short line. Shared by the
// tls, dns, resp and h2 decoders.
func bTrunc(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
