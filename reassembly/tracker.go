package reassembly

import (
	"cmp"
	"fmt"
	"hash/maphash"
	"net/netip"
	"slices"
	"time"

	"github.com/sockscope/sockscope/capture"
)

// Options configures a Tracker. The zero value is usable.
type Options struct {
	// Keep selects the streams whose payload bytes and segment map are kept
	// (follow). nil keeps none: the summary view needs no payload.
	Keep func(proto capture.Proto, id int) bool
	// Follow selects streams whose bytes go to OnData as a kept stream's
	// would (out-of-order contents buffered up to MaxBuffered, the flow
	// held until Finish) without being kept: following a stream of any
	// length in memory bounded by MaxBuffered (follow --format raw).
	Follow func(proto capture.Proto, id int) bool
	// OnStream receives each stream once, when it is finished: closed and
	// quiet for ClosedLinger, idle for IdleTimeout, evicted by MaxFlows, or at
	// Finish. A stream whose flow was flushed early and then saw more packets
	// is delivered again with the same ID (Evicted says so): merge with Merge.
	OnStream func(*Stream)
	// IdleTimeout flushes a flow with no packet for this long (capture time).
	// Default 10 minutes.
	IdleTimeout time.Duration
	// ClosedLinger flushes a flow closed by FIN both ways after this much
	// quiet capture time (a flow ended by RST goes at once). Default 2
	// seconds. A late packet after that (the last ACK, a retransmission, a
	// repeated FIN) resumes the stream where it was left: same number,
	// same sequence bases and state, so it counts as what it is (a
	// retransmission adds no bytes; a repeated FIN is no new close), and
	// the later part, marked Resumed, merges into the earlier one (Merge).
	ClosedLinger time.Duration
	// HandshakeTimeout flushes a connection whose SYNs got no answer after
	// this much quiet capture time (Linux gives up retrying after about 63 s).
	// Default 75 seconds.
	HandshakeTimeout time.Duration
	// MaxFlows bounds the flows held at once; past it the least recently active
	// is flushed (and counted). A held flow costs about 1.6 KB (a SYN flood's
	// unanswered SYNs are all held until HandshakeTimeout). Default 100,000.
	MaxFlows int
	// MaxTombstones bounds how many flushed flows are remembered so that a
	// late packet keeps its stream number and sequence state (~56 bytes
	// each). Default 2,000,000.
	MaxTombstones int
	// NoPackets: kept streams do not list their packets (Stream.Packets,
	// what ladder views print); their bytes and segment map are kept.
	NoPackets bool
	// SpillOver, when positive, moves a kept direction's bytes to a
	// temporary file once they outgrow it, so that a kept stream of any
	// length costs memory for its segment map only (follow). Read kept
	// bytes with Half.DataAt; Stream.Release removes the files.
	SpillOver int64
	// MaxBuffered bounds the out-of-order bytes buffered per kept stream.
	// Default 64 MiB.
	MaxBuffered int64
	// MaxBufferedTotal bounds the out-of-order bytes buffered by all streams
	// together (kept streams, and the contents held for OnData). A stream
	// that buffers past it gives up its hole (a reported gap), or, not
	// kept, the contents it held (its counts are unaffected). Default
	// 256 MiB.
	MaxBufferedTotal int64
	// ReorderWindow: a segment filling a hole within this time of the later
	// bytes is "out-of-order", after it a "retransmission". As Wireshark, the
	// handshake RTT replaces it once known. Default 3 ms.
	ReorderWindow time.Duration
	// MaxAnomalies bounds the anomalies kept per stream (all are counted). Default 1000.
	MaxAnomalies int
	// OnEvent, when set, receives connection events as packets arrive (live).
	OnEvent func(Event)
	// OnData, when set, receives every stream's bytes as they become
	// contiguous, in stream order, for any stream (kept or not): b holds the
	// captured bytes of r, or is nil when r is missing (a gap). b is valid
	// only during the call.
	OnData func(s *Stream, d Direction, r ByteRange, b []byte, frame int)
	// OnPacket, when set, receives the record of every TCP packet of every
	// stream (kept or not), as the timeline would show it; r (and its Notes)
	// is valid only during the call. The notes of a stream that is not kept
	// carry their Kind only (Text and Detail are written for kept streams,
	// whose records the views print).
	OnPacket func(s *Stream, r *PacketRecord)
}

