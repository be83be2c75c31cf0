package decode

import (
	"errors"
	"fmt"
	"time"

	"github.com/sockscope/sockscope/reassembly"
)

// ErrNeedMore is returned by Decoder.Next when b holds only the start of a
// message. The n returned with it is 0, or the total length of the message when
// the decoder already knows it (so a streaming driver can wait for that many
// bytes instead of calling again on every segment).
var ErrNeedMore = errors.New("need more data")

// Error is a framing error: the bytes at Offset (counted from the start of the b
// given to Next) cannot be the start of a message of Protocol, for Reason.
type Error struct {
	Protocol string
	Offset   int
	Reason   string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s framing error at +%d: %s", e.Protocol, e.Offset, e.Reason)
}

// Transport says whether a decoder reads a byte stream (TCP) or datagrams (UDP).
type Transport uint8

const (
	Stream   Transport = iota // TCP: messages are found in a continuous byte stream
	Datagram                  // UDP: each call to Next gets exactly one datagram
)

// Decoder frames the messages of one TCP stream or UDP flow, both directions.
// Create one per stream with New; it may keep state across calls (HTTP request
// methods needed to frame responses, an upgrade to WebSocket, the HTTP/2 preface).
// Decoders are pure functions of the bytes they are given: no I/O, no clocks.
type Decoder interface {
	// Next parses one message from the front of b, the bytes of direction dir
	// not yet consumed. It returns the message and n, the number of bytes it
	// spans (0 < n <= len(b)).
	//
	// If b holds only part of a message it returns ErrNeedMore (see there).
	// atEOF means no byte will follow b in this direction (the stream closed, or,
	// for Datagram transport, b is one whole datagram): a message delimited by
	// the close (an HTTP body without length) is then returned complete.
	// A *Error means b does not start with a valid message; the driver then
	// reports it and carries on (Resync, or the rest shown raw).
	Next(dir reassembly.Direction, b []byte, atEOF bool) (Message, int, error)
}

// Resyncer is implemented by decoders that can find where the next message
// starts after a gap in the stream or a framing error.
//
// Some decoders keep progress across ErrNeedMore calls, relying on the next
// call for that direction to get the same unconsumed bytes, extended. A driver
// that skips or drops bytes must call Resync, which also clears that state.
type Resyncer interface {
	// Resync returns the offset in b of the first plausible message start, or
	// -1. Offset 0 counts: after a framing error, call it on b[1:].
	Resync(dir reassembly.Direction, b []byte) int
}

// Message is one application message (or protocol frame) in one direction.
// Decoders fill Protocol, Summary, Fields and Parts; the driver fills the rest.
type Message struct {
	Stream  string               // "tcp/3", set by the driver
	Dir     reassembly.Direction // set by the driver
	Index   int                  // 1-based within its direction, set by the driver
	Range   reassembly.ByteRange // offsets in the direction's stream, set by the driver
	Frames  []int                // frames whose bytes Range spans, ascending; set by the driver
	Partial bool                 // cut short by a gap or by the end of the capture; set by the driver
	// Records, for a message decrypted from TLS (a Streamer with keys), lists
	// the TLS records (numbered from 1 per direction) that carried it; Range
	// is then in the direction's decrypted application data. Set by the driver.
	Records []int
	// Role, set by decoders of protocols with requests and responses, is
	// RoleRequest or RoleResponse ("" for neither: a handshake, a push, an
	// interim 1xx). Key pairs a response with its request where the
	// protocol names it (a DNS ID); "" pairs in order, the oldest
	// unanswered request first (HTTP/1, Redis).
	Role, Key string
	// Answers, set by the driver for a response that answers a request,
	// is the request's Index (in the other direction); Service is the time
	// from the request's last frame to the response's first, Transfer from
	// the response's first frame to its last.
	Answers           int
	Service, Transfer time.Duration
	Protocol          string  // "http1", "tls", "len", "line", ...
	Summary           string  // one line, deterministic: "GET /index.html". Raw network text: views escape it.
	Fields            []Field // ordered name/value pairs
	Parts             []Part  // sub-parts (headers, body, chunks, records), relative to the message start
}

// Message roles (Message.Role).
const (
	RoleRequest  = "request"
	RoleResponse = "response"
)

// Field is one named value of a message, in the order the protocol has them.
type Field struct{ Name, Value string }

// Part is a labelled sub-range of a message; Range is relative to the message start.
type Part struct {
	Range reassembly.ByteRange
	Label string
}
