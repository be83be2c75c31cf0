package decode

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/sockscope/sockscope/reassembly"
)

// Limits of the HTTP/1 framer. They bound the bytes a driver must buffer
// before the framer can decide, and mirror what servers enforce (nginx:
// 8 KiB lines, Go's net/http: 1 MiB headers; 64 KiB is between).
const (
	httpMaxHeader    = 64 << 10 // start line + header block, and the trailer section
	httpMaxMethod    = 32       // longest method token taken as real
	httpMaxChunkLine = 4096     // chunk-size line with extensions
	httpMaxLength    = 1 << 40  // Content-Length or chunk size taken as real
	httpMaxPending   = 4096     // requests remembered while waiting for their responses
	httpMaxParts     = 1000     // chunk Parts per message; later chunks share one Part
	httpMaxTarget    = 120      // bytes of the request target shown in a summary
)

// httpPreface is the HTTP/2 connection preface (RFC 9113 §3.4). A client
// that knows the server speaks HTTP/2 over cleartext sends it instead of an
// HTTP/1 request; after an "Upgrade: h2c" it sends it after the 101.
const httpPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// httpMode is what the bytes of one direction are, as far as the HTTP/1
// framer knows.
type httpMode uint8

const (
	httpModeHTTP     httpMode = iota // HTTP/1 requests or responses
	httpModeWSOrHTTP                 // --framing ws: an HTTP handshake if the direction starts with one, else frames
	httpModeWS                       // WebSocket frames, after a 101 (or a handshake request)
	httpModeH2                       // HTTP/2 frames, after an h2c upgrade or the prior-knowledge preface
	httpModeOpaque                   // a tunnel or unknown protocol: one "raw" message per call
	httpModeTunnel                   // after a successful CONNECT: the protocol inside, once detected
)

// httpTunnelSniff is how many bytes of a CONNECT tunnel's first direction
// to speak are looked at to tell what runs inside (TLS, HTTP, SSH...): a
// fixed number, so the answer does not depend on how the bytes were cut
// into segments.
const httpTunnelSniff = 64

// httpRequest is what a response needs to know about the request it answers.
type httpRequest struct {
	method string
	// switchTo is the protocol the connection changes to if the response
	// agrees: "websocket", "h2c" (lowercased Upgrade token) or "connect".
	switchTo string
}

// httpDecoder frames HTTP/1.0 and 1.1 messages, both directions of one
// connection. Responses cannot be framed alone: a response to HEAD has no
// body whatever its headers say, and a 2xx to CONNECT starts a tunnel. So
// requests are remembered, in order, per direction, and each response takes
// the oldest request of the other direction. The driver should therefore give
// a request's bytes to Next before its response's (decode the client side
// first, or interleave by time); a response with no request known is framed
// as a response to GET.
//
// After a 101 Switching Protocols to websocket, both directions continue as
// WebSocket frames; to h2c, as HTTP/2 frames when newH2Func is set. A
// successful CONNECT, or an upgrade to anything else, turns the rest of both
// directions into opaque "raw" messages.
type httpDecoder struct {
	t       Transport
	mode    [2]httpMode
	opaque  [2]string        // label of the opaque data: "tunnel", the upgrade protocol
	pending [2][]httpRequest // requests sent in direction d, awaiting responses in the other
	// await[d] is set when direction d sent a request that switches
	// protocols if it succeeds and no response has decided it yet. Bytes
	// after it that do not look like an HTTP request are taken as the new
	// protocol, so the client side can be framed before the server side.
	await [2]string
	seen  [2]bool // direction d has returned at least one HTTP message
	ws    Decoder // WebSocket framer after an upgrade, shared by both directions
	h2    Decoder // HTTP/2 framer after h2c, shared by both directions
	// inner frames what runs inside a CONNECT tunnel, both directions; nil
	// until the first tunnel bytes decide it (innerName "raw": nothing known).
	inner     Decoder
	innerName string
	resume    [2]httpResume
}

var _ Decoder = (*httpDecoder)(nil)

var (
	_ Decoder  = (*httpDecoder)(nil)
	_ Resyncer = (*httpDecoder)(nil)
)

// newHTTP1 returns an HTTP/1 framer for one connection.
func newHTTP1(t Transport) Decoder {
	return &httpDecoder{t: t}
}

