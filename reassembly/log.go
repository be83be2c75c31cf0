package reassembly

import (
	"fmt"
	"io"
	"iter"
	"os"
	"sort"
	"unsafe"

	"github.com/sockscope/sockscope/internal/spillbuf"
)

// logBlockBytes is the size of a Log's blocks: a large allocation (over
// 32 KiB), which the runtime rounds up to whole pages only, without the
// header it adds to smaller objects that hold pointers.
const logBlockBytes = 64 << 10

// Log is an append-only list kept in blocks of 64 KiB: the segment map and
// the packet records of a kept stream, which grow with every packet. Unlike
// a slice it does not copy what it holds to grow past its first block (a
// slice briefly needs twice its size, and keeps up to a quarter of it
// unused): at most one block is partly empty. The first block grows as a
// slice does, so that a short Log stays small. The zero value is an empty
// Log.
type Log[T any] struct {
	blocks [][]T       // every block but the last is full; nil for a block on disk
	disk   *logDisk[T] // once spilled: the older blocks are on disk
}

// blockLen returns the number of elements in a full block.
func (l *Log[T]) blockLen() int {
	var v T
	return max(1, logBlockBytes/int(unsafe.Sizeof(v)))
}

// Len returns the number of elements.
// (Every stream has three Logs: their length is worked out from the
// blocks rather than held, to keep streams small.)
func (l *Log[T]) Len() int {
	k := len(l.blocks)
	if k == 0 {
		return 0
	}
	return (k-1)*l.blockLen() + len(l.blocks[k-1])
}

// OnDisk returns how many of the elements are held in a temporary file
// rather than in memory (see Options.SpillOver).
func (l *Log[T]) OnDisk() int {
	if l.disk == nil {
		return 0
	}
	return len(l.disk.lasts) * l.blockLen()
}

// At returns a pointer to element i (0 <= i < Len()). Appending does not
// move the elements held past the first block. An element of a block on
// disk (spill) is read back into a small cache: its pointer is valid until
// a few other blocks were read, and a write through it is not kept.
func (l *Log[T]) At(i int) *T {
	if uint(i) >= uint(l.Len()) {
		panic("reassembly.Log: index out of range")
	}
	b := l.blockLen()
	if blk := l.blocks[i/b]; blk != nil {
		return &blk[i%b]
	}
	return &l.disk.block(i / b)[i%b]
}

// Append adds v at the end.
func (l *Log[T]) Append(v T) {
	k := len(l.blocks) - 1
	switch b := l.blockLen(); {
	case k < 0:
		l.blocks = append(l.blocks, make([]T, 0, min(4, b)))
		k = 0
	case len(l.blocks[k]) == b:
		l.blocks = append(l.blocks, make([]T, 0, b))
		k++
		if l.disk != nil {
			l.spillOld()
		}
	case len(l.blocks[k]) == cap(l.blocks[k]): // the first block, still growing
		nb := make([]T, len(l.blocks[k]), min(2*cap(l.blocks[k]), b))
		copy(nb, l.blocks[k])
		l.blocks[k] = nb
	}
	l.blocks[k] = append(l.blocks[k], v)
}

// All yields the index of each element and a pointer to it, in order. An
// element of a block on disk is read into a buffer of this iteration: its
// pointer is valid until the iteration moves past its block.
func (l *Log[T]) All() iter.Seq2[int, *T] {
	return func(yield func(int, *T) bool) {
		i := 0
		var scratch []T
		for k, b := range l.blocks {
			if b == nil && l.disk != nil {
				if scratch == nil {
					scratch = make([]T, l.blockLen())
				}
				b = l.disk.read(k, scratch)
			}
			for j := range b {
				if !yield(i, &b[j]) {
					return
				}
				i++
			}
		}
	}
}

// Search returns the smallest index i in [0, Len()) for which f(At(i)) is
// true, or Len() when there is none, as sort.Search does: f must be false
// and then true along the Log. On a spilled Log it reads at most one block
// from disk.
func (l *Log[T]) Search(f func(*T) bool) int {
	b := l.blockLen()
	lo := 0 // the first element of the blocks held in memory
	if d := l.disk; d != nil {
		k := sort.Search(len(d.lasts), func(k int) bool { return f(&d.lasts[k]) })
		if k < len(d.lasts) {
			blk := d.block(k)
			return k*b + sort.Search(len(blk), func(j int) bool { return f(&blk[j]) })
		}
		lo = len(d.lasts) * b
	}
	return lo + sort.Search(l.Len()-lo, func(i int) bool { return f(l.At(lo + i)) })
}

// Clone returns a copy that shares nothing with l, held in memory.
func (l *Log[T]) Clone() Log[T] {
	var c Log[T]
	for k, b := range l.blocks {
		if b == nil && l.disk != nil {
			b = l.disk.read(k, make([]T, l.blockLen()))
		}
		c.blocks = append(c.blocks, append(make([]T, 0, cap(b)), b...))
	}
	return c
}

