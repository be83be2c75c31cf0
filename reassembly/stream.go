package reassembly

import (
	"fmt"
	"math"
	"net/netip"
	"time"

	"github.com/sockscope/sockscope/capture"
	"github.com/sockscope/sockscope/internal/human"
)

// FlowKey identifies a conversation: the same key for both directions
// (A sorts before B).
type FlowKey struct{ A, B netip.AddrPort }

// KeyOf returns the canonical key of a packet's addresses.
func KeyOf(src, dst netip.AddrPort) FlowKey {
	if src.Compare(dst) <= 0 {
		return FlowKey{src, dst}
	}
	return FlowKey{dst, src}
}

// State is how a TCP connection ended (or had got to) by the end of the capture.
type State uint8

const (
	StateOpen       State = iota // data or handshake seen, no FIN or RST
	StateClosed                  // FIN both ways
	StateHalfClosed              // FIN one way only
	StateReset                   // ended by RST
	StateRefused                 // SYN answered by RST, no SYN-ACK
	StateNoAnswer                // SYN(s) only
	StateUDP                     // a UDP flow (no connection state)
)

// String returns the JSON token of the state.
func (s State) String() string {
	switch s {
	case StateClosed:
		return "closed"
	case StateHalfClosed:
		return "half_closed"
	case StateReset:
		return "reset"
	case StateRefused:
		return "refused"
	case StateNoAnswer:
		return "no_answer"
	case StateUDP:
		return "udp"
	}
	return "open"
}

// Kind classifies a TCP segment that carries payload (or probes).
type Kind uint8

const (
	KindNew                   Kind = iota // bytes never seen before, at or beyond the highest so far
	KindRetransmission                    // every byte already seen (or sent again after a loss)
	KindPartialRetransmission             // some bytes already seen, some new
	KindOutOfOrder                        // new bytes that arrived after later ones, within the reordering window
	KindKeepAlive                         // seq one below the next expected byte, 0 or 1 byte: not data
	KindZeroWindowProbe                   // one byte sent into a zero window
	KindBeforeStart                       // bytes before the first byte the capture saw (mid-stream start)
)

func (k Kind) String() string {
	switch k {
	case KindRetransmission:
		return "retransmission"
	case KindPartialRetransmission:
		return "partial_retransmission"
	case KindOutOfOrder:
		return "out_of_order"
	case KindKeepAlive:
		return "keep_alive"
	case KindZeroWindowProbe:
		return "zero_window_probe"
	case KindBeforeStart:
		return "before_capture_start"
	}
	return "new"
}

// Segment is one entry of the segment map: a TCP segment with payload (or a
// UDP datagram) and what it added to its direction's byte stream. A kept
// stream holds one per segment, so it holds facts, not text: Reason writes
// the words.
type Segment struct {
	Frame    int
	Time     time.Time
	Seq      int64     // relative sequence number of its first byte (1 = first byte after the SYN)
	Len      int       // payload length on the wire
	Captured int       // payload bytes captured (< Len when cut by the snaplen)
	Added    ByteRange // stream offsets of the new bytes it supplied ([0,0) when none)
	NewBytes int64     // how many new bytes (Added may contain bytes supplied by others)
	// aux is what Reason says beyond the segment's own numbers: the frame
	// that first supplied its first byte (a plain or partial retransmission;
	// noFrame when unknown), the duplicate ACKs before a fast retransmission, or
	// how long after the later bytes it came (out-of-order, a gap filled).
	aux   int64
	Dir   Direction
	Flags capture.TCPFlags
	Kind  Kind
	why   segWhy // which retransmission (KindRetransmission)
	// named says the packet's retransmission note names the frame of the
	// first copy (aux): that frame still held the first byte once the
	// segment was processed (a byte cut by the snaplen is then a gap).
	named bool
}

// segWhy tells the kinds of retransmission apart for Segment.Reason.
type segWhy uint8

const (
	whyResent  segWhy = iota // bytes already received
	whyFast                  // sent again after duplicate ACKs
	whyFillGap               // fills a gap left by a segment not captured
	whyOldConn               // KindBeforeStart in a direction whose SYN was seen
)

