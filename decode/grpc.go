package decode

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/net/http2/hpack"

	"github.com/sockscope/sockscope/reassembly"
)

// gRPC over HTTP/2 (grpc/grpc PROTOCOL-HTTP2.md): a call is one HTTP/2
// stream; its request HEADERS carry :path /service/method and content-type
// application/grpc[+proto|+json...]; each message in either direction is a
// 5-byte prefix (compressed flag, 4-byte big-endian length) and the message,
// carried in DATA frames that may split a message anywhere (the prefix too)
// or hold several; the status is in the trailers (grpc-status, grpc-message).
//
// The grpc framing is the h2 framing with this layer on top: messages are
// still HTTP/2 frames (so every byte of the stream belongs to one), and each
// DATA frame of a call says which gRPC messages it carries and which of them
// it completes, with a part per piece: the map goes gRPC message ↔ DATA
// frame ↔ TCP segment.

const (
	grpcPrefixLen = 5
	// grpcMaxCalls bounds the calls tracked at once per connection; DATA on
	// calls beyond it is framed as plain HTTP/2 and says so.
	grpcMaxCalls = 4096
	// grpcMaxPieces bounds the pieces one DATA frame's summary lists.
	grpcMaxPieces = 3
)

// grpcStatusNames are the status codes of grpc/grpc doc/statuscodes.md.
var grpcStatusNames = [...]string{"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
	"NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
	"ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"}

func grpcStatusName(code string) string {
	if n, err := strconv.Atoi(code); err == nil && n >= 0 && n < len(grpcStatusNames) {
		return grpcStatusNames[n]
	}
	return "code " + code
}

// grpcDir is the message state of one direction of one call.
type grpcDir struct {
	prefix  [grpcPrefixLen]byte
	prefixN int    // prefix bytes seen of the current message
	left    uint32 // message bytes still to come once the prefix is whole
	length  uint32 // the current message's declared length
	count   int    // messages started so far (the current one's number)
	broken  string // why this direction is no longer followed
}

// grpcCall is one HTTP/2 stream.
type grpcCall struct {
	grpc   bool   // content-type says gRPC
	known  bool   // headers were seen (false: the capture started mid-call)
	method string // "service/method" from :path
	dirs   [2]grpcDir
	ended  [2]bool
}

// grpcLayer is the gRPC state of one connection.
type grpcLayer struct {
	calls map[uint32]*grpcCall
	full  bool // a call was not tracked because grpcMaxCalls were
}

// grpcPiece is the part of one gRPC message a DATA frame carries.
type grpcPiece struct {
	n          int    // message number within its call and direction
	start, end int    // in the DATA frame message (frame header included)
	length     uint32 // the message's declared length (0 while its prefix is cut)
	prefix     bool   // this piece holds (the end of) the prefix
	first      bool   // the message starts in this frame
	last       bool   // the message ends in this frame
	body       int    // message bytes (after the prefix) in this piece
	compressed bool
}

// newGRPC returns the gRPC-over-h2c decoder.
func newGRPC(Transport) Decoder {
	return &h2Decoder{grpc: &grpcLayer{calls: map[uint32]*grpcCall{}}}
}

func (g *grpcLayer) call(stream uint32, create bool) *grpcCall {
	c := g.calls[stream]
	if c == nil && create {
		if len(g.calls) >= grpcMaxCalls {
			g.full = true
			return nil
		}
		c = &grpcCall{}
		g.calls[stream] = c
	}
	return c
}

// end notes END_STREAM or RST_STREAM on a call and forgets it once both
// directions are done.
func (g *grpcLayer) end(stream uint32, dir reassembly.Direction, both bool) {
	c := g.calls[stream]
	if c == nil {
		return
	}
	c.ended[dir] = true
	if both || c.ended[0] && c.ended[1] {
		delete(g.calls, stream)
	}
}

// headers looks at one decoded header block of a call and returns what to
// add to the frame's summary and fields. proto is "grpc" when the call is one.
func (g *grpcLayer) headers(dir reassembly.Direction, stream uint32, fields []hpack.HeaderField, m *Message) (text string) {
	var path, ctype, status, msg string
	hasStatus := false
	for _, f := range fields {
		switch f.Name {
		case ":path":
			path = f.Value
		case "content-type":
			ctype = f.Value
		case "grpc-status":
			status, hasStatus = f.Value, true
		case "grpc-message":
			msg = f.Value
		}
	}
	isGRPC := ctype == "application/grpc" || strings.HasPrefix(ctype, "application/grpc+") || strings.HasPrefix(ctype, "application/grpc;")
	c := g.call(stream, true)
	if c == nil {
		return ""
	}
	c.known = true
	if isGRPC {
		c.grpc = true
	}
	if !c.grpc {
		return ""
	}
	m.Protocol = "grpc"
	var parts []string
	if path != "" && dir == reassembly.ClientToServer {
		c.method = strings.TrimPrefix(path, "/")
		m.Fields = append(m.Fields, Field{"grpc_method", c.method})
		parts = append(parts, "call "+bTrunc(c.method, 100))
	}
	if hasStatus {
		name := grpcStatusName(status)
		m.Fields = append(m.Fields, Field{"grpc_status", status}, Field{"grpc_status_name", name})
		s := "grpc-status " + bTrunc(status, 8) + " " + name
		if msg != "" {
			text := bTrunc(grpcUnescape(msg), 80)
			m.Fields = append(m.Fields, Field{"grpc_message", text})
			s += " " + strconv.Quote(text)
		}
		parts = append(parts, s)
	}
	if c.method != "" {
		m.Fields = append(m.Fields, Field{"grpc_call", c.method})
	}
	return strings.Join(parts, " · ")
}

