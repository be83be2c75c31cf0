package capture

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestCopyPcapng: a pcapng file cut anywhere (as a live capture's file is
// while it is written) copies to a file that reads to its end without
// damage, with the frames of its whole blocks.
func TestCopyPcapng(t *testing.T) {
	src := filepath.Join("..", "testdata", "corpus", "05_http11_pipelined_10req.pcapng")
	full, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	frames := func(b []byte) int {
		s, err := NewReader("copy", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		var p Packet
		for {
			if err := s.Next(&p); err != nil {
				if !errors.Is(err, io.EOF) {
					t.Fatalf("the copy is damaged: %v", err)
				}
				return n
			}
			n++
		}
	}
	all := frames(full)
	dir := t.TempDir()
	for _, cut := range []int{len(full), len(full) - 1, len(full) / 2, 300, 100, 29} {
		path := filepath.Join(dir, "cut.pcapng")
		if err := os.WriteFile(path, full[:cut], 0o644); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		n, err := CopyPcapng(&out, path)
		if err != nil {
			t.Fatalf("cut at %d: %v", cut, err)
		}
		if out.Len() == 0 {
			if n != 0 {
				t.Errorf("cut at %d: %d frames in an empty copy", cut, n)
			}
			continue
		}
		if got := frames(out.Bytes()); got != n {
			t.Errorf("cut at %d: copied %d frames, the copy reads %d", cut, n, got)
		}
		if cut == len(full) && (n != all || !bytes.Equal(out.Bytes(), full)) {
			t.Errorf("the whole file: %d of %d frames, same bytes %v", n, all, bytes.Equal(out.Bytes(), full))
		}
		if cut < len(full) && n > all {
			t.Errorf("cut at %d: %d frames", cut, n)
		}
	}
	if _, err := CopyPcapng(io.Discard, filepath.Join("..", "testdata", "corpus", "04_http11_keepalive_curl.pcap")); !errors.Is(err, ErrNotCapture) {
		t.Errorf("a pcap file: %v", err)
	}
}

// FuzzCopyPcapng: whatever the file holds, the copy is a prefix of it that
// ends at a block boundary (never a part of a block), and it does not panic.
func FuzzCopyPcapng(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("..", "testdata", "corpus", "05_http11_pipelined_10req.pcapng")); err == nil {
		f.Add(b[:min(len(b), 2000)])
	}
	f.Add([]byte("\x0a\x0d\x0d\x0a\x1c\x00\x00\x00\x4d\x3c\x2b\x1a"))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "f.pcapng")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		n, _ := CopyPcapng(&out, path)
		if !bytes.HasPrefix(data, out.Bytes()) {
			t.Fatalf("the copy (%d bytes) is not a prefix of the file", out.Len())
		}
		if n > 0 && out.Len() == 0 {
			t.Fatalf("%d frames in an empty copy", n)
		}
	})
}
