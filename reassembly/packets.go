package reassembly

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/sockscope/sockscope/capture"
)

// PacketRecord is one packet of a kept stream as a ladder diagram shows it:
// every TCP packet (pure ACKs included) or UDP datagram, in capture order.
type PacketRecord struct {
	Frame int
	Time  time.Time
	Dir   Direction
	Flags capture.TCPFlags
	Seq   int64 // relative sequence number (Wireshark's tcp.seq)
	Ack   int64 // relative acknowledgement number (tcp.ack); 0 without ACK
	Len   int   // payload length (tcp.len / UDP payload)
	Win   int   // window field as sent (not scaled)
	// WinScaled is the window in bytes with the sender's window scale
	// applied, when the scale is known (-1 otherwise).
	WinScaled int64
	Opts      capture.TCPOptions // options as parsed (shown on SYN and SYN-ACK)
	Kind      Kind               // classification of its payload (KindNew when none)
	Notes     []Note             // annotations in capture order
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
// packet, so the per-packet path allocates nothing). Note texts are written
// only for a kept stream, whose records are stored for the views; the hook
// alone gets notes with their Kind set and Text and Detail empty.
func (c *conn) recordPacket(p *capture.Packet, d Direction, seg *Segment, newFIN, newRST bool, onPacket func(*Stream, *PacketRecord), scratch *PacketRecord) {
	s := c.s
	hs := &c.hs[d]
	*scratch = PacketRecord{Frame: p.Frame, Time: p.Time, Dir: d, Flags: p.Flags, Seq: hs.rel(p.Seq), Len: p.PayloadLen,
		Win: int(p.Window), WinScaled: -1, Opts: p.Opts, Notes: scratch.Notes[:0]}
	r := scratch
	text := s.KeptData // write note texts (else kinds only)
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
	add := func(k NoteKind, t, detail string) {
		r.Notes = append(r.Notes, Note{Kind: k, Text: t, Detail: detail})
	}
	// note records a note of kind k without texts and returns false, or
	// returns true when the caller is to add it with its texts.
	note := func(k NoteKind) bool {
		if !text {
			add(k, "", "")
		}
		return text
	}
	if seg != nil {
		r.Kind = seg.Kind
		switch seg.Kind {
		case KindRetransmission, KindPartialRetransmission:
			if note(NoteRetransmission) {
				t := "retransmission"
				if seg.Kind == KindPartialRetransmission {
					t = "partial retransmission"
				}
				if f := c.firstFrame(d, seg.Seq-1); f > 0 && f != p.Frame {
					t += fmt.Sprintf(" of frame %d", f)
				}
				add(NoteRetransmission, t, seg.Reason)
			}
		case KindOutOfOrder:
			if note(NoteOutOfOrder) {
				add(NoteOutOfOrder, "out-of-order", seg.Reason)
			}
		case KindKeepAlive:
			if note(NoteKeepAlive) {
				add(NoteKeepAlive, "keep-alive", seg.Reason)
			}
		case KindZeroWindowProbe:
			if note(NoteZeroWindowProbe) {
				add(NoteZeroWindowProbe, "zero-window probe", seg.Reason)
			}
		case KindBeforeStart:
			if note(NoteBeforeStart) {
				add(NoteBeforeStart, "before capture start", seg.Reason)
			}
		}
		if seg.Captured < seg.Len && note(NoteSnaplen) {
			add(NoteSnaplen, fmt.Sprintf("%d of %d B captured", seg.Captured, seg.Len),
				fmt.Sprintf("only %d of the %d payload bytes were captured: the frame was cut by the snapshot length", seg.Captured, seg.Len))
		}
		if hs.peerMSS > 0 && seg.Len > hs.peerMSS && note(NoteOversize) {
			add(NoteOversize, fmt.Sprintf("larger than MSS %d", hs.peerMSS),
				fmt.Sprintf("%d bytes is more than the MSS %d the %s announced: the capture saw it before segmentation offload (TSO/GSO) or after receive offload (GRO)", seg.Len, hs.peerMSS, other))
		}
	}
	if hs.dupAcks > 0 && p.PayloadLen == 0 && p.Flags&(capture.SYN|capture.FIN|capture.RST) == 0 && hs.lastAck == p.Ack && note(NoteDupAck) {
		add(NoteDupAck, fmt.Sprintf("duplicate ACK #%d", hs.dupAcks),
			fmt.Sprintf("the %s repeats ack=%d (same number, same window, no data): %d duplicate%s so far", who, r.Ack, hs.dupAcks, plural(hs.dupAcks)))
	}
	if !p.Flags.Has(capture.RST) && !p.Flags.Has(capture.SYN) {
		if p.Window == 0 && !c.recZero[d] {
			if note(NoteZeroWindow) {
				add(NoteZeroWindow, "zero window", fmt.Sprintf("the %s advertises a window of 0: its receive buffer is full, and the %s must stop sending new data", who, other))
			}
		} else if p.Window != 0 && c.recZero[d] {
			if note(NoteWindowUpdate) {
				add(NoteWindowUpdate, "window update", fmt.Sprintf("the %s's window opens again after being zero: the %s may send again", who, other))
			}
		}
		c.recZero[d] = p.Window == 0
	}
	if p.Flags.Has(capture.ACK) && !p.Flags.Has(capture.SYN) && d == ClientToServer && s.HandshakeRTT > 0 && !c.recHS {
		c.recHS = true
		if note(NoteHandshakeDone) {
			add(NoteHandshakeDone, "handshake complete, RTT "+fmtDur(s.HandshakeRTT),
				"the ACK of the SYN-ACK completes the three-way handshake, "+fmtDur(s.HandshakeRTT)+" after the SYN")
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
			add(NoteReset, "reset by "+who, fmt.Sprintf("RST: the %s aborts the connection after %s", who, HumanBytes(c.hs[0].highest+c.hs[1].highest)))
		}
	}
	if s.KeptData {
		kept := *r
		kept.Notes = slices.Clip(slices.Clone(r.Notes))
		if len(kept.Notes) == 0 {
			kept.Notes = nil
		}
		s.Packets = append(s.Packets, kept)
	}
	if onPacket != nil {
		onPacket(s, r)
	}
}

// firstFrame returns the frame that first supplied byte offset off of
// direction d (0 when unknown).
func (c *conn) firstFrame(d Direction, off int64) int {
	ch := c.s.Dirs[d].Chunks
	i := sort.Search(len(ch), func(i int) bool { return ch[i].Range.End > off })
	if i < len(ch) && ch[i].Range.Start <= off {
		return ch[i].Frame
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
