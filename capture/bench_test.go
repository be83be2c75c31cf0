package capture

import (
	"bytes"
	"encoding/binary"
	"io"
	"os"
	"testing"
)

// benchFrames loads every frame of a corpus capture (link type, bytes).
func benchFrames(b *testing.B, path string) (LinkType, [][]byte, int64) {
	b.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	src, err := NewReader("bench", bytes.NewReader(data))
	if err != nil {
		b.Fatal(err)
	}
	var frames [][]byte
	var n int64
	var link LinkType
	src.Filter = func(l LinkType, f []byte) bool {
		link = l
		frames = append(frames, append([]byte(nil), f...))
		n += int64(len(f))
		return false
	}
	var p Packet
	if err := src.Next(&p); err != io.EOF {
		b.Fatal(err)
	}
	return link, frames, n
}

// BenchmarkDecodeFrame is the per-frame hot path on a plain Ethernet/IPv4
// capture (a 1 MiB HTTP download through a router): DecodeFrame alone.
func BenchmarkDecodeFrame(b *testing.B) {
	link, frames, n := benchFrames(b, "../testdata/corpus/28_routed_http_loss_retransmit.pcap")
	b.SetBytes(n)
	b.ReportAllocs()
	var p Packet
	for b.Loop() {
		for i, f := range frames {
			p = Packet{Frame: i + 1, CapLen: len(f), WireLen: len(f)}
			DecodeFrame(link, f, &p)
		}
	}
}

// BenchmarkReadFile reads the same capture through the file source (record
// parsing, decoding, defragmentation).
func BenchmarkReadFile(b *testing.B) {
	data, err := os.ReadFile("../testdata/corpus/28_routed_http_loss_retransmit.pcap")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var p Packet
	for b.Loop() {
		src, err := NewReader("bench", bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		for src.Next(&p) == nil {
		}
	}
}

// splitPcap cuts a pcap file into n parts of about the same number of
// records, each with the file's header, as tcpdump -C or editcap -c would.
func splitPcap(b testing.TB, data []byte, n int) [][]byte {
	b.Helper()
	hdr := data[:24]
	var offs []int
	for off := 24; off+16 <= len(data); {
		offs = append(offs, off)
		off += 16 + int(binary.LittleEndian.Uint32(data[off+8:]))
	}
	per := (len(offs) + n - 1) / n
	var parts [][]byte
	for i := 0; i < len(offs); i += per {
		end := len(data)
		if i+per < len(offs) {
			end = offs[i+per]
		}
		parts = append(parts, append(append([]byte(nil), hdr...), data[offs[i]:end]...))
	}
	return parts
}

// repeatPcap makes a longer capture of a pcap file: its records n times
// over, each copy later by the span of the file (and a second), as one long
// rotated recording would be.
func repeatPcap(b testing.TB, data []byte, n int) []byte {
	b.Helper()
	var first, last uint32
	for off := 24; off+16 <= len(data); off += 16 + int(binary.LittleEndian.Uint32(data[off+8:])) {
		sec := binary.LittleEndian.Uint32(data[off:])
		if first == 0 {
			first = sec
		}
		last = sec
	}
	span := last - first + 1
	out := append([]byte(nil), data[:24]...)
	for k := range n {
		for off := 24; off+16 <= len(data); {
			l := 16 + int(binary.LittleEndian.Uint32(data[off+8:]))
			rec := append([]byte(nil), data[off:off+l]...)
			binary.LittleEndian.PutUint32(rec, binary.LittleEndian.Uint32(rec)+uint32(k)*span)
			out = append(out, rec...)
			off += l
		}
	}
	return out
}

// BenchmarkReadMerged reads a 19 MB capture (the routed download of
// BenchmarkReadFile, 16 times over in time) as one file and cut into 10
// rotated parts merged back (Merge, with the read buffer sockscope gives a
// merged file): the merge's cost over reading one file.
func BenchmarkReadMerged(b *testing.B) {
	data, err := os.ReadFile("../testdata/corpus/28_routed_http_loss_retransmit.pcap")
	if err != nil {
		b.Fatal(err)
	}
	data = repeatPcap(b, data, 16)
	parts := splitPcap(b, data, 10)
	b.Run("one", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		var p Packet
		for b.Loop() {
			src, err := NewReader("bench", bytes.NewReader(data))
			if err != nil {
				b.Fatal(err)
			}
			for src.Next(&p) == nil {
			}
		}
	})
	b.Run("merged10", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		var p Packet
		for b.Loop() {
			srcs := make([]*FileSource, len(parts))
			for i, part := range parts {
				if srcs[i], err = NewReaderSize("bench", bytes.NewReader(part), MergeBufferSize(len(parts))); err != nil {
					b.Fatal(err)
				}
			}
			m := Merge(srcs...)
			for m.Next(&p) == nil {
			}
		}
	})
}
