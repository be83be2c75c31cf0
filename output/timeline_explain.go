package output

import (
	"fmt"
	"strings"

	"github.com/sockscope/sockscope/capture"
	"github.com/sockscope/sockscope/internal/human"
	"github.com/sockscope/sockscope/reassembly"
)

// explainer writes the plain-language notes of --explain. Every sentence is
// derived from the packet records (in capture order) and the stream's final
// state: what a note says is what the packets show. General background (what
// a SYN is for) is given the first time a concept appears.
type explainer struct {
	s            *reassembly.Stream
	told         map[string]bool            // concepts already explained
	syns         int                        // SYNs seen so far
	synTime      reassembly.PacketRecord    // the first SYN
	finSeq       [2]int64                   // relative seq of each direction's FIN, -1 before it
	finAckd      [2]bool                    // that FIN has been acknowledged
	lastAck      [2]int64                   // highest ACK each direction sent, -1 before any
	dupAsk       [2]int64                   // ack number of the latest duplicate ACK each direction sent, -1 none
	sent         [2]int64                   // highest seq+len sent with data per direction
	win          [2]int64                   // last window each direction advertised (bytes), -1 before any
	simultaneous bool                       // the second FIN did not acknowledge the first
	dgrams       [2]int                     // UDP datagrams per direction
	segs         [2]int                     // TCP segments with data per direction (retransmissions included)
	seen         [2]bool                    // the direction has sent a packet
	prev         *reassembly.PacketRecord   // previous packet record
	recs         []*reassembly.PacketRecord // records so far
}

func newExplainer(s *reassembly.Stream) *explainer {
	return &explainer{s: s, told: map[string]bool{}, finSeq: [2]int64{-1, -1}, lastAck: [2]int64{-1, -1}, dupAsk: [2]int64{-1, -1}, win: [2]int64{-1, -1}}
}

func side(d reassembly.Direction) string {
	if d == reassembly.ServerToClient {
		return "server"
	}
	return "client"
}

// once reports whether concept k is new (and marks it told).
func (e *explainer) once(k string) bool {
	if e.told[k] {
		return false
	}
	e.told[k] = true
	return true
}

func hasNote(r *reassembly.PacketRecord, k reassembly.NoteKind) (reassembly.Note, bool) {
	for _, n := range r.Notes() {
		if n.Kind == k {
			return n, true
		}
	}
	return reassembly.Note{}, false
}

func bytesWord(n int64) string {
	if n == 1 {
		return "1 byte"
	}
	return fmt.Sprintf("%d bytes", n)
}

// step returns the note for one packet (records must come in order).
func (e *explainer) step(r *reassembly.PacketRecord) string {
	defer func() {
		e.seen[r.Dir] = true
		e.prev = r
		e.recs = append(e.recs, r)
	}()
	if e.s.Proto == capture.ProtoUDP {
		return e.udp(r)
	}
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	d := r.Dir
	who, other := side(d), side(d.Reverse())
	f := r.Flags
	if len(e.recs) == 0 && e.s.Midstream {
		add("The capture starts in the middle of this connection (no SYN), so sequence numbers count from the first packet seen each way, and which side is the client is a guess (%s).", e.s.GuessReason)
	}
	ackAdvanced := f.Has(capture.ACK) && r.Ack > e.lastAck[d]
	switch {
	case f.Has(capture.RST):
		e.rst(r, add)
	case f.Has(capture.SYN) && !f.Has(capture.ACK):
		e.syns++
		if e.syns == 1 {
			e.synTime = *r
			add("SYN: the %s asks to open a connection to port %d and picks its initial sequence number (shown as seq=0: like Wireshark, sockscope counts sequence numbers from it).", who, e.s.Server.Port())
			if o := optionWords(r.Opts); o != "" {
				add("It announces %s.", o)
			}
			if e.once("win") {
				add("win=%d is its receive window: the %s may send it up to %s before waiting for an acknowledgement.", r.Win, other, bytesWord(int64(r.Win)))
			}
		} else {
			add("SYN again (attempt %d), %s after the first: no answer had arrived, so the %s retries.", e.syns, human.Duration(r.Time.Sub(e.synTime.Time)), who)
		}
	case f.Has(capture.SYN | capture.ACK):
		add("SYN-ACK: the %s accepts. It acknowledges the %s's SYN (ack=%d: a SYN counts as one sequence number, so the next byte expected is %d) and picks its own initial sequence number.", who, other, r.Ack, r.Ack)
		if o := optionWords(r.Opts); o != "" {
			add("It announces %s.", o)
		}
		if e.s.SYNACKRTT > 0 && e.syns > 0 {
			add("It arrives %s after the SYN.", human.Duration(r.Time.Sub(e.synTime.Time)))
		}
		ws := [2]int{e.s.Dirs[0].WScale, e.s.Dirs[1].WScale}
		switch {
		case ws[0] >= 0 && ws[1] >= 0:
			add("Both sides offered window scaling, so from now on the window field is multiplied (client ×%d, server ×%d); the ladder shows windows in bytes.", 1<<ws[0], 1<<ws[1])
		case ws[0] >= 0 || ws[1] >= 0:
			add("Only one side offered window scaling, so it is not used: windows are the plain field value.")
		}
	default:
		e.other(r, add, ackAdvanced)
	}
	if f.Has(capture.ACK) && r.Ack > e.lastAck[d] {
		e.lastAck[d] = r.Ack
	}
	if !f.Has(capture.SYN) && !f.Has(capture.RST) {
		e.win[d] = winBytes(r)
	}
	if f.Has(capture.ACK) {
		o := d.Reverse()
		if e.finSeq[o] >= 0 && r.Ack > e.finSeq[o] {
			e.finAckd[o] = true
		}
	}
	return joinSentences(out)
}

