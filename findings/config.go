package findings

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sockscope/sockscope/decode"
)

// Config holds every detector's thresholds. The zero value of a field means
// its default (DefaultConfig); the cmd flags of the same name tune them.
type Config struct {
	// Port scan: a source is a scanner when it sent SYNs to at least
	// ScanMinTargets distinct address:ports and at least ScanMinFailed of
	// them (a fraction) were refused (RST) or never answered.
	ScanMinTargets int     // --scan-min-targets, default 20
	ScanMinFailed  float64 // --scan-min-failed, default 0.8

	// Slow sender: at least SlowMinSegments consecutive data segments in one
	// direction, each at most SlowMaxBytes long and each at least SlowMinGap
	// after the previous one. Or a connection open at least IdleMinDuration
	// that carried less than IdleMaxRate bytes per second (both ways).
	SlowMinSegments int           // --slow-min-segments, default 5
	SlowMaxBytes    int           // --slow-max-bytes, default 16
	SlowMinGap      time.Duration // --slow-min-gap, default 500ms
	IdleMinDuration time.Duration // --idle-min-duration, default 60s
	IdleMaxRate     float64       // --idle-max-rate (bytes/s), default 1

	// Unclosed: a connection still open or half-closed at the end of the
	// capture is a warning (possible socket leak) when it had been quiet for
	// at least UnclosedWarnIdle; otherwise info.
	UnclosedWarnIdle time.Duration // --unclosed-warn-idle, default 60s

	// Zero window: any zero-window period is reported; a total blocked time
	// of at least ZeroWindowWarn makes it a warning.
	ZeroWindowWarn time.Duration // --zero-window-warn, default 200ms

	// Delayed ACK: a small data segment (below the MSS) acknowledged by a
	// pure ACK that came DelayedACK*(1±DelayedACKTolerance) later (40 ms or
	// 200 ms), after which the sender's next data followed at once (within
	// 5 ms or 1.5 handshake RTTs): the sender was holding it (Nagle). At
	// least DelayedACKMin such stalls make a finding.
	DelayedACKTolerance float64 // --delack-tolerance, default 0.2
	DelayedACKMin       int     // --delack-min, default 2

	// Retransmission: reported when a direction has at least RetransMin
	// segments that were retransmitted or filled a hole late (out of order);
	// a warning when they are at least RetransWarnPercent of its data
	// segments, or when one was a retransmission timeout (the sender silent
	// at least RTOMin before resending).
	RetransMin         int           // --retrans-min, default 1
	RetransWarnPercent float64       // --retrans-warn-percent, default 1
	RTOMin             time.Duration // --rto-min, default 200ms

	// Framing hazards: checked on streams whose framing (detected, or
	// guessed length prefix) is one of HazardFramings: the framings
	// applications usually parse by hand. A direction with at least
	// HazardMin split or coalesced messages is reported.
	HazardFramings []string // --hazard-framings, default line,len,fixed
	HazardMin      int      // --hazard-min, default 1

	// TLS, with keys (tls.go): a run of at least TLSTinyRecords records
	// of under TLSTinyBytes of application data each; records over at
	// least TLSStraddleSegments segments.
	TLSTinyRecords      int // --tls-tiny-records, default 16
	TLSTinyBytes        int // --tls-tiny-bytes, default 64
	TLSStraddleSegments int // --tls-straddle-segments, default 10

	// Memory bounds.
	SniffBytes   int   // first bytes kept per direction for content detection, default 1024
	FramerBuffer int   // bytes held per direction by the framing-hazard framer, default 64 KiB
	MaxBuffered  int64 // bytes held by all framers together, default 64 MiB
	MaxTracked   int   // scan targets and services remembered, default 1,000,000
	MaxEvidence  int   // streams and frames listed per finding, and detail lines per finding, default 20
	MaxPerKind   int   // findings listed per kind (one per stream or per endpoint), default 100; the rest are summed up in one more
}

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config {
	return Config{
		ScanMinTargets: 20, ScanMinFailed: 0.8,
		SlowMinSegments: 5, SlowMaxBytes: 16, SlowMinGap: 500 * time.Millisecond,
		IdleMinDuration: 60 * time.Second, IdleMaxRate: 1,
		UnclosedWarnIdle:    60 * time.Second,
		ZeroWindowWarn:      200 * time.Millisecond,
		DelayedACKTolerance: 0.2, DelayedACKMin: 2,
		RetransMin: 1, RetransWarnPercent: 1, RTOMin: 200 * time.Millisecond,
		HazardFramings: []string{"line", "len", "fixed"}, HazardMin: 1,
		TLSTinyRecords: 16, TLSTinyBytes: 64, TLSStraddleSegments: 10,
		SniffBytes: 1024, FramerBuffer: 64 << 10, MaxBuffered: 64 << 20, MaxTracked: 1_000_000, MaxEvidence: 20, MaxPerKind: 100,
	}
}

