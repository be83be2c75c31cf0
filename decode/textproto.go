package decode

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/sockscope/sockscope/reassembly"
)

// Command/reply text protocols: SMTP (RFC 5321), FTP control (RFC 959) and
// POP3 (RFC 1939). The client sends command lines; the server answers with
// replies that may span lines (SMTP/FTP "250-..." up to "250 ...", POP3
// multi-line responses up to "."), and some commands are followed by data
// (SMTP DATA up to "<CRLF>.<CRLF>", BDAT chunks). STARTTLS (SMTP), AUTH TLS
// (FTP) and STLS (POP3) accepted by the server switch both directions to
// TLS records. Credentials (PASS, AUTH arguments) are not shown in summaries.
const (
	tpMaxLine  = 64 << 10 // longer than any command or reply line a server accepts
	tpMaxLines = 1 << 16  // lines in one reply
	tpMaxBody  = 1 << 30  // an SMTP message body, a POP3 RETR
)

type tpKind uint8

const (
	tpSMTP tpKind = iota
	tpFTP
	tpPOP3
)

// textProtoDecoder frames one of the command/reply protocols.
type textProtoDecoder struct {
	kind tpKind
	name string
	// pending are the client's commands not yet answered, oldest first
	// (POP3: which ones get a multi-line response; SMTP: DATA, STARTTLS).
	pending []string
	body    bool // SMTP: the server answered DATA with 354: the client's next bytes are the message
	sasl    bool // SMTP: the server answered AUTH with 334: the client's next line is a SASL response
	tls     Decoder
	inTLS   bool
	greeted bool // the server's greeting was seen (POP3: it is single-line)
}

var _ Decoder = (*textProtoDecoder)(nil)

func newSMTP(Transport) Decoder { return &textProtoDecoder{kind: tpSMTP, name: "smtp"} }
func newFTP(Transport) Decoder  { return &textProtoDecoder{kind: tpFTP, name: "ftp"} }
func newPOP3(Transport) Decoder { return &textProtoDecoder{kind: tpPOP3, name: "pop3"} }

// continueInTLS implements tlsContinuer: after STARTTLS, STLS or AUTH TLS
// the session goes on with no new greeting.
func (d *textProtoDecoder) continueInTLS() { d.greeted = true }

func (d *textProtoDecoder) err(off int, format string, args ...any) *Error {
	return &Error{Protocol: d.name, Offset: off, Reason: fmt.Sprintf(format, args...)}
}

// line returns the line at b[from:] without its line end, and the offset
// after it (-1: not complete yet).
func (d *textProtoDecoder) line(b []byte, from int) ([]byte, int, *Error) {
	i := bytes.IndexByte(b[from:min(len(b), from+tpMaxLine)], '\n')
	if i < 0 {
		if len(b)-from >= tpMaxLine {
			return nil, 0, d.err(from, "no line end within %s", specSize(tpMaxLine))
		}
		return nil, -1, nil
	}
	return bytes.TrimSuffix(b[from:from+i], []byte("\r")), from + i + 1, nil
}

// Next implements Decoder.
func (d *textProtoDecoder) Next(dir reassembly.Direction, b []byte, atEOF bool) (Message, int, error) {
	if d.inTLS {
		if d.tls == nil {
			d.tls = newTLS(Stream)
		}
		return d.tls.Next(dir, b, atEOF)
	}
	if len(b) == 0 {
		return Message{}, 0, ErrNeedMore
	}
	if dir == reassembly.ClientToServer {
		if d.body {
			return d.smtpBody(b)
		}
		return d.command(b)
	}
	if d.kind == tpPOP3 {
		return d.pop3Reply(b)
	}
	return d.codeReply(b)
}