// Reason says why the segment is what its Kind says, in words (empty for
// KindNew): "retransmission: bytes [0,5) already received in frame 4".
func (g *Segment) Reason() string {
	a, end := max(g.Seq-1, 0), g.Seq-1+int64(g.Len)
	switch g.Kind {
	case KindKeepAlive:
		return "keep-alive: sequence number one below the next expected byte; not data"
	case KindBeforeStart:
		if g.why == whyOldConn {
			return fmt.Sprintf("bytes before this connection's SYN (relative seq %d): a late packet of an earlier connection on the same ports", g.Seq)
		}
		return fmt.Sprintf("bytes before the first byte this capture saw in this direction (relative seq %d)", g.Seq)
	case KindZeroWindowProbe:
		return "zero-window probe: one byte sent while the receiver's window is zero"
	case KindRetransmission:
		switch g.why {
		case whyFast:
			return fmt.Sprintf("fast retransmission: bytes [%d,%d) sent again after %d duplicate ACKs", a, end, g.aux)
		case whyFillGap:
			return fmt.Sprintf("retransmission: bytes [%d,%d) fill a gap left by a segment not captured (sent again %s after later bytes)", a, end, human.Duration(time.Duration(g.aux)))
		}
		return fmt.Sprintf("retransmission: bytes [%d,%d) already received%s", a, end, inFrame(g.aux))
	case KindPartialRetransmission:
		return fmt.Sprintf("partial retransmission: %d of %d bytes already received%s; %d new", end-a-g.NewBytes, end-a, inFrame(g.aux), g.NewBytes)
	case KindOutOfOrder:
		return fmt.Sprintf("out-of-order: bytes [%d,%d) arrived %s after later bytes", a, end, human.Duration(time.Duration(g.aux)))
	}
	return ""
}

// noFrame is Segment.aux when the frame is not known.
const noFrame = math.MinInt64

func inFrame(f int64) string {
	if f == noFrame {
		return ""
	}
	return fmt.Sprintf(" in frame %d", f)
}

// Chunk says which frame supplied a run of delivered bytes. Chunks are in
// stream order; consecutive bytes from the same frame form one chunk.
type Chunk struct {
	Range ByteRange
	Frame int
	Data  int64 // offset of these bytes in Half.Data
}

// GapKind says why bytes are missing.
type GapKind uint8

const (
	GapLost    GapKind = iota // never captured (lost, or dropped by the capture)
	GapSnaplen                // sent and seen, but cut by the snapshot length
	GapBuffer                 // given up because the out-of-order buffer cap was reached
)

func (g GapKind) String() string {
	switch g {
	case GapSnaplen:
		return "snaplen"
	case GapBuffer:
		return "buffer_cap"
	}
	return "not_captured"
}

// Gap is a missing range of a direction's byte stream.
type Gap struct {
	Range ByteRange
	Kind  GapKind
}

// AnomalyKind names a thing worth pointing out about a stream.
type AnomalyKind uint8

const (
	AnomalyRetransmission AnomalyKind = iota
	AnomalyOutOfOrder
	AnomalyOverlapConflict
	AnomalyGap
	AnomalySnaplen
	AnomalyOversize
	AnomalyKeepAlive
	AnomalyZeroWindowProbe
	AnomalyBufferCap
	AnomalyBeforeStart
	AnomalyMalformed
)

func (a AnomalyKind) String() string {
	return [...]string{"retransmission", "out_of_order", "overlap_conflict", "gap", "snaplen", "oversize_segment",
		"keep_alive", "zero_window_probe", "buffer_cap", "before_capture_start", "malformed"}[a]
}

// Anomaly is one noteworthy event, with its reason in words.
type Anomaly struct {
	Dir    Direction
	Frame  int
	Kind   AnomalyKind
	Reason string
}

