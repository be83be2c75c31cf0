package reassembly

import (
	"cmp"
	"errors"
	"io"
	"slices"

	"github.com/sockscope/sockscope/capture"
)

// Consume adds every packet of src to t, then flushes the flows still held.
// It returns nil at the end of the source, or the source's error (a
// *capture.DamageError for a damaged file) after every packet before the
// damage was added.
func (t *Tracker) Consume(src capture.Source) error {
	var p capture.Packet
	var err error
	for {
		if err = src.Next(&p); err != nil {
			break
		}
		t.Add(&p)
	}
	t.Finish()
	if errors.Is(err, io.EOF) {
		return nil
	}
	return err
}

// Collector gathers finished streams for views that print them sorted.
// A stream flushed early and delivered again is merged into its first record.
type Collector struct {
	byID map[flowNum]*Stream
	list []*Stream
}

type flowNum struct {
	proto capture.Proto
	id    int
}

// Add takes a finished stream (use it as Options.OnStream).
func (c *Collector) Add(s *Stream) {
	if c.byID == nil {
		c.byID = make(map[flowNum]*Stream)
	}
	k := flowNum{s.Proto, s.ID}
	if old := c.byID[k]; old != nil {
		old.Merge(s)
		return
	}
	c.byID[k] = s
	c.list = append(c.list, s)
}

// Streams returns the streams sorted: TCP by ID, then UDP by ID.
func (c *Collector) Streams() []*Stream {
	slices.SortFunc(c.list, func(a, b *Stream) int {
		return cmp.Or(cmp.Compare(a.Proto, b.Proto), cmp.Compare(a.ID, b.ID))
	})
	return c.list
}
