package decode

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/sockscope/sockscope/reassembly"
)

// fixedPreviewMax is how many bytes of a fixed-size message its summary shows.
const fixedPreviewMax = 16

// fixedDecoder frames messages that all have the same size. It has no
// Resyncer: with nothing in the bytes to go by, every offset is as good as
// any other.
type fixedDecoder struct {
	size int
}

var _ Decoder = (*fixedDecoder)(nil)

// newFixed returns a framer for spec (Name "fixed"). Transport does not
// matter: a datagram holds as many whole messages as fit.
func newFixed(spec Spec, _ Transport) Decoder {
	return &fixedDecoder{size: spec.Size}
}

// Next returns the next spec.Size bytes as one message.
func (d *fixedDecoder) Next(_ reassembly.Direction, b []byte, _ bool) (Message, int, error) {
	if d.size <= 0 {
		return Message{}, 0, &Error{Protocol: "fixed", Reason: fmt.Sprintf("message size %d: want at least 1", d.size)}
	}
	if len(b) < d.size {
		return Message{}, d.size, ErrNeedMore
	}
	var w strings.Builder
	w.Grow(32 + fixedPreviewMax)
	w.WriteString(strconv.Itoa(d.size))
	w.WriteString(" bytes ")
	specWritePreview(&w, b[:d.size], fixedPreviewMax)
	return Message{
		Protocol: "fixed",
		Summary:  w.String(),
		Fields:   []Field{{"length", strconv.Itoa(d.size)}},
		Parts:    []Part{{Range: reassembly.ByteRange{Start: 0, End: int64(d.size)}, Label: "data"}},
	}, d.size, nil
}
