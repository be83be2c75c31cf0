package reassembly

import (
	"iter"
	"unsafe"
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
	blocks [][]T
	n      int
}

// blockLen returns the number of elements in a full block.
func (l *Log[T]) blockLen() int {
	var v T
	return max(1, logBlockBytes/int(unsafe.Sizeof(v)))
}

// Len returns the number of elements.
func (l *Log[T]) Len() int { return l.n }

// At returns a pointer to element i (0 <= i < Len()). Appending does not
// move the elements held past the first block.
func (l *Log[T]) At(i int) *T {
	if uint(i) >= uint(l.n) {
		panic("reassembly.Log: index out of range")
	}
	b := l.blockLen()
	return &l.blocks[i/b][i%b]
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
	case len(l.blocks[k]) == cap(l.blocks[k]): // the first block, still growing
		nb := make([]T, len(l.blocks[k]), min(2*cap(l.blocks[k]), b))
		copy(nb, l.blocks[k])
		l.blocks[k] = nb
	}
	l.blocks[k] = append(l.blocks[k], v)
	l.n++
}

// All yields the index of each element and a pointer to it, in order.
func (l *Log[T]) All() iter.Seq2[int, *T] {
	return func(yield func(int, *T) bool) {
		i := 0
		for _, b := range l.blocks {
			for j := range b {
				if !yield(i, &b[j]) {
					return
				}
				i++
			}
		}
	}
}

// Clone returns a copy that shares nothing with l.
func (l *Log[T]) Clone() Log[T] {
	c := Log[T]{n: l.n}
	for _, b := range l.blocks {
		c.blocks = append(c.blocks, append(make([]T, 0, cap(b)), b...))
	}
	return c
}
