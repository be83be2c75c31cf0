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
//
// Reading and decoding frames runs on its own goroutine, one batch ahead of
// the tracking (which stays on the caller's goroutine, in capture order), so
// a capture is analyzed on two cores with exactly the serial path's results.
// A live source (one with an IsLive method that says so) is consumed
// serially, so that its events are not held back by batching.
func (t *Tracker) Consume(src capture.Source) error {
	if l, ok := src.(interface{ IsLive() bool }); ok && l.IsLive() {
		// Live packets must reach the tracker (and its events) at once,
		// not a batch later.
		return t.ConsumeSerial(src)
	}
	err := consumePipelined(src, t.Add)
	t.Finish()
	if errors.Is(err, io.EOF) {
		return nil
	}
	return err
}

// ConsumeSerial is Consume on one goroutine (for comparison and tests).
func (t *Tracker) ConsumeSerial(src capture.Source) error {
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

// A batch carries decoded packets from the reader to the tracker. Payloads
// are copied into the batch's arena, because the source reuses its buffer.
type batch struct {
	pkts  []capture.Packet
	arena []byte
	err   error
}

const (
	batchPackets = 512
	batchArena   = 1 << 20
	batchesAhead = 4
)

func consumePipelined(src capture.Source, add func(*capture.Packet)) error {
	free := make(chan *batch, batchesAhead)
	full := make(chan *batch, batchesAhead)
	for range batchesAhead {
		free <- &batch{pkts: make([]capture.Packet, 0, batchPackets), arena: make([]byte, 0, batchArena)}
	}
	stop := make(chan struct{})
	go func() {
		defer close(full)
		var p capture.Packet
		for {
			var b *batch
			select {
			case b = <-free:
			case <-stop:
				return
			}
			b.pkts, b.arena, b.err = b.pkts[:0], b.arena[:0], nil
			for len(b.pkts) < batchPackets {
				if b.err = src.Next(&p); b.err != nil {
					break
				}
				if n := len(p.Payload); n > 0 {
					if len(b.arena)+n > cap(b.arena) {
						if len(b.pkts) > 0 {
							// Full: this packet starts the next batch.
							full <- b
							select {
							case b = <-free:
							case <-stop:
								return
							}
							b.pkts, b.arena, b.err = b.pkts[:0], b.arena[:0], nil
						}
						if n > cap(b.arena) {
							b.arena = make([]byte, 0, n)
						}
					}
					off := len(b.arena)
					b.arena = append(b.arena, p.Payload...)
					p.Payload = b.arena[off : off+n : off+n]
				}
				b.pkts = append(b.pkts, p)
			}
			full <- b
			if b.err != nil {
				return
			}
		}
	}()
	defer close(stop)
	for b := range full {
		for i := range b.pkts {
			add(&b.pkts[i])
		}
		if b.err != nil {
			return b.err
		}
		free <- b
	}
	return io.ErrUnexpectedEOF // the reader stopped without an error: cannot happen
}

// Collector gathers finished streams for views that print them sorted.
// A stream flushed early and delivered again is merged into its first record.
type Collector struct {
	// Limit, when set, keeps only the Limit most recent streams (by first
	// frame), so that a long live capture's summary costs bounded memory;
	// Dropped counts the streams let go.
	Limit   int
	Dropped int
	byID    map[flowNum]*Stream
	list    []*Stream
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
	if c.Limit > 0 && len(c.list) >= 2*c.Limit {
		c.trim()
	}
}

// trim lets the oldest streams go, down to Limit.
func (c *Collector) trim() {
	slices.SortFunc(c.list, func(a, b *Stream) int {
		// Oldest first: TCP and UDP interleaved by first frame.
		return cmp.Or(cmp.Compare(a.FirstFrame, b.FirstFrame), cmp.Compare(a.Proto, b.Proto))
	})
	n := len(c.list) - c.Limit
	for _, s := range c.list[:n] {
		delete(c.byID, flowNum{s.Proto, s.ID})
	}
	c.Dropped += n
	c.list = slices.Delete(c.list, 0, n)
}

// Streams returns the streams sorted: TCP by ID, then UDP by ID.
func (c *Collector) Streams() []*Stream {
	if c.Limit > 0 && len(c.list) > c.Limit {
		c.trim()
	}
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