// Stats counts what the tracker saw and what it had to flush.
type Stats struct {
	Packets     int
	TCP         int // TCP packets
	UDP         int // UDP datagrams (rebuilt from fragments counted once)
	Other       int // IP packets that are neither (ICMP, ...)
	NotIP       int // frames that are not IP (ARP, ...)
	Malformed   int // frames that could not be decoded
	Truncated   int // frames cut short by the snapshot length
	Fragments   int // IP fragment frames (the one completing a datagram included)
	TCPStreams  int
	UDPFlows    int
	FlushedIdle int // flows flushed by IdleTimeout while still open
	FlushedFull int // flows flushed because MaxFlows was reached
	Resumed     int // flushed flows that later saw more packets
	Forgotten   int // flushed flows forgotten past MaxTombstones (a late packet would get a new number)
	PeakFlows   int // most flows held at once
	// PathDuplicates counts TCP and UDP packets seen a second time through
	// another path (counted in TCP and UDP too, but not fed to their
	// streams): a mirror copy, or a tunnel's inner packets captured both
	// inside and outside it. See Stream.Dups.
	PathDuplicates int
	// DuplicatePaths are the two paths of the first path duplicate: where
	// the packet was seen first and where again ("" for no encapsulation).
	DuplicatePaths [2]string
	First, Last    time.Time
	// Unflowed counts the frames that did not become (or were damaged
	// parts of) TCP/UDP flows by what they were: not IP (ARP, LLDP, an
	// unknown EtherType inside a tunnel), other IP (ICMP, an unknown GRE
	// protocol) or malformed (the decoder's reason). Its counts add up to
	// NotIP + Other + Malformed. At most MaxUnflowedKinds kinds are told
	// apart; the rest are counted under What "other kinds".
	Unflowed map[Unflowed]int
}

// MaxUnflowedKinds bounds Stats.Unflowed (malformed frames' reasons can
// carry numbers, so a hostile capture could make them all different).
const MaxUnflowedKinds = 64

// UnflowedClass says which of Stats' counts a frame was counted in.
type UnflowedClass uint8

const (
	NotIPFrame     UnflowedClass = iota + 1 // Stats.NotIP
	OtherIPFrame                            // Stats.Other
	MalformedFrame                          // Stats.Malformed
)

// Unflowed is one kind of frame that did not become a flow: its class and
// what it was (capture.Packet's What and Code; the Issue for malformed
// frames).
type Unflowed struct {
	Class UnflowedClass
	What  string
	Code  uint32
}

// String describes the kind for a user: "ARP", "GRE protocol 0x1234".
func (u Unflowed) String() string { return capture.Describe(u.What, u.Code) }

func (st *Stats) unflowed(c UnflowedClass, what string, code uint32) {
	if st.Unflowed == nil {
		st.Unflowed = make(map[Unflowed]int)
	}
	if what == "" {
		what = "unknown"
	}
	k := Unflowed{c, what, code}
	// Room is kept for the three classes' "other kinds".
	if _, ok := st.Unflowed[k]; !ok && len(st.Unflowed) >= MaxUnflowedKinds-3 {
		k = Unflowed{c, "other kinds", 0}
	}
	st.Unflowed[k]++
}

// Tracker follows every TCP stream and UDP flow of a capture. Packets must be
// given in capture order. It is not safe for concurrent use.
type Tracker struct {
	opts  Options
	flows map[flowID]*conn
	// recent holds the fingerprints of the last packets of the flows seen
	// through one path so far (see pathdup.go).
	recent  [recentRing]recentFP
	recentN uint32
	// tombs remembers flushed flows by a 64-bit hash of their key (a
	// collision, ~1 in 10^7 for a million flows, could only misnumber a late
	// packet). Bounded by MaxTombstones, oldest first.
	tombs    map[uint64]tomb
	tombRing []uint64
	tombNext int
	seed     maphash.Seed
	ids      [2]int       // next tcp, udp id
	open     lru          // flows not closed
	syn      lru          // SYNs not answered yet: flushed after HandshakeTimeout
	done     lru          // closed by FIN both ways, waiting out ClosedLinger
	reset    lru          // closed by RST: flushed as soon as capture time moves on
	pinned   lru          // kept streams: flushed only at Finish
	rec      PacketRecord // scratch for recordPacket
	ahead    aheadPool    // out-of-order bytes buffered by all streams
	recNotes []Note       // scratch for the notes recordPacket writes
	Stats    Stats
}

type flowID struct {
	key   FlowKey
	proto capture.Proto
}

// tomb remembers a flushed flow so that a late packet keeps its stream
// number and, for TCP, lands where it would have had the flow been held:
// each side's sequence base and how far its stream got, and how the
// connection had ended. A late retransmission is then a retransmission and
// a retransmitted FIN no new close.
type tomb struct {
	id    int32
	flags tombFlags
	isn   [2]uint32 // relative sequence 0 of the side at key.A / key.B
	end   [2]int64  // stream offset its bytes (or FIN) reached
}

