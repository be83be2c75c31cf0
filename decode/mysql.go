package decode

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	"github.com/sockscope/sockscope/internal/human"
	"github.com/sockscope/sockscope/reassembly"
)

// MySQL / MariaDB client/server protocol
// (https://dev.mysql.com/doc/dev/mysql-server/latest/PAGE_PROTOCOL.html).
const (
	myHeaderLen   = 4
	myMaxPiece    = 0xffffff // a payload this long continues in the next packet
	myMaxPieces   = 64       // 1 GiB (max_allowed_packet's ceiling) in 16 MiB pieces
	myPreviewMax  = 100
	myCapDB       = 0x00000008
	myCapProto41  = 0x00000200
	myCapSSL      = 0x00000800
	myCapSecure   = 0x00008000
	myCapPlugin   = 0x00080000
	myCapLenencAD = 0x00200000
	myCapDeprEOF  = 0x01000000
	myMoreResults = 0x0008 // SERVER_MORE_RESULTS_EXISTS
)

// myPhase is what the server is expected to send next.
type myPhase uint8

const (
	myGreeting   myPhase = iota // the initial handshake packet
	myAuth                      // answers to the login: OK, ERR, auth switch, more data
	myIdle                      // nothing asked: an unsolicited packet (an ERR before closing)
	myResponse                  // the first packet of a command's response
	myColumns                   // column definitions (n left)
	myColsEOF                   // the EOF after the column definitions
	myRows                      // rows until EOF/OK or ERR
	myPrepParams                // COM_STMT_PREPARE: parameter definitions (n left)
	myPrepParamsEOF
	myPrepCols // COM_STMT_PREPARE: column definitions (n left)
	myPrepColsEOF
	myFieldList // COM_FIELD_LIST: column definitions until EOF
	myString    // COM_STATISTICS: one string
)

// mysqlDecoder frames MySQL/MariaDB packets: 3-byte length, sequence id,
// payload (a payload of 16 MiB - 1 continues in the next packet; the pieces
// are one message). It follows the conversation to name what each packet
// is: greeting, login, command, OK/ERR/EOF, result-set columns and rows.
// After an SSLRequest both directions are TLS records.
type mysqlDecoder struct {
	phase    myPhase
	left     int    // column or parameter definitions still expected
	prepCols int    // COM_STMT_PREPARE: column definitions after the parameters
	cmd      byte   // the last command
	caps     uint32 // server capabilities, then those both sides have
	loggedIn bool   // the client sent its login
	tls      Decoder
	inTLS    bool
}

var _ Decoder = (*mysqlDecoder)(nil)

func newMySQL(Transport) Decoder { return &mysqlDecoder{} }

func myErr(off int, format string, args ...any) *Error {
	return &Error{Protocol: "mysql", Offset: off, Reason: fmt.Sprintf(format, args...)}
}

// myCommands names the command bytes (COM_*).
var myCommands = map[byte]string{
	0x00: "COM_SLEEP", 0x01: "COM_QUIT", 0x02: "COM_INIT_DB", 0x03: "COM_QUERY", 0x04: "COM_FIELD_LIST",
	0x05: "COM_CREATE_DB", 0x06: "COM_DROP_DB", 0x07: "COM_REFRESH", 0x08: "COM_SHUTDOWN", 0x09: "COM_STATISTICS",
	0x0a: "COM_PROCESS_INFO", 0x0b: "COM_CONNECT", 0x0c: "COM_PROCESS_KILL", 0x0d: "COM_DEBUG", 0x0e: "COM_PING",
	0x0f: "COM_TIME", 0x10: "COM_DELAYED_INSERT", 0x11: "COM_CHANGE_USER", 0x12: "COM_BINLOG_DUMP",
	0x13: "COM_TABLE_DUMP", 0x14: "COM_CONNECT_OUT", 0x15: "COM_REGISTER_SLAVE", 0x16: "COM_STMT_PREPARE",
	0x17: "COM_STMT_EXECUTE", 0x18: "COM_STMT_SEND_LONG_DATA", 0x19: "COM_STMT_CLOSE", 0x1a: "COM_STMT_RESET",
	0x1b: "COM_SET_OPTION", 0x1c: "COM_STMT_FETCH", 0x1d: "COM_DAEMON", 0x1e: "COM_BINLOG_DUMP_GTID",
	0x1f: "COM_RESET_CONNECTION", 0xfa: "COM_STMT_BULK_EXECUTE",
}