// grpcUnescape undoes grpc-message's percent-encoding; a bad escape is kept.
func grpcUnescape(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+3], 16, 8); err == nil {
				b.WriteByte(byte(v))
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// data frames the gRPC messages in one DATA frame's data, which starts at
// offset off of the frame message, and adds them to m.
func (g *grpcLayer) data(dir reassembly.Direction, stream uint32, data []byte, off int, m *Message) string {
	c := g.call(stream, true)
	if c == nil {
		return "(call not tracked: too many open calls)"
	}
	if c.known && !c.grpc {
		return ""
	}
	m.Protocol = "grpc"
	if c.method != "" {
		m.Fields = append(m.Fields, Field{"grpc_call", c.method})
	}
	st := &c.dirs[dir]
	if st.broken != "" {
		return "(gRPC messages not followed: " + st.broken + ")"
	}
	var pieces []grpcPiece
	pos := 0
	for pos < len(data) {
		p := grpcPiece{n: st.count, start: off + pos}
		if st.prefixN < grpcPrefixLen {
			if st.prefixN == 0 {
				st.count++
				p.n, p.first = st.count, true
			}
			k := copy(st.prefix[st.prefixN:], data[pos:])
			st.prefixN += k
			pos += k
			p.prefix = true
			if st.prefixN == grpcPrefixLen {
				if st.prefix[0] > 1 {
					st.broken = fmt.Sprintf("message %d has compressed flag 0x%02x", st.count, st.prefix[0])
					p.end = off + pos
					pieces = append(pieces, p)
					break
				}
				st.length = binary.BigEndian.Uint32(st.prefix[1:])
				st.left = st.length
			}
		}
		if st.prefixN == grpcPrefixLen {
			k := uint32(min(int64(len(data)-pos), int64(st.left)))
			pos += int(k)
			st.left -= k
			p.body = int(k)
			p.length, p.compressed = st.length, st.prefix[0] == 1
			if st.left == 0 {
				p.last = true
				st.prefixN = 0
			}
		}
		p.end = off + pos
		pieces = append(pieces, p)
	}
	return grpcDescribe(pieces, m)
}

// grpcDescribe writes the pieces of one DATA frame into m's parts and fields
// and returns the summary text: "msg 1 12 B", "msg 2 start (16379 of 40000
// B)", "msg 2 end (7237 of 40000 B)".
func grpcDescribe(pieces []grpcPiece, m *Message) string {
	if len(pieces) == 0 {
		return ""
	}
	var done []string
	var s strings.Builder
	for i, p := range pieces {
		label := "gRPC msg " + strconv.Itoa(p.n)
		if p.prefix && !(p.first && p.last) {
			label += " (prefix)"
		}
		m.Parts = append(m.Parts, Part{reassembly.ByteRange{Start: int64(p.start), End: int64(p.end)}, label})
		if p.last {
			done = append(done, strconv.FormatUint(uint64(p.length), 10))
		}
		if i == grpcMaxPieces {
			fmt.Fprintf(&s, " +%d more", len(pieces)-i)
			continue
		}
		if i > grpcMaxPieces {
			continue
		}
		if i > 0 {
			s.WriteString(", ")
		}
		fmt.Fprintf(&s, "msg %d", p.n)
		switch {
		case p.first && p.last:
			fmt.Fprintf(&s, " %d B", p.length)
		case p.prefix && p.length == 0 && !p.last:
			fmt.Fprintf(&s, " start (%d B of its prefix)", p.end-p.start)
		case p.first:
			fmt.Fprintf(&s, " start (%d of %d B)", p.body, p.length)
		case p.last:
			fmt.Fprintf(&s, " end (%d of %d B)", p.body, p.length)
		default:
			fmt.Fprintf(&s, " middle (%d of %d B)", p.body, p.length)
		}
		if p.compressed {
			s.WriteString(" compressed")
		}
	}
	if len(done) > 0 {
		m.Fields = append(m.Fields, Field{"grpc_messages", strings.Join(done, ",")})
	}
	return s.String()
}

// h2HeadersSeen says whether b, a client's first bytes of HTTP/2 (with or
// without the connection preface), holds a whole HEADERS frame: what
// detectGRPC needs to tell gRPC from other HTTP/2.
func h2HeadersSeen(b []byte) bool {
	if len(b) >= len(httpPreface) && string(b[:len(httpPreface)]) == httpPreface {
		b = b[len(httpPreface):]
	}
	for len(b) >= 9 {
		n := 9 + (int(b[0])<<16 | int(b[1])<<8 | int(b[2]))
		if len(b) < n {
			return false
		}
		if b[3] == 0x1 { // HEADERS
			return true
		}
		b = b[n:]
	}
	return false
}

// h2Framing is the framing of decrypted HTTP/2 (TLS with ALPN h2): grpc when
// its first bytes carry a gRPC call, else h2.
func h2Framing(c2s, s2c []byte) string {
	if _, ok := detectGRPC(c2s[:min(len(c2s), detectMaxLook)], s2c[:min(len(s2c), detectMaxLook)]); ok {
		return "grpc"
	}
	return "h2"
}
