package findings

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/sockscope/sockscope/capture"
	"github.com/sockscope/sockscope/reassembly"
)

// Severity says how much a finding matters: Warning first, then Info.
type Severity uint8

const (
	Info    Severity = iota // worth knowing; nothing is necessarily wrong
	Warning                 // probably a problem, or a risk
)

// String returns "info" or "warning".
func (s Severity) String() string {
	if s == Warning {
		return "warning"
	}
	return "info"
}

// Kind names a finding. The constants are listed most important first: that
// order breaks ties between findings of the same severity.
type Kind string

const (
	KindPortScan        Kind = "port_scan"           // one source probing many ports or hosts
	KindSlowSender      Kind = "slow_sender"         // bytes trickled in tiny segments, or a connection held open with almost no data
	KindZeroWindow      Kind = "zero_window"         // a receiver not reading: zero-window periods and probes
	KindRetransmit      Kind = "retransmission"      // loss: retransmissions, holes filled late, retransmission timeouts
	KindDelayedACK      Kind = "delayed_ack"         // Nagle + delayed ACK stalls (≈40 ms or ≈200 ms)
	KindReset           Kind = "reset"               // established connections ended by RST, and who sent it
	KindUnclosed        Kind = "unclosed"            // connections still open or half-closed at the end of the capture
	KindRefused         Kind = "refused"             // ports that answered SYNs with RST
	KindCleartext       Kind = "cleartext"           // readable application protocols (HTTP, Redis, text lines, DNS, h2c)
	KindFramingHazard   Kind = "framing_hazard"      // messages split across or coalesced into segments ("one send is not one recv")
	KindDrops           Kind = "kernel_drops"        // packets the capturing kernel dropped
	KindSnaplen         Kind = "snaplen"             // frames cut by the snapshot length
	KindOneSided        Kind = "one_sided"           // only one direction of a connection was captured
	KindMidstream       Kind = "midstream"           // the capture started after connections were opened
	KindOffload         Kind = "offload"             // segments larger than the MSS (TSO/GRO)
	KindPathDuplicate   Kind = "path_duplicates"     // the same packets captured twice, through two paths (a mirror; a tunnel and its underlay)
	KindTLSNotDecrypted Kind = "tls_not_decrypted"   // with keys: TLS streams (or records) that could not be decrypted, and why
	KindTLSTinyRecords  Kind = "tls_tiny_records"    // with keys: runs of TLS records carrying a few bytes each (one record per small write)
	KindTLSStraddle     Kind = "tls_record_straddle" // with keys: TLS records spread over many TCP segments
	KindTLS             Kind = "tls"                 // TLS-encrypted services
	KindServices        Kind = "listening_services"  // server address:ports that accepted connections
	KindLimit           Kind = "analysis_limit"      // a memory cap was reached: some analysis was skipped
)

// Kinds lists every kind, most important first.
var Kinds = []Kind{KindPortScan, KindSlowSender, KindZeroWindow, KindRetransmit, KindDelayedACK, KindReset,
	KindUnclosed, KindRefused, KindCleartext, KindFramingHazard, KindDrops, KindSnaplen, KindOneSided,
	KindMidstream, KindOffload, KindPathDuplicate, KindTLSNotDecrypted, KindTLSTinyRecords, KindTLSStraddle, KindTLS, KindServices, KindLimit}

func kindRank(k Kind) int {
	if i := slices.Index(Kinds, k); i >= 0 {
		return i
	}
	return len(Kinds)
}

// StreamRef names a stream as evidence; it sorts TCP before UDP, then by ID.
type StreamRef struct {
	Proto capture.Proto
	ID    int
}

// RefOf returns the reference of s.
func RefOf(s *reassembly.Stream) StreamRef { return StreamRef{s.Proto, s.ID} }

// String returns "tcp/N" or "udp/N".
func (r StreamRef) String() string { return fmt.Sprintf("%s/%d", r.Proto, r.ID) }

func (r StreamRef) compare(o StreamRef) int {
	return cmp.Or(cmp.Compare(r.Proto, o.Proto), cmp.Compare(r.ID, o.ID))
}

// Finding is one thing a careful network engineer would point out.
type Finding struct {
	Kind     Kind
	Severity Severity
	// Message is one sentence saying what was seen, with numbers.
	Message string
	// Streams that show it, ascending, at most Config.MaxEvidence of them;
	// StreamCount is how many there are in all.
	Streams     []StreamRef
	StreamCount int
	// Frames that show it (1-based frame numbers), ascending, at most
	// Config.MaxEvidence.
	Frames []int
	// Endpoint is the address or address:port the finding is about, when
	// there is one ("127.0.0.1:8000" for a service, "10.0.0.9" for a scanner).
	Endpoint string
	// Details are further evidence lines, most telling first.
	Details []string
}