// httpResume is the progress of a message that ErrNeedMore interrupted, so
// the next call (with the same bytes, extended) continues where this one
// stopped instead of starting over: a header arriving one byte per segment,
// or a chunked body in thousands of segments, is parsed once overall. It is
// reset whenever Next returns anything but ErrNeedMore.
type httpResume struct {
	scan httpScan
	// Chunked body progress, valid when head != nil.
	head   *httpHead
	chunks httpChunks
}

// Next returns the HTTP message at the front of b, or, after an upgrade, the
// next WebSocket or HTTP/2 frame.
func (d *httpDecoder) Next(dir reassembly.Direction, b []byte, atEOF bool) (Message, int, error) {
	di := dir & 1
	switch d.mode[di] {
	case httpModeWS:
		return d.ws.Next(dir, b, atEOF)
	case httpModeH2:
		return d.h2.Next(dir, b, atEOF)
	case httpModeOpaque:
		return d.opaqueMessage(di, b)
	case httpModeTunnel:
		return d.tunnel(dir, b, atEOF)
	case httpModeWSOrHTTP:
		if len(b) < 2 {
			return Message{}, 0, ErrNeedMore
		}
		// An HTTP handshake starts with a capital letter and an ASCII byte
		// ("GET ", "HTTP/"). A frame starting 0x41-0x5A would have RSV1 set
		// on an unfinished data frame or a reserved or control opcode, and
		// only a server's unmasked frame has a second byte below 0x80: no
		// usual frame looks like that.
		if b[0] >= 'A' && b[0] <= 'Z' && b[1] < 0x80 {
			d.mode[di] = httpModeHTTP
		} else {
			d.switchTo(di, "websocket")
			return d.Next(dir, b, atEOF)
		}
	}

	if len(b) == 0 {
		return Message{}, 0, ErrNeedMore
	}
	// The HTTP/2 preface, prior knowledge or after an h2c upgrade.
	if np := min(len(b), len(httpPreface)); string(b[:np]) == httpPreface[:np] {
		if np < len(httpPreface) {
			return Message{}, 0, ErrNeedMore
		}
		// With prior knowledge the preface is the first thing the client
		// sends, and the server answers with frames at once; after an h2c
		// upgrade only this direction is still to switch.
		if rev := di ^ 1; !d.seen[di] && !d.seen[rev] && d.mode[rev] == httpModeHTTP {
			d.switchTo(rev, "h2c")
		}
		d.switchTo(di, "h2c")
		return d.Next(dir, b, atEOF)
	}
	if proto := d.await[di]; proto != "" {
		switch httpRequestLine(b) {
		case 0:
			return Message{}, 0, ErrNeedMore
		case -1:
			// Not a request: the client is already speaking the new protocol.
			d.await[di] = ""
			d.switchTo(di, proto)
			return d.Next(dir, b, atEOF)
		}
	}

	m, n, err := d.parse(di, b, atEOF)
	if err == ErrNeedMore {
		return m, n, err
	}
	d.resume[di] = httpResume{}
	if err == nil {
		d.seen[di] = true
	}
	return m, n, err
}

// switchTo makes direction di carry protocol proto from now on.
func (d *httpDecoder) switchTo(di reassembly.Direction, proto string) {
	d.resume[di] = httpResume{}
	d.await[di] = ""
	switch {
	case proto == "websocket":
		if d.ws == nil {
			d.ws = &wsDecoder{}
		}
		d.mode[di] = httpModeWS
	case proto == "h2c" && (d.h2 != nil || newH2Func != nil && d.newH2() != nil):
		d.mode[di] = httpModeH2
	case proto == "connect":
		d.mode[di], d.opaque[di] = httpModeTunnel, "tunnel"
	default:
		d.mode[di], d.opaque[di] = httpModeOpaque, proto
	}
}

// newH2 creates the HTTP/2 framer both directions share after h2c.
func (d *httpDecoder) newH2() Decoder {
	d.h2 = newH2Func(d.t)
	return d.h2
}