// rst explains a reset.
func (e *explainer) rst(r *reassembly.PacketRecord, add func(string, ...any)) {
	who, other := side(r.Dir), side(r.Dir.Reverse())
	if _, ok := hasNote(r, reassembly.NoteRefused); ok {
		add("RST: the server's host answers the SYN with a reset: nothing accepts connections on port %d (no program listens there, or a firewall rejects them), so the server's kernel refuses. No connection was made; the client's connect() fails with \"connection refused\".", e.s.Server.Port())
		return
	}
	if _, ok := hasNote(r, reassembly.NoteReset); !ok {
		add("RST again: the %s resets once more.", who)
		return
	}
	if e.s.HandshakeRTT == 0 && e.s.Dirs[reassembly.ClientToServer].SYN && r.Dir == reassembly.ClientToServer && e.seen[reassembly.ServerToClient] {
		add("RST: the client answers the SYN-ACK with a reset instead of the ACK that would complete the handshake, so the connection never opens. Port scanners do this (a SYN scan): the SYN-ACK already told them the port is open.")
		return
	}
	data := e.sent[0] + e.sent[1]
	add("RST: the %s aborts the connection", who)
	if data > 0 {
		out := fmt.Sprintf(" after %s of data", bytesWord(data))
		addLast(add, out)
	}
	if e.finSeq[r.Dir] >= 0 {
		addLast(add, ", after having closed its own side")
	}
	addLast(add, ".")
	add("Unlike a FIN, a reset waits for nothing: data still in flight or unread is thrown away, and the %s's next read or write fails with \"connection reset by peer\".", other)
}

// addLast continues the previous sentence with s (joinSentences glues a
// NUL-prefixed part to the one before it).
func addLast(add func(string, ...any), s string) { add("\x00%s", s) }

