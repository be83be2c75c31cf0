package reassembly

import (
	"encoding/binary"
	"strconv"

	"github.com/sockscope/sockscope/capture"
)

// Packets seen twice through two paths.
//
// A capture can hold the same inner packet twice: a mirror (SPAN, ERSPAN,
// VXLAN traffic mirroring) copying frames to a collector on a link the
// capture also sees, or a capture on every interface of a host that sees a
// tunnel's inner packets on the tunnel device and again, encapsulated, on
// its underlay. Both copies have the same addresses and ports, so they are
// the same flow; fed twice to the reassembler, every second copy would be
// a retransmission or a duplicate ACK. That is what tshark shows, and it is
// not what happened on the network.
//
// So the tracker remembers a fingerprint of the recent packets (the IPv4
// identification and the TCP numbers, flags, window, timestamp value and
// length; for UDP, the start and end of the payload) and the path each came
// through: the encapsulations (capture.Path) and the pcapng interface. A
// packet whose fingerprint matches one of its flow's seen through a
// different path is a path duplicate: counted (Stream.Dups,
// Stats.PathDuplicates) and not fed to the reassembler. A true
// retransmission comes through the same path, or with a new IPv4
// identification and timestamp.
//
// Cost: every packet's fingerprint goes into one ring of the tracker's
// (recentRing, shared by all flows), so a flow costs nothing until its
// second path appears: then it gets a ring of its own (dupRing), seeded
// with its packets still in the shared one, so that the first copies are
// caught too. Only such flows compare fingerprints.

const (
	recentRing   = 256 // fingerprints of the last packets of all flows
	dupRing      = 64  // fingerprints of one flow seen through two paths
	maxFlowPaths = 8   // paths told apart per flow; later ones share the last
)

// PathDups says that some of a stream's packets were captured twice,
// through two paths: a capture artifact, not retransmissions.
type PathDups struct {
	Count int // packets seen again through another path (not fed to the reassembler)
	// First and Again are the paths of the first such pair: where the
	// packet was seen first and where again ("" for no encapsulation; a
	// pcapng interface other than the stream's first is named).
	First, Again string
	Frames       []int // frame numbers of the first MaxDupFrames duplicates
}

// MaxDupFrames bounds PathDups.Frames.
const MaxDupFrames = 8

type pathKey struct {
	iface int
	path  capture.Path
}

// fingerprint is what two copies of one packet share and a retransmission
// does not.
type fingerprint struct {
	seq, ack, ts uint32
	ipid, win    uint16
	plen         uint16
	flags        uint16
	path         uint8 // index in the flow's paths
	used         bool  // already matched by a duplicate
}

func (f *fingerprint) same(g *fingerprint) bool {
	return f.seq == g.seq && f.ack == g.ack && f.ts == g.ts && f.ipid == g.ipid && f.win == g.win && f.plen == g.plen && f.flags == g.flags
}

// dupState is the memory of a flow seen through more than one path.
type dupState struct {
	ring  []fingerprint
	n     uint32    // fingerprints written
	paths []pathKey // paths after the first (index i+1)
}

type recentFP struct {
	c  *conn
	fp fingerprint
}

func fingerprintOf(p *capture.Packet, path uint8) fingerprint {
	var f fingerprint
	f.fill(p, path)
	return f
}

// fill sets f to p's fingerprint through path.
func (f *fingerprint) fill(p *capture.Packet, path uint8) {
	f.ipid, f.plen, f.path, f.used = p.IPID, uint16(p.PayloadLen), path, false
	if p.Proto == capture.ProtoTCP {
		f.seq, f.ack, f.win, f.flags, f.ts = p.Seq, p.Ack, p.Window, uint16(p.Flags), 0
		if p.Opts.HasTS {
			f.ts = p.Opts.TSVal
		}
		return
	}
	f.seq, f.ack, f.win, f.flags, f.ts = 0, 0, 0, 0, 0
	b := p.Payload
	if len(b) >= 8 {
		f.seq, f.ack = binary.BigEndian.Uint32(b), binary.BigEndian.Uint32(b[4:])
	}
	if n := len(b); n >= 12 {
		f.ts = binary.BigEndian.Uint32(b[n-4:])
	}
}

