package reassembly

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/sockscope/sockscope/capture"
	"github.com/sockscope/sockscope/internal/spillbuf"
)

// spillFile holds a kept direction's bytes on disk once they outgrow
// Options.SpillOver, so that following a stream of any length does not
// hold its bytes in memory (spillbuf.Temp: unlinked at once where the
// system allows it; elsewhere Release removes it).
type spillFile struct {
	f    *spillbuf.Temp
	w    *bufio.Writer
	n    int64    // bytes written
	name string   // the file's name
	err  error    // the first write or read error: the bytes after it are lost
	maps [][]byte // MapAt's mappings, unmapped by Release
}

// spillChunk is the write buffer: reads flush it, so it bounds how much a
// direction holds in memory between reads.
const spillChunk = 1 << 20

// DataLen returns how many bytes Data holds, in memory or spilled.
func (h *Half) DataLen() int64 {
	if h.spill != nil {
		return h.spill.n
	}
	return int64(len(h.Data))
}

// DataAt returns the n kept bytes at offset off of the data (the offsets
// Chunk.Data gives). Held in memory, it is a slice of Data; spilled to disk
// (Options.SpillOver), a fresh copy, or nil after a read error (DataErr).
func (h *Half) DataAt(off, n int64) []byte {
	if n <= 0 || off < 0 || off+n > h.DataLen() {
		return nil
	}
	if h.spill == nil {
		return h.Data[off : off+n]
	}
	sp := h.spill
	if sp.err != nil {
		return nil
	}
	if sp.w.Buffered() > 0 {
		if sp.err = sp.w.Flush(); sp.err != nil {
			return nil
		}
	}
	b := make([]byte, n)
	if _, err := sp.f.ReadAt(b, off); err != nil && err != io.EOF {
		sp.err = err
		return nil
	}
	return b
}

// MapAt returns the n spilled bytes at offset off mapped from the
// temporary file rather than read in: only the pages a reader touches are
// brought into memory, so a decoder that frames a 2 GiB message from its
// header costs a page, not 2 GiB. It returns nil when the direction is not
// spilled, after an error, or where mapping is not available (then read
// with DataAt). The bytes stay valid until Release.
func (h *Half) MapAt(off, n int64) []byte {
	sp := h.spill
	if sp == nil || sp.err != nil || n <= 0 || off < 0 || off+n > sp.n {
		return nil
	}
	if sp.w.Buffered() > 0 {
		if sp.err = sp.w.Flush(); sp.err != nil {
			return nil
		}
	}
	b, base := mapFile(sp.f.File, off, n)
	if b == nil {
		return nil
	}
	sp.maps = append(sp.maps, base)
	return b[:n:n]
}

// Spilled says that the direction's bytes went to a temporary file.
func (h *Half) Spilled() bool { return h.spill != nil }

// DataErr returns the error that lost kept bytes of a spilled direction
// (the disk filled up, say); nil when none was lost.
func (h *Half) DataErr() error {
	if err := h.Segments.Err(); err != nil {
		return fmt.Errorf("segment map: %w", err)
	}
	if err := h.Chunks.Err(); err != nil {
		return fmt.Errorf("chunk list: %w", err)
	}
	if h.spill == nil || h.spill.err == nil {
		return nil
	}
	return fmt.Errorf("temporary file for the bytes of %s: %w", h.spill.name, h.spill.err)
}

// appendData adds delivered bytes to Data, moving them to a temporary file
// once they outgrow spillOver (when set). Spilling fails soft: when the
// file cannot be made, the bytes stay in memory.
func (h *Half) appendData(b []byte) {
	if h.spill == nil {
		h.Data = append(h.Data, b...)
		if h.spillOver <= 0 || int64(len(h.Data)) <= h.spillOver {
			return
		}
		f, err := spillbuf.NewTemp("sockscope-stream-*")
		if err != nil {
			h.spillOver = 0 // keep going in memory
			return
		}
		sp := &spillFile{f: f, w: bufio.NewWriterSize(f, spillChunk), name: f.Name()}
		h.spill = sp
		b, h.Data = h.Data, nil
		// The segment map grows with the bytes: its older blocks go to
		// disk too.
		h.Segments.spill(segmentCodec)
		h.Chunks.spill(chunkCodec)
	}
	sp := h.spill
	sp.n += int64(len(b))
	if sp.err == nil {
		_, sp.err = sp.w.Write(b)
	}
}

