package decode

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strconv"
	"strings"
)

// DetectInput is what Detect looks at: the transport, the ports, and the first
// bytes of each direction (a few hundred are enough; either may be empty).
type DetectInput struct {
	Transport              Transport
	ClientPort, ServerPort uint16
	C2S, S2C               []byte
}

// detectMaxLook bounds how many bytes of each direction Detect examines, so
// its cost does not depend on how much the caller passes.
const detectMaxLook = 1024

// Detect picks a framing spec for a stream or flow for --framing auto, and
// says why in words a user can check ("port 6379 (Redis)"). Content decides
// first, because services often run on unusual ports; then well-known ports;
// then plain text lines; otherwise "raw". The answer depends only on in, so
// the same capture always gets the same framing.
func Detect(in DetectInput) (spec string, reason string) {
	c2s := in.C2S[:min(len(in.C2S), detectMaxLook)]
	s2c := in.S2C[:min(len(in.S2C), detectMaxLook)]
	if in.Transport == Datagram {
		for _, p := range [][]byte{c2s, s2c} {
			if q, ok := detectDNS(p); ok {
				return "dns", "UDP payload parses as a DNS message (" + q + ")"
			}
		}
		if spec, why, ok := detectPort(in, map[uint16]string{53: "dns", 5353: "dns"}); ok {
			return spec, why
		}
		return "raw", "no known protocol in the first bytes"
	}

	// What the client sends first.
	if len(c2s) > 0 {
		k := min(len(c2s), len(h2Preface))
		if k >= 4 && string(c2s[:k]) == h2Preface[:k] {
			return "h2", "HTTP/2 connection preface"
		}
		if detectTLSRecord(c2s) {
			return "tls", "first bytes are a TLS handshake record"
		}
		if line, ok := detectRequestLine(c2s); ok {
			return "http1", "request line " + strconv.Quote(line)
		}
		if cmd, ok := detectRESP(c2s); ok {
			return "resp", "RESP command array (" + cmd + ")"
		}
		if len(c2s) > 2 {
			if l := int(binary.BigEndian.Uint16(c2s)); l >= dnsHeaderLen {
				if q, ok := detectDNS(c2s[2:min(len(c2s), 2+l)]); ok {
					return "dns", "length-prefixed DNS message (" + q + ")"
				}
			}
		}
	}
	// What the server sends first, or answers: covers servers that speak
	// first and streams whose client bytes were not captured.
	if len(s2c) > 0 {
		if detectTLSRecord(s2c) {
			return "tls", "server's first bytes are a TLS handshake record"
		}
		if bytes.HasPrefix(s2c, []byte("HTTP/1.")) {
			line, _, _ := bytes.Cut(s2c[:min(len(s2c), 100)], []byte("\r\n"))
			return "http1", "status line " + strconv.Quote(string(line))
		}
		if len(s2c) >= h2HeaderLen && s2c[3] == 0x4 && h2Plausible(s2c[:h2HeaderLen]) {
			return "h2", "server's first bytes are an HTTP/2 SETTINGS frame"
		}
	}
	if spec, why, ok := detectPort(in, map[uint16]string{
		443: "tls", 8443: "tls", 853: "tls", 80: "http1", 8080: "http1", 6379: "resp", 53: "dns",
	}); ok {
		return spec, why
	}
	for _, p := range []struct {
		who string
		b   []byte
	}{{"client", c2s}, {"server", s2c}} {
		if line, ok := detectTextLine(p.b); ok {
			return "line", p.who + " sends text lines (" + strconv.Quote(line) + ")"
		}
	}
	return "raw", "no known protocol in the first bytes"
}

// detectPortNames says what a well-known port is, for reasons.
var detectPortNames = map[uint16]string{
	53: "DNS", 80: "HTTP", 443: "HTTPS", 853: "DNS over TLS", 5353: "mDNS",
	6379: "Redis", 8080: "HTTP alternate", 8443: "HTTPS alternate",
}

// detectPort matches the server port, then the client port (the direction
// may have been guessed wrong when the SYN was not captured), against ports.
func detectPort(in DetectInput, ports map[uint16]string) (spec, reason string, ok bool) {
	for _, p := range []uint16{in.ServerPort, in.ClientPort} {
		if s, found := ports[p]; found {
			return s, "port " + strconv.Itoa(int(p)) + " (" + detectPortNames[p] + ")", true
		}
	}
	return "", "", false
}

