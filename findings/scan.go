package findings

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/sockscope/sockscope/capture"
	"github.com/sockscope/sockscope/internal/human"
	"github.com/sockscope/sockscope/reassembly"
)

// Port scan.
//
// Rule: for each source address, the distinct destination address:ports it
// sent a SYN to (many ports on one host, or one port on many hosts), each
// with its best outcome: open (SYN-ACK), refused (RST) or unanswered. A
// source with at least ScanMinTargets targets of which at least
// ScanMinFailed (a fraction) were refused or unanswered is a scanner
// (warning); the open ports are listed. Ordinary clients connect to few
// targets, and most of their SYNs succeed.

type outcome uint8

const (
	outUnanswered outcome = iota + 1
	outRefused
	outOpen
)

// Memory: a target costs 9-18 bytes (IPv4; an IPv6 target a map entry), a
// source about 100 bytes, plus its evidence once it has more than one
// stream; at most MaxTracked targets are remembered (the rest are counted in
// the analysis_limit finding). Messages list at most listItems open targets,
// details at most MaxEvidence.

type scanDetector struct {
	cfg     *Config
	src4    ptable               // IPv4 source address -> index in srcs
	src6    map[netip.Addr]int32 // other sources
	srcs    []scanSrc
	n       int // targets remembered, all sources together
	dropped int
}

// scanSrc is one source's SYN targets. Its first stream is kept inline
// (t0, id0, fr0): a source seen once (a flood of spoofed SYNs) allocates
// nothing more.
type scanSrc struct {
	n, refused, unanswered, open int32
	first, last                  int64  // capture time of its first and last SYN stream (Unix ns)
	t0                           uint64 // the only target while more is nil: IPv4 key | outcome<<48 | used
	id0, fr0                     int    // the only stream while more is nil
	more                         *scanMore
}

type scanMore struct {
	t4  ptable // IPv4 target (addrKey) -> outcome
	t6  map[netip.AddrPort]outcome
	ev  evidence
	top []openTarget // the lowest open targets, each with its first open stream
}

type openTarget struct {
	ap  netip.AddrPort
	ref StreamRef
}

// listItems bounds the items a message lists (open ports, services,
// addresses); details list at most Config.MaxEvidence.
const listItems = 10

// refusedAddrs bounds the addresses the refused message lists (each with
// at most refusedRanges port ranges).
const (
	refusedAddrs  = 5
	refusedRanges = 8
)

func (sd *scanDetector) init(cfg *Config) {
	sd.cfg = cfg
	sd.src6 = make(map[netip.Addr]int32)
	sd.src4.kbits = 32
}

// synOutcome says what became of a stream's SYN (0: the stream has no SYN
// from its client).
func synOutcome(s *reassembly.Stream) outcome {
	if s.Proto != capture.ProtoTCP || !s.Dirs[reassembly.ClientToServer].SYN || s.SYNCount == 0 {
		return 0
	}
	switch {
	case s.Dirs[reassembly.ServerToClient].SYN:
		return outOpen
	case s.State == reassembly.StateRefused:
		return outRefused
	}
	return outUnanswered
}

// source returns the index of a's record (-1 when a is new and create is
// false).
func (sd *scanDetector) source(a netip.Addr, create bool) int {
	if k, ok := addr4(a); ok {
		if i, ok := sd.src4.get(k); ok {
			return int(i)
		}
		if !create {
			return -1
		}
		sd.src4.put(k, uint64(len(sd.srcs)))
		sd.srcs = append(sd.srcs, scanSrc{})
		return len(sd.srcs) - 1
	}
	i, ok := sd.src6[a]
	if !ok {
		if !create {
			return -1
		}
		i = int32(len(sd.srcs))
		sd.src6[a] = i
		sd.srcs = append(sd.srcs, scanSrc{})
	}
	return int(i)
}

