package findings

import (
	"fmt"
	"strconv"
	"time"

	"github.com/sockscope/sockscope/internal/human"
	"github.com/sockscope/sockscope/reassembly"
)

// streamState is what the engine holds for one live TCP stream: fixed-size
// counters per detector, the first SniffBytes of each direction until the
// framing is decided, and, for hazard framings, two bounded framers.
type streamState struct {
	e      *Engine
	ref    StreamRef
	tls    *tlsStream // the TLS checks' state (tls.go), once its first bytes were TLS
	notTLS bool       // its first bytes were not TLS

	lastPkt [2]time.Time // last packet sent by side d (since the state began)

	slow [2]slowState
	zw   [2]zeroWindowState // indexed by the side advertising the window
	rt   [2]retransState
	da   [2]delackState // indexed by the data sender
	daN  int
	daT  time.Duration
	daEx []int // frames of the first stalls: data, ACK, next data

	ct contentState
}

func newStreamState(e *Engine, s *reassembly.Stream) *streamState {
	return &streamState{e: e, ref: RefOf(s)}
}

// packet runs the packet-level detectors on one record.
func (st *streamState) packet(s *reassembly.Stream, r *reassembly.PacketRecord) {
	d := r.Dir
	st.slowPacket(r)
	st.zeroWindowPacket(r)
	st.retransPacket(r)
	st.delackPacket(s, r)
	st.lastPkt[d] = r.Time
}

// isData says r carries new payload (not a retransmission, keep-alive, probe).
func isData(r *reassembly.PacketRecord) bool {
	return r.Len > 0 && (r.Kind == reassembly.KindNew || r.Kind == reassembly.KindOutOfOrder)
}

// finish ends what is still open at the end of the stream.
func (st *streamState) finish(s *reassembly.Stream) {
	for d := range st.zw {
		z := &st.zw[d]
		if z.inZero {
			z.close(s.End, true)
		}
	}
	st.contentFinish(s)
}

// findings returns the per-stream findings of a finished stream (s nil:
// the stream was never delivered; only what the counters show).
func (st *streamState) findings(s *reassembly.Stream) []Finding {
	var out []Finding
	add := func(f *Finding) {
		if f != nil {
			out = append(out, *f)
		}
	}
	add(st.slowFinding(s))
	add(st.zeroWindowFinding())
	add(st.retransFinding(s != nil && s.Resumed))
	add(st.delackFinding())
	add(st.hazardFinding())
	return out
}

func (st *streamState) one(f Finding, frames ...int) *Finding {
	ev := evidence{max: st.e.cfg.MaxEvidence}
	ev.stream(st.ref)
	for _, fr := range frames {
		ev.frame(fr)
	}
	ev.finish(&f)
	return &f
}

func bytesText(n int64) string { return human.Bytes(n) }

func itoa(n int) string { return strconv.Itoa(n) }

func rate(bytes int64, d time.Duration) string {
	if d <= 0 {
		return "∞ B/s"
	}
	r := float64(bytes) / d.Seconds()
	switch {
	case r < 10:
		return fmt.Sprintf("%.2f B/s", r)
	case r < 1024:
		return fmt.Sprintf("%.0f B/s", r)
	}
	return bytesText(int64(r)) + "/s"
}