// packet finds the end of the message at the front of b: one packet, or the
// pieces of a payload of 16 MiB or more. It returns the message length, the
// payload (joined only when pieces had to be; else a slice of b), the first
// sequence id and the number of pieces.
func (d *mysqlDecoder) packet(b []byte) (n int, payload []byte, seq byte, pieces int, err error) {
	pos := 0
	var joined []byte
	for pieces = 1; ; pieces++ {
		if pieces > myMaxPieces {
			return 0, nil, 0, 0, myErr(0, "more than %d pieces of 16 MiB: not a MySQL packet", myMaxPieces)
		}
		if len(b)-pos < myHeaderLen {
			return 0, nil, 0, 0, ErrNeedMore
		}
		l := int(b[pos]) | int(b[pos+1])<<8 | int(b[pos+2])<<16
		if pieces == 1 {
			seq = b[pos+3]
		}
		end := pos + myHeaderLen + l
		if end > len(b) {
			return end, nil, 0, 0, ErrNeedMore
		}
		if l < myMaxPiece {
			if pieces == 1 {
				return end, b[myHeaderLen:end], seq, 1, nil
			}
			return end, append(joined, b[pos+myHeaderLen:end]...), seq, pieces, nil
		}
		if pieces == 1 {
			joined = make([]byte, 0, 2*myMaxPiece)
		}
		joined = append(joined, b[pos+myHeaderLen:end]...)
		pos = end
	}
}

// Next implements Decoder.
func (d *mysqlDecoder) Next(dir reassembly.Direction, b []byte, atEOF bool) (Message, int, error) {
	if d.inTLS {
		if d.tls == nil {
			d.tls = newTLS(Stream)
		}
		return d.tls.Next(dir, b, atEOF)
	}
	n, p, seq, pieces, err := d.packet(b)
	if err != nil {
		if n > 0 {
			return Message{}, n, err // ErrNeedMore, length known
		}
		return Message{}, 0, err
	}
	m := Message{Protocol: "mysql", Parts: []Part{{Range: reassembly.ByteRange{End: myHeaderLen}, Label: "header"}}}
	if n > myHeaderLen {
		m.Parts = append(m.Parts, Part{Range: reassembly.ByteRange{Start: myHeaderLen, End: int64(n)}, Label: "payload"})
	}
	var what, detail string
	// After the login, a command (sequence id 0) is answered by the packet
	// with sequence id 1 (an OK, an error, a result set's first packet);
	// COM_QUIT, COM_STMT_CLOSE and COM_STMT_SEND_LONG_DATA get no answer.
	commands := d.loggedIn
	if dir == reassembly.ClientToServer {
		what, detail, err = d.client(p, seq)
		if commands && seq == 0 && len(p) > 0 && p[0] != 0x01 && p[0] != 0x19 && p[0] != 0x18 {
			m.Role = RoleRequest
		}
	} else {
		what, detail, err = d.server(p)
		if commands && seq == 1 {
			m.Role = RoleResponse
		}
	}
	if err != nil {
		return Message{}, 0, err
	}
	m.Fields = []Field{{"type", what}, {"seq", strconv.Itoa(int(seq))}, {"length", strconv.Itoa(len(p))}}
	m.Summary = what + detail
	if pieces > 1 {
		m.Summary += fmt.Sprintf(" (%s in %d packets)", human.Bytes(int64(len(p))), pieces)
		m.Fields = append(m.Fields, Field{"pieces", strconv.Itoa(pieces)})
	}
	return m, n, nil
}

// client names a packet from the client: the login, or a command.
func (d *mysqlDecoder) client(p []byte, seq byte) (string, string, error) {
	if !d.loggedIn && d.phase <= myAuth && seq > 0 {
		return d.login(p)
	}
	if d.phase == myAuth {
		return "auth data", fmt.Sprintf(" %d B", len(p)), nil // an answer to an auth switch
	}
	if len(p) == 0 {
		return "empty packet", "", nil
	}
	d.cmd = p[0]
	name := myCommands[p[0]]
	if name == "" {
		return "", "", myErr(myHeaderLen, "command byte 0x%02x is not a MySQL command", p[0])
	}
	d.phase = myResponse
	arg := p[1:]
	switch p[0] {
	case 0x03, 0x16: // COM_QUERY, COM_STMT_PREPARE
		return name, " " + mySQL(arg), nil
	case 0x02, 0x05, 0x06: // INIT_DB, CREATE_DB, DROP_DB
		return name, " " + strconv.Quote(bTrunc(string(arg), 64)), nil
	case 0x17, 0x19, 0x1a, 0x18, 0x1c: // STMT_EXECUTE, CLOSE, RESET, SEND_LONG_DATA, FETCH
		if len(arg) >= 4 {
			if p[0] == 0x19 || p[0] == 0x18 {
				d.phase = myIdle // no response
			}
			return name, " stmt " + strconv.FormatUint(uint64(binary.LittleEndian.Uint32(arg)), 10), nil
		}
	case 0x04:
		d.phase = myFieldList
		t, _, _ := bytes.Cut(arg, []byte{0})
		return name, " " + strconv.Quote(bTrunc(string(t), 64)), nil
	case 0x09:
		d.phase = myString
	case 0x01:
		d.phase = myIdle
	}
	return name, "", nil
}