type tombFlags uint32

const (
	tombEvicted        tombFlags = 1 << iota // flushed while open (idle or table full), not closed
	tombClientA                              // the client was key.A
	tombGuessed                              // ... and that was a guess
	tombClosed                               // FIN both ways, or a RST
	tombClosedByServer                       // the first FIN came from the server
	tombFirstFIN
	tombFirstRST
	tombResetByServer
	tombSynAck // the SYN-ACK had been seen
	tombBaseA  // side A's sequence base is known (isn[0], end[0])
	tombBaseB
	tombSYNA // side A had sent a SYN (so isn[0] is its ISN)
	tombSYNB
	tombFINA
	tombFINB
	tombRSTA
	tombRSTB
	tombDataA // side A had sent packets / payload (for the state of a resumed part)
	tombDataB
)

func (f tombFlags) has(b tombFlags) bool { return f&b != 0 }

// side returns the tomb flag for side 0 (key.A) or 1 of a per-side pair.
func sideFlag(a tombFlags, side int) tombFlags { return a << side }

type conn struct {
	s          *Stream
	id         flowID
	hs         [2]halfState
	zeroWin    [2]bool // direction d last advertised a zero window
	synTime    time.Time
	synAckSeen bool
	synAckTime time.Time
	closed     bool
	firstFIN   bool
	firstRST   bool
	recZero    [2]bool // packet records: direction d last advertised a zero window
	recHS      bool    // packet records: handshake-complete note written
	finNoted   bool
	evOpened   bool
	prior      [2]bool   // resumed: direction d had packets before the flush
	misfit     bool      // resumed, but the late packet's numbers did not fit
	follow     bool      // Options.Follow: held and buffered as if kept
	iface0     int32     // pcapng interface of the first packet (its path is s.Path)
	dups       *dupState // set once the flow is seen through a second path
	prev, next *conn
	list       *lru
	last       time.Time
}

type lru struct{ head, tail *conn } // head = most recent

func (l *lru) remove(c *conn) {
	if c.prev != nil {
		c.prev.next = c.next
	} else {
		l.head = c.next
	}
	if c.next != nil {
		c.next.prev = c.prev
	} else {
		l.tail = c.prev
	}
	c.prev, c.next, c.list = nil, nil, nil
}

func (l *lru) pushFront(c *conn) {
	c.list = l
	c.prev, c.next = nil, l.head
	if l.head != nil {
		l.head.prev = c
	}
	l.head = c
	if l.tail == nil {
		l.tail = c
	}
}

// DefaultMaxFlows is Options.MaxFlows unless set: ~160 MB of flow state at
// most.
const DefaultMaxFlows = 100_000

// NewTracker returns a tracker with o's settings (defaults for zero fields).
func NewTracker(o Options) *Tracker {
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 10 * time.Minute
	}
	if o.ClosedLinger <= 0 {
		o.ClosedLinger = 2 * time.Second
	}
	if o.MaxTombstones <= 0 {
		o.MaxTombstones = 2_000_000
	}
	if o.HandshakeTimeout <= 0 {
		o.HandshakeTimeout = 75 * time.Second
	}
	if o.MaxFlows <= 0 {
		o.MaxFlows = DefaultMaxFlows
	}
	if o.MaxBuffered <= 0 {
		o.MaxBuffered = 64 << 20
	}
	if o.MaxBufferedTotal <= 0 {
		o.MaxBufferedTotal = 256 << 20
	}
	if o.ReorderWindow <= 0 {
		o.ReorderWindow = 3 * time.Millisecond
	}
	if o.MaxAnomalies <= 0 {
		o.MaxAnomalies = 1000
	}
	return &Tracker{opts: o, flows: make(map[flowID]*conn), tombs: make(map[uint64]tomb), seed: maphash.MakeSeed(),
		ahead: aheadPool{max: o.MaxBufferedTotal}}
}

func (t *Tracker) tombKey(id flowID) uint64 { return maphash.Comparable(t.seed, id) }

// bury remembers a flushed flow, forgetting the oldest past MaxTombstones.
func (t *Tracker) bury(id flowID, tb tomb) {
	k := t.tombKey(id)
	if _, ok := t.tombs[k]; !ok {
		if len(t.tombRing) < t.opts.MaxTombstones {
			t.tombRing = append(t.tombRing, k)
		} else {
			delete(t.tombs, t.tombRing[t.tombNext])
			t.tombRing[t.tombNext] = k
			t.tombNext = (t.tombNext + 1) % len(t.tombRing)
			t.Stats.Forgotten++
		}
	}
	t.tombs[k] = tb
}

