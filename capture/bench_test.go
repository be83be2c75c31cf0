package capture

import (
	"bytes"
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