func (sd *scanDetector) stream(s *reassembly.Stream) {
	o := synOutcome(s)
	if o == 0 {
		return
	}
	ref := RefOf(s)
	i := sd.source(s.Client.Addr(), false)
	if i < 0 {
		if sd.n >= sd.cfg.MaxTracked {
			sd.dropped++
			return
		}
		i = sd.source(s.Client.Addr(), true)
		src := &sd.srcs[i]
		src.first, src.last = s.Start.UnixNano(), s.Start.UnixNano()
		if k, ok := addrKey(s.Server); ok {
			sd.n++
			src.n = 1
			src.count(0, o)
			src.t0, src.id0, src.fr0 = k|uint64(o)<<48|used, s.ID, s.FirstFrame
			return
		}
	}
	src := &sd.srcs[i]
	m := src.grow(sd.cfg)
	var old outcome
	var seen bool
	k, is4 := addrKey(s.Server)
	if is4 {
		var v uint64
		v, seen = m.t4.get(k)
		old = outcome(v)
	} else if m.t6 != nil {
		old, seen = m.t6[s.Server]
	}
	if !seen {
		if sd.n >= sd.cfg.MaxTracked {
			sd.dropped++
			return
		}
		sd.n++
		src.n++
	}
	if o > old {
		if is4 {
			m.t4.put(k, uint64(o))
		} else {
			if m.t6 == nil {
				m.t6 = make(map[netip.AddrPort]outcome)
			}
			m.t6[s.Server] = o
		}
		src.count(old, o)
		if o == outOpen {
			m.addOpen(s.Server, ref, max(listItems, sd.cfg.MaxEvidence))
		}
	}
	m.ev.stream(ref)
	m.ev.frame(s.FirstFrame)
	t := s.Start.UnixNano()
	src.first, src.last = min(src.first, t), max(src.last, t)
}

// count moves a target from outcome old (0: new) to o.
func (src *scanSrc) count(old, o outcome) {
	for _, c := range []struct {
		o outcome
		d int32
	}{{old, -1}, {o, 1}} {
		switch c.o {
		case outRefused:
			src.refused += c.d
		case outUnanswered:
			src.unanswered += c.d
		case outOpen:
			src.open += c.d
		}
	}
}

// grow moves the inline first stream into more (allocated on first use).
func (src *scanSrc) grow(cfg *Config) *scanMore {
	if src.more != nil {
		return src.more
	}
	m := &scanMore{ev: evidence{max: cfg.MaxEvidence}}
	m.t4.kbits = 48
	src.more = m
	if src.t0 != 0 {
		k, o := src.t0&(1<<48-1), outcome(src.t0>>48&3)
		m.t4.put(k, uint64(o))
		ref := StreamRef{capture.ProtoTCP, src.id0}
		if o == outOpen {
			m.addOpen(keyAddr(k), ref, max(listItems, cfg.MaxEvidence))
		}
		m.ev.stream(ref)
		m.ev.frame(src.fr0)
		src.t0 = 0
	}
	return m
}

// addOpen keeps ap (first opened by ref) if it is among the n lowest open
// targets.
func (m *scanMore) addOpen(ap netip.AddrPort, ref StreamRef, n int) {
	i, _ := slices.BinarySearchFunc(m.top, ap, func(t openTarget, ap netip.AddrPort) int { return t.ap.Compare(ap) })
	if i >= n {
		return
	}
	m.top = slices.Insert(m.top, i, openTarget{ap, ref})
	if len(m.top) > n {
		m.top = m.top[:n]
	}
}