// Add processes one packet.
func (t *Tracker) Add(p *capture.Packet) {
	st := &t.Stats
	st.Packets++
	if st.First.IsZero() || p.Time.Before(st.First) {
		st.First = p.Time
	}
	if p.Time.After(st.Last) {
		st.Last = p.Time
	}
	if p.Truncated {
		st.Truncated++
	}
	if p.Fragment || p.Reassembled {
		st.Fragments++
	}
	switch {
	case p.NotIP:
		st.NotIP++
		st.unflowed(NotIPFrame, p.What, p.Code)
		return
	case p.Proto == capture.ProtoTCP:
		st.TCP++
	case p.Proto == capture.ProtoUDP:
		st.UDP++
	case p.Issue != "":
		st.Malformed++
		st.unflowed(MalformedFrame, p.Issue, 0)
		return
	case p.Fragment:
		return // counted in Fragments; the datagram counts when rebuilt
	default:
		st.Other++
		st.unflowed(OtherIPFrame, p.What, p.Code)
		return
	}
	if p.Issue != "" {
		st.Malformed++
		st.unflowed(MalformedFrame, p.Issue, 0)
	}
	t.expire(p.Time)
	id := flowID{KeyOf(p.Src, p.Dst), p.Proto}
	c := t.flows[id]
	if p.Proto == capture.ProtoTCP && c != nil && p.Flags&(capture.SYN|capture.ACK) == capture.SYN {
		// Wireshark's rule: a SYN whose sequence number differs from the base
		// of its direction starts a new conversation on the same 4-tuple.
		d := c.dirOf(p.Src)
		if hs := &c.hs[d]; hs.baseSet && uint32(hs.isn) != p.Seq {
			t.finalize(c, evictNone)
			delete(t.tombs, t.tombKey(id)) // a new connection, not a resumed one
			c = nil
		}
	}
	if c == nil {
		c = t.newConn(id, p)
	}
	c.last = p.Time
	if c.dups == nil && p.Iface == int(c.iface0) && c.s.Path == nil && p.Path.Len() == 0 {
		// The common case, a flow on its one plain path: its fingerprint
		// goes to the shared ring, written in place (pathdup.go).
		e := &t.recent[t.recentN%recentRing]
		e.c = c
		e.fp.fill(p, 0)
		t.recentN++
	} else if t.pathDup(c, p) {
		return
	}
	if p.Proto == capture.ProtoTCP {
		t.tcp(c, p)
	} else {
		t.udp(c, p)
	}
	c.list.remove(c)
	t.listFor(c).pushFront(c)
}

// listFor picks the expiry list a flow belongs on after its latest packet.
func (t *Tracker) listFor(c *conn) *lru {
	s := c.s
	switch {
	case s.KeptData || c.follow:
		return &t.pinned
	case c.closed && c.firstRST:
		return &t.reset
	case c.closed:
		return &t.done
	case s.Proto == capture.ProtoTCP && s.SYNCount > 0 && !c.synAckSeen && s.Dirs[ServerToClient].Packets == 0:
		return &t.syn
	}
	return &t.open
}

