package reassembly_test

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/sockscope/sockscope/capture"
	"github.com/sockscope/sockscope/reassembly"
)

// FuzzReassemble: a byte string cut into segments, shuffled, duplicated and
// overlapped (same contents), with any initial sequence number (seeds near
// 2^32 cover the wrap), reassembles to exactly the original bytes, with no
// byte counted twice and nothing reported missing.
func FuzzReassemble(f *testing.F) {
	f.Add(int64(1), []byte("hello, world: a message split across segments"), uint32(0xffff_fff0), uint8(7))
	f.Add(int64(2), bytes.Repeat([]byte("0123456789"), 50), uint32(0xffff_ff00), uint8(33))
	f.Add(int64(3), []byte("x"), uint32(0), uint8(1))
	f.Fuzz(func(t *testing.T, seed int64, payload []byte, isn uint32, mss uint8) {
		if len(payload) == 0 || len(payload) > 1<<16 {
			return
		}
		m := int(mss)%64 + 1
		rng := rand.New(rand.NewPCG(uint64(seed), 7))
		type piece struct{ off, n int }
		var pieces []piece
		for off := 0; off < len(payload); {
			n := min(1+rng.IntN(m), len(payload)-off)
			pieces = append(pieces, piece{off, n})
			off += n
		}
		// duplicates and overlapping re-sends
		for i := range len(pieces) / 2 {
			p := pieces[rng.IntN(len(pieces))]
			switch i % 2 {
			case 0:
				pieces = append(pieces, p)
			case 1:
				end := min(len(payload), p.off+p.n+rng.IntN(m))
				start := max(0, p.off-rng.IntN(m))
				pieces = append(pieces, piece{start, end - start})
			}
		}
		if len(pieces) > 1000 {
			// More scattered pieces than the out-of-order ranges a stream may
			// hold (maxAheadRanges, 1024): the cap declares holes missing and
			// reports it (TestHostileTinySegments covers that); the property
			// here is exact reassembly within the bounds.
			return
		}
		rng.Shuffle(len(pieces), func(i, j int) { pieces[i], pieces[j] = pieces[j], pieces[i] })
		var col reassembly.Collector
		tr := reassembly.NewTracker(reassembly.Options{OnStream: col.Add, Keep: func(capture.Proto, int) bool { return true }})
		now := time.Unix(1_700_000_000, 0)
		frame := 0
		add := func(flags capture.TCPFlags, seq uint32, data []byte) {
			frame++
			now = now.Add(time.Millisecond)
			p := capture.Packet{Frame: frame, Time: now, Proto: capture.ProtoTCP, Src: cli, Dst: srv, Seq: seq, Flags: flags, Window: 1000, Payload: data, PayloadLen: len(data)}
			tr.Add(&p)
		}
		add(capture.SYN, isn, nil)
		for _, p := range pieces {
			add(capture.ACK|capture.PSH, isn+1+uint32(p.off), payload[p.off:p.off+p.n])
		}
		tr.Finish()
		ss := col.Streams()
		if len(ss) != 1 {
			t.Fatalf("%d streams", len(ss))
		}
		h := ss[0].Dirs[0]
		if !bytes.Equal(h.Data, payload) {
			t.Fatalf("reassembled %d bytes, want %d", len(h.Data), len(payload))
		}
		if h.Bytes != int64(len(payload)) || h.Missing != 0 || h.Captured != int64(len(payload)) {
			t.Fatalf("bytes %d missing %d captured %d", h.Bytes, h.Missing, h.Captured)
		}
		var sum int64
		for _, c := range h.Chunks.All() {
			sum += c.Range.Len()
		}
		if sum != int64(len(payload)) {
			t.Fatalf("chunks cover %d bytes", sum)
		}
	})
}
