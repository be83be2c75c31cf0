package findings

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/sockscope/sockscope/capture"
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

type scanDetector struct {
	cfg     *Config
	srcs    map[netip.Addr]*scanSrc
	n       int
	dropped int
}

type scanSrc struct {
	targets     map[netip.AddrPort]outcome
	open        map[netip.AddrPort]StreamRef
	ev          evidence
	first, last time.Time
}

func (sd *scanDetector) init(cfg *Config) {
	sd.cfg = cfg
	sd.srcs = make(map[netip.Addr]*scanSrc)
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

func (sd *scanDetector) stream(s *reassembly.Stream) {
	o := synOutcome(s)
	if o == 0 {
		return
	}
	src := sd.srcs[s.Client.Addr()]
	if src == nil {
		src = &scanSrc{targets: map[netip.AddrPort]outcome{}, open: map[netip.AddrPort]StreamRef{}, ev: evidence{max: sd.cfg.MaxEvidence}, first: s.Start, last: s.Start}
		sd.srcs[s.Client.Addr()] = src
	}
	old, seen := src.targets[s.Server]
	if !seen {
		if sd.n >= sd.cfg.MaxTracked {
			sd.dropped++
			return
		}
		sd.n++
	}
	if o > old {
		src.targets[s.Server] = o
	}
	if o == outOpen {
		if _, ok := src.open[s.Server]; !ok {
			src.open[s.Server] = RefOf(s)
		}
	}
	src.ev.stream(RefOf(s))
	src.ev.frame(s.FirstFrame)
	if s.Start.Before(src.first) {
		src.first = s.Start
	}
	if s.Start.After(src.last) {
		src.last = s.Start
	}
}

// findings appends one finding per scanning source and returns the scanners.
func (sd *scanDetector) findings(out *[]Finding) map[netip.Addr]bool {
	scanners := map[netip.Addr]bool{}
	addrs := make([]netip.Addr, 0, len(sd.srcs))
	for a := range sd.srcs {
		addrs = append(addrs, a)
	}
	slices.SortFunc(addrs, netip.Addr.Compare)
	for _, a := range addrs {
		src := sd.srcs[a]
		var refused, unanswered int
		hosts := map[netip.Addr]bool{}
		ports := map[uint16]bool{}
		var open []netip.AddrPort
		for t, o := range src.targets {
			hosts[t.Addr()] = true
			ports[t.Port()] = true
			switch o {
			case outRefused:
				refused++
			case outUnanswered:
				unanswered++
			case outOpen:
				open = append(open, t)
			}
		}
		n := len(src.targets)
		if n < sd.cfg.ScanMinTargets || float64(refused+unanswered) < sd.cfg.ScanMinFailed*float64(n) {
			continue
		}
		scanners[a] = true
		slices.SortFunc(open, netip.AddrPort.Compare)
		var what string
		if len(hosts) == 1 {
			for h := range hosts {
				what = fmt.Sprintf("%s on %s", plural(len(ports), "port", "ports"), h)
			}
		} else {
			what = fmt.Sprintf("%s (%s, %s)", plural(n, "address:port", "address:ports"), plural(len(hosts), "host", "hosts"), plural(len(ports), "port", "ports"))
		}
		openText := "none open"
		if len(open) > 0 {
			var items []string
			for _, t := range open {
				if len(hosts) == 1 {
					items = append(items, fmt.Sprint(t.Port()))
				} else {
					items = append(items, t.String())
				}
			}
			openText = fmt.Sprintf("%d open: %s", len(open), strings.Join(items, ", "))
		}
		f := Finding{Kind: KindPortScan, Severity: Warning, Endpoint: a.String(),
			Message: fmt.Sprintf("Port scan: %s sent SYNs to %s in %s; %d refused, %d unanswered, %s.",
				a, what, dur(src.last.Sub(src.first)), refused, unanswered, openText)}
		for _, t := range open {
			f.Details = append(f.Details, fmt.Sprintf("open %s (%s): answered SYN-ACK", t, src.open[t]))
		}
		src.ev.finish(&f)
		*out = append(*out, f)
	}
	return scanners
}

// Listening services and refused ports.
//
// Rule: every server address:port that answered a SYN with a SYN-ACK is a
// listening service (one info finding lists them with their connection
// counts: an audit of what is exposed). Every address:port that answered a
// SYN with RST refused it (one info finding; a warning when the same port
// also accepted connections: its listen backlog may have overflowed).

type serviceDetector struct {
	cfg     *Config
	eps     map[netip.AddrPort]*service
	dropped int
}

type service struct {
	accepted, refused int
	acc, ref          evidence
}

func (sv *serviceDetector) init(cfg *Config) {
	sv.cfg = cfg
	sv.eps = make(map[netip.AddrPort]*service)
}

func (sv *serviceDetector) stream(s *reassembly.Stream) {
	o := synOutcome(s)
	if o != outOpen && o != outRefused {
		return
	}
	ep := sv.eps[s.Server]
	if ep == nil {
		if len(sv.eps) >= sv.cfg.MaxTracked {
			sv.dropped++
			return
		}
		ep = &service{acc: evidence{max: sv.cfg.MaxEvidence}, ref: evidence{max: sv.cfg.MaxEvidence}}
		sv.eps[s.Server] = ep
	}
	if o == outOpen {
		ep.accepted++
		ep.acc.stream(RefOf(s))
		ep.acc.frame(s.FirstFrame)
	} else {
		ep.refused++
		ep.ref.stream(RefOf(s))
		ep.ref.frame(s.FirstFrame)
	}
}

func (sv *serviceDetector) findings(out *[]Finding) {
	eps := make([]netip.AddrPort, 0, len(sv.eps))
	for k := range sv.eps {
		eps = append(eps, k)
	}
	slices.SortFunc(eps, netip.AddrPort.Compare)
	listen := Finding{Kind: KindServices, Severity: Info}
	refused := Finding{Kind: KindRefused, Severity: Info}
	lev, rev := evidence{max: sv.cfg.MaxEvidence}, evidence{max: sv.cfg.MaxEvidence}
	var lItems []string
	refPorts := map[netip.Addr][]uint16{}
	var refAddrs []netip.Addr
	nListen, nRefused, nRefusedSYN := 0, 0, 0
	for _, k := range eps {
		ep := sv.eps[k]
		if ep.accepted > 0 {
			nListen++
			lItems = append(lItems, fmt.Sprintf("%s (%s)", k, plural(ep.accepted, "connection", "connections")))
			d := fmt.Sprintf("%s answered %s", k, plural(ep.accepted, "SYN with SYN-ACK", "SYNs with SYN-ACK"))
			if ep.refused > 0 {
				d += fmt.Sprintf(", and refused %d", ep.refused)
			}
			listen.Details = append(listen.Details, d)
			mergeEvidence(&lev, &ep.acc)
		}
		if ep.refused > 0 {
			nRefused++
			nRefusedSYN += ep.refused
			if _, ok := refPorts[k.Addr()]; !ok {
				refAddrs = append(refAddrs, k.Addr())
			}
			refPorts[k.Addr()] = append(refPorts[k.Addr()], k.Port())
			if ep.accepted > 0 {
				refused.Severity = Warning
				refused.Details = append(refused.Details, fmt.Sprintf("%s refused %d but accepted %d: a full listen backlog, or a service restarting", k, ep.refused, ep.accepted))
			}
			mergeEvidence(&rev, &ep.ref)
		}
	}
	if nListen > 0 {
		listen.Message = fmt.Sprintf("%s accepted connections: %s.", plural(nListen, "listening service", "listening services"), listLimit(lItems, 10))
		lev.finish(&listen)
		*out = append(*out, listen)
	}
	if nRefused > 0 {
		var items []string
		for _, a := range refAddrs {
			items = append(items, fmt.Sprintf("%s port %s", a, portList(refPorts[a], 8)))
		}
		refused.Message = fmt.Sprintf("%s refused (SYN answered by RST) on %s: %s.", plural(nRefusedSYN, "connection attempt was", "connection attempts were"),
			plural(nRefused, "closed port", "closed ports"), strings.Join(items, "; "))
		rev.finish(&refused)
		*out = append(*out, refused)
	}
}

func mergeEvidence(dst, src *evidence) {
	for _, s := range src.streams {
		dst.stream(s)
	}
	dst.count += src.count - len(src.streams)
	for _, f := range src.frames {
		dst.frame(f)
	}
}

func listLimit(items []string, n int) string {
	if len(items) > n {
		return strings.Join(items[:n], ", ") + fmt.Sprintf(", … (%d more)", len(items)-n)
	}
	return strings.Join(items, ", ")
}
