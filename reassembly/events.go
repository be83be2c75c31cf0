package reassembly

import (
	"fmt"
	"time"

	"github.com/sockscope/sockscope/capture"
	"github.com/sockscope/sockscope/internal/human"
)

// EventKind names a moment in a connection's life that `live` reports.
type EventKind uint8

const (
	EventOpened     EventKind = iota // 3-way handshake complete
	EventRefused                     // SYN answered by RST
	EventReset                       // RST on an open connection
	EventHalfClosed                  // first FIN
	EventClosed                      // FIN both ways
	EventUDPFlow                     // first datagram of a UDP flow
	EventDatagram                    // a UDP datagram
)

func (k EventKind) String() string {
	return [...]string{"opened", "refused", "reset", "half_closed", "closed", "udp_flow", "datagram"}[k]
}

// Event is reported through Options.OnEvent as packets arrive. Stream is the
// live stream state: read it during the callback only.
type Event struct {
	Kind   EventKind
	Stream *Stream
	Frame  int
	Time   time.Time
	Dir    Direction // who sent the packet
	Text   string    // in words: "handshake complete (RTT 0.021 ms)"
}

func (t *Tracker) event(c *conn, p *capture.Packet, d Direction, newFIN, newRST bool) {
	if t.opts.OnEvent == nil {
		return
	}
	s := c.s
	emit := func(k EventKind, text string) {
		t.opts.OnEvent(Event{Kind: k, Stream: s, Frame: p.Frame, Time: p.Time, Dir: d, Text: text})
	}
	if s.Proto == capture.ProtoUDP {
		if s.Dirs[0].Packets+s.Dirs[1].Packets == 1 {
			emit(EventUDPFlow, "first datagram")
		}
		emit(EventDatagram, fmt.Sprintf("%d bytes", p.PayloadLen))
		return
	}
	if s.HandshakeRTT > 0 && !c.evOpened {
		c.evOpened = true
		emit(EventOpened, "handshake complete (RTT "+human.Duration(s.HandshakeRTT)+")")
	}
	who := "client"
	if d == ServerToClient {
		who = "server"
	}
	if newRST {
		if !c.synAckSeen && d == ServerToClient && s.Dirs[ClientToServer].SYN {
			emit(EventRefused, "refused: SYN answered by RST")
		} else {
			emit(EventReset, fmt.Sprintf("reset by %s after %s", who, human.Bytes(c.hs[0].highest+c.hs[1].highest)))
		}
	}
	if newFIN {
		if s.Dirs[0].FIN && s.Dirs[1].FIN {
			emit(EventClosed, fmt.Sprintf("closed (%s sent the last FIN) after %s, %s", who, human.Duration(p.Time.Sub(s.Start)), human.Bytes(c.hs[0].highest+c.hs[1].highest)))
		} else {
			emit(EventHalfClosed, who+" finished sending (FIN)")
		}
	}
}