// other explains a packet without SYN or RST: data, ACK, FIN.
func (e *explainer) other(r *reassembly.PacketRecord, add func(string, ...any), ackAdvanced bool) {
	d := r.Dir
	who, other := side(d), side(d.Reverse())
	f := r.Flags
	if _, ok := hasNote(r, reassembly.NoteHandshakeDone); ok {
		add("ACK: the client acknowledges the server's SYN (ack=%d). The three-way handshake is complete, %s after the SYN (the round-trip time as seen where the capture was taken): both sides may now send data.", r.Ack, human.Duration(e.s.HandshakeRTT))
		ackAdvanced = false
	}
	if r.Len > 0 {
		e.data(r, add)
	}
	if f.Has(capture.FIN) {
		e.fin(r, add)
	}
	o := d.Reverse()
	if ackAdvanced && r.Len == 0 && !f.Has(capture.FIN) {
		switch {
		case e.finSeq[o] >= 0 && r.Ack > e.finSeq[o]:
			add("ACK: the %s acknowledges the %s's FIN (ack=%d).", who, other, r.Ack)
			if e.finSeq[d] >= 0 && e.finAckd[d] || e.finSeq[d] >= 0 && e.lastAck[o] > e.finSeq[d] {
				if e.simultaneous {
					add("Both FINs are now acknowledged: the connection is closed. After a simultaneous close both sides keep it in TIME-WAIT for a while, so that late packets are not mistaken for a new connection.")
				} else {
					add("Both FINs are now acknowledged: the connection is closed. The side that sent the first FIN (the %s) keeps it in TIME-WAIT for a while, so that late packets are not mistaken for a new connection.", side(e.s.ClosedBy))
				}
			}
		default:
			add("ACK: the %s confirms it has received the %s's bytes up to seq %d (ack=%d is the next byte it expects).", who, other, r.Ack-1, r.Ack)
		}
	} else if f.Has(capture.ACK) && r.Len == 0 && !f.Has(capture.FIN) && len(r.Notes()) == 0 && !ackAdvanced {
		if e.prev != nil && e.prev.Dir == d && r.Win != e.prev.Win {
			add("ACK: ack=%d is unchanged; the %s only changes its window to %d.", r.Ack, who, winBytes(r))
		} else {
			add("ACK: ack=%d, nothing new to acknowledge.", r.Ack)
		}
	}
	if prev := e.win[d]; prev >= 0 && ackAdvanced && r.Len == 0 && !f.Has(capture.FIN) && winBytes(r) < prev && winBytes(r) > 0 {
		add("Its window drops to %d: only that much room is left in its receive buffer.", winBytes(r))
	}
	if n, ok := hasNote(r, reassembly.NoteDupAck); ok {
		if e.dupAsk[d] == r.Ack {
			add("Duplicate ACK (%s): still ack=%d.", strings.TrimPrefix(n.Text, "duplicate ACK "), r.Ack)
		} else {
			add("Duplicate ACK (%s): the %s repeats ack=%d with no new data and the same window. It is still waiting for seq %d, which usually means later bytes arrived but seq %d did not.", strings.TrimPrefix(n.Text, "duplicate ACK "), who, r.Ack, r.Ack, r.Ack)
		}
		if e.once("fastretx") {
			add("After three duplicates a sender resends the missing bytes at once, without waiting for its timer (fast retransmit).")
		}
		e.dupAsk[d] = r.Ack
		ackAdvanced = false
	}
	if _, ok := hasNote(r, reassembly.NoteZeroWindow); ok {
		add("Zero window: the %s advertises win=0: its receive buffer is full because its application has not read the data yet, so the %s must stop sending new data until the window opens.", who, other)
	}
	if _, ok := hasNote(r, reassembly.NoteWindowUpdate); ok {
		add("Window update: the %s advertises win=%d again: there is room in its receive buffer, so the %s may resume sending.", who, winBytes(r), other)
	}
}

func winBytes(r *reassembly.PacketRecord) int64 {
	if r.WinScaled >= 0 {
		return r.WinScaled
	}
	return int64(r.Win)
}

// data explains a segment with payload.
func (e *explainer) data(r *reassembly.PacketRecord, add func(string, ...any)) {
	d := r.Dir
	who, other := side(d), side(d.Reverse())
	end := r.Seq + int64(r.Len)
	e.segs[d]++
	switch r.Kind {
	case reassembly.KindRetransmission, reassembly.KindPartialRetransmission:
		n, _ := hasNote(r, reassembly.NoteRetransmission)
		if r.Kind == reassembly.KindPartialRetransmission {
			add("Partial retransmission: the %s sends seq %d–%d, part of which it had sent before (%s).", who, r.Seq, end-1, n.Detail)
		} else {
			add("Retransmission: the %s sends seq %d–%d (%s) again", who, r.Seq, end-1, bytesWord(int64(r.Len)))
			if first := firstFrameIn(n.Text); first != "" {
				addLast(add, "; the first copy is frame "+first)
			}
			addLast(add, ".")
		}
		switch {
		case e.dupAsk[d.Reverse()] == r.Seq:
			add("The %s's duplicate ACKs asked for exactly seq %d, so the first copy had not reached it: it was lost (or delayed) after the point where this capture was taken.", other, r.Seq)
		case e.lastAck[d.Reverse()] >= end:
			add("The %s had already acknowledged these bytes (ack=%d), so this copy was not needed (a spurious retransmission).", other, e.lastAck[d.Reverse()])
		default:
			add("No acknowledgement of these bytes was captured before it, so the %s's retransmission timer ran out.", who)
		}
	case reassembly.KindOutOfOrder:
		n, _ := hasNote(r, reassembly.NoteOutOfOrder)
		add("Out of order: %s. TCP puts the bytes back in order before the application sees them.", n.Detail)
	case reassembly.KindKeepAlive:
		add("Keep-alive: the %s sends a segment one byte below what the %s already acknowledged, to check that the connection is still alive; it carries no new data.", who, other)
	case reassembly.KindZeroWindowProbe:
		add("Zero-window probe: the %s sends a single byte into the %s's zero window to learn when it opens again.", who, other)
	case reassembly.KindBeforeStart:
		add("These bytes come from before the first byte this capture saw in this direction.")
	default:
		add("Data: the %s sends %s (seq %d–%d of its stream).", who, bytesWord(int64(r.Len)), r.Seq, end-1)
		if e.once("seq") {
			add("seq is the number of the first byte; the %s will acknowledge them with ack=%d.", other, end)
		}
		if r.Flags.Has(capture.PSH) && e.once("psh") {
			add("PSH asks the receiver to hand the data to its application now.")
		}
	}
	if r.Flags.Has(capture.ACK) && r.Ack > e.lastAck[d] && e.lastAck[d] >= 0 {
		o := d.Reverse()
		if e.finSeq[o] >= 0 && r.Ack > e.finSeq[o] {
			add("It also acknowledges the %s's FIN (ack=%d).", other, r.Ack)
		} else {
			add("It also acknowledges the %s's bytes up to seq %d (ack=%d).", other, r.Ack-1, r.Ack)
		}
	}
	if o := d.Reverse(); e.finSeq[o] >= 0 && e.finSeq[d] < 0 && e.once("halfopen") {
		add("The %s has already sent its FIN, yet the %s still sends: a FIN closes only its sender's direction (a half-close).", other, who)
	}
	e.sent[d] = max(e.sent[d], end-1)
}

