package reassembly_test

import (
	"bytes"
	"testing"

	"github.com/sockscope/sockscope/capture"
	"github.com/sockscope/sockscope/reassembly"
)

// TestSpillOver: a kept stream whose bytes go to a temporary file gives
// the same bytes through DataAt as one held in memory, chunk by chunk, and
// none after Release.
func TestSpillOver(t *testing.T) {
	keep := func(capture.Proto, int) bool { return true }
	for base, path := range corpusFiles(t) {
		mem, _, _ := track(t, path, reassembly.Options{Keep: keep})
		spilled, _, _ := track(t, path, reassembly.Options{Keep: keep, SpillOver: 1000})
		if len(mem) != len(spilled) {
			t.Fatalf("%s: %d streams, %d spilled", base, len(mem), len(spilled))
		}
		for i, s := range spilled {
			for d := range s.Dirs {
				a, b := &mem[i].Dirs[d], &s.Dirs[d]
				if b.Spilled() != (a.DataLen() > 1000) || a.DataLen() != b.DataLen() || a.Chunks.Len() != b.Chunks.Len() {
					t.Fatalf("%s %s dir %d: spilled %v, %d vs %d bytes, %d vs %d chunks", base, s.Name(), d, b.Spilled(), a.DataLen(), b.DataLen(), a.Chunks.Len(), b.Chunks.Len())
				}
				if b.Spilled() && b.Data != nil {
					t.Errorf("%s %s: spilled, yet Data holds %d bytes", base, s.Name(), len(b.Data))
				}
				for _, c := range b.Chunks.All() {
					if got, want := b.DataAt(c.Data, c.Range.Len()), a.Data[c.Data:c.Data+c.Range.Len()]; !bytes.Equal(got, want) {
						t.Fatalf("%s %s dir %d chunk %v: spilled bytes differ", base, s.Name(), d, c.Range)
					}
				}
				if err := b.DataErr(); err != nil {
					t.Errorf("%s %s: %v", base, s.Name(), err)
				}
			}
			s.Release()
			for d := range s.Dirs {
				if h := &s.Dirs[d]; h.Spilled() && h.DataAt(0, 1) != nil {
					t.Errorf("%s %s: bytes readable after Release", base, s.Name())
				}
			}
		}
	}
}
