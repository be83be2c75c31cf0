package reassembly

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/sockscope/sockscope/capture"
)

// TestBufferedTotalCap: three kept streams each hold 600 KB out of order
// (a hole at their start) under a per-stream cap of 1 MB and a total cap of
// 1.5 MB: the third to buffer past the total gives up its hole, says why,
// and every stream still counts all its bytes; nothing stays counted in the
// pool once the streams end.
func TestBufferedTotalCap(t *testing.T) {
	var got []*Stream
	tr := NewTracker(Options{Keep: func(capture.Proto, int) bool { return true }, MaxBuffered: 1 << 20, MaxBufferedTotal: 1_500_000,
		OnStream: func(s *Stream) { got = append(got, s) }})
	payload := make([]byte, 1000)
	t0 := time.Unix(1_700_000_000, 0)
	frame := 0
	add := func(src, dst netip.AddrPort, seq uint32, flags capture.TCPFlags, data []byte) {
		frame++
		p := &capture.Packet{Frame: frame, Time: t0.Add(time.Duration(frame) * time.Microsecond), Proto: capture.ProtoTCP,
			Src: src, Dst: dst, Seq: seq, Flags: flags, Window: 1000, Payload: data, PayloadLen: len(data)}
		tr.Add(p)
	}
	const streams, segs = 3, 600
	for k := range streams {
		c := netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), uint16(40000+k))
		s := netip.MustParseAddrPort("10.0.0.2:80")
		add(c, s, 99, capture.SYN, nil)
		// Segment 0 is missing: the other 599 wait for it.
		for i := 1; i < segs; i++ {
			add(c, s, uint32(100+i*1000), capture.ACK, payload)
		}
	}
	if tr.ahead.bytes > tr.ahead.max {
		t.Errorf("pool holds %d bytes, over the total cap %d", tr.ahead.bytes, tr.ahead.max)
	}
	tr.Finish()
	if tr.ahead.bytes != 0 {
		t.Errorf("pool still counts %d bytes after every stream ended", tr.ahead.bytes)
	}
	if len(got) != streams {
		t.Fatalf("%d streams", len(got))
	}
	capped := 0
	for _, s := range got {
		h := &s.Dirs[ClientToServer]
		if h.Bytes != segs*1000 || h.Missing != 1000 || int64(len(h.Data)) != h.Captured {
			t.Errorf("%s: bytes %d missing %d captured %d kept %d; want %d bytes, 1000 missing", s.Name(), h.Bytes, h.Missing, h.Captured, len(h.Data), segs*1000)
		}
		for _, a := range s.Anomalies {
			if a.Kind == AnomalyBufferCap && strings.Contains(a.Reason, "all streams together") {
				capped++
			}
		}
	}
	if capped != 1 {
		t.Errorf("%d streams report the total cap, want 1", capped)
	}
}
