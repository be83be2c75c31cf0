package decode

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	"github.com/sockscope/sockscope/reassembly"
)

// PostgreSQL frontend/backend protocol v3
// (https://www.postgresql.org/docs/current/protocol-message-formats.html).
const (
	pgProto3      = 196608   // 3.0: StartupMessage
	pgSSLRequest  = 80877103 // 1234.5679
	pgGSSENCReq   = 80877104 // 1234.5680
	pgCancelReq   = 80877102 // 1234.5678
	pgMaxStartup  = 10000    // the server's own limit (MAX_STARTUP_PACKET_LENGTH)
	pgMaxMessage  = 1 << 30  // the server refuses messages over 1 GiB (MaxAllocSize)
	pgPreviewMax  = 100
	pgMaxColNames = 8
)

// pgState is what one direction expects next.
type pgState uint8

const (
	pgTyped   pgState = iota // a type byte and a 4-byte length
	pgStartup                // client: an untyped startup packet (StartupMessage, SSLRequest, ...)
	pgSSLByte                // server: the one-byte answer to SSLRequest/GSSENCRequest
	pgTLS                    // TLS records (after 'S' to SSLRequest)
	pgOpaque                 // GSSAPI-encrypted: not decodable
)

// pgsqlDecoder frames the PostgreSQL wire protocol: the client's untyped
// startup packets, then typed messages both ways; after an accepted
// SSLRequest both directions are TLS records.
type pgsqlDecoder struct {
	st  [2]pgState
	tls Decoder
	gss bool // the pending request was GSSENCRequest
}

var _ Decoder = (*pgsqlDecoder)(nil)

var (
	_ Decoder  = (*pgsqlDecoder)(nil)
	_ Resyncer = (*pgsqlDecoder)(nil)
)

func newPgSQL(Transport) Decoder {
	return &pgsqlDecoder{st: [2]pgState{pgStartup, pgTyped}}
}

func pgErr(off int, format string, args ...any) *Error {
	return &Error{Protocol: "pgsql", Offset: off, Reason: fmt.Sprintf(format, args...)}
}

// pgFrontend and pgBackend are the message type bytes each side may send.
const (
	pgFrontend = "BCdcfDEHFPpQSX"
	pgBackend  = "RK23CdcGHWDIEVnNAtS1sZTv"
)

// Next implements Decoder.
func (d *pgsqlDecoder) Next(dir reassembly.Direction, b []byte, atEOF bool) (Message, int, error) {
	switch d.st[dir] {
	case pgTLS:
		if d.tls == nil {
			d.tls = newTLS(Stream)
		}
		return d.tls.Next(dir, b, atEOF)
	case pgOpaque:
		if len(b) == 0 {
			return Message{}, 0, ErrNeedMore
		}
		return Message{Protocol: "pgsql", Summary: fmt.Sprintf("GSSAPI-encrypted: %d bytes", len(b))}, len(b), nil
	case pgStartup:
		return d.startup(b)
	case pgSSLByte:
		if len(b) == 0 {
			return Message{}, 0, ErrNeedMore
		}
		return d.sslAnswer(b)
	}
	return d.typed(dir, b)
}

