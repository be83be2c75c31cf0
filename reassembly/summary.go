package reassembly

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/sockscope/sockscope/capture"
	"github.com/sockscope/sockscope/internal/human"
)

// Summary is a finished stream without its payload, segment map or packet
// records: what the summary views print. It holds no pointers, so a million
// of them cost ~170 MB and nothing for the garbage collector to scan.
type Summary struct {
	ID           int32
	Proto        capture.Proto
	State        State
	flags        uint16
	guess        uint8 // guessReason code
	evicted      uint8 // evictReason code
	SYNCount     uint16
	client       addrPort
	server       addrPort
	FirstFrame   int64
	LastFrame    int64
	start, end   int64 // Unix nanoseconds
	HandshakeRTT time.Duration
	ResetAfter   int64
	AnomalyCount uint32
	framing      uint8 // index in FramingNames (read --stats)
	path         *capture.Path
	dups         *PathDups
	Dirs         [2]HalfSummary
}

// Dups returns the packets of the stream captured twice through two paths
// (see Stream.Dups), or nil.
func (s *Summary) Dups() *PathDups { return s.dups }

// Path returns the encapsulations the stream arrived in ("VXLAN 42"), or "".
func (s *Summary) Path() string {
	if s.path == nil {
		return ""
	}
	return s.path.String()
}

// FramingNames are the framings a Summary can record (read --stats); a
// framing outside the list is recorded as "other". Each may be inside TLS
// that was decrypted: "tls/http1".
var FramingNames = []string{"", "raw", "line", "len", "fixed", "http1", "tls", "dns", "resp", "ws", "h2", "pgsql", "mysql", "mqtt", "ssh", "memcached", "smtp", "ftp", "pop3", "imap", "grpc", "kafka", "nats", "amqp", "other"}

// framingInTLS marks a framing code as the framing inside decrypted TLS.
const framingInTLS = 0x80

func framingCode(name string) uint8 {
	if inner, ok := strings.CutPrefix(name, "tls/"); ok {
		return framingInTLS | framingCode(inner)
	}
	for i, n := range name {
		if n == ':' {
			name = name[:i]
			break
		}
	}
	for i, n := range FramingNames {
		if n == name {
			return uint8(i)
		}
	}
	return uint8(len(FramingNames) - 1)
}

// Framing is the framing used to count Messages ("" when not counted).
func (s *Summary) Framing() string {
	if s.framing&framingInTLS != 0 {
		return "tls/" + FramingNames[s.framing&^framingInTLS]
	}
	return FramingNames[s.framing]
}

// HalfSummary is the per-direction part of a Summary (see Half).
type HalfSummary struct {
	Packets   uint32
	Retrans   uint32
	OutOfOrd  uint32
	Truncated uint32
	Oversize  uint32
	Messages  uint32 // application messages (read --stats)
	Bytes     int64
	Missing   int64
}

type addrPort struct {
	ip   [16]byte
	port uint16
	is4  bool
}

func packAddr(a netip.AddrPort) addrPort {
	return addrPort{ip: a.Addr().As16(), port: a.Port(), is4: a.Addr().Is4()}
}

func (a addrPort) unpack() netip.AddrPort {
	ip := netip.AddrFrom16(a.ip)
	if a.is4 {
		ip = ip.Unmap()
	}
	return netip.AddrPortFrom(ip, a.port)
}

const (
	flagGuessed uint16 = 1 << iota
	flagMidstream
	flagClosedByServer
	flagResetByServer
	flagHandshakeDone
	flagClientSYN
)

// Reasons a client was guessed (see guessClient) and a flow flushed early.
const (
	guessNone uint8 = iota
	guessWellKnownDst
	guessWellKnownSrc
	guessEphemeralSrc
	guessEphemeralDst
	guessFirstSender
)

const (
	evictNone uint8 = iota
	evictIdle
	evictFull
	evictResumed
	evictHandshake
)

// Summary returns the stream's summary.
func (s *Stream) Summary() Summary {
	sm := Summary{ID: int32(s.ID), Proto: s.Proto, State: s.State, guess: s.guessCode, evicted: s.evictCode,
		SYNCount: uint16(min(s.SYNCount, 0xffff)), client: packAddr(s.Client), server: packAddr(s.Server),
		FirstFrame: int64(s.FirstFrame), LastFrame: int64(s.LastFrame), start: s.Start.UnixNano(), end: s.End.UnixNano(),
		HandshakeRTT: s.HandshakeRTT, ResetAfter: s.ResetAfter, AnomalyCount: uint32(min(s.AnomalyCount, 1<<32-1)),
		framing: framingCode(s.Framing), path: s.Path, dups: s.Dups}
	set := func(b bool, f uint16) {
		if b {
			sm.flags |= f
		}
	}
	set(s.ClientGuessed, flagGuessed)
	set(s.Midstream, flagMidstream)
	set(s.ClosedBy == ServerToClient, flagClosedByServer)
	set(s.ResetBy == ServerToClient, flagResetByServer)
	set(s.handshakeDone(), flagHandshakeDone)
	set(s.Dirs[ClientToServer].SYN, flagClientSYN)
	for d := range s.Dirs {
		h := &s.Dirs[d]
		sm.Dirs[d] = HalfSummary{Packets: u32(h.Packets), Retrans: u32(h.Retrans), OutOfOrd: u32(h.OutOfOrd),
			Truncated: u32(h.Truncated), Oversize: u32(h.Oversize), Messages: u32(s.Messages[d]), Bytes: h.Bytes, Missing: h.Missing}
	}
	return sm
}

