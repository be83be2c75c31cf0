package decode

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/net/http2/hpack"

	"github.com/sockscope/sockscope/reassembly"
)

// h2Preface is the client connection preface (RFC 9113 §3.4). It is not a
// frame, so the decoder returns it as a message of its own.
const h2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

const (
	// h2HeaderLen is the size of a frame header: length, type, flags, stream.
	h2HeaderLen = 9
	// h2DefaultMaxFrame is SETTINGS_MAX_FRAME_SIZE's initial value. The
	// 24-bit length field cannot exceed the largest value a peer may allow
	// (2^24-1), so every length can be framed: a frame over the default is
	// only noted in its summary, and Resync looks for lengths within it.
	h2DefaultMaxFrame = 1 << 14
	// h2MaxHPACKTable bounds the HPACK dynamic table the decoder will keep
	// per direction, whatever the peer announces.
	h2MaxHPACKTable = 64 << 10
	// h2MaxHPACKString bounds one decoded header name or value.
	h2MaxHPACKString = 16 << 10
)

// newH2Func lets the http1 decoder hand a connection over to HTTP/2 after an
// "Upgrade: h2c" request is answered with 101, without http1.go depending on
// this file's names.
var newH2Func = newH2

// h2Decoder frames HTTP/2 with prior knowledge: the client preface, then
// frames, one Message per frame. Header blocks are decoded with HPACK (one
// dynamic table per direction, bounded) so that HEADERS frames can show the
// method, path and status; if a block cannot be decoded (the capture started
// mid-connection) decoding stops for that direction and frames are still framed.
type h2Decoder struct {
	// started[dir] is set after the first message of dir; only the first
	// client bytes can be the preface.
	started [2]bool
	hpack   [2]*hpack.Decoder
	// hpackBroken[dir] is set after an HPACK error: the dynamic table is
	// then out of step with the sender's and later blocks would be wrong.
	hpackBroken [2]bool
	// fields collects the fields the HPACK decoder emits for one frame.
	fields []hpack.HeaderField
	// grpc, when set (the grpc framing), follows the gRPC calls.
	grpc *grpcLayer
}

var _ Decoder = (*h2Decoder)(nil)

var (
	_ Decoder  = (*h2Decoder)(nil)
	_ Resyncer = (*h2Decoder)(nil)
)

// newH2 returns an HTTP/2 decoder. The transport is not consulted: HTTP/2
// runs over TCP (HTTP/3 is a different protocol).
func newH2(Transport) Decoder { return &h2Decoder{} }

func h2Err(off int, format string, args ...any) *Error {
	return &Error{Protocol: "h2", Offset: off, Reason: fmt.Sprintf(format, args...)}
}

