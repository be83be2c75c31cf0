//go:build unix

package reassembly

import (
	"os"

	"golang.org/x/sys/unix"
)

// mapFile maps n bytes of f from offset off, copy-on-write (a reader that
// writes to the bytes changes only its own copy of the page), or returns
// nil. The mapping starts at the page holding off; base is what to unmap.
func mapFile(f *os.File, off, n int64) (b, base []byte) {
	page := int64(os.Getpagesize())
	start := off &^ (page - 1)
	if n <= 0 || off+n-start > int64(int(^uint(0)>>1)) {
		return nil, nil
	}
	m, err := unix.Mmap(int(f.Fd()), start, int(off+n-start), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE)
	if err != nil {
		return nil, nil
	}
	return m[off-start:], m
}

func unmapFile(base []byte) { unix.Munmap(base) }