// pathIndex returns the index of p's path among the flow's paths (0: the
// first packet's), adding it when new.
func (t *Tracker) pathIndex(c *conn, p *capture.Packet) uint8 {
	if p.Iface == int(c.iface0) {
		if c.s.Path == nil {
			if p.Path.Len() == 0 {
				return 0
			}
		} else if c.s.Path.Same(&p.Path) {
			return 0
		}
	}
	d := c.dups
	if d == nil {
		// A second path: the flow gets its own ring, with its packets
		// still in the shared one, oldest first.
		d = &dupState{ring: make([]fingerprint, dupRing)}
		for i := range recentRing {
			e := &t.recent[(t.recentN+uint32(i))%recentRing]
			if e.c == c {
				d.ring[d.n%dupRing] = e.fp
				d.n++
				e.c = nil
			}
		}
		c.dups = d
	}
	for i := range d.paths {
		if d.paths[i].iface == p.Iface && d.paths[i].path.Same(&p.Path) {
			return uint8(i + 1)
		}
	}
	if len(d.paths) == maxFlowPaths-1 {
		return maxFlowPaths - 1
	}
	d.paths = append(d.paths, pathKey{p.Iface, p.Path})
	return uint8(len(d.paths))
}

// pathDup reports whether p is a copy of a packet of c seen through another
// path, and remembers p's fingerprint when it is not.
func (t *Tracker) pathDup(c *conn, p *capture.Packet) bool {
	f := fingerprintOf(p, t.pathIndex(c, p))
	d := c.dups
	if d == nil {
		t.recent[t.recentN%recentRing] = recentFP{c, f}
		t.recentN++
		return false
	}
	k := min(int(d.n), len(d.ring))
	for i := range k {
		e := &d.ring[i]
		if !e.used && e.path != f.path && e.same(&f) {
			e.used = true
			t.Stats.PathDuplicates++
			s := c.s
			if s.Dups == nil {
				s.Dups = &PathDups{First: c.pathText(e.path), Again: c.pathText(f.path)}
				if t.Stats.PathDuplicates == 1 {
					t.Stats.DuplicatePaths = [2]string{s.Dups.First, s.Dups.Again}
				}
			}
			s.Dups.Count++
			if len(s.Dups.Frames) < MaxDupFrames {
				s.Dups.Frames = append(s.Dups.Frames, p.Frame)
			}
			return true
		}
	}
	d.ring[d.n%dupRing] = f
	d.n++
	return false
}

// PathName writes a path for a user: "no encapsulation" for "".
func PathName(p string) string {
	if p == "" {
		return "no encapsulation"
	}
	return p
}

// pathText writes path i of c for a user.
func (c *conn) pathText(i uint8) string {
	d := c.dups
	if i == 0 {
		if c.s.Path == nil {
			return ""
		}
		return c.s.Path.String()
	}
	k := &d.paths[i-1]
	s := k.path.String()
	if k.iface != int(c.iface0) {
		if s != "" {
			s += " "
		}
		s += "(interface " + strconv.Itoa(k.iface) + ")"
	}
	return s
}

// mergeDups adds a later part's path duplicates to an earlier part's,
// without changing either.
func mergeDups(a, b *PathDups) *PathDups {
	if b == nil {
		return a
	}
	if a == nil {
		return b
	}
	m := *a
	m.Count += b.Count
	m.Frames = append(m.Frames[:len(m.Frames):len(m.Frames)], b.Frames[:min(len(b.Frames), MaxDupFrames-len(m.Frames))]...)
	return &m
}
