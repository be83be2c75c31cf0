package reassembly_test

import (
	"bytes"
	"os"
	"testing"

	"github.com/sockscope/sockscope/capture"
	"github.com/sockscope/sockscope/reassembly"
)

// BenchmarkRead is the read path: parse the file, decode every frame, track
// every flow, no payload kept.
func BenchmarkRead(b *testing.B) {
	data, err := os.ReadFile("../testdata/corpus/28_routed_http_loss_retransmit.pcap")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		src, err := capture.NewReader("bench", bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		tr := reassembly.NewTracker(reassembly.Options{})
		if err := tr.Consume(src); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFollow keeps every byte and the segment map (follow).
func BenchmarkFollow(b *testing.B) {
	data, err := os.ReadFile("../testdata/corpus/28_routed_http_loss_retransmit.pcap")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		src, _ := capture.NewReader("bench", bytes.NewReader(data))
		tr := reassembly.NewTracker(reassembly.Options{Keep: func(capture.Proto, int) bool { return true }})
		if err := tr.Consume(src); err != nil {
			b.Fatal(err)
		}
	}
}
