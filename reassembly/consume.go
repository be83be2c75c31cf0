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

// Summaries gathers finished streams as compact Summaries: what the summary
// views need, in ~170 bytes per stream and nothing for the garbage
// collector to scan. A stream delivered again (a late packet after its flow
// was flushed) is merged into its first summary.
type Summaries struct {
	list []Summary
	pos  [2][]int32 // [tcp, udp][ID] = index in list + 1
}

// Add takes a finished stream (use it as Options.OnStream).
func (c *Summaries) Add(s *Stream) {
	p := 0
	if s.Proto == capture.ProtoUDP {
		p = 1
	}
	idx := &c.pos[p]
	if s.ID < len(*idx) && (*idx)[s.ID] != 0 {
		sm := s.Summary()
		c.list[(*idx)[s.ID]-1].Merge(&sm)
		return
	}
	for len(*idx) <= s.ID {
		*idx = append(*idx, 0)
	}
	c.list = append(c.list, s.Summary())
	(*idx)[s.ID] = int32(len(c.list))
}

// Sorted returns the summaries sorted: TCP by ID, then UDP by ID.
func (c *Summaries) Sorted() []Summary {
	slices.SortFunc(c.list, func(a, b Summary) int {
		return cmp.Or(cmp.Compare(a.Proto, b.Proto), cmp.Compare(a.ID, b.ID))
	})
	for p := range c.pos {
		clear(c.pos[p])
	}
	for i, s := range c.list {
		p := 0
		if s.Proto == capture.ProtoUDP {
			p = 1
		}
		c.pos[p][s.ID] = int32(i + 1)
	}
	return c.list
}
