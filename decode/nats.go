package decode

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/sockscope/sockscope/reassembly"
)

// NATS client protocol (docs.nats.io, "Client Protocol"): text control
// lines ended by CRLF (the server also takes a bare LF), the verb in any
// case; PUB, HPUB, MSG and HMSG are followed by a payload of the length the
// line declares (HPUB/HMSG: header bytes, then total bytes) and a CRLF.
// INFO and CONNECT carry a JSON object. One message is one operation, its
// payload included.

const (
	natsMaxLine    = 64 << 10 // nats-server's max_control_line default is 4 KiB
	natsMaxPayload = 64 << 20 // max_payload defaults to 1 MiB and may be raised to 64 MiB
	natsPreviewMax = 32
)

type natsDecoder struct{}

var (
	_ Decoder  = natsDecoder{}
	_ Resyncer = natsDecoder{}
)

func newNATS(Transport) Decoder { return natsDecoder{} }

func natsErr(off int, format string, args ...any) *Error {
	return &Error{Protocol: "nats", Offset: off, Reason: fmt.Sprintf(format, args...)}
}

// natsVerbs are the operations and which side sends them (c client, s server).
var natsVerbs = map[string]string{"INFO": "s", "CONNECT": "c", "PUB": "c", "HPUB": "c", "SUB": "c", "UNSUB": "c",
	"MSG": "s", "HMSG": "s", "PING": "cs", "PONG": "cs", "+OK": "s", "-ERR": "s"}

// Next implements Decoder.
func (natsDecoder) Next(dir reassembly.Direction, b []byte, atEOF bool) (Message, int, error) {
	if len(b) == 0 {
		return Message{}, 0, ErrNeedMore
	}
	// The verb first, so that bytes that are not NATS fail at once.
	end := bytes.IndexByte(b[:min(len(b), natsMaxLine)], '\n')
	head := b[:min(len(b), 8)]
	if end >= 0 {
		head = b[:end]
	}
	verb, _, _ := bytes.Cut(head, []byte(" "))
	verb, _, _ = bytes.Cut(verb, []byte("\t"))
	v := strings.ToUpper(strings.TrimRight(string(verb), "\r"))
	if end < 0 && len(b) < 8 {
		if !natsVerbPrefix(v) {
			return Message{}, 0, natsErr(0, "not a NATS operation (INFO, CONNECT, PUB, SUB, MSG, PING…)")
		}
		return Message{}, 0, ErrNeedMore
	}
	if _, ok := natsVerbs[v]; !ok {
		return Message{}, 0, natsErr(0, "not a NATS operation (INFO, CONNECT, PUB, SUB, MSG, PING…)")
	}
	if end < 0 {
		if len(b) >= natsMaxLine {
			return Message{}, 0, natsErr(0, "control line longer than %d bytes", natsMaxLine)
		}
		return Message{}, 0, ErrNeedMore
	}
	line := strings.TrimRight(string(b[:end]), "\r")
	n := end + 1
	args := strings.Fields(line)[1:]
	m := Message{Protocol: "nats", Fields: []Field{{"op", v}}, Parts: []Part{{reassembly.ByteRange{End: int64(n)}, "control line"}}}
	var w strings.Builder
	w.WriteString(v)
	switch v {
	case "PUB", "HPUB", "MSG", "HMSG":
		// PUB subject [reply] size; HPUB subject [reply] hsize size;
		// MSG subject sid [reply] size; HMSG subject sid [reply] hsize size.
		fixed := map[string]int{"PUB": 2, "HPUB": 3, "MSG": 3, "HMSG": 4}[v]
		if len(args) != fixed && len(args) != fixed+1 {
			return Message{}, 0, natsErr(0, "%s with %d arguments", v, len(args))
		}
		size, err := strconv.ParseInt(args[len(args)-1], 10, 64)
		if err != nil || size < 0 || size > natsMaxPayload {
			return Message{}, 0, natsErr(0, "%s payload size %q is not a number from 0 to %d", v, bTrunc(args[len(args)-1], 20), natsMaxPayload)
		}
		hsize := int64(0)
		if v[0] == 'H' {
			hsize, err = strconv.ParseInt(args[len(args)-2], 10, 64)
			if err != nil || hsize < 0 || hsize > size {
				return Message{}, 0, natsErr(0, "%s header size %q is not a number from 0 to %d", v, bTrunc(args[len(args)-2], 20), size)
			}
		}
		total := n + int(size) + 2
		if len(b) < total {
			return Message{}, total, ErrNeedMore
		}
		if b[total-2] != '\r' || b[total-1] != '\n' {
			return Message{}, 0, natsErr(total-2, "%s payload of %d bytes is not followed by CRLF", v, size)
		}
		payload := b[n+int(hsize) : n+int(size)]
		subj := args[0]
		m.Fields = append(m.Fields, Field{"subject", subj})
		fmt.Fprintf(&w, " %s", strconv.Quote(bTrunc(subj, 60)))
		rest := args[1:]
		if v == "MSG" || v == "HMSG" {
			m.Fields = append(m.Fields, Field{"sid", rest[0]})
			fmt.Fprintf(&w, " sid %s", bTrunc(rest[0], 20))
			rest = rest[1:]
		}
		if sizes := 1 + strings.Count(v[:1], "H"); len(rest) > sizes {
			m.Fields = append(m.Fields, Field{"reply_to", rest[0]})
			fmt.Fprintf(&w, " reply %s", strconv.Quote(bTrunc(rest[0], 40)))
		}
		if hsize > 0 {
			m.Fields = append(m.Fields, Field{"header_length", strconv.FormatInt(hsize, 10)})
			m.Parts = append(m.Parts, Part{reassembly.ByteRange{Start: int64(n), End: int64(n) + hsize}, "headers"})
			fmt.Fprintf(&w, " headers %d B", hsize)
		}
		m.Fields = append(m.Fields, Field{"payload_length", strconv.Itoa(len(payload))})
		if len(payload) > 0 {
			m.Parts = append(m.Parts, Part{reassembly.ByteRange{Start: int64(n) + hsize, End: int64(n) + size}, "payload"})
		}
		m.Parts = append(m.Parts, Part{reassembly.ByteRange{Start: int64(total - 2), End: int64(total)}, "CRLF"})
		fmt.Fprintf(&w, " %d B", len(payload))
		if len(payload) > 0 {
			w.WriteByte(' ')
			specWritePreview(&w, payload, natsPreviewMax)
		}
		m.Summary = w.String()
		return m, total, nil
	case "SUB":
		if len(args) != 2 && len(args) != 3 {
			return Message{}, 0, natsErr(0, "SUB with %d arguments", len(args))
		}
		m.Fields = append(m.Fields, Field{"subject", args[0]}, Field{"sid", args[len(args)-1]})
		fmt.Fprintf(&w, " %s", strconv.Quote(bTrunc(args[0], 60)))
		if len(args) == 3 {
			m.Fields = append(m.Fields, Field{"queue", args[1]})
			fmt.Fprintf(&w, " queue %s", strconv.Quote(bTrunc(args[1], 40)))
		}
		fmt.Fprintf(&w, " sid %s", bTrunc(args[len(args)-1], 20))
	case "UNSUB":
		if len(args) != 1 && len(args) != 2 {
			return Message{}, 0, natsErr(0, "UNSUB with %d arguments", len(args))
		}
		m.Fields = append(m.Fields, Field{"sid", args[0]})
		fmt.Fprintf(&w, " sid %s", bTrunc(args[0], 20))
		if len(args) == 2 {
			fmt.Fprintf(&w, " after %s", bTrunc(args[1], 20))
		}
	case "INFO", "CONNECT":
		_, js, _ := strings.Cut(line, " ")
		var o struct {
			Version    string `json:"version"`
			ServerName string `json:"server_name"`
			Name       string `json:"name"`
			Lang       string `json:"lang"`
			Headers    bool   `json:"headers"`
			MaxPayload int64  `json:"max_payload"`
		}
		if err := json.Unmarshal([]byte(strings.TrimSpace(js)), &o); err != nil {
			w.WriteString(" (JSON does not parse)")
			break
		}
		if o.ServerName != "" {
			fmt.Fprintf(&w, " server %s", strconv.Quote(bTrunc(o.ServerName, 40)))
		}
		if o.Name != "" {
			fmt.Fprintf(&w, " name %s", strconv.Quote(bTrunc(o.Name, 40)))
		}
		if o.Lang != "" {
			w.WriteString(" " + bTrunc(o.Lang, 16))
		}
		if o.Version != "" {
			m.Fields = append(m.Fields, Field{"version", o.Version})
			w.WriteString(" " + bTrunc(o.Version, 20))
		}
		if o.MaxPayload > 0 {
			fmt.Fprintf(&w, " max_payload %d", o.MaxPayload)
		}
		if o.Headers {
			w.WriteString(" headers")
		}
	case "-ERR":
		_, text, _ := strings.Cut(line, " ")
		m.Fields = append(m.Fields, Field{"error", strings.Trim(text, "' ")})
		w.WriteString(" " + bTrunc(strings.TrimSpace(text), 80))
	}
	m.Summary = w.String()
	return m, n, nil
}