// withDefaults fills zero fields from DefaultConfig.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	setInt := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	setInt(&c.ScanMinTargets, d.ScanMinTargets)
	setInt(&c.SlowMinSegments, d.SlowMinSegments)
	setInt(&c.SlowMaxBytes, d.SlowMaxBytes)
	setInt(&c.DelayedACKMin, d.DelayedACKMin)
	setInt(&c.RetransMin, d.RetransMin)
	setInt(&c.HazardMin, d.HazardMin)
	setInt(&c.TLSTinyRecords, d.TLSTinyRecords)
	setInt(&c.TLSTinyBytes, d.TLSTinyBytes)
	setInt(&c.TLSStraddleSegments, d.TLSStraddleSegments)
	setInt(&c.SniffBytes, d.SniffBytes)
	setInt(&c.FramerBuffer, d.FramerBuffer)
	setInt(&c.MaxTracked, d.MaxTracked)
	setInt(&c.MaxEvidence, d.MaxEvidence)
	setInt(&c.MaxPerKind, d.MaxPerKind)
	if c.ScanMinFailed <= 0 {
		c.ScanMinFailed = d.ScanMinFailed
	}
	for _, p := range []struct{ v, def *time.Duration }{
		{&c.SlowMinGap, &d.SlowMinGap}, {&c.IdleMinDuration, &d.IdleMinDuration}, {&c.UnclosedWarnIdle, &d.UnclosedWarnIdle},
		{&c.ZeroWindowWarn, &d.ZeroWindowWarn}, {&c.RTOMin, &d.RTOMin},
	} {
		if *p.v <= 0 {
			*p.v = *p.def
		}
	}
	if c.IdleMaxRate <= 0 {
		c.IdleMaxRate = d.IdleMaxRate
	}
	if c.DelayedACKTolerance <= 0 {
		c.DelayedACKTolerance = d.DelayedACKTolerance
	}
	if c.RetransWarnPercent <= 0 {
		c.RetransWarnPercent = d.RetransWarnPercent
	}
	if c.HazardFramings == nil {
		c.HazardFramings = d.HazardFramings
	}
	if c.MaxBuffered <= 0 {
		c.MaxBuffered = d.MaxBuffered
	}
	return c
}

// Validate reports a threshold that cannot work (for usage errors).
func (c Config) Validate() error {
	if c.ScanMinFailed > 1 {
		return fmt.Errorf("--scan-min-failed %g: want a fraction from 0 to 1", c.ScanMinFailed)
	}
	if c.DelayedACKTolerance >= 1 {
		return fmt.Errorf("--delack-tolerance %g: want a fraction below 1", c.DelayedACKTolerance)
	}
	for _, f := range c.HazardFramings {
		if !slices.Contains(decode.Framers(), f) {
			return fmt.Errorf("--hazard-framings %q: want framing names among %s", f, strings.Join(decode.Framers(), ", "))
		}
	}
	return nil
}
