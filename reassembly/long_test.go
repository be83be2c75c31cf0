package reassembly_test

import (
	"crypto/sha256"
	"io"
	"testing"

	"github.com/sockscope/sockscope/capture"
	"github.com/sockscope/sockscope/internal/pcapgen"
	"github.com/sockscope/sockscope/reassembly"
)

// longSize is how many bytes each direction of the long-stream tests
// carries: 5 GiB (two sequence wraps), or 300 MiB under -short and the race
// detector (one wrap, the 2^31 boundary not reached: the big run is the one
// that counts, and it runs in the plain `go test ./...`).
func longSize(t *testing.T) int64 {
	if testing.Short() || raceEnabled {
		return 300 << 20
	}
	return 5 << 30
}

// LongConfig returns the long-stream capture of the tests: both directions
// of one connection carry n bytes, the ISNs are 1000 bytes short of the
// wrap, and segments are lost, reordered, duplicated and never captured
// just before and after the 2 GiB and 4 GiB offsets and the wraps.
func longConfig(n int64) pcapgen.LongConfig {
	cfg := pcapgen.LongConfig{C2S: n, S2C: n, SegSize: 64000, ISN: [2]uint32{1<<32 - 1000, 1<<32 - 30000}, Seed: 7}
	ev := func(d int, off int64, k pcapgen.LongEventKind) {
		if off < n {
			cfg.Events = append(cfg.Events, pcapgen.LongEvent{Dir: d, Offset: off, Kind: k})
		}
	}
	for d := 0; d < 2; d++ {
		ev(d, 200_000, pcapgen.Lose) // right after the first wrap
		ev(d, 1<<31-100_000, pcapgen.Reorder)
		ev(d, 1<<31+10, pcapgen.Lose)
		ev(d, 1<<31+300_000, pcapgen.Duplicate)
		ev(d, 1<<32-200_000, pcapgen.Lose)
		ev(d, 1<<32+500, pcapgen.Reorder) // around the second wrap
		ev(d, 1<<32+1_000_000, pcapgen.LoseForever)
		ev(d, 1<<32+3_000_000, pcapgen.Duplicate)
		ev(d, n-100_000, pcapgen.Lose)
	}
	return cfg
}

// TestLongStream reassembles one connection of 5 GiB each way, streamed
// from the generator (nothing on disk, nothing kept): exact byte counts, the
// bytes' hashes, the offsets of the segments at the boundaries, and no
// false overlap or before-start anomaly.
func TestLongStream(t *testing.T) {
	n := longSize(t)
	cfg := longConfig(n)
	pr, wait := pcapgen.PipeLong(cfg)
	defer pr.Close()
	src, err := capture.NewReader("long", pr)
	if err != nil {
		t.Fatal(err)
	}
	hashes := [2]interface {
		io.Writer
		Sum([]byte) []byte
	}{sha256.New(), sha256.New()}
	type rec struct {
		seq  int64
		kind reassembly.Kind
	}
	recs := map[int]rec{}
	var got *reassembly.Stream
	tr := reassembly.NewTracker(reassembly.Options{
		Follow: func(capture.Proto, int) bool { return true },
		OnData: func(s *reassembly.Stream, d reassembly.Direction, r reassembly.ByteRange, b []byte, frame int) {
			if b != nil {
				hashes[d].Write(b)
			}
		},
		OnPacket: func(s *reassembly.Stream, r *reassembly.PacketRecord) {
			if r.Len > 0 {
				recs[r.Frame] = rec{r.Seq, r.Kind}
			}
		},
		OnStream: func(s *reassembly.Stream) { got = s },
	})
	if err := tr.Consume(src); err != nil {
		t.Fatal(err)
	}
	res := wait()
	if got == nil || tr.Stats.TCPStreams != 1 {
		t.Fatalf("streams: %d", tr.Stats.TCPStreams)
	}
	for d := range got.Dirs {
		h := &got.Dirs[d]
		if h.Bytes != n || h.Captured != res.Bytes[d] || h.Missing != n-res.Bytes[d] {
			t.Errorf("%s: bytes %d captured %d missing %d; want %d, %d, %d", reassembly.Direction(d), h.Bytes, h.Captured, h.Missing, n, res.Bytes[d], n-res.Bytes[d])
		}
		if sum := hashes[d].Sum(nil); string(sum) != string(res.SHA256[d][:]) {
			t.Errorf("%s: sha256 %x, generator %x", reassembly.Direction(d), sum[:8], res.SHA256[d][:8])
		}
	}
	for _, a := range got.Anomalies {
		switch a.Kind {
		case reassembly.AnomalyBeforeStart, reassembly.AnomalyOverlapConflict, reassembly.AnomalyMalformed:
			t.Errorf("anomaly %v frame %d: %s", a.Kind, a.Frame, a.Reason)
		}
	}
	// The segment never captured is a gap: declared missing when the
	// buffer of bytes beyond it (MaxBuffered) is full, or at the end.
	if got.State != reassembly.StateClosed {
		t.Errorf("state %v", got.State)
	}
	checked := 0
	for _, o := range res.Offsets {
		if o.Frame == 0 {
			continue // never written
		}
		r, ok := recs[o.Frame]
		if !ok {
			t.Errorf("frame %d (%s at %d) not seen as a data segment", o.Frame, o.Kind, o.Offset)
			continue
		}
		checked++
		if r.seq-1 != o.Offset {
			t.Errorf("frame %d: relative seq %d, want offset %d + 1", o.Frame, r.seq, o.Offset)
		}
		switch {
		case o.Retrans && r.kind != reassembly.KindRetransmission && r.kind != reassembly.KindOutOfOrder:
			t.Errorf("frame %d (%s, resent) at %d: kind %v", o.Frame, o.Kind, o.Offset, r.kind)
		case !o.Retrans && o.Kind == 0 && r.kind != reassembly.KindNew:
			t.Errorf("frame %d (boundary) at %d: kind %v", o.Frame, o.Offset, r.kind)
		}
	}
	if checked < 4 {
		t.Errorf("only %d boundary/event segments checked", checked)
	}
	t.Logf("%d frames, %d MiB each way, %d segments checked at boundaries and events", res.Frames, n>>20, checked)
}