// natsVerbPrefix reports whether s (upper case) can start a verb.
func natsVerbPrefix(s string) bool {
	for v := range natsVerbs {
		if strings.HasPrefix(v, s) || strings.HasPrefix(s, v) && (len(s) == len(v)) {
			return true
		}
	}
	return false
}

// Resync implements Resyncer: the first line start (offset 0, or after an
// LF) that begins with a NATS verb followed by a space, a tab or CR LF.
func (natsDecoder) Resync(dir reassembly.Direction, b []byte) int {
	for i := 0; i < len(b); i++ {
		if i > 0 && b[i-1] != '\n' {
			continue
		}
		j := i
		for j < len(b) && j-i < 8 && b[j] != ' ' && b[j] != '\t' && b[j] != '\r' && b[j] != '\n' {
			j++
		}
		if j < len(b) && j > i {
			if _, ok := natsVerbs[strings.ToUpper(string(b[i:j]))]; ok {
				return i
			}
		}
	}
	return -1
}

// detectNATS reports whether the server's first bytes are a NATS INFO line
// or the client's a CONNECT line, each with a JSON object.
func detectNATS(c2s, s2c []byte) (string, bool) {
	if bytes.HasPrefix(s2c, []byte("INFO {")) {
		return "server's INFO {…} greeting (NATS)", true
	}
	if bytes.HasPrefix(c2s, []byte("CONNECT {")) {
		return "client's CONNECT {…} (NATS)", true
	}
	return "", false
}