// command frames one client command line (an SMTP BDAT with its chunk).
func (d *textProtoDecoder) command(b []byte) (Message, int, error) {
	line, end, perr := d.line(b, 0)
	if perr != nil {
		return Message{}, 0, perr
	}
	if end < 0 {
		return Message{}, 0, ErrNeedMore
	}
	for i, c := range line {
		if c < 0x20 && c != '\t' || c == 0x7f {
			return Message{}, 0, d.err(i, "control byte 0x%02x in a command line", c)
		}
	}
	verb, arg, _ := strings.Cut(string(line[:min(len(line), 1024)]), " ")
	up := strings.ToUpper(verb)
	m := Message{Protocol: d.name, Fields: []Field{{"command", up}}, Parts: []Part{{Range: reassembly.ByteRange{End: int64(end)}, Label: "command"}}}
	if d.sasl {
		d.sasl = false
		m.Fields[0].Value = "AUTH response"
		m.Summary = "(SASL response, not shown)"
		if d.kind == tpSMTP {
			d.pending = append(d.pending, "AUTH") // SMTP answers each response (334, 235)
		}
		return m, end, nil
	}
	switch {
	case up == "PASS" || up == "AUTH" && d.kind != tpFTP || up == "APOP":
		mech, _, _ := strings.Cut(arg, " ")
		if up == "AUTH" && mech != "" {
			m.Summary = fmt.Sprintf("AUTH %s (credentials not shown)", bTrunc(mech, 20))
		} else {
			m.Summary = up + " (credentials not shown)"
		}
	case arg != "":
		m.Summary = bTrunc(up+" "+arg, 100)
	default:
		m.Summary = up
	}
	if d.kind == tpSMTP && up == "BDAT" {
		size, _, _ := strings.Cut(arg, " ")
		n, err := strconv.ParseInt(size, 10, 64)
		if err != nil || n < 0 || n > tpMaxBody {
			return Message{}, 0, d.err(5, "BDAT size %q is not a valid length", bTrunc(size, 20))
		}
		total := int64(end) + n
		if int64(len(b)) < total {
			return Message{}, int(total), ErrNeedMore
		}
		m.Parts = append(m.Parts, Part{Range: reassembly.ByteRange{Start: int64(end), End: total}, Label: "chunk"})
		end = int(total)
	}
	if len(d.pending) < 64 {
		// The verb, and whether it had an argument (POP3's LIST and UIDL
		// answer multi-line only without one); never the argument itself.
		if arg != "" {
			up += " +"
		}
		d.pending = append(d.pending, up)
	}
	return m, end, nil
}

// smtpBody frames the message after DATA/354: up to the line with one ".".
func (d *textProtoDecoder) smtpBody(b []byte) (Message, int, error) {
	end := -1
	if bytes.HasPrefix(b, []byte(".\r\n")) {
		end = 3
	} else if i := bytes.Index(b[:min(len(b), tpMaxBody)], []byte("\r\n.\r\n")); i >= 0 {
		end = i + 5
	}
	if end < 0 {
		if len(b) >= tpMaxBody {
			return Message{}, 0, d.err(0, "no end of message (<CRLF>.<CRLF>) within %s", specSize(tpMaxBody))
		}
		return Message{}, 0, ErrNeedMore
	}
	d.body = false
	lines := bytes.Count(b[:end], []byte("\n"))
	m := Message{Protocol: d.name, Summary: fmt.Sprintf("message %s, %d lines", specSize(int64(end)), lines),
		Fields: []Field{{"command", "DATA content"}}, Parts: []Part{{Range: reassembly.ByteRange{End: int64(end)}, Label: "message"}}}
	if subj := tpHeader(b[:end], "Subject"); subj != "" {
		m.Summary += ": Subject " + strconv.Quote(bTrunc(subj, 60))
	}
	return m, end, nil
}

