package reassembly

import (
	"bufio"
	"fmt"
	"io"
	"os"
)

// spillFile holds a kept direction's bytes on disk once they outgrow
// Options.SpillOver, so that following a stream of any length does not
// hold its bytes in memory. The file is unlinked as soon as it is created
// where the system allows it (it disappears with the process); elsewhere
// Release removes it.
type spillFile struct {
	f      *os.File
	w      *bufio.Writer
	n      int64    // bytes written
	name   string   // the file's name
	remove bool     // still to remove at Release (it could not be unlinked at once)
	err    error    // the first write or read error: the bytes after it are lost
	maps   [][]byte // MapAt's mappings, unmapped by Release
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
	b, base := mapFile(sp.f, off, n)
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
		f, err := os.CreateTemp("", "sockscope-stream-*")
		if err != nil {
			h.spillOver = 0 // keep going in memory
			return
		}
		sp := &spillFile{f: f, w: bufio.NewWriterSize(f, spillChunk), name: f.Name()}
		sp.remove = os.Remove(f.Name()) != nil
		h.spill = sp
		b, h.Data = h.Data, nil
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
		if sp := h.spill; sp != nil {
			for _, m := range sp.maps {
				unmapFile(m)
			}
			sp.maps = nil
			sp.f.Close()
			if sp.remove {
				os.Remove(sp.name)
				sp.remove = false
			}
			if sp.err == nil {
				sp.err = os.ErrClosed
			}
		}
	}
}
