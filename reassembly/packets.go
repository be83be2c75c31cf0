package reassembly

import (
	"fmt"
	"slices"
	"time"

	"github.com/sockscope/sockscope/capture"
	"github.com/sockscope/sockscope/internal/human"
)

// PacketRecord is one packet of a kept stream as a ladder diagram shows it:
// every TCP packet (pure ACKs included) or UDP datagram, in capture order.
// A kept stream holds one per packet, so its annotations are held as facts
// and Notes writes their words.
type PacketRecord struct {
	Frame int
	Time  time.Time
	Seq   int64 // relative sequence number (Wireshark's tcp.seq)
	Ack   int64 // relative acknowledgement number (tcp.ack); 0 without ACK
	Len   int   // payload length (tcp.len / UDP payload)
	Win   int   // window field as sent (not scaled)
	// WinScaled is the window in bytes with the sender's window scale
	// applied, when the scale is known (-1 otherwise).
	WinScaled int64
	Opts      SYNOptions // options as parsed (shown on SYN and SYN-ACK)
	Flags     capture.TCPFlags
	notes     noteSet // the kinds of its notes
	mss       uint16  // NoteOversize: the MSS the receiver announced
	Dir       Direction
	Kind      Kind // classification of its payload (KindNew when none)
	// val is the index of its segment in the direction's segment map (a
	// packet with payload), or the duplicate ACKs so far (NoteDupAck).
	val int64
	// s is the stream whose segment map holds the facts of its segment's
	// notes (nil for a record made by hand).
	s *Stream
	// extra holds the notes written when the packet was recorded
	// (handshake, FIN, RST: a few per connection), then any added with
	// AddNote. The pointer keeps the common record, with none, small.
	extra *[]Note
}

// SYNOptions are the TCP options a SYN or SYN-ACK negotiates, as parsed
// (capture.TCPOptions without the timestamps' values and the SACK blocks,
// which no view shows).
type SYNOptions struct {
	MSS       uint16
	WScale    uint8
	HasMSS    bool
	HasWScale bool
	SACKPerm  bool
	HasTS     bool
}

func synOptions(o *capture.TCPOptions) SYNOptions {
	return SYNOptions{MSS: o.MSS, WScale: o.WScale, HasMSS: o.HasMSS, HasWScale: o.HasWScale, SACKPerm: o.SACKPerm, HasTS: o.HasTS}
}

// noteSet has bit k set for a note of NoteKind k.
type noteSet uint16

// noteKinds is the number of NoteKinds; a noteSet has a bit for each.
const noteKinds = int(NoteSimultaneousClose) + 1

const _ = noteSet(1 << (noteKinds - 1)) // does not compile past 16 kinds

func (n noteSet) has(k NoteKind) bool { return int(k) < noteKinds && n&(1<<k) != 0 }

// lazyNotes are the notes whose words Notes writes from the record's facts,
// in the order they are noted; the others (written when the packet is
// recorded, into extra) come after them.
var lazyNotes = [...]NoteKind{NoteRetransmission, NoteOutOfOrder, NoteKeepAlive, NoteZeroWindowProbe, NoteBeforeStart,
	NoteSnaplen, NoteOversize, NoteDupAck, NoteZeroWindow, NoteWindowUpdate}

// writtenNotes are the others, in the order they are noted.
var writtenNotes = [...]NoteKind{NoteHandshakeDone, NoteHalfClose, NoteSimultaneousClose, NoteCloseReply, NoteRefused, NoteReset}

// HasNote reports whether the packet has a note of kind k (without writing
// any words).
func (r *PacketRecord) HasNote(k NoteKind) bool {
	if r.notes.has(k) {
		return true
	}
	if r.extra != nil {
		for _, n := range *r.extra {
			if n.Kind == k {
				return true
			}
		}
	}
	return false
}

