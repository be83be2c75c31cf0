package decode

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	"github.com/sockscope/sockscope/reassembly"
)

// memcached, text protocol (doc/protocol.txt, meta commands included) and
// binary protocol (the 24-byte header of BinaryProtocolRevamped).
const (
	mcMaxLine   = 8 << 10 // a command line: keys are at most 250 bytes
	mcMaxData   = 1 << 30 // item size limit (-I) at most 1 GiB
	mcHeaderLen = 24
	mcMaxItems  = 1 << 20 // values in one retrieval response
)

var mcOpcodes = map[byte]string{
	0x00: "Get", 0x01: "Set", 0x02: "Add", 0x03: "Replace", 0x04: "Delete", 0x05: "Increment", 0x06: "Decrement",
	0x07: "Quit", 0x08: "Flush", 0x09: "GetQ", 0x0a: "No-op", 0x0b: "Version", 0x0c: "GetK", 0x0d: "GetKQ",
	0x0e: "Append", 0x0f: "Prepend", 0x10: "Stat", 0x11: "SetQ", 0x12: "AddQ", 0x13: "ReplaceQ", 0x14: "DeleteQ",
	0x15: "IncrementQ", 0x16: "DecrementQ", 0x17: "QuitQ", 0x18: "FlushQ", 0x19: "AppendQ", 0x1a: "PrependQ",
	0x1b: "Verbosity", 0x1c: "Touch", 0x1d: "GAT", 0x1e: "GATQ", 0x20: "SASL list mechs", 0x21: "SASL auth",
	0x22: "SASL step", 0x23: "GATK", 0x24: "GATKQ",
}

var mcStatus = map[uint16]string{
	0x00: "no error", 0x01: "key not found", 0x02: "key exists", 0x03: "value too large", 0x04: "invalid arguments",
	0x05: "item not stored", 0x06: "non-numeric value", 0x07: "wrong vbucket", 0x20: "authentication error",
	0x21: "authentication continue", 0x81: "unknown command", 0x82: "out of memory", 0x83: "not supported",
	0x84: "internal error", 0x85: "busy", 0x86: "temporary failure",
}

// mcStorage are the text commands followed by a data block, with the
// index of their <bytes> argument.
var mcStorage = map[string]int{"set": 4, "add": 4, "replace": 4, "append": 4, "prepend": 4, "cas": 4, "ms": 2}

// memcachedDecoder frames memcached: each direction is text or binary by
// its first byte (0x80 requests, 0x81 responses are binary). Text commands
// are one line, with their data block for storage commands; a response is
// one line, or a VALUE/STAT block up to its END, data included.
type memcachedDecoder struct{}

var _ Decoder = (*memcachedDecoder)(nil)

var (
	_ Decoder  = (*memcachedDecoder)(nil)
	_ Resyncer = (*memcachedDecoder)(nil)
)

func newMemcached(Transport) Decoder { return &memcachedDecoder{} }

func mcErr(off int, format string, args ...any) *Error {
	return &Error{Protocol: "memcached", Offset: off, Reason: fmt.Sprintf(format, args...)}
}

// Next implements Decoder.
func (d *memcachedDecoder) Next(dir reassembly.Direction, b []byte, atEOF bool) (Message, int, error) {
	if len(b) == 0 {
		return Message{}, 0, ErrNeedMore
	}
	if b[0] == 0x80 || b[0] == 0x81 {
		return mcBinary(dir, b)
	}
	if dir == reassembly.ClientToServer {
		return mcCommand(b)
	}
	return mcResponse(b)
}

// mcLine returns the line at b[from:] (without CRLF or LF) and the offset
// after it; end < 0: no line end yet.
func mcLine(b []byte, from int) (line []byte, end int, err *Error) {
	i := bytes.IndexByte(b[from:min(len(b), from+mcMaxLine)], '\n')
	if i < 0 {
		if len(b)-from >= mcMaxLine {
			return nil, 0, mcErr(from, "no line end within %d bytes: not the memcached text protocol", mcMaxLine)
		}
		return nil, -1, nil
	}
	line = bytes.TrimSuffix(b[from:from+i], []byte("\r"))
	for j, c := range line {
		if c < 0x20 && c != '\t' || c == 0x7f {
			return nil, 0, mcErr(from+j, "control byte 0x%02x in a command line: not the memcached text protocol", c)
		}
	}
	return line, from + i + 1, nil
}

// mcData skips a data block of n bytes and its CRLF at b[from:].
func mcData(b []byte, from int, n int64) (end int, err error) {
	if n < 0 || n > mcMaxData {
		return 0, mcErr(from, "data block of %d bytes is implausible", n)
	}
	end64 := int64(from) + n + 2
	if int64(len(b)) < end64 {
		return int(end64), ErrNeedMore
	}
	end = int(end64)
	if b[end-2] != '\r' || b[end-1] != '\n' {
		return 0, mcErr(end-2, "data block of %d bytes not followed by CRLF", n)
	}
	return end, nil
}