// login names the client's answer to the greeting: an SSLRequest (TLS
// follows) or the HandshakeResponse with user and database.
func (d *mysqlDecoder) login(p []byte) (string, string, error) {
	if len(p) < 4 {
		return "", "", myErr(myHeaderLen, "login packet of %d bytes is too short", len(p))
	}
	caps := uint32(binary.LittleEndian.Uint16(p))
	if caps&myCapProto41 == 0 {
		d.loggedIn, d.phase = true, myAuth
		return "Login (protocol 3.20)", "", nil
	}
	if len(p) < 32 {
		return "", "", myErr(myHeaderLen, "login packet of %d bytes is too short for protocol 4.1 (32)", len(p))
	}
	caps = binary.LittleEndian.Uint32(p)
	if d.caps != 0 {
		d.caps &= caps
	} else {
		d.caps = caps
	}
	if len(p) == 32 && caps&myCapSSL != 0 {
		d.inTLS = true
		return "SSLRequest", ": TLS follows", nil
	}
	d.loggedIn, d.phase = true, myAuth
	user, rest, _ := bytes.Cut(p[32:], []byte{0})
	detail := " user=" + bTrunc(string(user), 32)
	// Skip the auth response to reach the database name.
	switch {
	case caps&myCapLenencAD != 0:
		l, k := myLenenc(rest)
		if k == 0 || uint64(len(rest)-k) < l {
			return "Login", detail, nil
		}
		rest = rest[k+int(l):]
	case caps&myCapSecure != 0:
		if len(rest) < 1 || len(rest)-1 < int(rest[0]) {
			return "Login", detail, nil
		}
		rest = rest[1+int(rest[0]):]
	default:
		_, rest, _ = bytes.Cut(rest, []byte{0})
	}
	if caps&myCapDB != 0 {
		if db, _, ok := bytes.Cut(rest, []byte{0}); ok && len(db) > 0 {
			detail += " db=" + bTrunc(string(db), 32)
		}
	}
	return "Login", detail, nil
}