// Release closes and removes the temporary files holding the stream's
// spilled bytes and unmaps what MapAt mapped; DataAt returns nil after it. It is a no-op for streams
// held in memory.
func (s *Stream) Release() {
	for d := range s.Dirs {
		h := &s.Dirs[d]
		h.Segments.release()
		h.Chunks.release()
		if sp := h.spill; sp != nil {
			for _, m := range sp.maps {
				unmapFile(m)
			}
			sp.maps = nil
			sp.f.Discard()
			if sp.err == nil {
				sp.err = os.ErrClosed
			}
		}
	}
}

// segmentCodec and chunkCodec put a spilled direction's segment map and
// chunk list on disk (Log.spill): fixed-size little-endian records.
var segmentCodec = logCodec[Segment]{size: 84,
	put: func(b []byte, g *Segment) {
		le := binary.LittleEndian
		le.PutUint64(b[0:], uint64(g.Frame))
		le.PutUint64(b[8:], uint64(g.Time.Unix()))
		le.PutUint32(b[16:], uint32(g.Time.Nanosecond()))
		b[20] = 0
		if g.Time.Location() == time.UTC {
			b[20] = 1
		}
		le.PutUint64(b[21:], uint64(g.Seq))
		le.PutUint64(b[29:], uint64(g.Len))
		le.PutUint64(b[37:], uint64(g.Captured))
		le.PutUint64(b[45:], uint64(g.Added.Start))
		le.PutUint64(b[53:], uint64(g.Added.End))
		le.PutUint64(b[61:], uint64(g.NewBytes))
		le.PutUint64(b[69:], uint64(g.aux))
		b[77] = byte(g.Dir)
		le.PutUint16(b[78:], uint16(g.Flags))
		b[80], b[81] = byte(g.Kind), byte(g.why)
		b[82] = 0
		if g.named {
			b[82] = 1
		}
	},
	get: func(b []byte, g *Segment) {
		le := binary.LittleEndian
		t := time.Unix(int64(le.Uint64(b[8:])), int64(le.Uint32(b[16:])))
		if b[20] == 1 {
			t = t.UTC()
		}
		*g = Segment{Frame: int(le.Uint64(b[0:])), Time: t, Seq: int64(le.Uint64(b[21:])), Len: int(le.Uint64(b[29:])),
			Captured: int(le.Uint64(b[37:])), Added: ByteRange{int64(le.Uint64(b[45:])), int64(le.Uint64(b[53:]))},
			NewBytes: int64(le.Uint64(b[61:])), aux: int64(le.Uint64(b[69:])), Dir: Direction(b[77]),
			Flags: capture.TCPFlags(le.Uint16(b[78:])), Kind: Kind(b[80]), why: segWhy(b[81]), named: b[82] == 1}
	}}

var chunkCodec = logCodec[Chunk]{size: 32,
	put: func(b []byte, c *Chunk) {
		le := binary.LittleEndian
		le.PutUint64(b[0:], uint64(c.Range.Start))
		le.PutUint64(b[8:], uint64(c.Range.End))
		le.PutUint64(b[16:], uint64(c.Frame))
		le.PutUint64(b[24:], uint64(c.Data))
	},
	get: func(b []byte, c *Chunk) {
		le := binary.LittleEndian
		*c = Chunk{Range: ByteRange{int64(le.Uint64(b[0:])), int64(le.Uint64(b[8:]))}, Frame: int(le.Uint64(b[16:])), Data: int64(le.Uint64(b[24:]))}
	}}

// ChunkAt returns the index of the first chunk that ends after stream
// offset off: the chunk holding off, when one does (Chunks.Len() when
// none is past it).
func (h *Half) ChunkAt(off int64) int {
	return h.Chunks.Search(func(c *Chunk) bool { return c.Range.End > off })
}

// rangeCodec puts byte ranges on disk: where a long direction's messages
// lie (SpillRanges).
var rangeCodec = logCodec[ByteRange]{size: 16,
	put: func(b []byte, r *ByteRange) {
		binary.LittleEndian.PutUint64(b, uint64(r.Start))
		binary.LittleEndian.PutUint64(b[8:], uint64(r.End))
	},
	get: func(b []byte, r *ByteRange) {
		*r = ByteRange{int64(binary.LittleEndian.Uint64(b)), int64(binary.LittleEndian.Uint64(b[8:]))}
	}}

// SpillRanges moves l's older blocks to a temporary file, as a spilled
// direction's segment map goes (decode keeps where each message of a long
// direction lies this way). Release closes the file.
func SpillRanges(l *Log[ByteRange]) { l.spill(rangeCodec) }
