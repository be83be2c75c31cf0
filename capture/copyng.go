package capture

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// CopyPcapng copies the whole blocks of the pcapng file at path to w and
// stops before a block that is not all there yet: a copy of a file still
// being written (a live capture's -w file) is a pcapng file read to its
// end without damage. It returns how many Enhanced Packet Blocks (frames)
// it copied.
func CopyPcapng(w io.Writer, path string) (frames int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<16)
	var order binary.ByteOrder = binary.LittleEndian
	head := make([]byte, 12)
	first := true
	for {
		n, err := io.ReadFull(r, head[:8])
		if n < 8 {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return frames, nil // the end, or a block header not all written
			}
			return frames, err
		}
		typ := order.Uint32(head)
		if typ == 0x0A0D0D0A { // a section header: its byte-order magic follows
			if _, err := io.ReadFull(r, head[8:12]); err != nil {
				return frames, nil
			}
			switch binary.LittleEndian.Uint32(head[8:]) {
			case 0x1A2B3C4D:
				order = binary.LittleEndian
			case 0x4D3C2B1A:
				order = binary.BigEndian
			default:
				return frames, fmt.Errorf("%s: pcapng section header with a bad byte-order magic: %w", path, ErrNotCapture)
			}
		} else if first {
			return 0, fmt.Errorf("%s: does not start with a pcapng section header: %w", path, ErrNotCapture)
		}
		first = false
		total := order.Uint32(head[4:])
		if total < 12 || total%4 != 0 || total > maxBlock {
			return frames, fmt.Errorf("%s: pcapng block of bad length %d: %w", path, total, ErrNotCapture)
		}
		block := make([]byte, total)
		have := 8
		if typ == 0x0A0D0D0A {
			have = 12
		}
		copy(block, head[:have])
		if _, err := io.ReadFull(r, block[have:]); err != nil {
			return frames, nil // the last block is still being written
		}
		if _, err := w.Write(block); err != nil {
			return frames, err
		}
		if typ == 6 {
			frames++
		}
	}
}
