package decode

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/sockscope/sockscope/reassembly"
)

// lineMaxLen bounds one line. Without a bound a stream with no delimiter
// would make the driver buffer it all waiting for one; 1 MiB is far beyond
// any line-based protocol's limit (SMTP: 1000, Redis inline: 64 KiB).
const lineMaxLen = 1 << 20

// lineSummaryMax is how much of a line its summary shows.
const lineSummaryMax = 60

// lineDecoder frames messages that end with a delimiter: LF (CRLF accepted)
// by default, or any byte string.
type lineDecoder struct {
	delim []byte // nil: LF, with a CR before it counted as part of the line ending
	t     Transport

	// scanned[dir] is how many bytes at the front of the b given for dir are
	// known to hold no delimiter start, from earlier calls that returned
	// ErrNeedMore. The Decoder contract gives the same unconsumed bytes again,
	// extended, so a long line arriving in many segments is scanned once in
	// total, not once per segment. It is reset whenever a call returns
	// anything but ErrNeedMore, and ignored if b is shorter.
	scanned [2]int
}

var _ Decoder = (*lineDecoder)(nil)

var (
	_ Decoder  = (*lineDecoder)(nil)
	_ Resyncer = (*lineDecoder)(nil)
)

// newLine returns a line framer for spec (Name "line"). Over Datagram
// transport the end of a datagram also ends a line. "line:\n" is the same as
// "line": a CR before the LF is shown as part of the line ending, not the text.
func newLine(spec Spec, t Transport) Decoder {
	d := &lineDecoder{t: t}
	if spec.Delim != "" && spec.Delim != "\n" {
		d.delim = []byte(spec.Delim)
	}
	return d
}

func (d *lineDecoder) delimiter() []byte {
	if d.delim == nil {
		return lineLF
	}
	return d.delim
}

var lineLF = []byte{'\n'}

// Next returns the line at the front of b, delimiter included.
func (d *lineDecoder) Next(dir reassembly.Direction, b []byte, atEOF bool) (Message, int, error) {
	di := dir & 1
	delim := d.delimiter()
	from := d.scanned[di]
	if from > len(b) {
		from = 0
	}
	i := bytes.Index(b[from:], delim)
	if i >= 0 {
		i += from
	}
	switch {
	case i >= 0 && i+len(delim) <= lineMaxLen:
		d.scanned[di] = 0
		return d.message(b[:i], b[i:i+len(delim)]), i + len(delim), nil
	case i >= 0 || len(b) >= lineMaxLen:
		// No delimiter ends within the limit, whatever follows.
		d.scanned[di] = 0
		return Message{}, 0, &Error{Protocol: "line", Offset: 0,
			Reason: fmt.Sprintf("no line end (%q) within %s", delim, specSize(lineMaxLen))}
	case atEOF && d.t == Datagram && len(b) > 0:
		// The datagram boundary ends the last line.
		d.scanned[di] = 0
		return d.message(b, nil), len(b), nil
	}
	// Resume after the bytes that cannot begin a delimiter (a delimiter of k
	// bytes may have its first k-1 bytes at the end of b).
	if s := len(b) - len(delim) + 1; s > 0 {
		d.scanned[di] = s
	}
	return Message{}, 0, ErrNeedMore
}

// message builds the Message for one line: text without its line ending,
// end the delimiter found (nil when a datagram ended the line).
func (d *lineDecoder) message(text, end []byte) Message {
	endLen := len(end)
	ending := "none"
	switch {
	case d.delim != nil && end != nil:
		ending = specEscape(string(end))
	case len(text) > 0 && text[len(text)-1] == '\r':
		text = text[:len(text)-1]
		endLen++
		ending = "CRLF"
	case end != nil:
		ending = "LF"
	}
	m := Message{Protocol: "line", Summary: "(empty line)"}
	if len(text) > 0 {
		n, cut := specPreviewLen(text, lineSummaryMax)
		var w strings.Builder
		w.Grow(n + 3)
		w.Write(text[:n])
		if cut {
			w.WriteString("...")
		}
		m.Summary = w.String()
	}
	m.Fields = []Field{{"length", strconv.Itoa(len(text))}, {"ending", ending}}
	m.Parts = make([]Part, 0, 2)
	if len(text) > 0 {
		m.Parts = append(m.Parts, Part{Range: reassembly.ByteRange{Start: 0, End: int64(len(text))}, Label: "text"})
	}
	if endLen > 0 {
		m.Parts = append(m.Parts, Part{Range: reassembly.ByteRange{Start: int64(len(text)), End: int64(len(text) + endLen)}, Label: "ending"})
	}
	return m
}

// Resync returns the offset just after the first delimiter in b: the start
// of the next whole line.
func (d *lineDecoder) Resync(dir reassembly.Direction, b []byte) int {
	d.scanned[dir&1] = 0
	delim := d.delimiter()
	i := bytes.Index(b, delim)
	if i < 0 || i+len(delim) == len(b) {
		return -1
	}
	return i + len(delim)
}
