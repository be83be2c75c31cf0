// Package spillbuf is a write buffer that moves to an unlinked temporary
// file once it outgrows a limit: a view that must write one part of its
// output after another it learns at the same time (follow's JSON writes
// a direction's messages after its segments) keeps the later part on disk,
// not in memory.
package spillbuf

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
)

// Buffer holds what is written to it in memory up to its limit, then in a
// temporary file. The zero value is not usable: make one with New.
type Buffer struct {
	limit int
	mem   bytes.Buffer
	f     *Temp
	name  string // f's, kept for Err once it is closed
	w     *bufio.Writer
	err   error // the first error: what was written after it is lost
	n     int64
}

// New returns a Buffer that keeps up to limit bytes in memory.
func New(limit int) *Buffer { return &Buffer{limit: limit} }

// Write appends p. It does not fail: an error of the temporary file is
// kept for WriteTo and Err.
func (b *Buffer) Write(p []byte) (int, error) {
	b.n += int64(len(p))
	if b.err != nil {
		return len(p), nil
	}
	if b.f == nil {
		if b.mem.Len()+len(p) <= b.limit {
			b.mem.Write(p)
			return len(p), nil
		}
		f, err := NewTemp("sockscope-view-*")
		if err != nil {
			// Keep going in memory rather than lose the output.
			b.limit = int(^uint(0) >> 1)
			b.mem.Write(p)
			return len(p), nil
		}
		b.f, b.name, b.w = f, f.Name(), bufio.NewWriterSize(f, 1<<20)
		if _, b.err = b.w.Write(b.mem.Bytes()); b.err != nil {
			return len(p), nil
		}
		b.mem = bytes.Buffer{}
	}
	_, b.err = b.w.Write(p)
	return len(p), nil
}

// Len returns how many bytes were written.
func (b *Buffer) Len() int64 { return b.n }

// Err returns the error that lost written bytes, if any.
func (b *Buffer) Err() error {
	if b.err == nil {
		return nil
	}
	return fmt.Errorf("temporary file %s: %w", b.name, b.err)
}

// WriteTo writes everything written so far to w.
func (b *Buffer) WriteTo(w io.Writer) (int64, error) {
	if b.f == nil {
		n, err := w.Write(b.mem.Bytes())
		return int64(n), err
	}
	if b.err == nil {
		b.err = b.w.Flush()
	}
	if b.err != nil {
		return 0, b.Err()
	}
	if _, err := b.f.Seek(0, io.SeekStart); err != nil {
		b.err = err
		return 0, b.Err()
	}
	n, err := io.Copy(w, b.f)
	if _, serr := b.f.Seek(0, io.SeekEnd); serr != nil && b.err == nil {
		b.err = serr
	}
	return n, err
}

// Close drops what the Buffer holds and removes its file.
func (b *Buffer) Close() error {
	b.mem = bytes.Buffer{}
	if b.f == nil {
		return nil
	}
	err := b.f.Discard()
	b.f = nil
	if b.err == nil {
		b.err = os.ErrClosed
	}
	return err
}