// tpHeader returns the value of a header of an RFC 5322 message.
func tpHeader(msg []byte, name string) string {
	for line := range strings.Lines(string(msg[:min(len(msg), 16<<10)])) {
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			break
		}
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// codeReply frames an SMTP or FTP reply: "NNN text", or lines "NNN-text"
// up to the one with "NNN " (FTP allows any text on the lines between).
func (d *textProtoDecoder) codeReply(b []byte) (Message, int, error) {
	first, end, perr := d.line(b, 0)
	if perr != nil {
		return Message{}, 0, perr
	}
	if end < 0 {
		if len(b) >= 4 && !tpCode(b) {
			return Message{}, 0, d.err(0, "reply does not start with a 3-digit code")
		}
		return Message{}, 0, ErrNeedMore
	}
	if !tpCode(first) || len(first) > 3 && first[3] != ' ' && first[3] != '-' {
		return Message{}, 0, d.err(0, "reply does not start with a 3-digit code")
	}
	code := string(first[:3])
	lines := 1
	if len(first) > 3 && first[3] == '-' {
		for pos := end; ; lines++ {
			if lines > tpMaxLines {
				return Message{}, 0, d.err(pos, "more than %d lines in one reply", tpMaxLines)
			}
			line, e, perr := d.line(b, pos)
			if perr != nil {
				return Message{}, 0, perr
			}
			if e < 0 {
				return Message{}, 0, ErrNeedMore
			}
			pos = e
			if len(line) >= 3 && string(line[:3]) == code && (len(line) == 3 || line[3] == ' ') {
				end = pos
				lines++
				break
			}
			if d.kind == tpSMTP && !(len(line) >= 4 && string(line[:3]) == code && line[3] == '-') {
				return Message{}, 0, d.err(pos-len(line)-1, "line %q inside a %s reply does not continue it", bTrunc(string(line), 30), code)
			}
		}
	}
	text := strings.TrimSpace(string(first[min(len(first), 4):]))
	m := Message{Protocol: d.name, Summary: bTrunc(code+" "+text, 100), Fields: []Field{{"code", code}},
		Parts: []Part{{Range: reassembly.ByteRange{End: int64(end)}, Label: "reply"}}}
	if lines > 1 {
		m.Summary = bTrunc(code+" "+text, 80) + fmt.Sprintf(" (+%d lines)", lines-1)
	}
	d.answer(code)
	return m, end, nil
}

func tpCode(b []byte) bool {
	return len(b) >= 3 && b[0] >= '1' && b[0] <= '5' && b[1] >= '0' && b[1] <= '9' && b[2] >= '0' && b[2] <= '9'
}

// answer takes the oldest pending command the reply answers and applies
// what the reply decides: SMTP's 354 to DATA, a TLS switch.
func (d *textProtoDecoder) answer(code string) {
	if !d.greeted {
		d.greeted = true // the greeting answers no command
		return
	}
	if len(d.pending) == 0 {
		return
	}
	cmd, _, _ := strings.Cut(d.pending[0], " ")
	if code[0] == '1' && d.kind == tpFTP {
		return // preliminary: the final reply is still to come
	}
	d.pending = d.pending[1:]
	switch {
	case d.kind == tpSMTP && cmd == "DATA" && code == "354":
		d.body = true
	case d.kind == tpSMTP && cmd == "STARTTLS" && code == "220",
		d.kind == tpFTP && cmd == "AUTH" && code == "234":
		d.inTLS = true
	case d.kind == tpSMTP && cmd == "AUTH" && code == "334":
		d.sasl = true // a SASL exchange goes on
	}
}

// pop3Multi says which POP3 commands get a multi-line response when they
// succeed (RFC 1939, RFC 2449 CAPA).
func pop3Multi(cmd string, hasArg bool) bool {
	switch cmd {
	case "RETR", "TOP", "CAPA":
		return true
	case "LIST", "UIDL":
		return !hasArg
	}
	return false
}

// pop3Reply frames "+OK ..." or "-ERR ..." (and "+ " SASL continuations),
// with the lines up to "." for multi-line responses.
func (d *textProtoDecoder) pop3Reply(b []byte) (Message, int, error) {
	first, end, perr := d.line(b, 0)
	if perr != nil {
		return Message{}, 0, perr
	}
	if end < 0 {
		if len(b) >= 3 && b[0] != '+' && b[0] != '-' {
			return Message{}, 0, d.err(0, "response does not start with +OK or -ERR")
		}
		return Message{}, 0, ErrNeedMore
	}
	ok := bytes.HasPrefix(first, []byte("+OK"))
	if !ok && !bytes.HasPrefix(first, []byte("-ERR")) && !bytes.HasPrefix(first, []byte("+ ")) && string(first) != "+" {
		return Message{}, 0, d.err(0, "response does not start with +OK or -ERR")
	}
	cmd, multi := "", false
	if bytes.HasPrefix(first, []byte("+ ")) || string(first) == "+" {
		d.sasl = true // a SASL challenge: the client's next line answers it
	} else if d.greeted && len(d.pending) > 0 {
		cmd = d.pending[0]
		verb, plus, _ := strings.Cut(cmd, " ")
		multi = ok && pop3Multi(verb, plus != "")
		d.pending = d.pending[1:]
		if verb == "STLS" && ok {
			d.inTLS = true
		}
	}
	d.greeted = true
	m := Message{Protocol: d.name, Summary: bTrunc(string(first), 100), Fields: []Field{{"status", string(first[:min(len(first), 4)])}},
		Parts: []Part{{Range: reassembly.ByteRange{End: int64(end)}, Label: "status"}}}
	if multi {
		i := bytes.Index(b[end-1:min(len(b), tpMaxBody)], []byte("\n.\r\n"))
		if i < 0 {
			if len(b) >= tpMaxBody {
				return Message{}, 0, d.err(end, "no end of the multi-line response within %s", specSize(tpMaxBody))
			}
			d.pending = append([]string{cmd}, d.pending...) // not consumed yet
			return Message{}, 0, ErrNeedMore
		}
		body := end
		end = end - 1 + i + 4
		m.Parts = append(m.Parts, Part{Range: reassembly.ByteRange{Start: int64(body), End: int64(end)}, Label: "lines"})
		m.Summary = bTrunc(string(first), 80) + fmt.Sprintf(" (+%d lines, %s)", bytes.Count(b[body:end], []byte("\n"))-1, specSize(int64(end-body)))
	}
	return m, end, nil
}