// compare orders findings for output: warnings first, then by kind (most
// important first), first stream, first frame, endpoint, message.
func compare(a, b *Finding) int {
	if c := cmp.Compare(b.Severity, a.Severity); c != 0 {
		return c
	}
	if c := cmp.Compare(kindRank(a.Kind), kindRank(b.Kind)); c != 0 {
		return c
	}
	switch {
	case len(a.Streams) > 0 && len(b.Streams) > 0:
		if c := a.Streams[0].compare(b.Streams[0]); c != 0 {
			return c
		}
	case len(a.Streams) > 0:
		return -1
	case len(b.Streams) > 0:
		return 1
	}
	fa, fb := 1<<62, 1<<62
	if len(a.Frames) > 0 {
		fa = a.Frames[0]
	}
	if len(b.Frames) > 0 {
		fb = b.Frames[0]
	}
	return cmp.Or(cmp.Compare(fa, fb), cmp.Compare(a.Endpoint, b.Endpoint), cmp.Compare(a.Message, b.Message))
}

// Sort orders findings for output (see compare): deterministic, most
// important first.
func Sort(fs []Finding) { slices.SortStableFunc(fs, func(a, b Finding) int { return compare(&a, &b) }) }

// evidence collects streams and frames for a finding, bounded: the max
// lowest stream references and frame numbers, and how many streams in all.
// Adding is O(1) for a stream or frame above the kept ones (the common case:
// IDs and frames grow through a capture), O(max) otherwise.
type evidence struct {
	max        int
	streams    []StreamRef
	count      int
	frames     []int
	smax, fmax int32 // index of the highest kept stream / frame (when full)
}

// stream adds r; past max, the lowest stream IDs are the ones kept.
func (e *evidence) stream(r StreamRef) {
	if n := len(e.streams); n > 0 && n >= e.max {
		switch c := r.compare(e.streams[e.smax]); {
		case c > 0:
			e.count++
			return
		case c == 0:
			return
		}
	}
	if slices.Contains(e.streams, r) {
		return
	}
	e.count++
	if e.max <= 0 {
		return
	}
	if len(e.streams) < e.max {
		e.streams = append(e.streams, r)
		if len(e.streams) == e.max {
			e.smax = int32(maxIndex(e.streams, StreamRef.compare))
		}
		return
	}
	e.streams[e.smax] = r
	e.smax = int32(maxIndex(e.streams, StreamRef.compare))
}

// frame adds frame f; past max, the lowest frame numbers are kept.
func (e *evidence) frame(f int) {
	if f <= 0 || e.max <= 0 {
		return
	}
	if n := len(e.frames); n > 0 && n >= e.max && f >= e.frames[e.fmax] {
		return
	}
	if slices.Contains(e.frames, f) {
		return
	}
	if len(e.frames) < e.max {
		e.frames = append(e.frames, f)
		if len(e.frames) == e.max {
			e.fmax = int32(maxIndex(e.frames, cmp.Compare[int]))
		}
		return
	}
	e.frames[e.fmax] = f
	e.fmax = int32(maxIndex(e.frames, cmp.Compare[int]))
}

func maxIndex[T any](s []T, cmp func(a, b T) int) int {
	m := 0
	for i := 1; i < len(s); i++ {
		if cmp(s[i], s[m]) > 0 {
			m = i
		}
	}
	return m
}

// finish fills f's evidence fields, sorted and de-duplicated.
func (e *evidence) finish(f *Finding) {
	f.Streams = slices.CompactFunc(slices.SortedFunc(slices.Values(e.streams), StreamRef.compare), func(a, b StreamRef) bool { return a == b })
	f.StreamCount = max(e.count, len(f.Streams))
	f.Frames = slices.Compact(slices.Sorted(slices.Values(e.frames)))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

func who(d reassembly.Direction) string {
	if d == reassembly.ClientToServer {
		return "client"
	}
	return "server"
}

// portList formats ports as "1-21, 23-79, 81" (ascending, runs collapsed),
// at most limit items, then "… (N more)".
func portList(ports []uint16, limit int) string {
	ps := slices.Compact(slices.Sorted(slices.Values(ports)))
	var items []string
	for i := 0; i < len(ps); {
		j := i
		for j+1 < len(ps) && ps[j+1] == ps[j]+1 {
			j++
		}
		if j > i {
			items = append(items, fmt.Sprintf("%d-%d", ps[i], ps[j]))
		} else {
			items = append(items, fmt.Sprintf("%d", ps[i]))
		}
		i = j + 1
	}
	if limit > 0 && len(items) > limit {
		return strings.Join(items[:limit], ", ") + fmt.Sprintf(", … (%d more)", len(items)-limit)
	}
	return strings.Join(items, ", ")
}