// logCodec writes an element into size bytes and reads it back: how a
// Log's full blocks go to disk (Log.spill).
type logCodec[T any] struct {
	size int
	put  func(b []byte, v *T)
	get  func(b []byte, v *T)
}

// logCached is how many blocks read back from disk a spilled Log keeps
// (for At and Search, which come back to the same blocks).
const logCached = 4

// logDisk holds a Log's older blocks in an unlinked temporary file: a
// kept stream's segment map and chunk list grow with every segment, like
// its bytes, and go to disk with them (Options.SpillOver).
type logDisk[T any] struct {
	codec logCodec[T]
	f     *spillbuf.Temp
	name  string
	// lasts holds the last element of each block on disk, blocks
	// [0, len(lasts)), for Search.
	lasts []T
	cache [logCached]struct {
		k int
		b []T
	}
	next int    // the cache slot to fill next
	buf  []byte // one encoded block
	err  error  // the first write or read error
}

// keepBlocks is how many of the newest blocks a spilled Log keeps in
// memory: the one being appended to and the one before, whose last
// elements a caller may still change through At (a note on the segment
// just added).
const keepBlocks = 2

// spill moves the Log's full blocks, but the newest keepBlocks, to a
// temporary file, and keeps moving them as it grows. It fails soft: when
// the file cannot be made or written, the blocks stay in memory (Err says
// why).
func (l *Log[T]) spill(c logCodec[T]) {
	if l.disk != nil {
		return
	}
	d := &logDisk[T]{codec: c}
	f, err := spillbuf.NewTemp("sockscope-log-*")
	if err != nil {
		d.err = err
		l.disk = d
		return
	}
	d.f, d.name = f, f.Name()
	for i := range d.cache {
		d.cache[i].k = -1
	}
	l.disk = d
	l.spillOld()
}

// spillOld writes the blocks that are full and older than the newest
// keepBlocks to disk, and drops them from memory.
func (l *Log[T]) spillOld() {
	d := l.disk
	if d == nil || d.err != nil || d.f == nil {
		return
	}
	bl := l.blockLen()
	for k := len(d.lasts); k < len(l.blocks)-keepBlocks; k++ {
		b := l.blocks[k]
		if len(b) != bl {
			return // cannot be: only the last block is not full
		}
		d.buf = d.buf[:0]
		for j := range b {
			d.buf = append(d.buf, make([]byte, d.codec.size)...)
			d.codec.put(d.buf[j*d.codec.size:], &b[j])
		}
		if _, err := d.f.WriteAt(d.buf, int64(k)*int64(bl*d.codec.size)); err != nil {
			d.err = err
			return
		}
		d.lasts = append(d.lasts, b[len(b)-1])
		l.blocks[k] = nil
	}
}

// block returns block k (on disk) through the cache.
func (d *logDisk[T]) block(k int) []T {
	for i := range d.cache {
		if d.cache[i].k == k {
			return d.cache[i].b
		}
	}
	c := &d.cache[d.next]
	d.next = (d.next + 1) % logCached
	if c.b == nil {
		c.b = make([]T, d.blockLen())
	}
	c.k = -1
	c.b = d.read(k, c.b[:cap(c.b)])
	c.k = k
	return c.b
}

// blockLen is the Log's block length (the element type's).
func (d *logDisk[T]) blockLen() int {
	var v T
	return max(1, logBlockBytes/int(unsafe.Sizeof(v)))
}

// read decodes block k from disk into into (a block's length). After a
// read error, the elements are zero and Err says why.
func (d *logDisk[T]) read(k int, into []T) []T {
	n := len(into)
	into = into[:n]
	need := n * d.codec.size
	if cap(d.buf) < need {
		d.buf = make([]byte, need)
	}
	buf := d.buf[:need]
	if d.err == nil {
		if _, err := d.f.ReadAt(buf, int64(k)*int64(need)); err != nil && err != io.EOF {
			d.err = err
		}
	}
	if d.err != nil {
		clear(into)
		return into
	}
	for j := range into {
		d.codec.get(buf[j*d.codec.size:], &into[j])
	}
	return into
}

// Err returns the error that lost elements of a spilled Log (the disk
// filled up, say): nil when none was lost.
func (l *Log[T]) Err() error {
	if l.disk == nil || l.disk.err == nil {
		return nil
	}
	if l.disk.f == nil {
		return nil // never spilled: everything is in memory
	}
	return fmt.Errorf("temporary file %s: %w", l.disk.name, l.disk.err)
}

// Release closes and removes a spilled Log's file; what was on disk reads
// as zero elements after it. A no-op for a Log held in memory.
func (l *Log[T]) Release() { l.release() }

func (l *Log[T]) release() {
	d := l.disk
	if d == nil || d.f == nil {
		return
	}
	d.f.Discard()
	if d.err == nil {
		d.err = os.ErrClosed
	}
}