// Next implements Decoder.
func (d *h2Decoder) Next(dir reassembly.Direction, b []byte, atEOF bool) (Message, int, error) {
	dir &= 1
	if dir == reassembly.ClientToServer && !d.started[dir] {
		k := min(len(b), len(h2Preface))
		if string(b[:k]) == h2Preface[:k] {
			if k < len(h2Preface) {
				return Message{}, len(h2Preface), ErrNeedMore
			}
			d.started[dir] = true
			return Message{
				Protocol: "h2",
				Summary:  "client preface",
				Fields:   []Field{{"type", "preface"}},
				Parts:    []Part{{reassembly.ByteRange{Start: 0, End: int64(len(h2Preface))}, "preface"}},
			}, len(h2Preface), nil
		}
		if bytes.HasPrefix(b, []byte("PRI ")) {
			return Message{}, 0, h2Err(0, "bad client connection preface")
		}
	}
	if len(b) < h2HeaderLen {
		return Message{}, 0, ErrNeedMore
	}
	length := int(b[0])<<16 | int(b[1])<<8 | int(b[2])
	typ, flags := b[3], b[4]
	stream := binary.BigEndian.Uint32(b[5:9]) & 0x7fffffff
	total := h2HeaderLen + length
	if len(b) < total {
		return Message{}, total, ErrNeedMore
	}
	d.started[dir] = true
	payload := b[h2HeaderLen:total]
	m := Message{
		Protocol: "h2",
		Fields: []Field{
			{"type", h2TypeName(typ)},
			{"flags", h2FlagText(typ, flags, "0x"+strconv.FormatUint(uint64(flags), 16))},
			{"stream", strconv.FormatUint(uint64(stream), 10)},
			{"length", strconv.Itoa(length)},
		},
		Parts: []Part{{reassembly.ByteRange{Start: 0, End: h2HeaderLen}, "frame header"}},
	}
	if length > 0 {
		m.Parts = append(m.Parts, Part{reassembly.ByteRange{Start: h2HeaderLen, End: int64(total)}, "payload"})
	}
	var s strings.Builder
	s.WriteString(h2TypeName(typ))
	lead := "" // what the gRPC layer says, ahead of the frame
	withStream := func() { fmt.Fprintf(&s, " stream %d", stream) }
	flagWords := func() {
		if f := h2FlagText(typ, flags, ""); f != "" {
			s.WriteString(" " + f)
		}
	}
	badLen := func(want string) { fmt.Fprintf(&s, " (bad length %d, want %s)", length, want) }
	switch typ {
	case 0x0: // DATA
		withStream()
		s.WriteString(" " + bSize(int64(length)))
		flagWords()
		if d.grpc != nil && stream != 0 {
			data, off := payload, h2HeaderLen
			if flags&0x8 != 0 {
				if len(payload) < 1 || int(payload[0]) > len(payload)-1 {
					s.WriteString(" (bad padding)")
					break
				}
				data, off = payload[1:len(payload)-int(payload[0])], h2HeaderLen+1
			}
			lead = d.grpc.data(dir, stream, data, off, &m)
			if flags&0x1 != 0 {
				d.grpc.end(stream, dir, false)
			}
		}
	case 0x1, 0x5, 0x9: // HEADERS, PUSH_PROMISE, CONTINUATION
		withStream()
		block, promised, ok := h2HeaderBlock(typ, flags, payload)
		if typ == 0x5 && ok {
			fmt.Fprintf(&s, " promised=%d", promised)
		}
		flagWords()
		if !ok {
			s.WriteString(" (bad padding)")
			break
		}
		wasBroken := d.hpackBroken[dir]
		text, fields := d.decodeHeaders(dir, block, flags&0x4 != 0)
		m.Fields = append(m.Fields, fields...)
		if d.grpc != nil && stream != 0 && !wasBroken && !d.hpackBroken[dir] {
			// A gRPC request is named by its call, trailers by their
			// status (which come first in the summary); a response
			// keeps its :status.
			if g := d.grpc.headers(dir, stream, d.fields, &m); g != "" {
				lead = g
				if field(fields, "status") == "" {
					text = ""
				}
			}
		}
		if text != "" {
			s.WriteString(" · " + text)
		}
		if d.grpc != nil && typ == 0x1 && flags&0x1 != 0 {
			d.grpc.end(stream, dir, false)
		}
	case 0x2: // PRIORITY
		withStream()
		if length != 5 {
			badLen("5")
			break
		}
		s.WriteString(" " + h2Priority(payload))
	case 0x3: // RST_STREAM
		withStream()
		if length != 4 {
			badLen("4")
			break
		}
		code := h2ErrorName(binary.BigEndian.Uint32(payload))
		s.WriteString(" " + code)
		m.Fields = append(m.Fields, Field{"error", code})
		if d.grpc != nil {
			d.grpc.end(stream, dir, true)
		}
	case 0x4: // SETTINGS
		flagWords()
		if length%6 != 0 {
			badLen("a multiple of 6")
			break
		}
		for i := 0; i+6 <= len(payload); i += 6 {
			if i == 6*8 {
				fmt.Fprintf(&s, " +%d more", (len(payload)-i)/6)
				break
			}
			name := h2SettingName(binary.BigEndian.Uint16(payload[i:]))
			v := strconv.FormatUint(uint64(binary.BigEndian.Uint32(payload[i+2:])), 10)
			s.WriteString(" " + name + "=" + v)
			m.Fields = append(m.Fields, Field{name, v})
		}
	case 0x6: // PING
		flagWords()
		if length != 8 {
			badLen("8")
		}
	case 0x7: // GOAWAY
		if length < 8 {
			badLen("at least 8")
			break
		}
		last := binary.BigEndian.Uint32(payload) & 0x7fffffff
		code := h2ErrorName(binary.BigEndian.Uint32(payload[4:]))
		fmt.Fprintf(&s, " last=%d %s", last, code)
		m.Fields = append(m.Fields, Field{"last_stream", strconv.FormatUint(uint64(last), 10)}, Field{"error", code})
		if debug := payload[8:]; len(debug) > 0 {
			text := bTrunc(string(debug), 60)
			s.WriteString(" " + strconv.Quote(text))
			m.Fields = append(m.Fields, Field{"debug", text})
		}
	case 0x8: // WINDOW_UPDATE
		withStream()
		if length != 4 {
			badLen("4")
			break
		}
		inc := binary.BigEndian.Uint32(payload) & 0x7fffffff
		fmt.Fprintf(&s, " +%d", inc)
		m.Fields = append(m.Fields, Field{"increment", strconv.FormatUint(uint64(inc), 10)})
	default:
		withStream()
		s.WriteString(" " + bSize(int64(length)))
		flagWords()
	}
	if length > h2DefaultMaxFrame && typ <= 0x9 {
		s.WriteString(" (over the 16 KiB default max frame size)")
	}
	m.Summary = s.String()
	if lead != "" {
		m.Summary = lead + " · " + m.Summary
	}
	return m, total, nil
}

