package decode

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/sockscope/sockscope/reassembly"
)

const (
	// respMaxLine bounds a header or inline line. Redis itself refuses inline
	// requests over 64 KiB (PROTO_INLINE_MAX_SIZE); a longer run of bytes
	// without a newline is not RESP, and is reported instead of buffered.
	respMaxLine = 64 << 10
	// respMaxBulk is Redis's default proto-max-bulk-len (512 MiB). A longer
	// claimed bulk length is treated as a framing error.
	respMaxBulk = 512 << 20
	// respMaxCount bounds a claimed aggregate count. Elements are parsed one
	// by one from the bytes present, never allocated up front, so the limit
	// only rejects counts no server would send.
	respMaxCount = 1<<31 - 1
	// respMaxDepth bounds nesting, so hostile input cannot recurse deeply.
	respMaxDepth = 32
	// respMaxArgs is how many top-level elements are kept for a summary.
	respMaxArgs = 8
	// respMaxParts is how many top-level elements get their own Part.
	respMaxParts = 32
)

// respDecoder frames Redis protocol values (RESP2 and RESP3): one Message per
// top-level value, so a pipeline of commands in one segment comes out one
// command at a time. Client arrays of bulk strings are summarised as
// commands; inline commands (a plain text line) are accepted from the client.
type respDecoder struct{}

var _ Decoder = (*respDecoder)(nil)

var (
	_ Decoder  = (*respDecoder)(nil)
	_ Resyncer = (*respDecoder)(nil)
)

// newRESP returns a RESP decoder. The transport is not consulted: RESP runs
// over TCP (or a Unix socket).
func newRESP(Transport) Decoder { return &respDecoder{} }

func respErr(off int, format string, args ...any) *Error {
	return &Error{Protocol: "resp", Offset: off, Reason: fmt.Sprintf(format, args...)}
}

// respIsType reports whether c starts a RESP2 or RESP3 value.
func respIsType(c byte) bool { return strings.IndexByte("+-:$*_,#!=(|~>%", c) >= 0 }

// Next implements Decoder.
func (d *respDecoder) Next(dir reassembly.Direction, b []byte, atEOF bool) (Message, int, error) {
	if len(b) == 0 {
		return Message{}, 0, ErrNeedMore
	}
	if !respIsType(b[0]) {
		if dir != reassembly.ClientToServer {
			return Message{}, 0, respErr(0, "byte 0x%02x is not a RESP type", b[0])
		}
		return respInline(b)
	}
	p := respParser{b: b}
	end, err := p.value(0, 0, true)
	if err != nil {
		if errors.Is(err, ErrNeedMore) {
			return Message{}, p.hint, ErrNeedMore
		}
		return Message{}, 0, err
	}
	return p.message(dir, end), end, nil
}

// Resync implements Resyncer: the first line start (offset 0 or just after a
// LF) that holds a well-formed typed header line ("*3\r\n", "$5\r\n", "+OK\r\n").
// Only the header is checked, so a resync costs one pass over b.
func (d *respDecoder) Resync(dir reassembly.Direction, b []byte) int {
	for i := 0; i < len(b); i++ {
		if i > 0 && b[i-1] != '\n' || !respIsType(b[i]) {
			continue
		}
		line, _, err := respLine(b, i+1, true)
		if err != nil {
			continue
		}
		switch b[i] {
		case '$', '!', '=', '*', '~', '>', '%', '|', ':':
			if _, ok := respInt(line); !ok {
				continue
			}
		}
		return i
	}
	return -1
}

// respInline frames an inline command: a text line ending in LF (CRLF
// accepted), as typed into telnet or sent by redis-benchmark for PING.
func respInline(b []byte) (Message, int, error) {
	line, end, err := respLine(b, 0, false)
	if err != nil {
		return Message{}, 0, err
	}
	for i, c := range line {
		if c < 0x20 && c != '\t' || c == 0x7f {
			return Message{}, 0, respErr(i, "control byte 0x%02x in an inline command: not RESP", c)
		}
	}
	words := strings.Fields(string(line[:min(len(line), 256)]))
	m := Message{Protocol: "resp", Fields: []Field{{"type", "inline"}}, Role: RoleRequest}
	if len(words) == 0 {
		m.Summary = "inline (empty line)"
		return m, end, nil
	}
	words[0] = strings.ToUpper(words[0])
	m.Summary = bTrunc(strings.Join(words, " "), 100)
	m.Fields = append(m.Fields, Field{"command", words[0]})
	return m, end, nil
}