func (t *Tracker) newConn(id flowID, p *capture.Packet) *conn {
	s := &Stream{Proto: p.Proto, FirstFrame: p.Frame, Start: p.Time}
	if p.Path.Len() > 0 {
		path := p.Path
		s.Path = &path
	}
	tb, resumed := t.tombs[t.tombKey(id)]
	if resumed && p.Proto == capture.ProtoTCP && p.Flags&(capture.SYN|capture.ACK) == capture.SYN {
		side := 0
		if p.Src != id.key.A {
			side = 1
		}
		if tb.flags.has(sideFlag(tombSYNA, side)) && tb.isn[side] != p.Seq {
			resumed = false // a new connection on a reused 4-tuple
		}
	}
	if resumed {
		s.ID, s.Resumed = int(tb.id), true
		if tb.flags.has(tombEvicted) {
			// Flushed while still open: say so. A late packet on a cleanly
			// closed flow (the last ACK) is merged silently.
			s.Evicted, s.evictCode = "resumed after an earlier flush", evictResumed
		}
		t.Stats.Resumed++
	} else {
		pi := 0
		if p.Proto == capture.ProtoUDP {
			pi = 1
		}
		s.ID = t.ids[pi]
		t.ids[pi]++
		if pi == 0 {
			t.Stats.TCPStreams++
		} else {
			t.Stats.UDPFlows++
		}
	}
	s.Client, s.Server = p.Src, p.Dst
	if p.Proto == capture.ProtoTCP {
		switch {
		case p.Flags&(capture.SYN|capture.ACK) == capture.SYN:
		case p.Flags.Has(capture.SYN | capture.ACK):
			s.Client, s.Server = p.Dst, p.Src
		default:
			s.Midstream = true
			s.ClientGuessed = true
			s.Client, s.Server, s.guessCode = guessClient(p.Src, p.Dst)
			s.GuessReason = (&Summary{guess: s.guessCode, client: packAddr(s.Client), server: packAddr(s.Server)}).GuessReason()
		}
	}
	if resumed {
		// Keep the orientation the stream had before it was flushed.
		s.Client, s.Server = id.key.B, id.key.A
		if tb.flags.has(tombClientA) {
			s.Client, s.Server = id.key.A, id.key.B
		}
		s.ClientGuessed, s.Midstream, s.GuessReason, s.guessCode = tb.flags.has(tombGuessed), false, "", guessNone
	}
	if t.opts.Keep != nil && t.opts.Keep(p.Proto, s.ID) {
		s.KeptData, s.noPackets = true, t.opts.NoPackets
	}
	c := &conn{s: s, id: id}
	c.iface0 = int32(p.Iface)
	c.follow = t.opts.Follow != nil && t.opts.Follow(p.Proto, s.ID)
	for d := range c.hs {
		c.hs[d] = halfState{h: &s.Dirs[d], keep: s.KeptData, hold: s.KeptData || c.follow, finOff: -1, maxAhead: t.opts.MaxBuffered, reorder: t.opts.ReorderWindow, pool: &t.ahead}
		s.Dirs[d].WScale = -1
		if s.KeptData {
			s.Dirs[d].spillOver = t.opts.SpillOver
		}
		if t.opts.OnData != nil {
			dir := Direction(d)
			c.hs[d].onData = func(r ByteRange, b []byte, frame int) { t.opts.OnData(s, dir, r, b, frame) }
		}
	}
	c.hs[0].rev, c.hs[1].rev = &c.hs[1], &c.hs[0]
	if resumed && p.Proto == capture.ProtoTCP {
		c.resume(tb, p)
	}
	t.flows[id] = c
	if s.KeptData || c.follow {
		t.pinned.pushFront(c)
	} else {
		t.open.pushFront(c)
	}
	if n := len(t.flows); n > t.Stats.PeakFlows {
		t.Stats.PeakFlows = n
	}
	for len(t.flows) > t.opts.MaxFlows {
		var victim *conn
		for _, l := range []*lru{&t.reset, &t.done, &t.syn, &t.open} {
			if victim = l.tail; victim != nil {
				break
			}
		}
		if victim == c || victim == nil {
			break
		}
		t.Stats.FlushedFull++
		t.finalize(victim, evictFull)
	}
	return c
}

// guessClient picks the client of a connection whose SYN was not captured.
func guessClient(src, dst netip.AddrPort) (client, server netip.AddrPort, why uint8) {
	sp, dp := src.Port(), dst.Port()
	switch {
	case dp < 1024 && sp >= 1024:
		return src, dst, guessWellKnownDst
	case sp < 1024 && dp >= 1024:
		return dst, src, guessWellKnownSrc
	case sp >= 32768 && dp < 32768:
		return src, dst, guessEphemeralSrc
	case dp >= 32768 && sp < 32768:
		return dst, src, guessEphemeralDst
	}
	return src, dst, guessFirstSender
}

func (c *conn) dirOf(src netip.AddrPort) Direction {
	if src == c.s.Client {
		return ClientToServer
	}
	return ServerToClient
}

// reporter records anomalies of one packet. It is a value, not a closure,
// so that the per-packet path does not allocate.
type reporter struct {
	max   int
	s     *Stream
	d     Direction
	frame int
}

func (r *reporter) add(k AnomalyKind, reason string) {
	r.s.AnomalyCount++
	if len(r.s.Anomalies) < r.max {
		r.s.Anomalies = append(r.s.Anomalies, Anomaly{Dir: r.d, Frame: r.frame, Kind: k, Reason: reason})
	}
}

// addSeg records an anomaly about a segment, with the segment's reason as
// its own: the words are written only when the anomaly is kept.
func (r *reporter) addSeg(k AnomalyKind, seg *Segment) {
	r.s.AnomalyCount++
	if len(r.s.Anomalies) < r.max {
		r.s.Anomalies = append(r.s.Anomalies, Anomaly{Dir: r.d, Frame: r.frame, Kind: k, Reason: seg.Reason()})
	}
}