// findings appends one finding per scanning source and returns the scanners.
func (sd *scanDetector) findings(out *[]Finding) map[netip.Addr]bool {
	scanners := map[netip.Addr]bool{}
	type entry struct {
		a netip.Addr
		i int32
	}
	var list []entry
	add := func(a netip.Addr, i int32) {
		src := &sd.srcs[i]
		n := int(src.n)
		if n < sd.cfg.ScanMinTargets || float64(src.refused+src.unanswered) < sd.cfg.ScanMinFailed*float64(n) {
			return
		}
		list = append(list, entry{a, i})
	}
	sd.src4.all(func(k, i uint64) {
		add(netip.AddrFrom4([4]byte{byte(k >> 24), byte(k >> 16), byte(k >> 8), byte(k)}), int32(i))
	})
	for a, i := range sd.src6 {
		add(a, i)
	}
	slices.SortFunc(list, func(x, y entry) int { return x.a.Compare(y.a) })
	for _, e := range list {
		a, src := e.a, &sd.srcs[e.i]
		m := src.grow(sd.cfg)
		n := int(src.n)
		scanners[a] = true
		hosts, ports, host := m.spread()
		var what string
		if hosts == 1 {
			what = fmt.Sprintf("%s on %s", plural(ports, "port", "ports"), host)
		} else {
			what = fmt.Sprintf("%s (%s, %s)", plural(n, "address:port", "address:ports"), plural(hosts, "host", "hosts"), plural(ports, "port", "ports"))
		}
		openText := "none open"
		if src.open > 0 {
			var items []string
			for _, t := range m.top[:min(len(m.top), listItems)] {
				if hosts == 1 {
					items = append(items, fmt.Sprint(t.ap.Port()))
				} else {
					items = append(items, t.ap.String())
				}
			}
			openText = fmt.Sprintf("%d open: %s", src.open, strings.Join(items, ", "))
			if more := int(src.open) - len(items); more > 0 {
				openText += fmt.Sprintf(", … (%d more)", more)
			}
		}
		f := Finding{Kind: KindPortScan, Severity: Warning, Endpoint: a.String(),
			Message: fmt.Sprintf("Port scan: %s sent SYNs to %s in %s; %d refused, %d unanswered, %s.",
				a, what, human.Duration(time.Duration(src.last-src.first)), src.refused, src.unanswered, openText)}
		for _, t := range m.top[:min(len(m.top), sd.cfg.MaxEvidence)] {
			f.Details = append(f.Details, fmt.Sprintf("open %s (%s): answered SYN-ACK", t.ap, t.ref))
		}
		if more := int(src.open) - len(f.Details); more > 0 {
			f.Details = append(f.Details, fmt.Sprintf("… and %d more open %s", more, map[bool]string{true: "ports", false: "address:ports"}[hosts == 1]))
		}
		m.ev.finish(&f)
		*out = append(*out, f)
	}
	return scanners
}

// spread counts the distinct hosts and ports among m's targets (host: the
// only one, when there is one).
func (m *scanMore) spread() (hosts, ports int, host netip.Addr) {
	keys := make([]uint64, 0, m.t4.len())
	m.t4.all(func(k, _ uint64) { keys = append(keys, k) })
	slices.Sort(keys)
	var seen [65536 / 64]uint64
	mark := func(p uint16) {
		if seen[p/64]&(1<<(p%64)) == 0 {
			seen[p/64] |= 1 << (p % 64)
			ports++
		}
	}
	for i, k := range keys {
		if i == 0 || k>>16 != keys[i-1]>>16 {
			hosts++
			host = keyAddr(k).Addr()
		}
		mark(uint16(k))
	}
	h6 := map[netip.Addr]bool{}
	for t := range m.t6 {
		if !h6[t.Addr()] {
			h6[t.Addr()] = true
			hosts++
			host = t.Addr()
		}
		mark(t.Port())
	}
	return hosts, ports, host
}

// Listening services and refused ports.
//
// Rule: every server address:port that answered a SYN with a SYN-ACK is a
// listening service (one info finding lists them with their connection
// counts: an audit of what is exposed). Every address:port that answered a
// SYN with RST refused it (one info finding; a warning when the same port
// also accepted connections: its listen backlog may have overflowed).

//
// Memory: per address:port two counters (16-18 bytes for IPv4), at most
// MaxTracked address:ports (the rest are counted in analysis_limit).
// Messages list at most listItems services (by connections, most first,
// when there are more) and refusedAddrs addresses of refusedRanges port
// ranges each; details at most MaxEvidence lines.