// respLine returns the line starting at off without its terminator and the
// offset after it. crlf requires "\r\n"; otherwise a bare "\n" ends the line
// too. Only the first respMaxLine bytes are searched, so the answer does not
// depend on how much data follows.
func respLine(b []byte, off int, crlf bool) ([]byte, int, error) {
	window := b[off:min(len(b), off+respMaxLine)]
	i := bytes.IndexByte(window, '\n')
	if i < 0 {
		if len(window) == respMaxLine {
			return nil, 0, respErr(off, "no line end within %d bytes", respMaxLine)
		}
		return nil, 0, ErrNeedMore
	}
	line := window[:i]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	} else if crlf {
		return nil, 0, respErr(off+i, "line ends in LF without CR")
	}
	return line, off + i + 1, nil
}

// respInt parses a RESP integer: an optional '-' and 1 to 18 digits (more
// than any count or length can need, and no overflow to check).
func respInt(s []byte) (int64, bool) {
	neg := len(s) > 0 && s[0] == '-'
	if neg {
		s = s[1:]
	}
	if len(s) == 0 || len(s) > 18 {
		return 0, false
	}
	var v int64
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	if neg {
		v = -v
	}
	return v, true
}

// respParser parses one top-level value of b and remembers what the summary
// needs: the top-level type, its header, and the first few elements.
type respParser struct {
	b    []byte
	hint int // total length once known, returned with ErrNeedMore

	typ     byte
	header  []byte // the top-level header line after the type byte
	hdrEnd  int
	count   int64  // top-level aggregate count or bulk length
	payload []byte // top-level bulk payload
	attr    bool   // an attribute preceded the value

	elems   []respElem // first respMaxArgs top-level elements
	parts   []Part
	allBulk bool // every top-level element is a bulk string
	nElems  int
}

type respElem struct {
	typ  byte
	data []byte // bulk payload, or the line of a simple value
}

// value parses the value at off and returns the offset after it. top marks
// the top-level value; children of the top-level aggregate are recorded.
func (p *respParser) value(off, depth int, top bool) (int, error) {
	if depth > respMaxDepth {
		return 0, respErr(off, "values nested deeper than %d", respMaxDepth)
	}
	if off >= len(p.b) {
		return 0, ErrNeedMore
	}
	typ := p.b[off]
	if !respIsType(typ) {
		return 0, respErr(off, "byte 0x%02x is not a RESP type", typ)
	}
	line, next, err := respLine(p.b, off+1, true)
	if err != nil {
		return 0, err
	}
	if top {
		p.typ, p.header, p.hdrEnd = typ, line, next
	}
	switch typ {
	case '+', '-', ',':
		return next, nil
	case ':', '(':
		if _, ok := respInt(line); !ok && (typ == ':' || !respBigInt(line)) {
			return 0, respErr(off, "%q is not an integer", bTrunc(string(line), 32))
		}
		return next, nil
	case '#':
		if string(line) != "t" && string(line) != "f" {
			return 0, respErr(off, "boolean %q is not t or f", bTrunc(string(line), 32))
		}
		return next, nil
	case '_':
		if len(line) != 0 {
			return 0, respErr(off, "null with data %q", bTrunc(string(line), 32))
		}
		return next, nil
	case '$', '!', '=':
		n, ok := respInt(line)
		if !ok || n < -1 || n > respMaxBulk || n == -1 && typ != '$' {
			return 0, respErr(off, "bad length %q for %q", bTrunc(string(line), 32), typ)
		}
		if top {
			p.count = n
		}
		if n == -1 {
			return next, nil
		}
		end := next + int(n) + 2
		if top {
			p.hint = end
		}
		if end > len(p.b) {
			return 0, ErrNeedMore
		}
		if p.b[end-2] != '\r' || p.b[end-1] != '\n' {
			return 0, respErr(end-2, "bulk data of %d bytes not followed by CRLF", n)
		}
		if top {
			p.payload = p.b[next : end-2]
		}
		return end, nil
	case '*', '~', '>', '%', '|':
		n, ok := respInt(line)
		if !ok || n < -1 || n > respMaxCount || n == -1 && typ != '*' {
			return 0, respErr(off, "bad count %q for %q", bTrunc(string(line), 32), typ)
		}
		if top {
			p.count = n
			p.allBulk = n > 0
		}
		elems := n
		if typ == '%' || typ == '|' {
			elems *= 2
		}
		record := top && typ != '|'
		for i := int64(0); i < elems; i++ {
			start := next
			next, err = p.value(next, depth+1, false)
			if err != nil {
				return 0, err
			}
			if record {
				p.child(start, next, i)
			}
		}
		if typ == '|' {
			// An attribute annotates the value that follows it; both are one message.
			if top {
				p.attr = true
				p.parts = []Part{{reassembly.ByteRange{Start: 0, End: int64(next)}, "attribute"}}
				start := next
				end, err := p.value(next, depth+1, true)
				if err != nil {
					return 0, err
				}
				p.parts = append(p.parts, Part{reassembly.ByteRange{Start: int64(start), End: int64(end)}, "value"})
				return end, nil
			}
			return p.value(next, depth+1, false)
		}
		return next, nil
	}
	return 0, respErr(off, "byte 0x%02x is not a RESP type", typ)
}