// startup frames an untyped client packet: Int32 length, Int32 code.
func (d *pgsqlDecoder) startup(b []byte) (Message, int, error) {
	if len(b) < 8 {
		return Message{}, 0, ErrNeedMore
	}
	n := int(binary.BigEndian.Uint32(b))
	code := binary.BigEndian.Uint32(b[4:])
	if n < 8 || n > pgMaxStartup {
		return Message{}, 0, pgErr(0, "startup packet length %d is implausible (8 to %d)", n, pgMaxStartup)
	}
	if len(b) < n {
		return Message{}, n, ErrNeedMore
	}
	m := Message{Protocol: "pgsql", Parts: []Part{{Range: reassembly.ByteRange{End: 8}, Label: "header"}}}
	switch {
	case code == pgSSLRequest && n == 8:
		m.Summary, m.Fields = "SSLRequest", []Field{{"type", "SSLRequest"}}
		d.st[0], d.st[1], d.gss = pgTyped, pgSSLByte, false
		return m, n, nil
	case code == pgGSSENCReq && n == 8:
		m.Summary, m.Fields = "GSSENCRequest", []Field{{"type", "GSSENCRequest"}}
		d.st[0], d.st[1], d.gss = pgTyped, pgSSLByte, true
		return m, n, nil
	case code == pgCancelReq && n == 16:
		pid := binary.BigEndian.Uint32(b[8:])
		m.Summary = "CancelRequest pid " + strconv.FormatUint(uint64(pid), 10)
		m.Fields = []Field{{"type", "CancelRequest"}, {"pid", strconv.FormatUint(uint64(pid), 10)}}
		return m, n, nil
	case code>>16 == 3:
		m.Fields = []Field{{"type", "StartupMessage"}, {"protocol", fmt.Sprintf("%d.%d", code>>16, code&0xffff)}}
		var w strings.Builder
		fmt.Fprintf(&w, "StartupMessage v%d.%d", code>>16, code&0xffff)
		params := b[8:n]
		for len(params) > 1 {
			k, rest, ok1 := bytes.Cut(params, []byte{0})
			v, rest2, ok2 := bytes.Cut(rest, []byte{0})
			if !ok1 || !ok2 || len(k) == 0 {
				break
			}
			m.Fields = append(m.Fields, Field{string(k), string(v)})
			if string(k) == "user" || string(k) == "database" {
				fmt.Fprintf(&w, " %s=%s", k, v)
			}
			params = rest2
		}
		m.Summary = bTrunc(w.String(), pgPreviewMax)
		d.st[0] = pgTyped
		return m, n, nil
	}
	return Message{}, 0, pgErr(4, "startup packet code %d is not a known request (protocol 3.x, SSLRequest, GSSENCRequest, CancelRequest)", code)
}

// sslAnswer frames the server's one-byte answer: 'S' (TLS or GSSAPI
// follows), 'N' (go on in the clear: the client sends its startup packet),
// or, from servers before 3.0, an ErrorResponse.
func (d *pgsqlDecoder) sslAnswer(b []byte) (Message, int, error) {
	what := "SSL"
	if d.gss {
		what = "GSSAPI encryption"
	}
	switch b[0] {
	case 'S':
		next := pgTLS
		if d.gss {
			next = pgOpaque
		}
		d.st[0], d.st[1] = next, next
		return Message{Protocol: "pgsql", Summary: "S: " + what + " accepted; " + map[bool]string{false: "TLS", true: "GSSAPI-encrypted"}[d.gss] + " follows",
			Fields: []Field{{"type", "SSLResponse"}, {"answer", "S"}}}, 1, nil
	case 'N':
		d.st[0], d.st[1] = pgStartup, pgTyped
		return Message{Protocol: "pgsql", Summary: "N: " + what + " refused; startup continues in the clear",
			Fields: []Field{{"type", "SSLResponse"}, {"answer", "N"}}}, 1, nil
	case 'E':
		d.st[1] = pgTyped
		return d.typed(reassembly.ServerToClient, b)
	}
	return Message{}, 0, pgErr(0, "byte 0x%02x is not an answer to %sRequest (S or N)", b[0], map[bool]string{false: "SSL", true: "GSSENC"}[d.gss])
}