// tunnel frames the bytes of a CONNECT tunnel with the framing Detect picks
// from the first httpTunnelSniff bytes of whichever direction speaks first
// (a TLS ClientHello, an SSH banner, a request line...); when it knows none,
// the tunnel is shown as opaque data, as before.
func (d *httpDecoder) tunnel(dir reassembly.Direction, b []byte, atEOF bool) (Message, int, error) {
	di := dir & 1
	if d.innerName == "" {
		if len(b) < httpTunnelSniff && !atEOF {
			return Message{}, 0, ErrNeedMore
		}
		in := DetectInput{Transport: Stream}
		if di == reassembly.ClientToServer {
			in.C2S = b[:min(len(b), httpTunnelSniff)]
		} else {
			in.S2C = b[:min(len(b), httpTunnelSniff)]
		}
		name, _ := Detect(in)
		d.innerName = "raw"
		if name != "raw" && name != "line" {
			if sp, err := ParseSpec(name); err == nil {
				if dec, err := New(sp, d.t); err == nil && dec != nil {
					d.inner, d.innerName = dec, name
				}
			}
		}
	}
	if d.inner == nil {
		return d.opaqueMessage(di, b)
	}
	return d.inner.Next(dir, b, atEOF)
}

// opaqueMessage returns all of b as one message: after CONNECT or an
// upgrade to a protocol this package cannot frame, there are no boundaries
// to find, so each call's bytes (a segment, or the rest of the stream) are
// shown as they came.
func (d *httpDecoder) opaqueMessage(di reassembly.Direction, b []byte) (Message, int, error) {
	if len(b) == 0 {
		return Message{}, 0, ErrNeedMore
	}
	label := d.opaque[di]
	return Message{
		Protocol: "raw",
		Summary:  label + " data " + specSize(int64(len(b))),
		Fields:   []Field{{"after", label}, {"length", strconv.Itoa(len(b))}},
		Parts:    []Part{{Range: reassembly.ByteRange{End: int64(len(b))}, Label: "data"}},
	}, len(b), nil
}

// Resync returns the offset of the first line in b that starts like an HTTP
// message: a known method and a space, or "HTTP/1.x ". Position 0 counts as a
// line start, so a driver resyncing after a framing error should pass the
// bytes after the error's first byte. After an upgrade it defers to the new
// protocol's framer, or returns -1 if that cannot resync.
func (d *httpDecoder) Resync(dir reassembly.Direction, b []byte) int {
	di := dir & 1
	d.resume[di] = httpResume{}
	var sub Decoder
	switch d.mode[di] {
	case httpModeWS:
		sub = d.ws
	case httpModeH2:
		sub = d.h2
	case httpModeOpaque:
		if len(b) == 0 {
			return -1
		}
		return 0
	case httpModeTunnel:
		if d.inner == nil {
			if len(b) == 0 {
				return -1
			}
			return 0
		}
		sub = d.inner
	}
	if sub != nil {
		if r, ok := sub.(Resyncer); ok {
			return r.Resync(dir, b)
		}
		return -1
	}
	for i := 0; i < len(b); {
		if httpPlausibleStart(b[i:]) {
			return i
		}
		nl := bytes.IndexByte(b[i:], '\n')
		if nl < 0 {
			break
		}
		i += nl + 1
	}
	return -1
}