func mcCommand(b []byte) (Message, int, error) {
	line, end, perr := mcLine(b, 0)
	if perr != nil {
		return Message{}, 0, perr
	}
	if end < 0 {
		return Message{}, 0, ErrNeedMore
	}
	words := strings.Fields(string(line[:min(len(line), 512)]))
	m := Message{Protocol: "memcached", Parts: []Part{{Range: reassembly.ByteRange{End: int64(end)}, Label: "command"}}}
	if len(words) == 0 {
		m.Summary, m.Fields = "(empty line)", []Field{{"command", ""}}
		return m, end, nil
	}
	cmd := words[0]
	m.Fields = []Field{{"command", cmd}}
	if !mcQuiet(words) {
		m.Role = RoleRequest // replies come in order
	}
	m.Summary = bTrunc(strings.Join(words, " "), 100)
	if i, ok := mcStorage[cmd]; ok {
		if len(words) <= i {
			return Message{}, 0, mcErr(0, "%s without its <bytes> argument", cmd)
		}
		n, err := strconv.ParseInt(words[i], 10, 64)
		if err != nil {
			return Message{}, 0, mcErr(0, "%s: <bytes> %q is not a number", cmd, bTrunc(words[i], 20))
		}
		dend, derr := mcData(b, end, n)
		if derr != nil {
			if derr == ErrNeedMore {
				return Message{}, dend, ErrNeedMore
			}
			return Message{}, 0, derr
		}
		m.Parts = append(m.Parts, Part{Range: reassembly.ByteRange{Start: int64(end), End: int64(dend)}, Label: "data"})
		m.Fields = append(m.Fields, Field{"key", words[1]}, Field{"bytes", words[i]})
		m.Summary = bTrunc(fmt.Sprintf("%s %s %d B", cmd, words[1], n), 100)
		return m, dend, nil
	}
	return m, end, nil
}

// mcResponse frames one response: a line, or a VALUE/VA/STAT block.
func mcResponse(b []byte) (Message, int, error) {
	m := Message{Protocol: "memcached", Role: RoleResponse}
	pos, values, stats, bytesIn := 0, 0, 0, int64(0)
	for {
		line, end, perr := mcLine(b, pos)
		if perr != nil {
			return Message{}, 0, perr
		}
		if end < 0 {
			return Message{}, 0, ErrNeedMore
		}
		words := strings.Fields(string(line[:min(len(line), 512)]))
		w0 := ""
		if len(words) > 0 {
			w0 = words[0]
		}
		switch {
		case w0 == "VALUE" && len(words) >= 4, w0 == "VA" && len(words) >= 2:
			arg := ""
			if w0 == "VA" {
				arg = words[1]
			} else {
				arg = words[3]
			}
			n, err := strconv.ParseInt(arg, 10, 64)
			if err != nil {
				return Message{}, 0, mcErr(pos, "%s: <bytes> %q is not a number", w0, bTrunc(arg, 20))
			}
			dend, derr := mcData(b, end, n)
			if derr != nil {
				if derr == ErrNeedMore {
					return Message{}, 0, ErrNeedMore
				}
				return Message{}, 0, derr
			}
			values++
			bytesIn += n
			if values > mcMaxItems {
				return Message{}, 0, mcErr(pos, "more than %d values in one response", mcMaxItems)
			}
			if w0 == "VA" { // meta get: one value, no END
				m.Summary, m.Fields = fmt.Sprintf("VA %d B", n), []Field{{"response", "VA"}}
				return m, dend, nil
			}
			pos = dend
			continue
		case w0 == "STAT":
			stats++
			pos = end
			continue
		case w0 == "END" && (values > 0 || stats > 0 || pos == 0):
			switch {
			case values > 0:
				m.Summary = fmt.Sprintf("%d value%s (%d B) END", values, plural(int64(values)), bytesIn)
			case stats > 0:
				m.Summary = fmt.Sprintf("%d STAT line%s END", stats, plural(int64(stats)))
			default:
				m.Summary = "END (no value)"
			}
			m.Fields = []Field{{"response", "END"}, {"values", strconv.Itoa(values)}, {"stats", strconv.Itoa(stats)}}
			return m, end, nil
		}
		if pos > 0 {
			return Message{}, 0, mcErr(pos, "%q inside a VALUE/STAT block (want END)", bTrunc(string(line), 40))
		}
		m.Summary = bTrunc(strings.Join(words, " "), 100)
		m.Fields = []Field{{"response", w0}}
		return m, end, nil
	}
}