type serviceDetector struct {
	cfg      *Config
	v4       ptable // IPv4 address:port (addrKey) -> packed counts (svcPack)
	big      map[uint64]*svcCount
	v6       map[netip.AddrPort]*svcCount
	lev, rev evidence // accepted / refused streams
	dropped  int
}

type svcCount struct{ acc, ref uint32 }

// An IPv4 service's counts are packed in its table entry while both are
// below 128 (svcBig set: they are in serviceDetector.big).
const (
	svcBits = 7
	svcMax  = 1<<svcBits - 1
	svcBig  = 1 << (2 * svcBits)
)

func (sv *serviceDetector) init(cfg *Config) {
	sv.cfg = cfg
	sv.v6 = make(map[netip.AddrPort]*svcCount)
	sv.big = make(map[uint64]*svcCount)
	sv.v4.kbits = 48
	sv.lev, sv.rev = evidence{max: cfg.MaxEvidence}, evidence{max: cfg.MaxEvidence}
}

func (sv *serviceDetector) len() int { return sv.v4.len() + len(sv.v6) }

func (sv *serviceDetector) stream(s *reassembly.Stream) {
	o := synOutcome(s)
	if o != outOpen && o != outRefused {
		return
	}
	var ep *svcCount
	if k, ok := addrKey(s.Server); ok {
		v, seen := sv.v4.get(k)
		if !seen && sv.len() >= sv.cfg.MaxTracked {
			sv.dropped++
			return
		}
		if v&svcBig != 0 {
			ep = sv.big[k]
		} else {
			acc, ref := v&svcMax, v>>svcBits&svcMax
			if o == outOpen {
				acc++
			} else {
				ref++
			}
			if acc <= svcMax && ref <= svcMax {
				sv.v4.put(k, acc|ref<<svcBits)
				sv.evidence(s, o)
				return
			}
			ep = &svcCount{uint32(v & svcMax), uint32(v >> svcBits & svcMax)}
			sv.big[k] = ep
			sv.v4.put(k, svcBig)
		}
	} else if ep = sv.v6[s.Server]; ep == nil {
		if sv.len() >= sv.cfg.MaxTracked {
			sv.dropped++
			return
		}
		ep = &svcCount{}
		sv.v6[s.Server] = ep
	}
	if o == outOpen {
		ep.acc++
	} else {
		ep.ref++
	}
	sv.evidence(s, o)
}

func (sv *serviceDetector) evidence(s *reassembly.Stream, o outcome) {
	ev := &sv.rev
	if o == outOpen {
		ev = &sv.lev
	}
	ev.stream(RefOf(s))
	ev.frame(s.FirstFrame)
}

// service is one address:port with its counts, for findings.
type service struct {
	ap       netip.AddrPort
	acc, ref int
}

// all calls f for every address:port in AddrPort order.
func (sv *serviceDetector) all(f func(service)) {
	keys := make([]uint64, 0, sv.v4.len())
	sv.v4.all(func(k, v uint64) { keys = append(keys, k<<15|v) }) // sorts by key
	slices.Sort(keys)
	for _, e := range keys {
		k, v := e>>15, e&(1<<15-1)
		c := svcCount{uint32(v & svcMax), uint32(v >> svcBits & svcMax)}
		if v&svcBig != 0 {
			c = *sv.big[k]
		}
		f(service{keyAddr(k), int(c.acc), int(c.ref)})
	}
	keys = nil
	eps := make([]netip.AddrPort, 0, len(sv.v6))
	for k := range sv.v6 {
		eps = append(eps, k)
	}
	slices.SortFunc(eps, netip.AddrPort.Compare)
	for _, k := range eps {
		f(service{k, int(sv.v6[k].acc), int(sv.v6[k].ref)})
	}
}