// server names a packet from the server, following the response state.
func (d *mysqlDecoder) server(p []byte) (string, string, error) {
	if len(p) == 0 {
		return "empty packet", "", nil
	}
	first := p[0]
	if first == 0xff { // ERR ends whatever was going on
		if d.phase == myAuth {
			d.phase = myIdle
		} else if d.phase != myGreeting {
			d.phase = myIdle
		}
		return "ERR", myErrPacket(p, d.caps&myCapProto41 != 0 || d.caps == 0), nil
	}
	eof := first == 0xfe && len(p) < 9
	if d.phase == myGreeting && first != 10 {
		d.phase = myIdle // the capture started after the greeting
	}
	switch d.phase {
	case myGreeting:
		d.phase = myAuth
		ver, rest, _ := bytes.Cut(p[1:], []byte{0})
		detail := " " + bTrunc(string(ver), 48)
		if len(rest) >= 4 {
			detail += " conn " + strconv.FormatUint(uint64(binary.LittleEndian.Uint32(rest)), 10)
		}
		// Capabilities: lower 2 bytes after the 8-byte scramble and filler,
		// upper 2 bytes after charset and status.
		if len(rest) >= 4+9+2 {
			d.caps = uint32(binary.LittleEndian.Uint16(rest[13:]))
			if len(rest) >= 4+9+2+1+2+2 {
				d.caps |= uint32(binary.LittleEndian.Uint16(rest[18:])) << 16
			}
		}
		return "Greeting", detail, nil
	case myAuth:
		switch first {
		case 0x00:
			d.phase = myIdle
			return "OK", myOKPacket(p), nil
		case 0xfe:
			plugin, _, _ := bytes.Cut(p[1:], []byte{0})
			return "AuthSwitchRequest", " " + bTrunc(string(plugin), 40), nil
		case 0x01:
			return "AuthMoreData", fmt.Sprintf(" %d B", len(p)-1), nil
		}
		return "auth data", fmt.Sprintf(" %d B", len(p)), nil
	case myResponse:
		switch {
		case first == 0x00 && d.cmd == 0x16: // COM_STMT_PREPARE_OK
			if len(p) < 12 {
				return "", "", myErr(myHeaderLen, "COM_STMT_PREPARE answer of %d bytes is too short", len(p))
			}
			id := binary.LittleEndian.Uint32(p[1:])
			cols, params := int(binary.LittleEndian.Uint16(p[5:])), int(binary.LittleEndian.Uint16(p[7:]))
			d.prepCols = cols
			d.phase, d.left = myPrepParams, params
			d.skipEmptyPrep()
			return "PREPARE_OK", fmt.Sprintf(" stmt %d, %d param%s, %d column%s", id, params, plural(int64(params)), cols, plural(int64(cols))), nil
		case first == 0x00:
			d.phase = myIdle
			return "OK", myOKPacket(p), nil
		case first == 0xfb:
			d.phase = myIdle
			return "LOCAL INFILE request", " " + strconv.Quote(bTrunc(string(p[1:]), 64)), nil
		case eof:
			d.phase = myIdle
			return "EOF", "", nil
		}
		n, k := myLenenc(p)
		if k == 0 || k != len(p) && k+1 != len(p) {
			return "", "", myErr(myHeaderLen, "response starts with 0x%02x: not OK, ERR or a column count", first)
		}
		d.phase, d.left = myColumns, int(min(n, 1<<16))
		return "result set", fmt.Sprintf(": %d column%s", n, plural(int64(n))), nil
	case myColumns, myPrepParams, myPrepCols, myFieldList:
		if eof && d.phase == myFieldList {
			d.phase = myIdle
			return "EOF", "", nil
		}
		name := myColumnName(p)
		what := "column"
		if d.phase == myPrepParams {
			what = "parameter"
		}
		if d.phase != myFieldList {
			d.left--
			if d.left <= 0 {
				d.afterDefs()
			}
		}
		return what, " " + strconv.Quote(bTrunc(name, 64)), nil
	case myColsEOF, myPrepParamsEOF, myPrepColsEOF:
		if !eof {
			return "", "", myErr(myHeaderLen, "want an EOF packet after the column definitions, got 0x%02x", first)
		}
		switch d.phase {
		case myColsEOF:
			d.phase = myRows
		case myPrepParamsEOF:
			d.phase, d.left = myPrepCols, d.prepCols
			if d.left == 0 {
				d.phase = myIdle
			}
		default:
			d.phase = myIdle
		}
		return "EOF", "", nil
	case myRows:
		if first == 0xfe && len(p) < myMaxPiece {
			// EOF, or with CLIENT_DEPRECATE_EOF an OK packet with an 0xfe header.
			status := uint16(0)
			what, detail := "EOF", ""
			if len(p) >= 5 && eof {
				status = binary.LittleEndian.Uint16(p[3:])
			} else if len(p) > 1 {
				what, detail = "OK", myOKPacket(p)
				status = myOKStatus(p)
			}
			d.phase = myIdle
			if status&myMoreResults != 0 {
				d.phase = myResponse
				detail += " (more results)"
			}
			return what, detail, nil
		}
		return "row", " " + myRowPreview(p, d.cmd == 0x17 || d.cmd == 0x1c), nil
	case myString:
		d.phase = myIdle
		return "statistics", " " + strconv.Quote(bTrunc(string(p), myPreviewMax)), nil
	}
	if first == 0x00 {
		return "OK", myOKPacket(p), nil
	}
	return "packet", fmt.Sprintf(" %d B", len(p)), nil
}

// afterDefs moves on once the column or parameter definitions are done.
func (d *mysqlDecoder) afterDefs() {
	deprecate := d.caps&myCapDeprEOF != 0
	switch d.phase {
	case myColumns:
		d.phase = myRows
		if !deprecate {
			d.phase = myColsEOF
		}
	case myPrepParams:
		d.phase, d.left = myPrepCols, d.prepCols
		if !deprecate {
			d.phase = myPrepParamsEOF
		} else if d.left == 0 {
			d.phase = myIdle
		}
	case myPrepCols:
		d.phase = myIdle
		if !deprecate {
			d.phase = myPrepColsEOF
		}
	}
}