// typed frames one message: Byte1 type, Int32 length (counting itself).
func (d *pgsqlDecoder) typed(dir reassembly.Direction, b []byte) (Message, int, error) {
	if len(b) < 5 {
		if len(b) > 0 && !pgValidType(dir, b[0]) {
			return Message{}, 0, pgTypeErr(dir, b[0])
		}
		return Message{}, 0, ErrNeedMore
	}
	t := b[0]
	if !pgValidType(dir, t) {
		return Message{}, 0, pgTypeErr(dir, t)
	}
	l := binary.BigEndian.Uint32(b[1:])
	if l < 4 || l > pgMaxMessage {
		return Message{}, 0, pgErr(1, "%s length %d is implausible (4 to 1 GiB)", pgTypeName(dir, t), l)
	}
	n := int(l) + 1
	if len(b) < n {
		return Message{}, n, ErrNeedMore
	}
	body := b[5:n]
	m := Message{Protocol: "pgsql", Parts: []Part{{Range: reassembly.ByteRange{End: 5}, Label: "header"}}}
	if len(body) > 0 {
		m.Parts = append(m.Parts, Part{Range: reassembly.ByteRange{Start: 5, End: int64(n)}, Label: "body"})
	}
	name := pgTypeName(dir, t)
	m.Fields = []Field{{"type", name}}
	m.Summary = name + pgDetail(dir, t, body, &m)
	// A Query, a Sync (the end of an extended-protocol batch) or a
	// FunctionCall is answered, whatever comes between, by one
	// ReadyForQuery: the time between is the server's for the whole.
	switch {
	case dir == reassembly.ClientToServer && (t == 'Q' || t == 'S' || t == 'F'):
		m.Role = RoleRequest
	case dir == reassembly.ServerToClient && t == 'Z':
		m.Role = RoleResponse
	}
	return m, n, nil
}

func pgTypeErr(dir reassembly.Direction, t byte) *Error {
	who := "client"
	if dir == reassembly.ServerToClient {
		who = "server"
	}
	return pgErr(0, "byte 0x%02x is not a PostgreSQL %s message type", t, who)
}

func pgValidType(dir reassembly.Direction, t byte) bool {
	if dir == reassembly.ClientToServer {
		return strings.IndexByte(pgFrontend, t) >= 0
	}
	return strings.IndexByte(pgBackend, t) >= 0
}

// pgTypeName names a message by its type byte, as the protocol docs do.
func pgTypeName(dir reassembly.Direction, t byte) string {
	if dir == reassembly.ClientToServer {
		switch t {
		case 'B':
			return "Bind"
		case 'C':
			return "Close"
		case 'd':
			return "CopyData"
		case 'c':
			return "CopyDone"
		case 'f':
			return "CopyFail"
		case 'D':
			return "Describe"
		case 'E':
			return "Execute"
		case 'H':
			return "Flush"
		case 'F':
			return "FunctionCall"
		case 'P':
			return "Parse"
		case 'p':
			return "PasswordMessage" // also SASLInitialResponse, SASLResponse, GSSResponse
		case 'Q':
			return "Query"
		case 'S':
			return "Sync"
		case 'X':
			return "Terminate"
		}
	} else {
		switch t {
		case 'R':
			return "Authentication"
		case 'K':
			return "BackendKeyData"
		case '2':
			return "BindComplete"
		case '3':
			return "CloseComplete"
		case 'C':
			return "CommandComplete"
		case 'd':
			return "CopyData"
		case 'c':
			return "CopyDone"
		case 'G':
			return "CopyInResponse"
		case 'H':
			return "CopyOutResponse"
		case 'W':
			return "CopyBothResponse"
		case 'D':
			return "DataRow"
		case 'I':
			return "EmptyQueryResponse"
		case 'E':
			return "ErrorResponse"
		case 'V':
			return "FunctionCallResponse"
		case 'n':
			return "NoData"
		case 'N':
			return "NoticeResponse"
		case 'A':
			return "NotificationResponse"
		case 't':
			return "ParameterDescription"
		case 'S':
			return "ParameterStatus"
		case '1':
			return "ParseComplete"
		case 's':
			return "PortalSuspended"
		case 'Z':
			return "ReadyForQuery"
		case 'T':
			return "RowDescription"
		case 'v':
			return "NegotiateProtocolVersion"
		}
	}
	return fmt.Sprintf("type 0x%02x", t)
}