func (t *Tracker) tcp(c *conn, p *capture.Packet) {
	s := c.s
	d := c.dirOf(p.Src)
	hs := &c.hs[d]
	h := hs.h
	h.Packets++
	s.LastFrame = p.Frame
	if p.Time.After(s.End) {
		s.End = p.Time
	}
	if !hs.baseSet {
		hs.setBase(p)
	}
	rep := &reporter{max: t.opts.MaxAnomalies, s: s, d: d, frame: p.Frame}
	if p.Issue != "" {
		rep.add(AnomalyMalformed, p.Issue)
	}
	if c.misfit {
		c.misfit = false
		rep.add(AnomalyBeforeStart, "a late packet on a flushed connection's ports whose sequence number does not fit that connection: its bytes are counted from a new base")
	}
	if p.Truncated && p.Missing() > 0 && h.Truncated == 0 {
		rep.add(AnomalySnaplen, fmt.Sprintf("frame cut by the snapshot length: %d of %d payload bytes captured", len(p.Payload), p.PayloadLen))
	}
	f := p.Flags
	if f.Has(capture.SYN) {
		h.SYN = true
		if p.Opts.HasMSS {
			h.MSS = int(p.Opts.MSS)
			c.hs[d.Reverse()].peerMSS = int(p.Opts.MSS)
		}
		if p.Opts.HasWScale {
			h.WScale = int(p.Opts.WScale)
		}
		if !f.Has(capture.ACK) {
			s.SYNCount++
			if c.synTime.IsZero() {
				c.synTime = p.Time
			}
		} else if !c.synAckSeen {
			c.synAckSeen = true
			c.synAckTime = p.Time
			if !c.synTime.IsZero() {
				s.SYNACKRTT = p.Time.Sub(c.synTime)
			}
		}
	} else if f.Has(capture.ACK) && d == ClientToServer && c.synAckSeen && s.HandshakeRTT == 0 && !c.synTime.IsZero() {
		s.HandshakeRTT = p.Time.Sub(c.synTime)
		if s.HandshakeRTT > 0 {
			// Wireshark's reordering threshold: the initial RTT once known.
			c.hs[0].reorder, c.hs[1].reorder = s.HandshakeRTT, s.HandshakeRTT
		}
	}
	hs.ack(p)
	c.zeroWin[d] = p.Window == 0 && !f.Has(capture.RST) && !f.Has(capture.SYN)
	var segv Segment
	var seg *Segment
	if p.PayloadLen > 0 {
		segv = hs.segment(p, d, c.zeroWin[d.Reverse()], rep)
		seg = &segv
	}
	newFIN := f.Has(capture.FIN) && !h.FIN
	newRST := f.Has(capture.RST) && !h.RST
	defer func() {
		if s.KeptData || t.opts.OnPacket != nil {
			c.recordPacket(p, d, seg, newFIN, newRST, t.opts.OnPacket, &t.rec, &t.recNotes)
		}
		t.event(c, p, d, newFIN, newRST)
	}()
	if f.Has(capture.FIN) {
		if !h.FIN {
			h.FIN, h.FINFrame = true, p.Frame
			dataSeq := p.Seq
			if f.Has(capture.SYN) {
				dataSeq++
			}
			hs.finOff = hs.rel(dataSeq) - 1 + int64(p.PayloadLen)
			if !c.firstFIN {
				c.firstFIN = true
				s.ClosedBy = d
			}
		}
	}
	if f.Has(capture.RST) && !h.RST {
		h.RST, h.RSTFrame = true, p.Frame
		if !c.firstRST {
			c.firstRST = true
			s.ResetBy = d
			s.ResetAfter = c.hs[0].highest + c.hs[1].highest
		}
	}
	if !c.closed && (c.firstRST || (s.Dirs[0].FIN && s.Dirs[1].FIN)) {
		c.closed = true
	}
}