// httpMethods are the methods Resync accepts as a message start: the
// registered ones that are common on the wire. Next accepts any token.
var httpMethods = []string{"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}

func httpPlausibleStart(b []byte) bool {
	if bytes.HasPrefix(b, []byte("HTTP/1.")) {
		return len(b) >= 9 && b[7] >= '0' && b[7] <= '9' && b[8] == ' '
	}
	for _, m := range httpMethods {
		if len(b) > len(m)+1 && string(b[:len(m)]) == m && b[len(m)] == ' ' && b[len(m)+1] > ' ' && b[len(m)+1] < 0x7f {
			return true
		}
	}
	return false
}

// httpRequestLine reports whether b starts with a whole, valid HTTP/1
// start line: 1 yes, -1 no, 0 cannot tell yet. After a request that asked to
// switch protocols, it tells a further HTTP request from the new protocol's
// first bytes, which may be text too ("NICK x\r\n" after an upgrade to IRC).
func httpRequestLine(b []byte) int {
	var s httpScan
	_, e := httpScanHead(&s, b)
	switch {
	case s.phase == httpPhHeaders:
		return 1
	case e != nil:
		return -1
	}
	return 0
}

// httpTchar reports whether c may appear in a token (RFC 9110 §5.6.2):
// methods and header names.
func httpTchar(c byte) bool { return httpTokenBytes[c] }

var httpTokenBytes = func() (t [256]bool) {
	for c := range 256 {
		t[c] = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			strings.IndexByte("!#$%&'*+-.^_`|~", byte(c)) >= 0
	}
	return t
}()

// httpScan checks the start line and finds the end of the header block in
// one left-to-right pass, one byte at a time. Every error it reports depends
// only on the bytes up to the one it points at, so framing a stream whole or
// in pieces finds the same error at the same offset; and its state survives
// ErrNeedMore, so no byte is examined twice.
type httpScan struct {
	pos       int // next byte to examine
	phase     uint8
	count     int  // bytes in the current phase
	resp      bool // a response (starts with "HTTP/")
	lineEnd   int  // offset of the LF that ends the start line
	lineStart int  // offset of the current header line
	start     int  // offset of the start line (after leading blank lines)
}

const (
	httpPhLead    = iota // blank lines before the start line (RFC 9112 §2.2 allows them)
	httpPhMethod         // request: method token
	httpPhTarget         // request: target
	httpPhVersion        // request: "HTTP/x.y"
	httpPhRespVer        // response: "HTTP/x.y"
	httpPhStatus         // response: 3-digit status
	httpPhReason         // response: reason phrase
	httpPhLF             // CR seen at the end of the start line: LF must follow
	httpPhHeaders        // header lines, until an empty one
)

// httpScanHead advances s over b. It returns the length of the head (start
// line and header block, blank line included) when it is complete, 0 when
// more bytes are needed, or a framing error.
func httpScanHead(s *httpScan, b []byte) (int, *Error) {
	bad := func(i int, what string) (int, *Error) {
		return 0, &Error{Protocol: "http1", Offset: i, Reason: what}
	}
	for ; s.pos < len(b); s.pos++ {
		i, c := s.pos, b[s.pos]
		if i >= httpMaxHeader {
			return bad(s.start, fmt.Sprintf("no end of the header block within %s", specSize(httpMaxHeader)))
		}
		if c < ' ' && c != '\t' && c != '\r' && c != '\n' || c == 0x7f {
			return bad(i, fmt.Sprintf("control byte 0x%02x in the message head", c))
		}
		switch s.phase {
		case httpPhLead:
			if c == '\r' || c == '\n' {
				continue
			}
			s.start = i
			// "HTTP/" starts a response; anything else must be a method.
			// Deciding needs up to 5 bytes; wait for them without moving on.
			const v = "HTTP/"
			np := min(len(b)-i, len(v))
			if string(b[i:i+np]) == v[:np] && np < len(v) {
				return 0, nil
			}
			if np == len(v) && string(b[i:i+np]) == v {
				s.resp, s.phase, s.count = true, httpPhRespVer, 0
			} else {
				s.phase, s.count = httpPhMethod, 0
			}
			s.pos-- // examine this byte again in its phase
		case httpPhMethod:
			switch {
			case c == ' ' && s.count > 0:
				s.phase, s.count = httpPhTarget, 0
			case !httpTchar(c):
				return bad(i, fmt.Sprintf("byte 0x%02x cannot be in a method: not an HTTP request", c))
			case s.count >= httpMaxMethod:
				return bad(s.start, fmt.Sprintf("method longer than %d bytes: not an HTTP request", httpMaxMethod))
			default:
				s.count++
			}
		case httpPhTarget:
			switch {
			case c == ' ' && s.count > 0:
				s.phase, s.count = httpPhVersion, 0
			case c <= ' ':
				return bad(i, "request line has no HTTP version")
			default:
				s.count++
			}
		case httpPhVersion, httpPhRespVer:
			// "HTTP/" DIGIT "." DIGIT, then CRLF (request) or SP (response).
			const v = "HTTP/0.0"
			switch k := s.count; {
			case k < 5 && c == v[k], k == 5 && c >= '0' && c <= '9', k == 6 && c == '.', k == 7 && c >= '0' && c <= '9':
				s.count++
			case k == 8 && s.phase == httpPhVersion && c == '\r':
				s.phase = httpPhLF
			case k == 8 && s.phase == httpPhVersion && c == '\n':
				s.lineEnd, s.lineStart, s.phase = i, i+1, httpPhHeaders
			case k == 8 && s.phase == httpPhRespVer && c == ' ':
				s.phase, s.count = httpPhStatus, 0
			default:
				return bad(i, "malformed HTTP version")
			}
		case httpPhStatus:
			switch {
			case s.count < 3 && c >= '0' && c <= '9':
				s.count++
			case s.count == 3 && c == ' ':
				s.phase = httpPhReason
			case s.count == 3 && c == '\r':
				s.phase = httpPhLF
			case s.count == 3 && c == '\n':
				s.lineEnd, s.lineStart, s.phase = i, i+1, httpPhHeaders
			default:
				return bad(i, "malformed status code")
			}
		case httpPhReason:
			switch c {
			case '\r':
				s.phase = httpPhLF
			case '\n':
				s.lineEnd, s.lineStart, s.phase = i, i+1, httpPhHeaders
			}
		case httpPhLF:
			if c != '\n' {
				return bad(i, "CR without LF at the end of the start line")
			}
			s.lineEnd, s.lineStart, s.phase = i, i+1, httpPhHeaders
		case httpPhHeaders:
			if c != '\n' {
				continue
			}
			if i == s.lineStart || i == s.lineStart+1 && b[s.lineStart] == '\r' {
				s.pos++
				return s.pos, nil
			}
			s.lineStart = i + 1
		}
	}
	return 0, nil
}

// httpHead is the parsed head of one message.
type httpHead struct {
	resp           bool
	method, target string
	version        string
	status         int
	reason         string
	end            int    // length of the head, blank line included
	contentLength  int64  // -1 when absent
	transferCoding string // last Transfer-Encoding coding, lowercased; "" when absent
	upgrade        string // first Upgrade protocol, lowercased, without version
	connUpgrade    bool   // Connection lists "upgrade"
	contentType    string // media type without parameters
	fields         []Field
}

// httpInteresting are the headers copied into Fields, under these names.
var httpInteresting = []string{"Host", "Content-Type", "Content-Length", "Transfer-Encoding", "Connection", "Upgrade"}

// httpParseHead parses a head that httpScanHead found complete.
func httpParseHead(s *httpScan, b []byte, end int) (*httpHead, *Error) {
	h := &httpHead{resp: s.resp, end: end, contentLength: -1, fields: make([]Field, 0, 12)}
	line := bytes.TrimSuffix(b[s.start:s.lineEnd], []byte{'\r'})
	if h.resp {
		// HTTP/1.1 200 OK
		h.version = string(line[:8])
		h.status, _ = strconv.Atoi(string(line[9:12]))
		if len(line) > 13 {
			h.reason = string(line[13:])
		}
		h.fields = append(h.fields, Field{"version", h.version}, Field{"status", strconv.Itoa(h.status)}, Field{"reason", h.reason})
	} else {
		// GET /index.html HTTP/1.1
		sp1 := bytes.IndexByte(line, ' ')
		sp2 := bytes.LastIndexByte(line, ' ')
		h.method, h.target, h.version = string(line[:sp1]), string(line[sp1+1:sp2]), string(line[sp2+1:])
		h.fields = append(h.fields, Field{"method", h.method}, Field{"target", h.target}, Field{"version", h.version})
	}

	var te []string
	last := -1 // index in h.fields of the last interesting header, for obs-fold
	for p := s.lineEnd + 1; p < end; {
		nl := bytes.IndexByte(b[p:end], '\n')
		ln := bytes.TrimSuffix(b[p:p+nl], []byte{'\r'})
		off := p
		p += nl + 1
		if len(ln) == 0 {
			break
		}
		if ln[0] == ' ' || ln[0] == '\t' {
			// obs-fold (RFC 9112 §5.2): continues the previous field value.
			if off == s.lineEnd+1 {
				return nil, &Error{Protocol: "http1", Offset: off, Reason: "header block starts with whitespace"}
			}
			if last >= 0 {
				h.fields[last].Value += " " + string(bytes.TrimSpace(ln))
			}
			continue
		}
		colon := bytes.IndexByte(ln, ':')
		if colon < 0 {
			return nil, &Error{Protocol: "http1", Offset: off, Reason: "header line without a colon"}
		}
		for i, c := range ln[:colon] {
			if !httpTchar(c) {
				return nil, &Error{Protocol: "http1", Offset: off + i, Reason: fmt.Sprintf("byte 0x%02x cannot be in a header name", c)}
			}
		}
		if colon == 0 {
			return nil, &Error{Protocol: "http1", Offset: off, Reason: "empty header name"}
		}
		name := ln[:colon]
		value := string(bytes.Trim(ln[colon+1:], " \t"))
		last = -1
		for _, want := range httpInteresting {
			if strings.EqualFold(string(name), want) {
				h.fields = append(h.fields, Field{want, value})
				last = len(h.fields) - 1
			}
		}
	}
	// Semantics, after folding.
	for _, f := range h.fields[3:] {
		switch f.Name {
		case "Content-Length":
			// A list of equal values ("5, 5") is allowed (RFC 9110 §8.6).
			for v := range strings.SplitSeq(f.Value, ",") {
				v = strings.TrimSpace(v)
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil || n < 0 || v == "" || v[0] == '+' {
					return nil, &Error{Protocol: "http1", Offset: s.start, Reason: fmt.Sprintf("invalid Content-Length %q", f.Value)}
				}
				if n > httpMaxLength {
					return nil, &Error{Protocol: "http1", Offset: s.start, Reason: fmt.Sprintf("Content-Length %d is implausible (over %s)", n, specSize(httpMaxLength))}
				}
				if h.contentLength >= 0 && h.contentLength != n {
					return nil, &Error{Protocol: "http1", Offset: s.start, Reason: fmt.Sprintf("conflicting Content-Length values %d and %d", h.contentLength, n)}
				}
				h.contentLength = n
			}
		case "Transfer-Encoding":
			for c := range strings.SplitSeq(f.Value, ",") {
				if c = strings.ToLower(strings.TrimSpace(c)); c != "" {
					te = append(te, c)
				}
			}
		case "Connection":
			for c := range strings.SplitSeq(f.Value, ",") {
				if strings.EqualFold(strings.TrimSpace(c), "upgrade") {
					h.connUpgrade = true
				}
			}
		case "Upgrade":
			if h.upgrade == "" {
				p, _, _ := strings.Cut(f.Value, ",")
				p, _, _ = strings.Cut(strings.TrimSpace(p), "/")
				h.upgrade = strings.ToLower(p)
			}
		case "Content-Type":
			t, _, _ := strings.Cut(f.Value, ";")
			h.contentType = strings.TrimSpace(t)
		}
	}
	if len(te) > 0 {
		h.transferCoding = te[len(te)-1]
	}
	return h, nil
}

// parse frames one HTTP message at the front of b.
func (d *httpDecoder) parse(di reassembly.Direction, b []byte, atEOF bool) (Message, int, error) {
	rs := &d.resume[di]
	if rs.scan.pos > len(b) {
		*rs = httpResume{}
	}
	h := rs.head
	if h == nil || h.end > len(b) {
		end, e := httpScanHead(&rs.scan, b)
		if e != nil {
			return Message{}, 0, e
		}
		if end == 0 {
			return Message{}, 0, ErrNeedMore
		}
		if h, e = httpParseHead(&rs.scan, b, end); e != nil {
			return Message{}, 0, e
		}
	}

	// Body length: RFC 9112 §6.3, in its order.
	var req httpRequest
	rev := di ^ 1
	if h.resp && len(d.pending[rev]) > 0 {
		req = d.pending[rev][0]
	}
	const (
		bodyNone = iota
		bodyLength
		bodyChunked
		bodyClose
	)
	kind, note := bodyNone, ""
	switch {
	case h.resp && req.method == "HEAD":
		note = "no body: response to HEAD"
	case h.resp && h.status >= 100 && h.status < 200:
	case h.resp && (h.status == 204 || h.status == 304):
	case h.resp && req.method == "CONNECT" && h.status >= 200 && h.status < 300:
		note = "tunnel follows"
	case h.transferCoding == "chunked":
		kind = bodyChunked
	case h.transferCoding != "" && !h.resp:
		return Message{}, 0, &Error{Protocol: "http1", Offset: rs.scan.start,
			Reason: fmt.Sprintf("request Transfer-Encoding %q does not end with chunked: its length cannot be known", h.transferCoding)}
	case h.transferCoding != "":
		kind = bodyClose
	case h.contentLength >= 0:
		kind = bodyLength
	case h.resp:
		kind = bodyClose
	}

	n := h.end
	var body int64
	var parts []Part
	chunks := 0
	switch kind {
	case bodyLength:
		total := int64(h.end) + h.contentLength
		if int64(len(b)) < total {
			rs.head = h
			return Message{}, int(total), ErrNeedMore
		}
		n, body = int(total), h.contentLength
		if body > 0 {
			parts = append(parts, Part{Range: reassembly.ByteRange{Start: int64(h.end), End: total}, Label: "body"})
		}
	case bodyClose:
		if !atEOF {
			rs.head = h
			return Message{}, 0, ErrNeedMore
		}
		n, body = len(b), int64(len(b)-h.end)
		if body > 0 {
			parts = append(parts, Part{Range: reassembly.ByteRange{Start: int64(h.end), End: int64(n)}, Label: "body"})
		}
		note = "body ends at connection close"
	case bodyChunked:
		if rs.head != h {
			rs.head, rs.chunks = h, httpChunks{pos: h.end}
		}
		done, e := rs.chunks.parse(b)
		if e != nil {
			return Message{}, 0, e
		}
		if !done {
			return Message{}, 0, ErrNeedMore
		}
		n, body, parts, chunks = rs.chunks.pos, rs.chunks.data, rs.chunks.parts, rs.chunks.count
	}

	m := Message{Protocol: "http1", Fields: h.fields}
	m.Parts = make([]Part, 1, 1+len(parts))
	m.Parts[0] = Part{Range: reassembly.ByteRange{End: int64(h.end)}, Label: "headers"}
	m.Parts = append(m.Parts, parts...)
	if kind != bodyNone {
		m.Fields = append(m.Fields, Field{"body_length", strconv.FormatInt(body, 10)})
	}
	if kind == bodyChunked {
		m.Fields = append(m.Fields, Field{"chunks", strconv.Itoa(chunks)})
	}
	if note != "" {
		m.Fields = append(m.Fields, Field{"note", note})
	}

	if !h.resp {
		m.Role = RoleRequest
		m.Summary = h.method + " " + h.target
		if len(h.target) > httpMaxTarget {
			t, _ := specPreview([]byte(h.target), httpMaxTarget)
			m.Summary = h.method + " " + t + "..."
		}
		if body > 0 {
			m.Summary += " " + specSize(body)
		}
		r := httpRequest{method: h.method}
		switch {
		case h.method == "CONNECT":
			r.switchTo = "connect"
		case h.connUpgrade && h.upgrade != "":
			r.switchTo = h.upgrade
		}
		if len(d.pending[di]) < httpMaxPending {
			d.pending[di] = append(d.pending[di], r)
		}
		if r.switchTo != "" {
			d.await[di] = r.switchTo
		}
		return m, n, nil
	}

	m.Summary = strconv.Itoa(h.status)
	if h.reason != "" {
		m.Summary += " " + h.reason
	}
	interim := h.status >= 100 && h.status < 200 && h.status != 101
	if !interim {
		m.Role = RoleResponse // an interim 1xx answers nothing yet
	}
	if !interim && len(d.pending[rev]) > 0 {
		d.pending[rev] = d.pending[rev][1:]
	}
	switch {
	case h.status == 101:
		proto := h.upgrade
		if proto == "" {
			proto = req.switchTo
		}
		if proto == "" || proto == "connect" {
			proto = "unknown protocol"
		}
		m.Summary += " → " + proto
		m.Fields = append(m.Fields, Field{"switches_to", proto})
		d.switchTo(di, proto)
		if d.mode[rev] == httpModeHTTP {
			d.switchTo(rev, proto)
		}
	case req.method == "CONNECT" && h.status >= 200 && h.status < 300:
		d.switchTo(di, "connect")
		if d.mode[rev] == httpModeHTTP {
			d.switchTo(rev, "connect")
		}
	case !interim && req.switchTo != "":
		// The server declined: the client keeps speaking HTTP/1.
		d.await[rev] = ""
	}
	if kind != bodyNone {
		m.Summary += " " + specSize(body)
		if h.contentType != "" {
			m.Summary += " " + h.contentType
		}
		if kind == bodyChunked {
			m.Summary += fmt.Sprintf(" (%d chunks)", chunks)
		}
	}
	return m, n, nil
}

// httpChunks parses a chunked body (RFC 9112 §7.1) incrementally: pos is the
// offset of the next chunk-size line, and everything before it is already
// counted.
type httpChunks struct {
	pos   int
	count int   // data chunks seen
	data  int64 // data bytes seen
	parts []Part
}

// parse advances over the chunks complete in b. It returns true once the
// last chunk and the trailer section are in.
func (c *httpChunks) parse(b []byte) (bool, *Error) {
	bad := func(i int, what string) (bool, *Error) {
		return false, &Error{Protocol: "http1", Offset: i, Reason: what}
	}
	for c.pos < len(b) {
		start := c.pos
		// chunk-size [BWS] [; ext] CRLF
		var size int64
		st, digits, lineEnd := 0, 0, -1
	line:
		for i := start; i < len(b); i++ {
			ch := b[i]
			if i-start >= httpMaxChunkLine {
				return bad(start, fmt.Sprintf("chunk-size line longer than %d bytes", httpMaxChunkLine))
			}
			if st == 0 {
				if v := httpHexVal(ch); v >= 0 {
					if size = size<<4 | int64(v); size > httpMaxLength {
						return bad(start, fmt.Sprintf("chunk size is implausible (over %s)", specSize(httpMaxLength)))
					}
					digits++
					continue
				}
				if digits == 0 {
					return bad(i, fmt.Sprintf("byte 0x%02x where a chunk size (hex) should be", ch))
				}
				st = 1
			}
			switch {
			case ch == '\n':
				lineEnd = i
				break line
			case ch == '\r':
				if i+1 < len(b) && b[i+1] != '\n' {
					return bad(i+1, "CR without LF after the chunk size")
				}
			case ch < ' ' && ch != '\t' || ch == 0x7f:
				return bad(i, fmt.Sprintf("control byte 0x%02x in a chunk-size line", ch))
			case st == 1 && ch == ';':
				st = 2
			case st == 1 && ch != ' ' && ch != '\t':
				return bad(i, fmt.Sprintf("byte 0x%02x after the chunk size", ch))
			}
		}
		if lineEnd < 0 {
			return false, nil
		}
		if size > httpMaxLength {
			return bad(start, fmt.Sprintf("chunk size is implausible (over %s)", specSize(httpMaxLength)))
		}
		dataStart := lineEnd + 1
		if size == 0 {
			// Last chunk, then trailer fields and an empty line.
			end, e := httpTrailers(b, dataStart)
			if e != nil || end == 0 {
				return false, e
			}
			c.addPart(start, dataStart, "last chunk")
			if end > dataStart+2 {
				c.parts = append(c.parts, Part{Range: reassembly.ByteRange{Start: int64(dataStart), End: int64(end)}, Label: "trailers"})
			} else {
				c.parts[len(c.parts)-1].Range.End = int64(end)
			}
			c.pos = end
			return true, nil
		}
		dataEnd := int64(dataStart) + size
		if int64(len(b)) < dataEnd+1 {
			return false, nil
		}
		de := int(dataEnd)
		switch {
		case b[de] == '\n':
			de++
		case b[de] == '\r' && de+1 == len(b):
			return false, nil
		case b[de] == '\r' && b[de+1] == '\n':
			de += 2
		default:
			return bad(de, "chunk data not followed by CRLF")
		}
		c.count++
		c.data += size
		c.addPart(start, de, fmt.Sprintf("chunk %d", c.count))
		c.pos = de
	}
	return false, nil
}

// addPart labels [start, end) unless there are already httpMaxParts parts;
// then it extends the last one, so a body of a million tiny chunks does not
// make a million Parts.
func (c *httpChunks) addPart(start, end int, label string) {
	if len(c.parts) >= httpMaxParts {
		last := &c.parts[len(c.parts)-1]
		last.Range.End = int64(end)
		if !strings.HasSuffix(last.Label, " and later") {
			last.Label += " and later"
		}
		return
	}
	c.parts = append(c.parts, Part{Range: reassembly.ByteRange{Start: int64(start), End: int64(end)}, Label: label})
}

// httpTrailers finds the end of the trailer section that starts at start:
// the offset after its empty line, or 0 if it is not complete yet. Like
// httpScanHead it goes byte by byte so errors do not depend on how the bytes
// were split.
func httpTrailers(b []byte, start int) (int, *Error) {
	lineStart := start
	for i := start; i < len(b); i++ {
		if i-start >= httpMaxHeader {
			return 0, &Error{Protocol: "http1", Offset: start, Reason: fmt.Sprintf("trailer section larger than %s", specSize(httpMaxHeader))}
		}
		switch ch := b[i]; {
		case ch == '\n':
			if i == lineStart || i == lineStart+1 && b[lineStart] == '\r' {
				return i + 1, nil
			}
			lineStart = i + 1
		case ch < ' ' && ch != '\t' && ch != '\r' || ch == 0x7f:
			return 0, &Error{Protocol: "http1", Offset: i, Reason: fmt.Sprintf("control byte 0x%02x in a trailer", ch)}
		}
	}
	return 0, nil
}

func httpHexVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}
