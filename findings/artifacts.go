package findings

import (
	"fmt"

	"github.com/sockscope/sockscope/capture"
	"github.com/sockscope/sockscope/reassembly"
)

// Capture artifacts: things about how the capture was taken, not about the
// traffic, that change what can be concluded from it.
//
//   - snaplen: frames cut by the snapshot length (warning: payload checks
//     see only the start of each segment).
//   - offload: TCP segments larger than the MSS the receiver announced:
//     captured before TSO/GSO split them or after GRO merged them (info).
//   - midstream: TCP streams whose SYN is not in the capture: it started
//     after they opened, so their client is a guess (info).
//   - one_sided: TCP streams where only one direction was captured (beyond
//     a lone SYN): asymmetric routing, or a filter on one direction (info).
//   - kernel_drops: packets the capturing kernel dropped (live capture
//     only: files do not record it) (warning).
//   - path_duplicates: the same packets captured twice, through two paths
//     (a mirror copy next to the original; a tunnel's inner packets on the
//     tunnel device and inside the tunnel on its underlay): counted once,
//     not as retransmissions (info).

type artifactDetector struct {
	cfg                       *Config
	mid, off, one, trunc, dup evidence
	nMid, nOff, nOne, nOffSeg int
	nDup, nDupPkts            int
	dupPaths                  [2]string
	truncSegs                 int
	truncMissing              int64
	initialized               bool
	oneSided                  []string
}

func (ad *artifactDetector) ensure() {
	if !ad.initialized {
		ad.initialized = true
		for _, e := range []*evidence{&ad.mid, &ad.off, &ad.one, &ad.trunc, &ad.dup} {
			e.max = ad.cfg.MaxEvidence
		}
	}
}

func (ad *artifactDetector) stream(s *reassembly.Stream) {
	ad.ensure()
	ref := RefOf(s)
	if t := s.Dirs[0].Truncated + s.Dirs[1].Truncated; t > 0 {
		ad.trunc.stream(ref)
		ad.truncSegs += t
		ad.truncMissing += s.Dirs[0].Missing + s.Dirs[1].Missing
		ad.anomalyFrames(&ad.trunc, s, reassembly.AnomalySnaplen)
	}
	if d := s.Dups; d != nil {
		if ad.nDup == 0 {
			ad.dupPaths = [2]string{d.First, d.Again}
		}
		ad.nDup++
		ad.nDupPkts += d.Count
		ad.dup.stream(ref)
		for _, f := range d.Frames[:min(len(d.Frames), 3)] {
			ad.dup.frame(f)
		}
	}
	if s.Proto != capture.ProtoTCP {
		return
	}
	if s.Midstream {
		ad.nMid++
		ad.mid.stream(ref)
		ad.mid.frame(s.FirstFrame)
	}
	if o := s.Dirs[0].Oversize + s.Dirs[1].Oversize; o > 0 {
		ad.nOff++
		ad.nOffSeg += o
		ad.off.stream(ref)
		ad.anomalyFrames(&ad.off, s, reassembly.AnomalyOversize)
	}
	for d := range s.Dirs {
		h, other := &s.Dirs[d], &s.Dirs[1-d]
		if !s.Resumed && other.Packets == 0 && h.Packets > 0 && !(h.SYN && h.Packets <= s.SYNCount && h.Bytes == 0) {
			ad.nOne++
			ad.one.stream(ref)
			ad.one.frame(s.FirstFrame)
			if len(ad.oneSided) < ad.cfg.MaxEvidence {
				ad.oneSided = append(ad.oneSided, fmt.Sprintf("%s: only %s captured (%s, %s), nothing from %s",
					ref, reassembly.Direction(d).Arrow(), plural(h.Packets, "packet", "packets"), bytesText(h.Bytes), s.Peer(reassembly.Direction(1-d))))
			}
		}
	}
}

func (ad *artifactDetector) anomalyFrames(ev *evidence, s *reassembly.Stream, k reassembly.AnomalyKind) {
	n := 0
	for _, a := range s.Anomalies {
		if a.Kind == k && n < 3 {
			ev.frame(a.Frame)
			n++
		}
	}
}

func (ad *artifactDetector) findings(out *[]Finding, sum Summary) {
	ad.ensure()
	add := func(f Finding, ev *evidence) {
		ev.finish(&f)
		*out = append(*out, f)
	}
	if st := sum.Stats; st.Truncated > 0 {
		snap := "the snapshot length"
		if sum.Info.Snaplen > 0 && sum.Info.Snaplen < 262144 {
			snap = fmt.Sprintf("the snapshot length (%d bytes)", sum.Info.Snaplen)
		}
		f := Finding{Kind: KindSnaplen, Severity: Warning,
			Message: fmt.Sprintf("%s of %d were cut by %s: %s of payload was not captured, so content and framing checks see only the start of each segment.",
				plural(st.Truncated, "frame", "frames"), st.Packets, snap, bytesText(ad.truncMissing))}
		if ad.truncSegs > 0 {
			f.Details = []string{fmt.Sprintf("%s with payload cut on %s", plural(ad.truncSegs, "segment", "segments"), plural(ad.trunc.count, "stream", "streams"))}
		}
		add(f, &ad.trunc)
	}
	if sum.DropsKnown && sum.Dropped > 0 {
		f := Finding{Kind: KindDrops, Severity: Warning,
			Message: fmt.Sprintf("The capturing kernel dropped %d of %d packets (buffer full): gaps and retransmissions here may be capture loss, not network loss.", sum.Dropped, sum.Received)}
		add(f, &evidence{max: ad.cfg.MaxEvidence})
	}
	if ad.nOff > 0 {
		add(Finding{Kind: KindOffload, Severity: Info,
			Message: fmt.Sprintf("%s larger than the MSS on %s: the capture saw them before segmentation offload (TSO/GSO) or after receive offload (GRO), not as they crossed the wire.",
				plural(ad.nOffSeg, "segment was", "segments were"), plural(ad.nOff, "stream", "streams"))}, &ad.off)
	}
	if ad.nDup > 0 {
		add(Finding{Kind: KindPathDuplicate, Severity: Info,
			Message: fmt.Sprintf("%s on %s %s captured twice, through two paths (%s, then %s): a mirror copy next to the original, or a capture on both a tunnel and its underlay. Each packet is counted once; the copies are not retransmissions.",
				plural(ad.nDupPkts, "packet", "packets"), plural(ad.nDup, "stream", "streams"), map[bool]string{true: "was", false: "were"}[ad.nDupPkts == 1],
				reassembly.PathName(ad.dupPaths[0]), reassembly.PathName(ad.dupPaths[1]))}, &ad.dup)
	}
	if ad.nMid > 0 {
		add(Finding{Kind: KindMidstream, Severity: Info,
			Message: fmt.Sprintf("The capture started after %s opened (no SYN seen): their handshake, options and first bytes are missing, and who is the client is a guess.",
				plural(ad.nMid, "connection had", "connections had"))}, &ad.mid)
	}
	if ad.nOne > 0 {
		add(Finding{Kind: KindOneSided, Severity: Info,
			Message: fmt.Sprintf("Only one direction of %s was captured: asymmetric routing, or a capture filter or tap that sees one direction.",
				plural(ad.nOne, "connection", "connections")), Details: ad.oneSided}, &ad.one)
	}
}