func (t *Tracker) udp(c *conn, p *capture.Packet) {
	s := c.s
	d := c.dirOf(p.Src)
	h := &s.Dirs[d]
	h.Packets++
	s.LastFrame = p.Frame
	if p.Time.After(s.End) {
		s.End = p.Time
	}
	n := int64(p.PayloadLen)
	capn := int64(len(p.Payload))
	start := h.Bytes
	h.Bytes += n
	h.Wire += n
	h.Captured += capn
	h.Missing += n - capn
	if p.Truncated && capn < n {
		h.Truncated++
		(&reporter{max: t.opts.MaxAnomalies, s: s, d: d, frame: p.Frame}).add(AnomalySnaplen, fmt.Sprintf("datagram cut by the snapshot length: %d of %d bytes captured", capn, n))
	}
	if t.opts.OnData != nil {
		t.opts.OnData(s, d, ByteRange{start, start + capn}, p.Payload, p.Frame)
	}
	t.event(c, p, d, false, false)
	if s.KeptData {
		if !s.noPackets {
			s.Packets.Append(PacketRecord{Frame: p.Frame, Time: p.Time, Dir: d, Seq: start + 1, Len: p.PayloadLen, WinScaled: -1})
		}
		seg := Segment{Dir: d, Frame: p.Frame, Time: p.Time, Seq: start + 1, Len: p.PayloadLen, Captured: int(capn), Added: ByteRange{start, start + n}, NewBytes: n}
		h.Segments.Append(seg)
		if capn > 0 {
			h.Chunks.Append(Chunk{Range: ByteRange{start, start + capn}, Frame: p.Frame, Data: h.DataLen()})
			h.appendData(p.Payload)
		}
		if capn < n {
			h.Gaps = append(h.Gaps, Gap{Range: ByteRange{start + capn, start + n}, Kind: GapSnaplen})
		}
		h.End = h.Bytes
	}
}

// expire flushes flows that have been quiet long enough.
func (t *Tracker) expire(now time.Time) {
	for c := t.reset.tail; c != nil && now.After(c.last); c = t.reset.tail {
		t.finalize(c, evictNone)
	}
	for c := t.done.tail; c != nil && now.Sub(c.last) > t.opts.ClosedLinger; c = t.done.tail {
		t.finalize(c, evictNone)
	}
	for c := t.syn.tail; c != nil && now.Sub(c.last) > t.opts.HandshakeTimeout; c = t.syn.tail {
		t.finalize(c, evictNone) // "no answer": a later SYN with the same ISN merges back
	}
	for c := t.open.tail; c != nil && now.Sub(c.last) > t.opts.IdleTimeout; c = t.open.tail {
		t.Stats.FlushedIdle++
		t.finalize(c, evictIdle)
	}
}

func (t *Tracker) finalize(c *conn, evicted uint8) {
	c.list.remove(c)
	delete(t.flows, c.id)
	s := c.s
	if evicted != evictNone && s.evictCode == evictNone {
		s.evictCode = evicted
		s.Evicted = (&Summary{evicted: evicted}).Evicted()
	}
	if c.id.proto == capture.ProtoTCP {
		for d := range c.hs {
			c.hs[d].finish()
		}
		s.State = tcpState(c)
	}
	tb := c.tomb(evicted)
	if c.id.proto != capture.ProtoTCP {
		s.State = StateUDP
	}
	t.bury(c.id, tb)
	if t.opts.OnStream != nil {
		t.opts.OnStream(s)
	}
}

func tcpState(c *conn) State {
	s := c.s
	cs, sc := &s.Dirs[ClientToServer], &s.Dirs[ServerToClient]
	csBytes := cs.Bytes > 0 || c.prior[ClientToServer]
	scPackets := sc.Packets > 0 || c.prior[ServerToClient]
	switch {
	case c.firstRST && s.ResetBy == ServerToClient && !c.synAckSeen && cs.SYN && !csBytes:
		return StateRefused
	case c.firstRST:
		return StateReset
	case cs.FIN && sc.FIN:
		return StateClosed
	case cs.FIN || sc.FIN:
		return StateHalfClosed
	case cs.SYN && !scPackets && !csBytes:
		return StateNoAnswer
	}
	return StateOpen
}

// tomb is what a flushed connection leaves behind (see tomb).
func (c *conn) tomb(evicted uint8) tomb {
	s := c.s
	tb := tomb{id: int32(s.ID)}
	set := func(b bool, f tombFlags) {
		if b {
			tb.flags |= f
		}
	}
	set(!c.closed && evicted != evictNone, tombEvicted)
	set(s.Client == c.id.key.A, tombClientA)
	set(s.ClientGuessed, tombGuessed)
	if c.id.proto != capture.ProtoTCP {
		return tb
	}
	set(c.closed, tombClosed)
	set(c.firstFIN, tombFirstFIN)
	set(c.firstFIN && s.ClosedBy == ServerToClient, tombClosedByServer)
	set(c.firstRST, tombFirstRST)
	set(c.firstRST && s.ResetBy == ServerToClient, tombResetByServer)
	set(c.synAckSeen, tombSynAck)
	for d := range c.hs {
		hs, h := &c.hs[d], &s.Dirs[d]
		side := 0
		if s.Peer(Direction(d)) != c.id.key.A {
			side = 1
		}
		if hs.baseSet {
			tb.flags |= sideFlag(tombBaseA, side)
			tb.isn[side], tb.end[side] = uint32(hs.isn), hs.next
		}
		set(h.SYN, sideFlag(tombSYNA, side))
		set(h.FIN, sideFlag(tombFINA, side))
		set(h.RST, sideFlag(tombRSTA, side))
		set(h.Packets > 0 || c.prior[d], sideFlag(tombDataA, side))
	}
	return tb
}