// Half is one direction of a stream.
type Half struct {
	Packets  int
	Bytes    int64 // unique payload bytes sent, counted by sequence number
	Missing  int64 // of Bytes, how many are absent from the capture
	Captured int64 // Bytes - Missing
	Wire     int64 // payload bytes on the wire, retransmissions included

	ISN       uint32 // raw initial sequence number (SYN seq, or first seq - 1 mid-stream)
	SYN       bool
	FIN       bool
	FINFrame  int
	RST       bool
	RSTFrame  int
	MSS       int // from the SYN options, 0 when not seen
	WScale    int // -1 when not seen
	Retrans   int // segments classified as (partial) retransmissions
	OutOfOrd  int
	Oversize  int // segments larger than the MSS (TSO/GRO capture artifact)
	Truncated int // segments cut by the snaplen

	// Kept only for streams that keep data (follow):
	Data     []byte       // reassembled captured bytes, gaps omitted; nil once spilled to disk (read them with DataAt)
	Chunks   Log[Chunk]   // which frame supplied which bytes, in stream order
	Gaps     []Gap        // missing ranges, in stream order
	Segments Log[Segment] // the segment map, in capture order
	End      int64        // stream length (offset after the last byte)

	spillOver int64      // Options.SpillOver, for a kept direction
	spill     *spillFile // the bytes, once they outgrew spillOver
}

// Stream is a TCP stream or UDP flow, as seen in the capture.
type Stream struct {
	ID            int // tcp.stream / udp.stream number, from 0 in order of first packet
	Proto         capture.Proto
	Client        netip.AddrPort
	Server        netip.AddrPort
	ClientGuessed bool   // no SYN: Client is a guess
	GuessReason   string // why that guess
	FirstFrame    int
	LastFrame     int
	Start, End    time.Time
	Dirs          [2]Half
	State         State
	Midstream     bool          // no SYN seen: the capture started after the connection opened
	HandshakeRTT  time.Duration // SYN to the ACK of the SYN-ACK (Wireshark's iRTT); 0 unknown
	SYNACKRTT     time.Duration // SYN to SYN-ACK
	SYNCount      int
	ClosedBy      Direction // who sent the first FIN (valid when State is Closed or HalfClosed)
	ResetBy       Direction // who sent the first RST (valid when State is Reset or Refused)
	ResetAfter    int64     // payload bytes (both ways) before the reset
	Anomalies     []Anomaly // the first MaxAnomalies, in capture order
	AnomalyCount  int       // all of them
	Evicted       string    // non-empty when the flow was flushed before the end of the capture, and why
	KeptData      bool
	// Resumed says this is a later part of a stream delivered before (a
	// late packet after the flow was flushed): merge it into the earlier
	// part (Merge); its counters hold only what came after the flush.
	Resumed bool
	// Path is the encapsulations the stream's first packet arrived in (VLAN
	// tags, MPLS labels, tunnels); nil when it came bare.
	Path *capture.Path
	// Dups is set when some of the stream's packets were captured twice,
	// through two paths (a mirror copy, or inside and outside a tunnel):
	// the second copies are counted there, not as retransmissions, and
	// not fed to the reassembler. nil when there were none.
	Dups      *PathDups
	guessCode uint8 // why the client was guessed (Summary.GuessReason)
	evictCode uint8 // why the flow was flushed early (Summary.Evicted)
	// Framing and Messages are filled in by a consumer that frames the
	// stream's bytes as they arrive (read --stats): the framing used and
	// the messages counted per direction.
	Framing  string
	Messages [2]int
	// Packets lists every packet of a kept stream, in capture order, with
	// relative numbers and annotations (for ladder diagrams).
	Packets   Log[PacketRecord]
	noPackets bool // Options.NoPackets
}

// Key returns the stream's flow key.
func (s *Stream) Key() FlowKey { return KeyOf(s.Client, s.Server) }

// Name returns "tcp/N" or "udp/N".
func (s *Stream) Name() string { return s.StreamID().String() }

// Duration is the time from the first to the last packet.
func (s *Stream) Duration() time.Duration { return s.End.Sub(s.Start) }

// Peer returns the endpoint that sends in direction d.
func (s *Stream) Peer(d Direction) netip.AddrPort {
	if d == ClientToServer {
		return s.Client
	}
	return s.Server
}

// Describe returns the state in plain words.
func (s *Stream) Describe() string {
	sm := s.Summary()
	return sm.Describe()
}

func (s *Stream) handshakeDone() bool { return s.HandshakeRTT > 0 }

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