// Resync implements Resyncer: the first offset holding a frame header that
// a peer could have sent: a known type (0-9), a length within the default
// maximum, the reserved bit clear, only the type's defined flags, and a
// stream ID that is 0 exactly for the connection-level types.
func (d *h2Decoder) Resync(dir reassembly.Direction, b []byte) int {
	for i := 0; i+h2HeaderLen <= len(b); i++ {
		if h2Plausible(b[i : i+h2HeaderLen]) {
			return i
		}
	}
	return -1
}

// h2DefinedFlags holds, per frame type 0-9, the flag bits RFC 9113 defines.
var h2DefinedFlags = [10]byte{0x09, 0x2d, 0, 0, 0x01, 0x0c, 0x01, 0, 0, 0x04}

func h2Plausible(h []byte) bool {
	length := int(h[0])<<16 | int(h[1])<<8 | int(h[2])
	typ, flags := h[3], h[4]
	if typ > 0x9 || length > h2DefaultMaxFrame || h[5]&0x80 != 0 {
		return false
	}
	stream := binary.BigEndian.Uint32(h[5:9])
	if flags&^h2DefinedFlags[typ] != 0 {
		return false
	}
	switch typ {
	case 0x4, 0x6, 0x7: // SETTINGS, PING, GOAWAY: connection only
		return stream == 0
	case 0x8: // WINDOW_UPDATE: either
		return length == 4
	}
	return stream != 0
}

// h2HeaderBlock returns the header block fragment of a HEADERS, PUSH_PROMISE
// or CONTINUATION payload (without padding and priority fields) and, for
// PUSH_PROMISE, the promised stream. ok is false if the padding is longer than
// the payload.
func h2HeaderBlock(typ, flags byte, p []byte) (block []byte, promised uint32, ok bool) {
	if typ == 0x9 {
		return p, 0, true
	}
	pad := 0
	if flags&0x8 != 0 {
		if len(p) < 1 {
			return nil, 0, false
		}
		pad, p = int(p[0]), p[1:]
	}
	skip := 0
	if typ == 0x1 && flags&0x20 != 0 {
		skip = 5
	}
	if typ == 0x5 {
		skip = 4
	}
	if len(p) < skip+pad {
		return nil, 0, false
	}
	if typ == 0x5 {
		promised = binary.BigEndian.Uint32(p) & 0x7fffffff
	}
	return p[skip : len(p)-pad], promised, true
}