// child records the i-th element [start, end) of the top-level aggregate.
func (p *respParser) child(start, end int, i int64) {
	p.nElems++
	t := p.b[start]
	if t != '$' {
		p.allBulk = false
	}
	if len(p.elems) < respMaxArgs {
		if p.elems == nil {
			p.elems = make([]respElem, 0, min(p.count, respMaxArgs))
		}
		e := respElem{typ: t}
		if line, next, err := respLine(p.b, start+1, true); err == nil {
			e.data = line
			if t == '$' || t == '!' || t == '=' {
				e.data = p.b[next:max(next, end-2)]
			}
		}
		p.elems = append(p.elems, e)
	}
	if !p.attr && len(p.parts) < respMaxParts {
		if p.parts == nil {
			p.parts = make([]Part, 0, min(p.count, respMaxParts)+2)
		}
		p.parts = append(p.parts, Part{reassembly.ByteRange{Start: int64(start), End: int64(end)}, respElementLabels[i]})
	}
}

// respElementLabels are the Part labels of the first respMaxParts elements,
// made once so that framing a pipeline does not build them per message.
var respElementLabels = func() (l [respMaxParts]string) {
	for i := range l {
		l[i] = "element " + strconv.Itoa(i+1)
	}
	return l
}()

// respBigInt reports whether s is a RESP3 big number: optional '-', digits.
func respBigInt(s []byte) bool {
	s = bytes.TrimPrefix(s, []byte("-"))
	if len(s) == 0 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// respTypeNames names RESP types for the "type" field.
var respTypeNames = map[byte]string{
	'+': "simple string", '-': "error", ':': "integer", '$': "bulk string", '*': "array",
	'_': "null", ',': "double", '#': "boolean", '!': "blob error", '=': "verbatim string",
	'(': "big number", '|': "attribute", '~': "set", '>': "push", '%': "map",
}

// respKind is the short name of a length-prefixed or aggregate type in
// summaries: "$3 bulk", "*2 array".
func respKind(t byte) string {
	switch t {
	case '$':
		return "bulk"
	case '!':
		return "blob error"
	case '=':
		return "verbatim"
	case '*':
		return "array"
	case '~':
		return "set"
	case '>':
		return "push"
	case '%':
		return "map"
	}
	return respTypeNames[t]
}

// message builds the Message for the parsed top-level value of length end.
func (p *respParser) message(dir reassembly.Direction, end int) Message {
	m := Message{Protocol: "resp", Fields: make([]Field, 1, 5)}
	m.Fields[0] = Field{"type", respTypeNames[p.typ]}
	// Commands go one way and replies the other, in order (a RESP3 push
	// answers nothing).
	switch {
	case dir == reassembly.ClientToServer:
		m.Role = RoleRequest
	case p.typ != '>':
		m.Role = RoleResponse
	}
	hdr := Part{reassembly.ByteRange{Start: 0, End: int64(p.hdrEnd)}, "header"}
	if p.attr {
		m.Fields = append(m.Fields, Field{"attribute", "yes"})
	}
	text := bTrunc(string(p.header), 80)
	switch p.typ {
	case '+', '-', ':', ',', '#', '(':
		m.Summary = string(p.typ) + text
		m.Fields = append(m.Fields, Field{"value", text})
	case '_':
		m.Summary = "_ null"
	case '$', '!', '=':
		kind := respKind(p.typ)
		if p.count < 0 {
			m.Summary = "$-1 nil"
		} else {
			m.Summary = fmt.Sprintf("%c%d %s", p.typ, p.count, kind)
			m.Fields = append(m.Fields, Field{"length", strconv.FormatInt(p.count, 10)})
			if p.typ == '!' {
				m.Summary += " " + bTrunc(string(p.payload), 80)
			}
			m.Parts = []Part{hdr, {reassembly.ByteRange{Start: int64(p.hdrEnd), End: int64(end)}, "data"}}
		}
	default: // aggregates
		kind := respKind(p.typ)
		switch {
		case p.count < 0:
			m.Summary = "*-1 nil"
		case dir == reassembly.ClientToServer && p.typ == '*' && p.allBulk:
			m.Summary = respCommand(p.elems, p.nElems)
			cmd := strings.ToUpper(bTrunc(string(p.elems[0].data), 32))
			m.Fields = append(m.Fields, Field{"command", cmd})
			if len(p.elems) > 1 {
				name := "key"
				if respSubcommands[cmd] {
					name = "subcommand"
				}
				m.Fields = append(m.Fields, Field{name, bTrunc(string(p.elems[1].data), 80)})
			}
			m.Fields = append(m.Fields, Field{"args", strconv.Itoa(p.nElems - 1)})
		default:
			m.Summary = fmt.Sprintf("%c%d %s", p.typ, p.count, kind)
			if p.typ == '>' && len(p.elems) > 0 && (p.elems[0].typ == '$' || p.elems[0].typ == '+') {
				m.Summary += " " + bTrunc(string(p.elems[0].data), 40)
			}
		}
		if p.count >= 0 {
			m.Fields = append(m.Fields, Field{"count", strconv.FormatInt(p.count, 10)})
		}
		if !p.attr {
			m.Parts = append([]Part{hdr}, p.parts...)
			if p.nElems > respMaxParts {
				last := p.parts[len(p.parts)-1].Range.End
				m.Parts = append(m.Parts, Part{reassembly.ByteRange{Start: last, End: int64(end)}, fmt.Sprintf("elements %d-%d", respMaxParts+1, p.nElems)})
			}
		}
	}
	if p.attr {
		m.Summary = "|attribute " + m.Summary
		m.Parts = p.parts
	}
	return m
}

// respSubcommands are the commands whose first argument names a subcommand
// ("CONFIG GET"), so the decoder does not call it a key.
var respSubcommands = map[string]bool{
	"ACL": true, "CLIENT": true, "CLUSTER": true, "COMMAND": true, "CONFIG": true, "DEBUG": true,
	"FUNCTION": true, "LATENCY": true, "MEMORY": true, "MODULE": true, "OBJECT": true,
	"PUBSUB": true, "SCRIPT": true, "SLOWLOG": true, "XGROUP": true, "XINFO": true,
}

// respValueArg is, per command, the index of the argument that is a value to
// be shown by its size rather than its bytes: "SET key:000042 (3 B value)".
var respValueArg = map[string]int{
	"SET": 2, "SETNX": 2, "GETSET": 2, "APPEND": 2, "SETEX": 3, "PSETEX": 3,
	"PUBLISH": 2, "SPUBLISH": 2, "HSETNX": 3, "LSET": 3, "SETRANGE": 3,
}

// respCommand summarises a command from its first elements (all bulk
// strings) and the total element count.
func respCommand(args []respElem, total int) string {
	name := strings.ToUpper(string(args[0].data))
	if !respPrintable(args[0].data) || len(name) > 32 {
		name = "(" + bSize(int64(len(args[0].data))) + " command)"
	}
	var b strings.Builder
	b.WriteString(name)
	valueAt := respValueArg[name]
	for i := 1; i < total; i++ {
		if i >= len(args) || b.Len() > 100 {
			fmt.Fprintf(&b, " +%d args", total-i)
			break
		}
		a := args[i].data
		switch {
		case i == valueAt:
			b.WriteString(" (" + bSize(int64(len(a))) + " value)")
		case len(a) == 0:
			b.WriteString(` ""`)
		case !respPrintable(a):
			b.WriteString(" (" + bSize(int64(len(a))) + ")")
		default:
			b.WriteString(" " + bTrunc(string(a), 64))
		}
	}
	return b.String()
}

// respPrintable reports whether a is text worth showing: no control bytes and
// no spaces (which would make the argument list ambiguous).
func respPrintable(a []byte) bool {
	for _, c := range a {
		if c <= 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}