// Notes returns the packet's annotations in the order they were noted, with
// their words (written on each call). The notes of a stream that is not kept
// (the OnPacket hook's) carry their Kind only.
func (r *PacketRecord) Notes() []Note {
	if r.notes == 0 && r.extra == nil {
		return nil
	}
	texts := r.s != nil && r.s.KeptData
	var out []Note
	for _, k := range lazyNotes {
		if r.notes.has(k) {
			if texts {
				out = append(out, r.note(k))
			} else {
				out = append(out, Note{Kind: k})
			}
		}
	}
	if !texts {
		for _, k := range writtenNotes {
			if r.notes.has(k) {
				out = append(out, Note{Kind: k})
			}
		}
	}
	if r.extra != nil {
		out = append(out, *r.extra...)
	}
	return out
}

// AddNote adds n after the record's notes.
func (r *PacketRecord) AddNote(n Note) {
	var ns []Note
	if r.extra != nil {
		ns = slices.Clone(*r.extra) // a copy of the record may share them
	}
	ns = append(ns, n)
	r.extra = &ns
}

// segment returns the record's segment (a kept stream's packet with payload).
func (r *PacketRecord) segment() *Segment { return r.s.Dirs[r.Dir].Segments.At(int(r.val)) }

// note writes note k (one of lazyNotes) from the record's facts.
func (r *PacketRecord) note(k NoteKind) Note {
	who, other := sideName(r.Dir), sideName(r.Dir.Reverse())
	n := Note{Kind: k}
	switch k {
	case NoteRetransmission:
		seg := r.segment()
		n.Text = "retransmission"
		if seg.Kind == KindPartialRetransmission {
			n.Text = "partial retransmission"
		}
		if seg.named {
			n.Text += fmt.Sprintf(" of frame %d", seg.aux)
		}
		n.Detail = seg.Reason()
	case NoteOutOfOrder:
		n.Text, n.Detail = "out-of-order", r.segment().Reason()
	case NoteKeepAlive:
		n.Text, n.Detail = "keep-alive", r.segment().Reason()
	case NoteZeroWindowProbe:
		n.Text, n.Detail = "zero-window probe", r.segment().Reason()
	case NoteBeforeStart:
		n.Text, n.Detail = "before capture start", r.segment().Reason()
	case NoteSnaplen:
		seg := r.segment()
		n.Text = fmt.Sprintf("%d of %d B captured", seg.Captured, seg.Len)
		n.Detail = fmt.Sprintf("only %d of the %d payload bytes were captured: the frame was cut by the snapshot length", seg.Captured, seg.Len)
	case NoteOversize:
		n.Text = fmt.Sprintf("larger than MSS %d", r.mss)
		n.Detail = fmt.Sprintf("%d bytes is more than the MSS %d the %s announced: the capture saw it before segmentation offload (TSO/GSO) or after receive offload (GRO)", r.segment().Len, r.mss, other)
	case NoteDupAck:
		n.Text = fmt.Sprintf("duplicate ACK #%d", r.val)
		n.Detail = fmt.Sprintf("the %s repeats ack=%d (same number, same window, no data): %d duplicate%s so far", who, r.Ack, r.val, plural(int(r.val)))
	case NoteZeroWindow:
		n.Text, n.Detail = "zero window", fmt.Sprintf("the %s advertises a window of 0: its receive buffer is full, and the %s must stop sending new data", who, other)
	case NoteWindowUpdate:
		n.Text, n.Detail = "window update", fmt.Sprintf("the %s's window opens again after being zero: the %s may send again", who, other)
	}
	return n
}

// NoteKind names an annotation on a packet.
type NoteKind uint8

const (
	NoteHandshakeDone NoteKind = iota // the ACK completing the 3-way handshake (with its RTT)
	NoteRetransmission
	NoteOutOfOrder
	NoteDupAck
	NoteZeroWindow
	NoteWindowUpdate
	NoteKeepAlive
	NoteZeroWindowProbe
	NoteHalfClose   // first FIN of the connection
	NoteCloseReply  // the second FIN
	NoteReset       // RST
	NoteRefused     // RST answering a SYN
	NoteSnaplen     // payload cut by the snapshot length
	NoteOversize    // larger than the MSS (offload)
	NoteBeforeStart // bytes before the capture's first byte
	// NoteSimultaneousClose marks a second FIN that does not acknowledge the
	// first one: its sender closed before the other side's FIN reached it.
	NoteSimultaneousClose
)