// decodeHeaders runs one header block fragment through dir's HPACK decoder
// and returns a short text (":method :path" of a request, ":status" of a
// response) and fields. end says the fragment ends the header block.
func (d *h2Decoder) decodeHeaders(dir reassembly.Direction, frag []byte, end bool) (string, []Field) {
	if d.hpackBroken[dir] {
		return "", nil
	}
	if d.hpack[dir] == nil {
		d.hpack[dir] = hpack.NewDecoder(4096, nil)
		d.hpack[dir].SetAllowedMaxDynamicTableSize(h2MaxHPACKTable)
		d.hpack[dir].SetMaxStringLength(h2MaxHPACKString)
	}
	dec := d.hpack[dir]
	d.fields = d.fields[:0]
	dec.SetEmitFunc(func(f hpack.HeaderField) {
		if len(d.fields) < 64 {
			d.fields = append(d.fields, f)
		}
	})
	_, err := dec.Write(frag)
	if err == nil && end {
		err = dec.Close()
	}
	if err != nil {
		d.hpackBroken[dir] = true
		return "", []Field{{"hpack", "cannot decode: " + err.Error()}}
	}
	var method, path, status, authority string
	regular := 0
	for _, f := range d.fields {
		switch f.Name {
		case ":method":
			method = f.Value
		case ":path":
			path = f.Value
		case ":status":
			status = f.Value
		case ":authority":
			authority = f.Value
		default:
			if !f.IsPseudo() {
				regular++
			}
		}
	}
	var fields []Field
	var text string
	switch {
	case method != "":
		text = bTrunc(method, 32) + " " + bTrunc(path, 100)
		fields = append(fields, Field{"method", method}, Field{"path", path})
		if authority != "" {
			fields = append(fields, Field{"authority", authority})
		}
	case status != "":
		text = bTrunc(status, 16)
		fields = append(fields, Field{"status", status})
	case regular > 0:
		text = strconv.Itoa(regular) + " header fields"
	}
	return text, fields
}

// h2Priority formats a 5-byte priority block: dependency, exclusive, weight.
func h2Priority(p []byte) string {
	dep := binary.BigEndian.Uint32(p)
	s := "dep=" + strconv.FormatUint(uint64(dep&0x7fffffff), 10)
	if dep&0x80000000 != 0 {
		s += " exclusive"
	}
	return s + " weight=" + strconv.Itoa(int(p[4])+1)
}

var h2TypeNames = [...]string{"DATA", "HEADERS", "PRIORITY", "RST_STREAM", "SETTINGS",
	"PUSH_PROMISE", "PING", "GOAWAY", "WINDOW_UPDATE", "CONTINUATION", "ALTSVC", "", "ORIGIN"}

func h2TypeName(t byte) string {
	if int(t) < len(h2TypeNames) && h2TypeNames[t] != "" {
		return h2TypeNames[t]
	}
	if t == 0x10 {
		return "PRIORITY_UPDATE"
	}
	return fmt.Sprintf("type 0x%02x", t)
}

// h2FlagText names the flags defined for the frame type, in bit order; other
// bits are ignored (RFC 9113 §4.1). It returns empty if none is set.
func h2FlagText(typ, flags byte, empty string) string {
	var names []string
	add := func(bit byte, name string) {
		if flags&bit != 0 {
			names = append(names, name)
		}
	}
	switch typ {
	case 0x0:
		add(0x1, "END_STREAM")
		add(0x8, "PADDED")
	case 0x1:
		add(0x1, "END_STREAM")
		add(0x4, "END_HEADERS")
		add(0x8, "PADDED")
		add(0x20, "PRIORITY")
	case 0x4, 0x6:
		add(0x1, "ACK")
	case 0x5:
		add(0x4, "END_HEADERS")
		add(0x8, "PADDED")
	case 0x9:
		add(0x4, "END_HEADERS")
	}
	if len(names) == 0 {
		return empty
	}
	return strings.Join(names, " ")
}

func h2SettingName(id uint16) string {
	switch id {
	case 1:
		return "HEADER_TABLE_SIZE"
	case 2:
		return "ENABLE_PUSH"
	case 3:
		return "MAX_CONCURRENT_STREAMS"
	case 4:
		return "INITIAL_WINDOW_SIZE"
	case 5:
		return "MAX_FRAME_SIZE"
	case 6:
		return "MAX_HEADER_LIST_SIZE"
	case 8:
		return "ENABLE_CONNECT_PROTOCOL"
	case 9:
		return "NO_RFC7540_PRIORITIES"
	}
	return fmt.Sprintf("0x%x", id)
}

func h2ErrorName(code uint32) string {
	names := [...]string{"NO_ERROR", "PROTOCOL_ERROR", "INTERNAL_ERROR", "FLOW_CONTROL_ERROR",
		"SETTINGS_TIMEOUT", "STREAM_CLOSED", "FRAME_SIZE_ERROR", "REFUSED_STREAM", "CANCEL",
		"COMPRESSION_ERROR", "CONNECT_ERROR", "ENHANCE_YOUR_CALM", "INADEQUATE_SECURITY", "HTTP_1_1_REQUIRED"}
	if int(code) < len(names) {
		return names[code]
	}
	return fmt.Sprintf("error 0x%x", code)
}
