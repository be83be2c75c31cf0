package reassembly_test

import (
	"testing"
	"time"

	"github.com/sockscope/sockscope/capture"
	"github.com/sockscope/sockscope/reassembly"
)

// segments builds n in-order 1448-byte data segments of one connection,
// after its handshake; swap exchanges every other pair (reordering).
func segments(n int, swap bool) []capture.Packet {
	payload := make([]byte, 1448)
	for i := range payload {
		payload[i] = byte(i)
	}
	t0 := time.Unix(1_700_000_000, 0)
	ps := []capture.Packet{
		{Frame: 1, Time: t0, Proto: capture.ProtoTCP, Src: cli, Dst: srv, Seq: 100, Flags: capture.SYN},
		{Frame: 2, Time: t0, Proto: capture.ProtoTCP, Src: srv, Dst: cli, Seq: 900, Ack: 101, Flags: capture.SYN | capture.ACK},
		{Frame: 3, Time: t0, Proto: capture.ProtoTCP, Src: cli, Dst: srv, Seq: 101, Ack: 901, Flags: capture.ACK},
	}
	for i := range n {
		ps = append(ps, capture.Packet{Frame: 4 + i, Time: t0.Add(time.Duration(i) * time.Microsecond), Proto: capture.ProtoTCP,
			Src: srv, Dst: cli, Seq: 901 + uint32(i*1448), Ack: 101, Flags: capture.ACK, Window: 500, Payload: payload, PayloadLen: 1448})
	}
	if swap {
		for i := 3; i+1 < len(ps); i += 4 {
			ps[i], ps[i+1] = ps[i+1], ps[i]
		}
	}
	return ps
}

func benchAssemble(b *testing.B, swap, keep bool) {
	const n = 10000
	ps := segments(n, swap)
	b.SetBytes(n * 1448)
	b.ReportAllocs()
	var opts reassembly.Options
	if keep {
		opts.Keep = func(capture.Proto, int) bool { return true }
	}
	for b.Loop() {
		tr := reassembly.NewTracker(opts)
		for i := range ps {
			tr.Add(&ps[i])
		}
		tr.Finish()
	}
}

func BenchmarkAssembleInOrder(b *testing.B)           { benchAssemble(b, false, false) }
func BenchmarkAssembleReordered(b *testing.B)         { benchAssemble(b, true, false) }
func BenchmarkAssembleInOrderKeepData(b *testing.B)   { benchAssemble(b, false, true) }
func BenchmarkAssembleReorderedKeepData(b *testing.B) { benchAssemble(b, true, true) }

// TestInOrderAllocs guards the summary path: an in-order data segment on an
// established stream allocates nothing.
func TestInOrderAllocs(t *testing.T) {
	ps := segments(2000, false)
	tr := reassembly.NewTracker(reassembly.Options{})
	for i := range ps[:1000] {
		tr.Add(&ps[i])
	}
	i := 1000
	allocs := testing.AllocsPerRun(900, func() {
		tr.Add(&ps[i])
		i++
	})
	if allocs > 0 {
		t.Errorf("%.1f allocations per in-order segment, want 0", allocs)
	}
}

// TestInOrderAllocsWithPacketHook: the same with an OnPacket hook (the
// findings engine's, which asks HasNote): the packet record is built in
// scratch, so it still allocates nothing; notes of a stream not kept carry
// no texts.
func TestInOrderAllocsWithPacketHook(t *testing.T) {
	ps := segments(2000, false)
	// Every 10th segment repeats the previous one: a retransmission note.
	for i := 1010; i < len(ps); i += 10 {
		ps[i].Seq, ps[i].Payload = ps[i-1].Seq, ps[i-1].Payload
	}
	notes, texts, measuring := 0, 0, false
	tr := reassembly.NewTracker(reassembly.Options{OnPacket: func(s *reassembly.Stream, r *reassembly.PacketRecord) {
		if r.HasNote(reassembly.NoteRetransmission) {
			notes++
		}
		if measuring {
			return
		}
		for _, n := range r.Notes() {
			if n.Text != "" || n.Detail != "" {
				texts++
			}
		}
	}})
	for i := range ps[:1000] {
		tr.Add(&ps[i])
	}
	i := 1000
	measuring = true
	allocs := testing.AllocsPerRun(900, func() {
		tr.Add(&ps[i])
		i++
	})
	measuring = false
	if allocs > 0 {
		t.Errorf("%.2f allocations per segment with OnPacket, want 0", allocs)
	}
	for ; i < len(ps); i++ {
		tr.Add(&ps[i])
	}
	if notes == 0 || texts != 0 {
		t.Errorf("hook saw %d retransmission notes, %d notes with texts; want some notes, none with texts", notes, texts)
	}
}