// Note is one annotation: Text is short enough for the margin of a ladder
// diagram ("retransmission of frame 5"); Detail, when set, says the same in
// full ("retransmission: bytes [100,200) already received in frame 5").
type Note struct {
	Kind   NoteKind
	Text   string
	Detail string
}

// recordPacket appends the packet record of a kept TCP stream. seg is the
// payload classification (nil when the packet carried no payload); newFIN and
// newRST say the packet carries its direction's first FIN / RST.
//
// Relative numbers follow Wireshark: a direction's sequence numbers count from
// its SYN (or, with no SYN, from one below its first packet's), and an ACK
// number is relative to the other direction's base; before the other direction
// sent anything it is shown as 1 (the acknowledged side's base is then one
// below it, as Wireshark sets it).
//
// The record is built in scratch (owned by the tracker, reused for every
// packet, as is written, for the notes written now), so the per-packet path
// allocates nothing. Most notes are facts (their kind, a number, the
// segment) that Notes words; the few a connection has at its handshake, FIN
// and RST are written now, for a kept stream only: the hook alone gets their
// kinds.
func (c *conn) recordPacket(p *capture.Packet, d Direction, seg *Segment, newFIN, newRST bool, onPacket func(*Stream, *PacketRecord), scratch *PacketRecord, written *[]Note) {
	s := c.s
	hs := &c.hs[d]
	*scratch = PacketRecord{Frame: p.Frame, Time: p.Time, Dir: d, Flags: p.Flags, Seq: hs.rel(p.Seq), Len: p.PayloadLen,
		Win: int(p.Window), WinScaled: -1, Opts: synOptions(&p.Opts), s: s}
	r := scratch
	text := s.KeptData // write the notes written now (else kinds only)
	*written = (*written)[:0]
	if p.Flags.Has(capture.ACK) {
		if rev := &c.hs[d.Reverse()]; rev.baseSet {
			r.Ack = rev.rel(p.Ack)
		} else {
			r.Ack = 1
		}
	}
	h := &s.Dirs[d]
	if p.Flags.Has(capture.SYN) {
		r.WinScaled = int64(p.Window) // the window on a SYN is never scaled
	} else if h.WScale >= 0 && s.Dirs[d.Reverse()].WScale >= 0 {
		r.WinScaled = int64(p.Window) << h.WScale
	} else if h.SYN || s.Dirs[d.Reverse()].SYN {
		r.WinScaled = int64(p.Window) // scaling not negotiated
	}
	who, other := sideName(d), sideName(d.Reverse())
	// note records a note of kind k and returns whether the caller is to
	// write it (one written now, on a kept stream).
	note := func(k NoteKind) bool {
		r.notes |= 1 << k
		return text
	}
	add := func(k NoteKind, t, detail string) {
		*written = append(*written, Note{Kind: k, Text: t, Detail: detail})
	}
	if seg != nil {
		r.Kind = seg.Kind
		if text {
			r.val = int64(h.Segments.Len() - 1) // recorded by the segment's processing
		}
		switch seg.Kind {
		case KindRetransmission, KindPartialRetransmission:
			// The note names the frame that first supplied the segment's
			// first byte, when one still holds it: the frame its reason
			// names, if any.
			if note(NoteRetransmission) {
				if f := c.firstFrame(d, seg.Seq-1); f > 0 && f != p.Frame {
					h.Segments.At(int(r.val)).named = true
				}
			}
		case KindOutOfOrder:
			note(NoteOutOfOrder)
		case KindKeepAlive:
			note(NoteKeepAlive)
		case KindZeroWindowProbe:
			note(NoteZeroWindowProbe)
		case KindBeforeStart:
			note(NoteBeforeStart)
		}
		if seg.Captured < seg.Len {
			note(NoteSnaplen)
		}
		if hs.peerMSS > 0 && seg.Len > hs.peerMSS {
			note(NoteOversize)
			r.mss = uint16(hs.peerMSS)
		}
	}
	if hs.dupAcks > 0 && p.PayloadLen == 0 && p.Flags&(capture.SYN|capture.FIN|capture.RST) == 0 && hs.lastAck == p.Ack {
		note(NoteDupAck)
		r.val = int64(hs.dupAcks)
	}
	if !p.Flags.Has(capture.RST) && !p.Flags.Has(capture.SYN) {
		if p.Window == 0 && !c.recZero[d] {
			note(NoteZeroWindow)
		} else if p.Window != 0 && c.recZero[d] {
			note(NoteWindowUpdate)
		}
		c.recZero[d] = p.Window == 0
	}
	if p.Flags.Has(capture.ACK) && !p.Flags.Has(capture.SYN) && d == ClientToServer && s.HandshakeRTT > 0 && !c.recHS {
		c.recHS = true
		if note(NoteHandshakeDone) {
			add(NoteHandshakeDone, "handshake complete, RTT "+human.Duration(s.HandshakeRTT),
				"the ACK of the SYN-ACK completes the three-way handshake, "+human.Duration(s.HandshakeRTT)+" after the SYN")
		}
	}
	if p.Flags.Has(capture.FIN) && newFIN {
		switch rev := &c.hs[d.Reverse()]; {
		case !c.finNoted:
			if note(NoteHalfClose) {
				add(NoteHalfClose, who+" closes first (FIN)", "the "+who+" has finished sending; the "+other+" may still send (half-close)")
			}
		case p.Flags.Has(capture.ACK) && rev.finOff >= 0 && rev.rel(p.Ack) <= rev.finOff+1:
			if note(NoteSimultaneousClose) {
				add(NoteSimultaneousClose, "simultaneous close",
					fmt.Sprintf("this FIN does not acknowledge the %s's FIN (ack=%d, the FIN is seq %d): the %s closed before that FIN reached it", other, r.Ack, rev.finOff+1, who))
			}
		default:
			if note(NoteCloseReply) {
				add(NoteCloseReply, who+" closes too (FIN)", "the "+who+" has finished sending too: both directions are closed once this FIN is acknowledged")
			}
		}
		c.finNoted = true
	}
	if p.Flags.Has(capture.RST) && newRST {
		if !c.synAckSeen && d == ServerToClient && s.Dirs[ClientToServer].SYN {
			if note(NoteRefused) {
				add(NoteRefused, "connection refused", fmt.Sprintf("RST answering the SYN: nothing accepts connections on port %d", s.Server.Port()))
			}
		} else if note(NoteReset) {
			add(NoteReset, "reset by "+who, fmt.Sprintf("RST: the %s aborts the connection after %s", who, human.Bytes(c.hs[0].highest+c.hs[1].highest)))
		}
	}
	if len(*written) > 0 {
		r.extra = written
	}
	if s.KeptData && !s.noPackets {
		kept := *r
		if r.extra != nil {
			ns := slices.Clone(*written)
			kept.extra = &ns
		}
		s.Packets.Append(kept)
	}
	if onPacket != nil {
		onPacket(s, r)
	}
}

// firstFrame returns the frame that first supplied byte offset off of
// direction d (0 when unknown).
func (c *conn) firstFrame(d Direction, off int64) int {
	h := &c.s.Dirs[d]
	if i := h.ChunkAt(off); i < h.Chunks.Len() && h.Chunks.At(i).Range.Start <= off {
		return h.Chunks.At(i).Frame
	}
	for _, as := range c.hs[d].ahead {
		if as.r.Start <= off && off < as.r.End {
			return as.frame
		}
	}
	return 0
}

func sideName(d Direction) string {
	if d == ServerToClient {
		return "server"
	}
	return "client"
}