// fin explains a FIN.
func (e *explainer) fin(r *reassembly.PacketRecord, add func(string, ...any)) {
	d := r.Dir
	who, other := side(d), side(d.Reverse())
	o := d.Reverse()
	finSeq := r.Seq + int64(r.Len)
	again := e.finSeq[d] >= 0
	if !again {
		e.finSeq[d] = finSeq
	}
	switch {
	case again:
		add("FIN again: the %s sends its FIN once more (the first was not acknowledged in time).", who)
	case e.finSeq[o] < 0:
		add("FIN: the %s has finished sending (its application closed the socket or shut down writing). The %s may still send: the connection is half-closed until the %s closes too.", who, other, other)
	default:
		if _, ok := hasNote(r, reassembly.NoteSimultaneousClose); ok {
			e.simultaneous = true
			add("FIN: the %s closes too, but its ack=%d does not cover the %s's FIN (seq %d): it sent this FIN before the %s's FIN reached it. Both sides closed at the same time: a simultaneous close.", who, r.Ack, other, e.finSeq[o], other)
		} else if r.Flags.Has(capture.ACK) && r.Ack > e.finSeq[o] {
			add("FIN: the %s has finished sending too, and acknowledges the %s's FIN (ack=%d). Once this FIN is acknowledged, the connection is closed both ways.", who, other, r.Ack)
		} else {
			add("FIN: the %s has finished sending too. Once both FINs are acknowledged, the connection is closed both ways.", who)
		}
	}
}

// udp explains a datagram.
func (e *explainer) udp(r *reassembly.PacketRecord) string {
	d := r.Dir
	e.dgrams[d]++
	who := side(d)
	if e.s.Dirs[reassembly.ServerToClient].Packets == 0 {
		who = "sender"
	}
	if e.once("udp") {
		return fmt.Sprintf("Datagram: the %s sends %s in one UDP datagram. UDP has no handshake and no acknowledgements: a datagram is delivered whole, with its boundaries, or not at all, and only an answer from the application shows that it arrived.", who, bytesWord(int64(r.Len)))
	}
	return fmt.Sprintf("Datagram %d from the %s: %s, a message of its own.", e.dgrams[d], who, bytesWord(int64(r.Len)))
}

// optionWords describes the SYN options in words.
func optionWords(o reassembly.SYNOptions) string {
	var w []string
	if o.HasMSS {
		w = append(w, fmt.Sprintf("MSS %d (the largest segment payload it wants to receive)", o.MSS))
	}
	if o.HasWScale {
		w = append(w, fmt.Sprintf("window scale %d (its window field counts in units of %d bytes if both sides agree)", o.WScale, 1<<min(o.WScale, 14)))
	}
	if o.SACKPerm {
		w = append(w, "SACK permitted (it can acknowledge blocks beyond a hole)")
	}
	if o.HasTS {
		w = append(w, "timestamps (for measuring round trips and detecting old segments)")
	}
	switch len(w) {
	case 0:
		return ""
	case 1:
		return w[0]
	}
	return strings.Join(w[:len(w)-1], ", ") + " and " + w[len(w)-1]
}