// detectTLSRecord reports whether b starts with a TLS handshake record header
// (type 22, version 3.0-3.4, a valid length) whose message, if present, is a
// ClientHello or ServerHello.
func detectTLSRecord(b []byte) bool {
	if len(b) < tlsHeaderLen || b[0] != tlsHandshake {
		return false
	}
	if _, why := tlsRecordHeader(b); why != "" {
		return false
	}
	return len(b) == tlsHeaderLen || b[5] == 1 || b[5] == 2
}

// detectMethods are the request methods of HTTP/1 (RFC 9110 plus WebDAV's
// common ones) that Detect accepts when the request line is not complete.
var detectMethods = []string{"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS",
	"TRACE", "PATCH", "PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "REPORT"}

// detectRequestLine reports whether b starts with an HTTP/1 request line:
// "TOKEN target HTTP/1.x" ending in CRLF, or, if the line is cut off, a known
// method followed by a space.
func detectRequestLine(b []byte) (string, bool) {
	line, _, complete := bytes.Cut(b[:min(len(b), 512)], []byte("\r\n"))
	s := string(line)
	method, rest, ok := strings.Cut(s, " ")
	if !ok || method == "" || strings.IndexFunc(method, func(r rune) bool { return r < 'A' || r > 'Z' }) >= 0 {
		return "", false
	}
	if !complete {
		for _, m := range detectMethods {
			if m == method {
				return bTrunc(s, 80), true
			}
		}
		return "", false
	}
	target, version, ok := strings.Cut(rest, " ")
	if !ok || target == "" || !strings.HasPrefix(version, "HTTP/1.") {
		return "", false
	}
	return bTrunc(s, 80), true
}

// detectRESP reports whether b starts with a RESP array of bulk strings
// ("*3\r\n$3\r\nSET..."), what clients send, and returns the command name.
func detectRESP(b []byte) (string, bool) {
	if len(b) < 5 || b[0] != '*' {
		return "", false
	}
	line, next, err := respLine(b, 1, true)
	if err != nil {
		return "", false
	}
	if n, ok := respInt(line); !ok || n < 1 || next >= len(b) || b[next] != '$' {
		return "", false
	}
	m, _, err := (&respDecoder{}).Next(0, b, false)
	if err == nil {
		for _, f := range m.Fields {
			if f.Name == "command" {
				return bTrunc(f.Value, 32), true
			}
		}
	}
	if errors.Is(err, ErrNeedMore) {
		return "incomplete", true
	}
	return "", false
}

// detectDNS reports whether msg is a plausible DNS message: a header with
// one question, opcode QUERY, and a question that parses. It returns the
// question ("A? example.com").
func detectDNS(msg []byte) (string, bool) {
	if len(msg) < dnsHeaderLen+5 {
		return "", false
	}
	flags := binary.BigEndian.Uint16(msg[2:])
	if binary.BigEndian.Uint16(msg[4:]) != 1 || flags>>11&0xf != 0 || flags&0x0040 != 0 {
		return "", false
	}
	name, next, err := dnsName(msg, dnsHeaderLen)
	if err != "" || next+4 > len(msg) {
		return "", false
	}
	class := binary.BigEndian.Uint16(msg[next+2:])
	if class != 1 && class != 255 && class&0x7fff != 1 { // IN, ANY, or IN with mDNS's unicast bit
		return "", false
	}
	return dnsTypeName(binary.BigEndian.Uint16(msg[next:])) + "? " + name, true
}

// detectTextLine reports whether b starts with a line of printable text ended
// by LF within the first 200 bytes, as line-based protocols (SMTP banners,
// chat, newline-delimited JSON) send.
func detectTextLine(b []byte) (string, bool) {
	i := bytes.IndexByte(b[:min(len(b), 200)], '\n')
	if i < 0 {
		return "", false
	}
	line := bytes.TrimSuffix(b[:i], []byte("\r"))
	for _, c := range line {
		if c < 0x20 && c != '\t' || c == 0x7f {
			return "", false
		}
	}
	return bTrunc(string(line), 40), true
}