// resumeWindow is how far from where a side's stream had got a late
// packet's sequence number may be and still belong to the flushed
// connection: TCP's largest window (2^30 bytes, RFC 7323).
const resumeWindow = 1 << 30

// resume picks a flushed connection up where it was left (see tomb), for
// its late packet p: both sides keep their sequence base and position, so
// that Bytes count only what is new and a repeated FIN or RST is no news.
// A side whose p does not fit starts afresh from p (and says so).
func (c *conn) resume(tb tomb, p *capture.Packet) {
	s := c.s
	c.closed = tb.flags.has(tombClosed)
	c.firstFIN, c.firstRST = tb.flags.has(tombFirstFIN), tb.flags.has(tombFirstRST)
	if tb.flags.has(tombClosedByServer) {
		s.ClosedBy = ServerToClient
	}
	if tb.flags.has(tombResetByServer) {
		s.ResetBy = ServerToClient
	}
	c.synAckSeen = tb.flags.has(tombSynAck)
	for d := range c.hs {
		hs, h := &c.hs[d], &s.Dirs[d]
		side := 0
		if s.Peer(Direction(d)) != c.id.key.A {
			side = 1
		}
		h.SYN = tb.flags.has(sideFlag(tombSYNA, side))
		h.FIN = tb.flags.has(sideFlag(tombFINA, side))
		h.RST = tb.flags.has(sideFlag(tombRSTA, side))
		c.prior[d] = tb.flags.has(sideFlag(tombDataA, side))
		if !tb.flags.has(sideFlag(tombBaseA, side)) {
			continue
		}
		hs.baseSet, hs.isn, hs.finOff = true, Seq(tb.isn[side]), -1
		h.ISN = tb.isn[side]
		hs.next, hs.highest, hs.base = tb.end[side], tb.end[side], tb.end[side]
		if h.FIN {
			hs.finOff = tb.end[side]
		}
		if s.Peer(Direction(d)) == p.Src {
			seq := p.Seq
			if p.Flags.Has(capture.SYN) {
				seq++
			}
			if off := hs.rel(seq) - 1; off < hs.next-resumeWindow || off > hs.next+resumeWindow {
				// Not the old connection's numbers: a fresh base, as for a
				// stream picked up mid-way.
				hs.baseSet, hs.next, hs.highest, hs.base, hs.finOff = false, 0, 0, 0, -1
				c.misfit = true
			}
		}
	}
}

// Finish flushes every flow still held, in stream-ID order (TCP first).
func (t *Tracker) Finish() {
	all := make([]*conn, 0, len(t.flows))
	for _, c := range t.flows {
		all = append(all, c)
	}
	slices.SortFunc(all, func(a, b *conn) int {
		return cmp.Or(cmp.Compare(a.s.Proto, b.s.Proto), cmp.Compare(a.s.ID, b.s.ID))
	})
	for _, c := range all {
		t.finalize(c, evictNone)
	}
}

// Active returns how many flows are held now.
func (t *Tracker) Active() int { return len(t.flows) }

// Merge folds a later delivery of the same stream (after an early flush) into s.
func (s *Stream) Merge(o *Stream) {
	for d := range s.Dirs {
		a, b := &s.Dirs[d], &o.Dirs[d]
		a.Packets += b.Packets
		a.Bytes += b.Bytes
		a.Missing += b.Missing
		a.Captured += b.Captured
		a.Wire += b.Wire
		a.Retrans += b.Retrans
		a.OutOfOrd += b.OutOfOrd
		a.Truncated += b.Truncated
		a.Oversize += b.Oversize
		a.FIN = a.FIN || b.FIN
		a.RST = a.RST || b.RST
		s.Messages[d] += o.Messages[d]
	}
	if s.Framing == "" {
		s.Framing = o.Framing
	}
	s.Dups = mergeDups(s.Dups, o.Dups)
	if o.End.After(s.End) {
		s.End = o.End
	}
	s.LastFrame = max(s.LastFrame, o.LastFrame)
	s.AnomalyCount += o.AnomalyCount
	// The later part was resumed with the earlier one's state (see
	// conn.resume): its state is the connection's.
	s.State = o.State
	s.ClosedBy, s.ResetBy = o.ClosedBy, o.ResetBy
	if s.Evicted == "" {
		s.Evicted = o.Evicted
	}
}