// pgCString returns the NUL-terminated string at the front of b and the rest.
func pgCString(b []byte) (string, []byte, bool) {
	s, rest, ok := bytes.Cut(b, []byte{0})
	return string(s), rest, ok
}

// pgSQL shortens a statement for a summary: whitespace runs become one space.
func pgSQL(s string) string {
	return strconv.Quote(bTrunc(strings.Join(strings.Fields(s[:min(len(s), 4*pgPreviewMax)]), " "), pgPreviewMax))
}

// pgDetail writes what follows the message name in its summary.
func pgDetail(dir reassembly.Direction, t byte, body []byte, m *Message) string {
	u16 := func(b []byte) int {
		if len(b) < 2 {
			return -1
		}
		return int(binary.BigEndian.Uint16(b))
	}
	if dir == reassembly.ClientToServer {
		switch t {
		case 'Q':
			q, _, _ := pgCString(body)
			m.Fields = append(m.Fields, Field{"query", q})
			return " " + pgSQL(q)
		case 'P':
			name, rest, _ := pgCString(body)
			q, _, _ := pgCString(rest)
			m.Fields = append(m.Fields, Field{"statement", name}, Field{"query", q})
			if name != "" {
				return " " + strconv.Quote(bTrunc(name, 40)) + " " + pgSQL(q)
			}
			return " " + pgSQL(q)
		case 'B':
			portal, rest, _ := pgCString(body)
			stmt, rest, _ := pgCString(rest)
			m.Fields = append(m.Fields, Field{"portal", portal}, Field{"statement", stmt})
			if nf := u16(rest); nf >= 0 && len(rest) >= 2+2*nf {
				if np := u16(rest[2+2*nf:]); np >= 0 {
					m.Fields = append(m.Fields, Field{"params", strconv.Itoa(np)})
					return fmt.Sprintf(" %d param%s", np, plural(int64(np)))
				}
			}
		case 'D', 'C':
			if len(body) > 0 {
				what := map[byte]string{'S': "statement", 'P': "portal"}[body[0]]
				name, _, _ := pgCString(body[1:])
				if what != "" {
					return " " + what + " " + strconv.Quote(bTrunc(name, 40))
				}
			}
		case 'E':
			portal, rest, _ := pgCString(body)
			if len(rest) >= 4 {
				max := binary.BigEndian.Uint32(rest)
				if max == 0 {
					return fmt.Sprintf(" portal %q all rows", bTrunc(portal, 40))
				}
				return fmt.Sprintf(" portal %q max %d rows", bTrunc(portal, 40), max)
			}
		case 'd':
			return fmt.Sprintf(" %d B", len(body))
		}
		return ""
	}
	switch t {
	case 'R':
		if len(body) < 4 {
			return ""
		}
		code := binary.BigEndian.Uint32(body)
		name := map[uint32]string{0: "Ok", 2: "KerberosV5", 3: "CleartextPassword", 5: "MD5Password", 7: "GSS", 8: "GSSContinue",
			9: "SSPI", 10: "SASL", 11: "SASLContinue", 12: "SASLFinal"}[code]
		if name == "" {
			name = "code " + strconv.FormatUint(uint64(code), 10)
		}
		m.Fields[0].Value = "Authentication" + name
		if code == 10 {
			var mechs []string
			for rest := body[4:]; len(rest) > 1 && len(mechs) < 8; {
				var s string
				s, rest, _ = pgCString(rest)
				if s == "" {
					break
				}
				mechs = append(mechs, s)
			}
			return name + " " + bTrunc(strings.Join(mechs, ","), 60)
		}
		return name
	case 'K':
		if len(body) >= 4 {
			return " pid " + strconv.FormatUint(uint64(binary.BigEndian.Uint32(body)), 10)
		}
	case 'S':
		k, rest, _ := pgCString(body)
		v, _, _ := pgCString(rest)
		m.Fields = append(m.Fields, Field{"name", k}, Field{"value", v})
		return " " + bTrunc(k+"="+v, 60)
	case 'C':
		tag, _, _ := pgCString(body)
		m.Fields = append(m.Fields, Field{"tag", tag})
		return " " + strconv.Quote(bTrunc(tag, 60))
	case 'Z':
		if len(body) >= 1 {
			st := map[byte]string{'I': "idle", 'T': "in transaction", 'E': "in failed transaction"}[body[0]]
			if st == "" {
				st = fmt.Sprintf("status 0x%02x", body[0])
			}
			m.Fields = append(m.Fields, Field{"status", st})
			return " " + st
		}
	case 'D':
		if n := u16(body); n >= 0 {
			m.Fields = append(m.Fields, Field{"columns", strconv.Itoa(n)})
			return fmt.Sprintf(" %d col%s", n, plural(int64(n)))
		}
	case 'T':
		n := u16(body)
		if n < 0 {
			return ""
		}
		var names []string
		rest := body[2:]
		for i := 0; i < n && i < pgMaxColNames; i++ {
			var s string
			var ok bool
			if s, rest, ok = pgCString(rest); !ok || len(rest) < 18 {
				break
			}
			names = append(names, s)
			rest = rest[18:]
		}
		m.Fields = append(m.Fields, Field{"columns", strconv.Itoa(n)})
		more := ""
		if len(names) < n {
			more = ",…"
		}
		return fmt.Sprintf(" %d col%s (%s%s)", n, plural(int64(n)), bTrunc(strings.Join(names, ","), 60), more)
	case 'E', 'N':
		// Fields: a type byte and a string each, ended by a zero byte.
		var sev, code, msg string
		for rest := body; len(rest) > 1 && rest[0] != 0; {
			ft := rest[0]
			var v string
			var ok bool
			if v, rest, ok = pgCString(rest[1:]); !ok {
				break
			}
			switch ft {
			case 'V':
				sev = v
			case 'S':
				if sev == "" {
					sev = v
				}
			case 'C':
				code = v
			case 'M':
				msg = v
			}
		}
		m.Fields = append(m.Fields, Field{"severity", sev}, Field{"sqlstate", code}, Field{"message", msg})
		if t == 'E' && sev == "ERROR" {
			sev = "" // the common case; FATAL and PANIC are worth saying
		}
		return " " + bTrunc(strings.TrimSpace(strings.TrimSpace(sev+" "+code)+" "+msg), pgPreviewMax)
	case 'd':
		return fmt.Sprintf(" %d B", len(body))
	case 'A':
		if len(body) >= 4 {
			ch, _, _ := pgCString(body[4:])
			return " channel " + strconv.Quote(bTrunc(ch, 40))
		}
	}
	return ""
}

// Resync implements Resyncer: the first offset holding a plausible typed
// message header whose message ends where another plausible header (or the
// held bytes) starts. In TLS it defers to the TLS decoder.
func (d *pgsqlDecoder) Resync(dir reassembly.Direction, b []byte) int {
	switch d.st[dir] {
	case pgTLS:
		if d.tls == nil {
			d.tls = newTLS(Stream)
		}
		if rs, ok := d.tls.(Resyncer); ok {
			return rs.Resync(dir, b)
		}
		return -1
	case pgOpaque:
		return 0
	case pgStartup, pgSSLByte:
		d.st[dir] = pgTyped // bytes were lost: whatever comes next is typed
	}
	plausible := func(i int) (int, bool) {
		if i+5 > len(b) || !pgValidType(dir, b[i]) {
			return 0, false
		}
		l := binary.BigEndian.Uint32(b[i+1:])
		if l < 4 || l > 1<<24 {
			return 0, false
		}
		return i + 1 + int(l), true
	}
	for i := range b {
		end, ok := plausible(i)
		if !ok {
			continue
		}
		if end >= len(b) {
			return i
		}
		if _, ok := plausible(end); ok || end+5 > len(b) {
			return i
		}
	}
	return -1
}