// mcBinary frames one binary-protocol packet: the header says its length.
func mcBinary(dir reassembly.Direction, b []byte) (Message, int, error) {
	want := byte(0x80)
	if dir == reassembly.ServerToClient {
		want = 0x81
	}
	if b[0] != want {
		return Message{}, 0, mcErr(0, "magic 0x%02x in the wrong direction (want 0x%02x)", b[0], want)
	}
	if len(b) < mcHeaderLen {
		return Message{}, 0, ErrNeedMore
	}
	op := b[1]
	keyLen, extLen := int(binary.BigEndian.Uint16(b[2:])), int(b[4])
	body := int64(binary.BigEndian.Uint32(b[8:]))
	if body > mcMaxData || int64(keyLen+extLen) > body {
		return Message{}, 0, mcErr(8, "body length %d is implausible (key %d, extras %d)", body, keyLen, extLen)
	}
	n := mcHeaderLen + int(body)
	if len(b) < n {
		return Message{}, n, ErrNeedMore
	}
	name := mcOpcodes[op]
	if name == "" {
		name = fmt.Sprintf("opcode 0x%02x", op)
	}
	m := Message{Protocol: "memcached", Fields: []Field{{"opcode", name}},
		Parts: []Part{{Range: reassembly.ByteRange{End: mcHeaderLen}, Label: "header"}}}
	// A response carries its request's opaque; a quiet request may get
	// none, so it waits for nothing.
	m.Key = "opaque " + strconv.FormatUint(uint64(binary.BigEndian.Uint32(b[12:])), 10)
	switch {
	case dir == reassembly.ServerToClient:
		m.Role = RoleResponse
	case !mcQuietOpcodes[op]:
		m.Role = RoleRequest
	}
	if body > 0 {
		m.Parts = append(m.Parts, Part{Range: reassembly.ByteRange{Start: mcHeaderLen, End: int64(n)}, Label: "body"})
	}
	key := b[mcHeaderLen+extLen : mcHeaderLen+extLen+keyLen]
	value := int(body) - keyLen - extLen
	var w strings.Builder
	if dir == reassembly.ClientToServer {
		w.WriteString(name)
	} else {
		st := binary.BigEndian.Uint16(b[6:])
		w.WriteString(name + " response")
		if st != 0 {
			s := mcStatus[st]
			if s == "" {
				s = fmt.Sprintf("status 0x%04x", st)
			}
			fmt.Fprintf(&w, " %s", s)
			m.Fields = append(m.Fields, Field{"status", s})
		}
	}
	if keyLen > 0 {
		fmt.Fprintf(&w, " %s", strconv.Quote(bTrunc(string(key), 60)))
	}
	if value > 0 {
		fmt.Fprintf(&w, " %d B", value)
	}
	m.Summary = w.String()
	return m, n, nil
}

// Resync implements Resyncer: the next line start that begins a known
// text command or response word, or a binary header magic.
func (d *memcachedDecoder) Resync(dir reassembly.Direction, b []byte) int {
	for i := 0; i < len(b); i++ {
		if i > 0 && b[i-1] != '\n' {
			continue
		}
		if c := b[i]; c == 0x80 || c == 0x81 {
			return i
		}
		word, _, _ := bytes.Cut(b[i:min(len(b), i+16)], []byte(" "))
		word = bytes.TrimRight(word, "\r\n")
		if mcKnownWord(string(word)) {
			return i
		}
	}
	return -1
}

var mcWords = strings.Fields("get gets gat gats set add replace append prepend cas delete incr decr touch stats flush_all version verbosity quit " +
	"mg ms md ma mn me VALUE END STORED NOT_STORED EXISTS NOT_FOUND DELETED TOUCHED OK ERROR CLIENT_ERROR SERVER_ERROR VERSION STAT " +
	"VA HD EN NF NS EX MN")

func mcKnownWord(w string) bool {
	for _, k := range mcWords {
		if w == k {
			return true
		}
	}
	return false
}

// mcQuiet says a text command asks for no reply: "quit" (the server
// closes), "noreply" last, or a meta command with the q flag (replies only
// on a miss or an error).
func mcQuiet(words []string) bool {
	if words[0] == "quit" || words[len(words)-1] == "noreply" {
		return true
	}
	if len(words[0]) == 2 && words[0][0] == 'm' {
		for _, w := range words[1:] {
			if w == "q" {
				return true
			}
		}
	}
	return false
}

// mcQuietOpcodes are the binary protocol's quiet commands, answered only
// on a miss or an error (GetQ, GetKQ, SetQ … PrependQ, GATQ, GATKQ).
var mcQuietOpcodes = map[byte]bool{0x09: true, 0x0d: true, 0x11: true, 0x12: true, 0x13: true, 0x14: true, 0x15: true,
	0x16: true, 0x17: true, 0x18: true, 0x19: true, 0x1a: true, 0x1e: true, 0x24: true}
