package decode

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strconv"
	"strings"

	"github.com/sockscope/sockscope/reassembly"
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
			if call, ok := detectGRPC(c2s, s2c); ok {
				return "grpc", "HTTP/2 connection preface, then a gRPC call (content-type application/grpc, " + call + ")"
			}
			return "h2", "HTTP/2 connection preface"
		}
		if detectTLSRecord(c2s) {
			return "tls", "first bytes are a TLS handshake record"
		}
		if line, ok := detectRequestLine(c2s); ok {
			return "http1", "request line " + strconv.Quote(line)
		}
		if why, ok := detectPgStartup(c2s); ok {
			return "pgsql", why
		}
		if why, ok := detectMQTTConnect(c2s); ok {
			return "mqtt", why
		}
		if why, ok := detectAMQP(c2s, nil); ok {
			return "amqp", why
		}
		if v, ok := detectSSHVersion(c2s); ok {
			return "ssh", "client identification " + strconv.Quote(v)
		}
		if why, ok := detectMemcached(c2s); ok {
			return "memcached", why
		}
		if cmd, ok := detectRESP(c2s); ok {
			return "resp", "RESP command array (" + cmd + ")"
		}
		if why, ok := detectKafka(c2s, s2c); ok {
			return "kafka", why
		}
		if why, ok := detectNATS(c2s, nil); ok {
			return "nats", why
		}
		if len(c2s) > 2 {
			if l := int(binary.BigEndian.Uint16(c2s)); l >= dnsHeaderLen {
				if q, ok := detectDNS(c2s[2:min(len(c2s), 2+l)]); ok {
					return "dns", "length-prefixed DNS message (" + q + ")"
				}
			}
		}
	}
	if spec, why, ok := detectCommandReply(c2s, s2c); ok {
		return spec, why
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
			if call, ok := detectGRPC(nil, s2c); ok {
				return "grpc", "server's first bytes are an HTTP/2 SETTINGS frame, then a gRPC response (content-type application/grpc" + call + ")"
			}
			return "h2", "server's first bytes are an HTTP/2 SETTINGS frame"
		}
		if v, ok := detectSSHVersion(s2c); ok {
			return "ssh", "server identification " + strconv.Quote(v)
		}
		if why, ok := detectNATS(nil, s2c); ok {
			return "nats", why
		}
		if why, ok := detectAMQP(nil, s2c); ok {
			return "amqp", why
		}
		if v, ok := detectMySQLGreeting(s2c); ok {
			return "mysql", "server greeting (protocol 10, " + strconv.Quote(v) + ")"
		}
		if len(c2s) == 0 && len(s2c) >= 9 && s2c[0] == 'R' && binary.BigEndian.Uint32(s2c[1:]) >= 8 &&
			binary.BigEndian.Uint32(s2c[1:]) <= 1024 && binary.BigEndian.Uint32(s2c[5:]) <= 12 {
			return "pgsql", "server's first bytes are a PostgreSQL authentication request"
		}
	}
	if spec, why, ok := detectPort(in, map[uint16]string{
		443: "tls", 8443: "tls", 853: "tls", 80: "http1", 8080: "http1", 6379: "resp", 53: "dns",
		5432: "pgsql", 3306: "mysql", 1883: "mqtt", 22: "ssh", 11211: "memcached",
		25: "smtp", 587: "smtp", 21: "ftp", 110: "pop3", 143: "imap", 50051: "grpc", 9092: "kafka", 4222: "nats", 5672: "amqp",
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
	5432: "PostgreSQL", 3306: "MySQL", 1883: "MQTT", 22: "SSH", 11211: "memcached",
	25: "SMTP", 587: "SMTP submission", 21: "FTP", 110: "POP3", 143: "IMAP",
	50051: "gRPC, the port of grpc.io's examples", 9092: "Kafka", 4222: "NATS", 5672: "AMQP",
}

// detectCommandReply tells SMTP, FTP, POP3 and IMAP apart by the server's
// greeting ("220 ...", "+OK ...") and the client's first command (EHLO,
// USER...): SMTP and FTP both greet with 220.
func detectCommandReply(c2s, s2c []byte) (spec, reason string, ok bool) {
	firstLine := func(b []byte) string {
		l, _, _ := bytes.Cut(b[:min(len(b), 200)], []byte("\n"))
		return strings.TrimRight(string(l), "\r")
	}
	greet := firstLine(s2c)
	verb, _, _ := strings.Cut(firstLine(c2s), " ")
	verb = strings.ToUpper(verb)
	smtpVerb := verb == "EHLO" || verb == "HELO" || verb == "LHLO"
	ftpVerb := verb == "USER" || verb == "AUTH" || verb == "FEAT" || verb == "SYST" || verb == "OPTS"
	tag, cmd, _ := strings.Cut(firstLine(c2s), " ")
	cmd, _, _ = strings.Cut(strings.ToUpper(cmd), " ")
	imapCmd := tag != "" && (cmd == "CAPABILITY" || cmd == "LOGIN" || cmd == "STARTTLS" || cmd == "AUTHENTICATE" || cmd == "ID")
	switch {
	case strings.HasPrefix(greet, "* OK") || strings.HasPrefix(greet, "* PREAUTH"):
		if imapCmd || strings.Contains(strings.ToUpper(greet), "IMAP") {
			return "imap", "server greeting " + strconv.Quote(bTrunc(greet, 60)), true
		}
	case len(s2c) == 0 && imapCmd:
		return "imap", "client's first command " + strconv.Quote(bTrunc(firstLine(c2s), 40)), true
	case strings.HasPrefix(greet, "+OK") && (len(c2s) == 0 || verb == "CAPA" || verb == "USER" || verb == "STLS" || verb == "APOP" || verb == "AUTH"):
		return "pop3", "server greeting " + strconv.Quote(bTrunc(greet, 60)), true
	case len(greet) >= 4 && greet[:3] == "220" && (greet[3] == ' ' || greet[3] == '-'):
		up := strings.ToUpper(greet)
		switch {
		case smtpVerb || !ftpVerb && strings.Contains(up, "SMTP"):
			return "smtp", "server greeting " + strconv.Quote(bTrunc(greet, 60)) + cond(smtpVerb, ", client "+verb, ""), true
		case ftpVerb || strings.Contains(up, "FTP"):
			return "ftp", "server greeting " + strconv.Quote(bTrunc(greet, 60)) + cond(ftpVerb, ", client "+verb, ""), true
		}
	case len(s2c) == 0 && smtpVerb:
		return "smtp", "client's first command " + verb, true
	}
	return "", "", false
}

func cond(c bool, a, b string) string {
	if c {
		return a
	}
	return b
}

// detectMemcached reports whether b starts with a memcached request: a
// binary header (magic 0x80, a known opcode, consistent lengths), or a text
// storage command with its numeric arguments ("set k 0 0 5"), or a
// retrieval ("get k1 k2") or stats/version line.
func detectMemcached(b []byte) (string, bool) {
	if len(b) >= mcHeaderLen && b[0] == 0x80 {
		if _, ok := mcOpcodes[b[1]]; ok && b[5] == 0 {
			body := binary.BigEndian.Uint32(b[8:])
			if int(binary.BigEndian.Uint16(b[2:]))+int(b[4]) <= int(body) && body <= 1<<20 {
				return "memcached binary " + mcOpcodes[b[1]] + " request", true
			}
		}
		return "", false
	}
	line, _, ok := bytes.Cut(b[:min(len(b), 512)], []byte("\r\n"))
	if !ok {
		return "", false
	}
	words := strings.Fields(string(line))
	if len(words) == 0 || len(words) != len(strings.Split(string(line), " ")) {
		return "", false
	}
	num := func(s string) bool { _, err := strconv.ParseUint(s, 10, 64); return err == nil }
	switch w := words[0]; {
	case (w == "set" || w == "add" || w == "replace" || w == "append" || w == "prepend") && (len(words) == 5 || len(words) == 6 && words[5] == "noreply"),
		w == "cas" && (len(words) == 6 || len(words) == 7 && words[6] == "noreply"):
		for _, a := range words[2:5] {
			if !num(a) {
				return "", false
			}
		}
	case (w == "get" || w == "gets") && len(words) >= 2:
	case (w == "stats" || w == "version") && len(words) <= 2:
	default:
		return "", false
	}
	return "memcached text command " + strconv.Quote(bTrunc(string(line), 40)), true
}

// TLSUpgrade reports whether a stream that framing name detected switched
// to TLS in its first bytes — a PostgreSQL SSLRequest the server accepted
// ('S'), a MySQL SSLRequest after the greeting, SMTP STARTTLS, POP3 STLS,
// FTP AUTH TLS followed by a TLS handshake — and where the TLS records start
// in each direction.
func TLSUpgrade(name string, c2s, s2c []byte) (c2sOff, s2cOff int, ok bool) {
	switch name {
	case "smtp", "pop3", "ftp", "imap":
		// The command line, then at once a TLS handshake record.
		up := bytes.ToUpper(c2s)
		for _, cmd := range []string{"STARTTLS\r\n", "STLS\r\n", "AUTH TLS\r\n"} {
			i := bytes.Index(up, []byte(cmd))
			if i < 0 || i > 0 && c2s[i-1] != '\n' && !(name == "imap" && c2s[i-1] == ' ') {
				continue
			}
			at := i + len(cmd)
			if !detectTLSRecord(c2s[at:]) {
				continue
			}
			s := len(s2c)
			for j := bytes.IndexByte(s2c, '\n'); j >= 0; {
				if detectTLSRecord(s2c[j+1:]) {
					s = j + 1
					break
				}
				k := bytes.IndexByte(s2c[j+1:], '\n')
				if k < 0 {
					break
				}
				j += 1 + k
			}
			return at, s, true
		}
	case "pgsql":
		if len(c2s) >= 8 && len(s2c) >= 1 && s2c[0] == 'S' && binary.BigEndian.Uint32(c2s) == 8 &&
			binary.BigEndian.Uint32(c2s[4:]) == pgSSLRequest {
			return 8, 1, true
		}
	case "mysql":
		if len(s2c) < 4 || len(c2s) < 4+32 {
			return 0, 0, false
		}
		greeting := 4 + (int(s2c[0]) | int(s2c[1])<<8 | int(s2c[2])<<16)
		l := int(c2s[0]) | int(c2s[1])<<8 | int(c2s[2])<<16
		if l == 32 && binary.LittleEndian.Uint32(c2s[4:])&myCapSSL != 0 && greeting <= len(s2c) {
			return 4 + 32, greeting, true
		}
	}
	return 0, 0, false
}

// detectPgStartup reports whether b starts with a PostgreSQL client's first
// packet: StartupMessage (protocol 3.x), SSLRequest, GSSENCRequest or
// CancelRequest, each an Int32 length then an Int32 code.
func detectPgStartup(b []byte) (string, bool) {
	if len(b) < 8 {
		return "", false
	}
	n, code := binary.BigEndian.Uint32(b), binary.BigEndian.Uint32(b[4:])
	switch {
	case n == 8 && code == pgSSLRequest:
		return "PostgreSQL SSLRequest", true
	case n == 8 && code == pgGSSENCReq:
		return "PostgreSQL GSSENCRequest", true
	case n == 16 && code == pgCancelReq:
		return "PostgreSQL CancelRequest", true
	case code == pgProto3 && n > 8 && n <= pgMaxStartup:
		// Parameters are NUL-terminated names and values: "user" comes first
		// with every client we know, but any name will do.
		if p := b[8:min(len(b), int(n))]; len(p) > 0 && p[0] >= 'a' && p[0] <= 'z' {
			return "PostgreSQL StartupMessage v3.0", true
		}
	}
	return "", false
}

// detectMQTTConnect reports whether b starts with an MQTT CONNECT packet
// naming its protocol ("MQTT", or "MQIsdp" for 3.1).
func detectMQTTConnect(b []byte) (string, bool) {
	if len(b) < 2 || b[0] != 0x10 {
		return "", false
	}
	_, _, _, hdr, err := mqttHeader(b)
	if err != nil || hdr == 0 || len(b) < hdr+9 {
		return "", false
	}
	proto, rest, ok := mqttString(b[hdr:])
	if !ok || (proto != "MQTT" && proto != "MQIsdp") || len(rest) < 1 {
		return "", false
	}
	ver := map[byte]string{3: "3.1", 4: "3.1.1", 5: "5.0"}[rest[0]]
	if ver == "" {
		return "", false
	}
	return "MQTT " + ver + " CONNECT", true
}

// detectGRPC frames the first bytes of an HTTP/2 connection and reports
// whether a HEADERS frame in either direction says content-type
// application/grpc, and the call (":path /svc/Method" when the client's
// request was seen).
func detectGRPC(c2s, s2c []byte) (string, bool) {
	d := newGRPC(Stream).(*h2Decoder)
	found := false
	for i, b := range [][]byte{c2s, s2c} {
		dir := reassembly.Direction(i)
		for n := 0; len(b) > 0 && n < 32; n++ {
			m, used, err := d.Next(dir, b, false)
			if err != nil || used <= 0 {
				break
			}
			b = b[used:]
			if m.Protocol != "grpc" {
				continue
			}
			if call := field(m.Fields, "grpc_method"); call != "" {
				return ":path /" + bTrunc(call, 60), true
			}
			found = true
		}
	}
	return "", found
}

func field(fs []Field, name string) string {
	for _, f := range fs {
		if f.Name == name {
			return f.Value
		}
	}
	return ""
}

// detectSSHVersion reports whether b starts with an SSH identification line.
func detectSSHVersion(b []byte) (string, bool) {
	if !bytes.HasPrefix(b, []byte("SSH-1.")) && !bytes.HasPrefix(b, []byte("SSH-2.0-")) {
		return "", false
	}
	line, _, _ := bytes.Cut(b[:min(len(b), sshMaxLine)], []byte("\n"))
	return bTrunc(strings.TrimRight(string(line), "\r"), 60), true
}

// detectMySQLGreeting reports whether b starts with a MySQL/MariaDB initial
// handshake packet: sequence id 0, protocol version 10, a NUL-terminated
// server version, and returns that version.
func detectMySQLGreeting(b []byte) (string, bool) {
	if len(b) < 5+2 || b[3] != 0 || b[4] != 10 {
		return "", false
	}
	l := int(b[0]) | int(b[1])<<8 | int(b[2])<<16
	if l < 30 || l > 1024 {
		return "", false
	}
	ver, _, ok := bytes.Cut(b[5:min(len(b), 5+l)], []byte{0})
	if !ok || len(ver) == 0 || ver[0] < '0' || ver[0] > '9' {
		return "", false
	}
	return bTrunc(string(ver), 48), true
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