// skipEmptyPrep skips the definition blocks a prepared statement does not have.
func (d *mysqlDecoder) skipEmptyPrep() {
	if d.phase == myPrepParams && d.left == 0 {
		d.phase, d.left = myPrepCols, d.prepCols
		if d.left == 0 {
			d.phase = myIdle
		}
	}
}

// myLenenc reads a length-encoded integer; k is its size (0: invalid or cut).
func myLenenc(b []byte) (v uint64, k int) {
	if len(b) == 0 {
		return 0, 0
	}
	switch c := b[0]; {
	case c < 0xfb:
		return uint64(c), 1
	case c == 0xfc && len(b) >= 3:
		return uint64(binary.LittleEndian.Uint16(b[1:])), 3
	case c == 0xfd && len(b) >= 4:
		return uint64(b[1]) | uint64(b[2])<<8 | uint64(b[3])<<16, 4
	case c == 0xfe && len(b) >= 9:
		return binary.LittleEndian.Uint64(b[1:]), 9
	}
	return 0, 0
}

// myLenencStr reads a length-encoded string.
func myLenencStr(b []byte) (s []byte, rest []byte, ok bool) {
	l, k := myLenenc(b)
	if k == 0 || uint64(len(b)-k) < l {
		return nil, nil, false
	}
	return b[k : k+int(l)], b[k+int(l):], true
}

// myColumnName returns the name of a column definition (protocol 4.1:
// catalog, schema, table, org_table, name).
func myColumnName(p []byte) string {
	rest := p
	for i := 0; i < 4; i++ {
		var ok bool
		if _, rest, ok = myLenencStr(rest); !ok {
			return ""
		}
	}
	name, _, _ := myLenencStr(rest)
	return string(name)
}

func myOKPacket(p []byte) string {
	if len(p) < 2 {
		return ""
	}
	affected, k := myLenenc(p[1:])
	if k == 0 {
		return ""
	}
	s := " affected=" + strconv.FormatUint(affected, 10)
	if id, k2 := myLenenc(p[1+k:]); k2 > 0 && id > 0 {
		s += " insert_id=" + strconv.FormatUint(id, 10)
	}
	return s
}

func myOKStatus(p []byte) uint16 {
	if len(p) < 2 {
		return 0
	}
	_, k := myLenenc(p[1:])
	if k == 0 {
		return 0
	}
	_, k2 := myLenenc(p[1+k:])
	if k2 == 0 || len(p) < 1+k+k2+2 {
		return 0
	}
	return binary.LittleEndian.Uint16(p[1+k+k2:])
}

// myErrPacket: 0xff, error code, (protocol 4.1) '#' and SQLSTATE, message.
func myErrPacket(p []byte, proto41 bool) string {
	if len(p) < 3 {
		return ""
	}
	code := binary.LittleEndian.Uint16(p[1:])
	msg := p[3:]
	state := ""
	if proto41 && len(msg) >= 6 && msg[0] == '#' {
		state, msg = " "+string(msg[1:6]), msg[6:]
	}
	return bTrunc(fmt.Sprintf(" %d%s %s", code, state, msg), myPreviewMax)
}

// myRowPreview shows the first values of a text row, or the size of a
// binary one (COM_STMT_EXECUTE results).
func myRowPreview(p []byte, binaryRow bool) string {
	if binaryRow {
		return fmt.Sprintf("%d B (binary)", len(p))
	}
	var vals []string
	rest := p
	w := 0
	for len(rest) > 0 && w < myPreviewMax {
		if rest[0] == 0xfb {
			vals, rest = append(vals, "NULL"), rest[1:]
			w += 4
			continue
		}
		v, r, ok := myLenencStr(rest)
		if !ok {
			return fmt.Sprintf("%d B", len(p))
		}
		q := strconv.Quote(bTrunc(string(v), 40))
		vals, rest, w = append(vals, q), r, w+len(q)+1
	}
	s := strings.Join(vals, " ")
	if len(rest) > 0 {
		s += " …"
	}
	return s
}

func mySQL(b []byte) string {
	s := string(b[:min(len(b), 4*myPreviewMax)])
	return strconv.Quote(bTrunc(strings.Join(strings.Fields(s), " "), myPreviewMax))
}
