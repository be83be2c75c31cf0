package decode

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/sockscope/sockscope/reassembly"
)

// lenMaxValue is the largest length field value taken as real. A u64 field
// can say 2^64-1; a value above 1 TiB is far likelier to be a misframed
// stream (text bytes read as a length) than a real message, and keeping
// totals below 2^41 keeps all the arithmetic far from overflow.
const lenMaxValue = 1 << 40

// lenPreviewMax is how many payload bytes a summary shows.
const lenPreviewMax = 16

// lengthDecoder frames messages that start with a header holding a length
// field (spec Name "len"). It has no Resyncer: after a bad length there is
// no way to tell which later byte starts a header.
type lengthDecoder struct {
	width   int
	little  bool
	offset  int
	adjust  int64
	include bool
}

var _ Decoder = (*lengthDecoder)(nil)

// newLength returns a length-prefix framer for spec (Name "len"). Transport
// does not matter: a datagram may carry several length-prefixed messages.
func newLength(spec Spec, _ Transport) Decoder {
	return &lengthDecoder{
		width:   spec.Width,
		little:  spec.LittleEndian,
		offset:  spec.Offset,
		adjust:  int64(spec.Adjust),
		include: spec.Include,
	}
}

// Next reads the header, computes the message's total length and returns
// the message once b holds all of it. With ErrNeedMore it returns that total
// as soon as the header is complete.
func (d *lengthDecoder) Next(_ reassembly.Direction, b []byte, _ bool) (Message, int, error) {
	switch d.width {
	case 1, 2, 4, 8:
	default:
		return Message{}, 0, &Error{Protocol: "len", Reason: fmt.Sprintf("length field width %d: want 1, 2, 4 or 8", d.width)}
	}
	if d.offset < 0 {
		return Message{}, 0, &Error{Protocol: "len", Reason: fmt.Sprintf("length field offset %d: want 0 or more", d.offset)}
	}
	hdr := d.offset + d.width
	if len(b) < hdr {
		return Message{}, 0, ErrNeedMore
	}
	v := specUint(b[d.offset:hdr], d.width, d.little)
	if v > lenMaxValue {
		return Message{}, 0, &Error{Protocol: "len", Offset: d.offset,
			Reason: fmt.Sprintf("length %d is implausible (over %s): wrong framing or a misaligned stream?", v, specSize(lenMaxValue))}
	}
	total := int64(v) + d.adjust
	if !d.include {
		total += int64(hdr)
	}
	if total < int64(hdr) {
		how := fmt.Sprintf("length %d", v)
		if d.adjust != 0 {
			how = fmt.Sprintf("length %d adjusted by %+d", v, d.adjust)
		}
		return Message{}, 0, &Error{Protocol: "len", Offset: d.offset,
			Reason: fmt.Sprintf("%s gives a %d-byte message, shorter than its %d-byte header", how, total, hdr)}
	}
	if int64(len(b)) < total {
		return Message{}, int(total), ErrNeedMore
	}
	n := int(total)
	payload := b[hdr:n]
	var w strings.Builder
	w.Grow(32 + lenPreviewMax)
	w.WriteString("len=")
	w.WriteString(strconv.Itoa(len(payload)))
	if len(payload) > 0 {
		w.WriteByte(' ')
		specWritePreview(&w, payload, lenPreviewMax)
	}
	m := Message{
		Protocol: "len",
		Summary:  w.String(),
		Fields:   []Field{{"length_field", strconv.FormatUint(v, 10)}, {"payload_length", strconv.Itoa(len(payload))}},
		Parts:    make([]Part, 1, 2),
	}
	m.Parts[0] = Part{Range: reassembly.ByteRange{Start: 0, End: int64(hdr)}, Label: "header"}
	if len(payload) > 0 {
		m.Parts = append(m.Parts, Part{Range: reassembly.ByteRange{Start: int64(hdr), End: total}, Label: "body"})
	}
	return m, n, nil
}
