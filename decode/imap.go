package decode

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/sockscope/sockscope/reassembly"
)

// IMAP4 (RFC 9051, RFC 3501): the client sends tagged commands, the server
// untagged ("* ..."), continuation ("+ ...") and tagged ("a1 OK ...")
// responses. A line that ends with a literal ("{123}" or "{123+}") goes on
// with that many bytes and then the rest of the line: a command or a
// response with its literals is one message. A STARTTLS the server accepts
// switches both directions to TLS records. LOGIN and AUTHENTICATE
// arguments and SASL responses are not shown.
const (
	imapMaxLiteral = 1 << 30
	imapMaxParts   = 1 << 16 // lines and literals in one message
)

type imapDecoder struct {
	tls      Decoder
	inTLS    bool
	starttls string // tag of a STARTTLS awaiting its answer
	sasl     bool   // AUTHENTICATE in progress: client lines are SASL responses
	idle     bool   // IDLE in progress: the client's next line is DONE
}

var _ Decoder = (*imapDecoder)(nil)

func newIMAP(Transport) Decoder { return &imapDecoder{} }

func imapErr(off int, format string, args ...any) *Error {
	return &Error{Protocol: "imap", Offset: off, Reason: fmt.Sprintf(format, args...)}
}

// imapMessage finds the end of the lines-and-literals message at the front
// of b. It returns its length, its first line and how many literal bytes it
// carried.
func imapMessage(b []byte) (n int, first []byte, literal int64, err error) {
	pos := 0
	for parts := 0; parts < imapMaxParts; parts++ {
		i := bytes.IndexByte(b[pos:min(len(b), pos+tpMaxLine)], '\n')
		if i < 0 {
			if len(b)-pos >= tpMaxLine {
				return 0, nil, 0, imapErr(pos, "no line end within %s", specSize(tpMaxLine))
			}
			return 0, nil, 0, ErrNeedMore
		}
		line := bytes.TrimSuffix(b[pos:pos+i], []byte("\r"))
		if first == nil {
			first = line
		}
		pos += i + 1
		// A literal: "{N}" or "{N+}" (LITERAL+) at the end of the line.
		if len(line) < 3 || line[len(line)-1] != '}' {
			return pos, first, literal, nil
		}
		open := bytes.LastIndexByte(line, '{')
		if open < 0 {
			return pos, first, literal, nil
		}
		num := strings.TrimSuffix(string(line[open+1:len(line)-1]), "+")
		l, perr := strconv.ParseInt(num, 10, 64)
		if perr != nil || l < 0 {
			return pos, first, literal, nil // braces, not a literal
		}
		if l > imapMaxLiteral {
			return 0, nil, 0, imapErr(pos-i-1+open, "literal of %d bytes is implausible", l)
		}
		if int64(len(b)-pos) < l {
			return int(int64(pos) + l), nil, 0, ErrNeedMore
		}
		pos += int(l)
		literal += l
	}
	return 0, nil, 0, imapErr(0, "more than %d lines and literals in one message", imapMaxParts)
}

// Next implements Decoder.
func (d *imapDecoder) Next(dir reassembly.Direction, b []byte, atEOF bool) (Message, int, error) {
	if d.inTLS {
		if d.tls == nil {
			d.tls = newTLS(Stream)
		}
		return d.tls.Next(dir, b, atEOF)
	}
	if len(b) == 0 {
		return Message{}, 0, ErrNeedMore
	}
	n, first, lit, err := imapMessage(b)
	if err != nil {
		if err == ErrNeedMore && n > 0 {
			return Message{}, n, ErrNeedMore
		}
		return Message{}, 0, err
	}
	for i, c := range first {
		if c < 0x20 && c != '\t' || c == 0x7f {
			return Message{}, 0, imapErr(i, "control byte 0x%02x in a line", c)
		}
	}
	m := Message{Protocol: "imap", Parts: []Part{{Range: reassembly.ByteRange{End: int64(n)}, Label: "message"}}}
	text := string(first[:min(len(first), 1024)])
	tag, rest, _ := strings.Cut(text, " ")
	word, args, _ := strings.Cut(rest, " ")
	up := strings.ToUpper(word)
	if dir == reassembly.ClientToServer {
		switch {
		case d.sasl:
			m.Summary, m.Fields = "(SASL response, not shown)", []Field{{"command", "AUTHENTICATE response"}}
			return m, n, nil
		case d.idle && strings.EqualFold(strings.TrimSpace(text), "DONE"):
			d.idle = false
			m.Summary, m.Fields = "DONE", []Field{{"command", "DONE"}}
			return m, n, nil
		case tag == "" || word == "":
			return Message{}, 0, imapErr(0, "command line without a tag and a command")
		}
		m.Fields = []Field{{"tag", tag}, {"command", up}}
		switch up {
		case "LOGIN":
			m.Summary = tag + " LOGIN (credentials not shown)"
		case "AUTHENTICATE":
			mech, _, _ := strings.Cut(args, " ")
			m.Summary = tag + " AUTHENTICATE " + bTrunc(mech, 20) + " (credentials not shown)"
			d.sasl = true
		default:
			m.Summary = bTrunc(tag+" "+up+cond(args != "", " "+args, ""), 100)
		}
		switch up {
		case "STARTTLS":
			d.starttls = tag
		case "IDLE":
			d.idle = true
		}
	} else {
		kind := "untagged"
		switch tag {
		case "*":
		case "+":
			kind = "continuation"
		default:
			kind = "tagged"
			d.sasl = false // the AUTHENTICATE, whatever it was, is answered
			if tag == d.starttls {
				d.starttls = ""
				d.inTLS = up == "OK"
			}
		}
		if kind != "continuation" && word == "" {
			return Message{}, 0, imapErr(0, "response line without a status or data")
		}
		m.Fields = []Field{{"response", kind}, {"tag", tag}, {"status", up}}
		m.Summary = bTrunc(text, 100)
	}
	if lit > 0 {
		m.Summary = bTrunc(m.Summary, 80) + fmt.Sprintf(" (+%s in literals)", specSize(lit))
		m.Fields = append(m.Fields, Field{"literal_bytes", strconv.FormatInt(lit, 10)})
	}
	return m, n, nil
}