func (sv *serviceDetector) findings(out *[]Finding) {
	cfg := sv.cfg
	listen := Finding{Kind: KindServices, Severity: Info}
	refused := Finding{Kind: KindRefused, Severity: Info}
	var first, top []service // the first listening services, in order; the busiest
	topN := max(listItems, cfg.MaxEvidence)
	busier := func(a, b service) int { return cmp.Or(cmp.Compare(b.acc, a.acc), a.ap.Compare(b.ap)) }
	type addrPorts struct {
		a     netip.Addr
		ports []uint16
	}
	var refAddrs []addrPorts
	nRefAddrs, nBoth := 0, 0
	var lastRefAddr netip.Addr
	nListen, nRefused, nRefusedSYN := 0, 0, 0
	sv.all(func(ep service) {
		if ep.acc > 0 {
			nListen++
			if len(first) < cfg.MaxEvidence {
				first = append(first, ep)
			}
			if i, _ := slices.BinarySearchFunc(top, ep, busier); i < topN {
				top = slices.Insert(top, i, ep)
				top = top[:min(len(top), topN)]
			}
		}
		if ep.ref > 0 {
			nRefused++
			nRefusedSYN += ep.ref
			a := ep.ap.Addr()
			if nRefAddrs == 0 || a != lastRefAddr {
				nRefAddrs++ // sorted: an address's ports are together
				lastRefAddr = a
				if len(refAddrs) < refusedAddrs {
					refAddrs = append(refAddrs, addrPorts{a: a})
				}
			}
			if n := len(refAddrs); refAddrs[n-1].a == a {
				refAddrs[n-1].ports = append(refAddrs[n-1].ports, ep.ap.Port())
			}
			if ep.acc > 0 {
				refused.Severity = Warning
				nBoth++
				if len(refused.Details) < cfg.MaxEvidence {
					refused.Details = append(refused.Details, fmt.Sprintf("%s refused %d but accepted %d: a full listen backlog, or a service restarting", ep.ap, ep.ref, ep.acc))
				}
			}
		}
	})
	if nListen > 0 {
		items := func(l []service) string {
			var s []string
			for _, ep := range l[:min(len(l), listItems)] {
				s = append(s, fmt.Sprintf("%s (%s)", ep.ap, plural(ep.acc, "connection", "connections")))
			}
			return strings.Join(s, ", ")
		}
		if nListen <= listItems {
			listen.Message = fmt.Sprintf("%s accepted connections: %s.", plural(nListen, "listening service", "listening services"), items(first))
		} else {
			listen.Message = fmt.Sprintf("%d listening services accepted connections (top %d by connections: %s; %d more).", nListen, listItems, items(top), nListen-listItems)
		}
		shown := first
		if nListen > len(first) {
			shown = top[:min(len(top), cfg.MaxEvidence)]
		}
		for _, ep := range shown {
			d := fmt.Sprintf("%s answered %s", ep.ap, plural(ep.acc, "SYN with SYN-ACK", "SYNs with SYN-ACK"))
			if ep.ref > 0 {
				d += fmt.Sprintf(", and refused %d", ep.ref)
			}
			listen.Details = append(listen.Details, d)
		}
		if more := nListen - len(shown); more > 0 {
			listen.Details = append(listen.Details, fmt.Sprintf("… and %d more listening services", more))
		}
		sv.lev.finish(&listen)
		*out = append(*out, listen)
	}
	if nRefused > 0 {
		var items []string
		for _, a := range refAddrs {
			items = append(items, fmt.Sprintf("%s port %s", a.a, portList(a.ports, refusedRanges)))
		}
		list := strings.Join(items, "; ")
		if more := nRefAddrs - len(refAddrs); more > 0 {
			list += fmt.Sprintf("; … (%d more %s)", more, map[bool]string{true: "address", false: "addresses"}[more == 1])
		}
		refused.Message = fmt.Sprintf("%s refused (SYN answered by RST) on %s: %s.", plural(nRefusedSYN, "connection attempt was", "connection attempts were"),
			plural(nRefused, "closed port", "closed ports"), list)
		if more := nBoth - len(refused.Details); more > 0 {
			refused.Details = append(refused.Details, fmt.Sprintf("… and %d more address:ports that both refused and accepted", more))
		}
		sv.rev.finish(&refused)
		*out = append(*out, refused)
	}
}