func u32(n int) uint32 { return uint32(min(max(n, 0), 1<<32-1)) }

// Client returns the client endpoint (see Stream.Client).
func (s *Summary) Client() netip.AddrPort { return s.client.unpack() }

// Server returns the server endpoint.
func (s *Summary) Server() netip.AddrPort { return s.server.unpack() }

// ClientGuessed reports that no SYN or SYN-ACK said who the client was.
func (s *Summary) ClientGuessed() bool { return s.flags&flagGuessed != 0 }

// Midstream reports that the capture has no SYN for the stream.
func (s *Summary) Midstream() bool { return s.flags&flagMidstream != 0 }

// ClosedBy is who sent the first FIN.
func (s *Summary) ClosedBy() Direction { return dirFlag(s.flags&flagClosedByServer != 0) }

// ResetBy is who sent the first RST.
func (s *Summary) ResetBy() Direction { return dirFlag(s.flags&flagResetByServer != 0) }

func dirFlag(server bool) Direction {
	if server {
		return ServerToClient
	}
	return ClientToServer
}

// Start and End are the times of the first and last packet.
func (s *Summary) Start() time.Time { return time.Unix(0, s.start).UTC() }

// End is the time of the last packet.
func (s *Summary) End() time.Time { return time.Unix(0, s.end).UTC() }

// Duration is the time from the first to the last packet.
func (s *Summary) Duration() time.Duration { return time.Duration(s.end - s.start) }

// Name returns "tcp/N" or "udp/N".
func (s *Summary) Name() string { return s.StreamID().String() }

// GuessReason says why the client was guessed ("" when it was not).
func (s *Summary) GuessReason() string {
	sp, dp := s.Client().Port(), s.Server().Port()
	switch s.guess {
	case guessWellKnownDst, guessWellKnownSrc:
		return fmt.Sprintf("no SYN seen; port %d is a well-known service port", dp)
	case guessEphemeralSrc, guessEphemeralDst:
		return fmt.Sprintf("no SYN seen; port %d is in the ephemeral range", sp)
	case guessFirstSender:
		return "no SYN seen; the sender of the first packet"
	}
	return ""
}

// Evicted says why the flow was flushed before the end of the capture ("" when it was not).
func (s *Summary) Evicted() string {
	switch s.evicted {
	case evictIdle:
		return "idle for longer than the idle timeout"
	case evictFull:
		return "flow table full"
	case evictResumed:
		return "resumed after an earlier flush"
	case evictHandshake:
		return "handshake never completed within the handshake timeout"
	}
	return ""
}

// Describe returns the state in plain words.
func (s *Summary) Describe() string {
	who := func(d Direction) string {
		if d == ClientToServer {
			return "client"
		}
		return "server"
	}
	var t string
	switch s.State {
	case StateUDP:
		n := int(s.Dirs[0].Packets + s.Dirs[1].Packets)
		t = fmt.Sprintf("%d datagram%s", n, plural(n))
	case StateRefused:
		t = "refused (SYN answered by RST)"
	case StateNoAnswer:
		t = fmt.Sprintf("no answer (%d SYN%s)", s.SYNCount, plural(int(s.SYNCount)))
	case StateReset:
		if s.flags&flagClientSYN != 0 && s.flags&flagHandshakeDone == 0 {
			t = "reset by " + who(s.ResetBy()) + " during handshake"
		} else {
			t = fmt.Sprintf("reset by %s after %s", who(s.ResetBy()), human.Bytes(s.ResetAfter))
		}
	case StateClosed:
		t = "closed by " + who(s.ClosedBy()) + " (FIN first)"
	case StateHalfClosed:
		t = "half-closed by " + who(s.ClosedBy()) + ", still open the other way"
	default:
		if s.flags&flagClientSYN != 0 && s.flags&flagHandshakeDone == 0 {
			t = "handshake incomplete at end of capture"
		} else {
			t = "open at end of capture"
		}
	}
	if s.Midstream() && s.Proto == capture.ProtoTCP {
		t += ", picked up mid-stream"
	}
	if e := s.Evicted(); e != "" {
		t += ", flushed early (" + e + ")"
	}
	return t
}

// Merge folds a later delivery of the same stream (a late packet after the
// flow was flushed) into s.
func (s *Summary) Merge(o *Summary) {
	for d := range s.Dirs {
		a, b := &s.Dirs[d], &o.Dirs[d]
		a.Packets += b.Packets
		a.Bytes += b.Bytes
		a.Missing += b.Missing
		a.Retrans += b.Retrans
		a.OutOfOrd += b.OutOfOrd
		a.Truncated += b.Truncated
		a.Oversize += b.Oversize
		a.Messages += b.Messages
	}
	if s.framing == 0 {
		s.framing = o.framing
	}
	s.dups = mergeDups(s.dups, o.dups)
	s.end = max(s.end, o.end)
	s.LastFrame = max(s.LastFrame, o.LastFrame)
	s.AnomalyCount += o.AnomalyCount
	// The later part was resumed with the earlier one's state (see
	// conn.resume): its state is the connection's.
	s.State = o.State
	s.flags = s.flags&^(flagClosedByServer|flagResetByServer) | o.flags&(flagClosedByServer|flagResetByServer)
	if s.evicted == evictNone {
		s.evicted = o.evicted
	}
}