// firstFrameIn extracts N from "retransmission of frame N".
func firstFrameIn(text string) string {
	if i := strings.LastIndex(text, "of frame "); i >= 0 {
		return text[i+len("of frame "):]
	}
	return ""
}

// summary is the closing paragraph about the connection's life.
func (e *explainer) summary() string {
	s := e.s
	c, sv := s.Client.String(), s.Server.String()
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	n := s.Packets.Len()
	if s.Proto == capture.ProtoUDP {
		who := "client"
		if s.Dirs[1].Packets == 0 {
			who = "sender"
		}
		add("In short: %d datagram%s between %s and %s over %s.", n, plural(n), c, sv, human.Duration(s.Duration()))
		add("The %s sent %d (%s)", who, s.Dirs[0].Packets, bytesWord(s.Dirs[0].Bytes))
		if s.Dirs[1].Packets > 0 {
			addLast(add, fmt.Sprintf(" and the server %d (%s)", s.Dirs[1].Packets, bytesWord(s.Dirs[1].Bytes)))
		}
		addLast(add, ": each was sent as a message of its own, its boundaries kept (a receiver gets it whole or not at all), with no handshake, acknowledgement or close.")
		return joinSentences(out)
	}
	switch {
	case s.State == reassembly.StateRefused:
		add("In short: the client %s tried to connect to %s and was refused: the SYN was answered by a reset, so no connection was made and no data was sent.", c, sv)
	case s.State == reassembly.StateNoAnswer:
		add("In short: the client %s sent %d SYN%s to %s and got no answer in this capture.", c, s.SYNCount, plural(s.SYNCount), sv)
	case s.Midstream:
		add("In short: this capture joins the connection between %s and %s after it opened.", c, sv)
	case s.HandshakeRTT > 0:
		add("In short: the client %s opened a connection to %s (handshake %s).", c, sv, human.Duration(s.HandshakeRTT))
	default:
		add("In short: the client %s started a connection to %s, but the handshake did not complete.", c, sv)
	}
	if s.State != reassembly.StateRefused && s.State != reassembly.StateNoAnswer {
		cs, sc := &s.Dirs[0], &s.Dirs[1]
		sent := func(d reassembly.Direction) string {
			if s.Dirs[d].Bytes == 0 {
				return "the " + side(d) + " sent no data"
			}
			return fmt.Sprintf("the %s sent %s in %d segment%s", side(d), bytesWord(s.Dirs[d].Bytes), e.segs[d], plural(e.segs[d]))
		}
		if cs.Bytes+sc.Bytes == 0 {
			add("No data was sent either way.")
		} else {
			add("%s; %s.", upperFirst(sent(0)), sent(1))
		}
		if cs.Retrans+sc.Retrans > 0 {
			add("%d segment%s had to be retransmitted.", cs.Retrans+sc.Retrans, plural(cs.Retrans+sc.Retrans))
		}
		switch s.State {
		case reassembly.StateClosed:
			first, then := s.ClosedBy, s.ClosedBy.Reverse()
			add("The %s closed first (FIN in frame %d), then the %s (frame %d)", side(first), s.Dirs[first].FINFrame, side(then), s.Dirs[then].FINFrame)
			if e.simultaneous {
				addLast(add, ", before the first FIN reached it: a simultaneous close")
			}
			addLast(add, ".")
		case reassembly.StateHalfClosed:
			add("The %s closed its side (FIN in frame %d); the %s had not closed by the end of the capture, so the connection was still half-closed.", side(s.ClosedBy), s.Dirs[s.ClosedBy].FINFrame, side(s.ClosedBy.Reverse()))
		case reassembly.StateReset:
			add("The %s ended it with a reset (frame %d) instead of a FIN exchange.", side(s.ResetBy), s.Dirs[s.ResetBy].RSTFrame)
		default:
			add("It was still open at the end of the capture.")
		}
	}
	add("%d packet%s over %s.", n, plural(n), human.Duration(s.Duration()))
	return joinSentences(out)
}

// joinSentences joins sentences with spaces; a sentence starting with NUL
// continues the one before it.
func joinSentences(parts []string) string {
	var b strings.Builder
	for i, p := range parts {
		if rest, ok := strings.CutPrefix(p, "\x00"); ok {
			b.WriteString(rest)
			continue
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(p)
	}
	return b.String()
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
