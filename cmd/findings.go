package cmd

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/sockscope/sockscope/findings"
	"github.com/sockscope/sockscope/reassembly"
)

// findingsOptions are the findings engine's flags: one switch, and one flag
// per threshold (the names match findings.Config's documentation).
type findingsOptions struct {
	Off bool
	Cfg findings.Config
}

func (o *findingsOptions) addFlags(f *pflag.FlagSet) {
	d := findings.DefaultConfig()
	o.Cfg = d
	c := &o.Cfg
	f.BoolVar(&o.Off, "no-findings", false, "skip the findings (port scans, slow senders, cleartext, resets, stalls, ...)")
	f.IntVar(&c.ScanMinTargets, "scan-min-targets", d.ScanMinTargets, "findings: a port scan probes at least this many address:ports")
	f.Float64Var(&c.ScanMinFailed, "scan-min-failed", d.ScanMinFailed, "findings: ... with at least this fraction refused or unanswered")
	f.IntVar(&c.SlowMinSegments, "slow-min-segments", d.SlowMinSegments, "findings: a slow sender trickles at least this many tiny segments in a row")
	f.IntVar(&c.SlowMaxBytes, "slow-max-bytes", d.SlowMaxBytes, "findings: ... each at most this many bytes")
	f.DurationVar(&c.SlowMinGap, "slow-min-gap", d.SlowMinGap, "findings: ... each at least this long after the previous one")
	f.DurationVar(&c.IdleMinDuration, "idle-min-duration", d.IdleMinDuration, "findings: a connection held open this long ...")
	f.Float64Var(&c.IdleMaxRate, "idle-max-rate", d.IdleMaxRate, "findings: ... carrying fewer bytes per second than this is reported")
	f.DurationVar(&c.UnclosedWarnIdle, "unclosed-warn-idle", d.UnclosedWarnIdle, "findings: an unclosed connection quiet this long at the end is a warning (possible leak)")
	f.DurationVar(&c.ZeroWindowWarn, "zero-window-warn", d.ZeroWindowWarn, "findings: zero-window time that makes a warning")
	f.Float64Var(&c.DelayedACKTolerance, "delack-tolerance", d.DelayedACKTolerance, "findings: delayed-ACK stalls are 40 ms or 200 ms within this fraction")
	f.IntVar(&c.DelayedACKMin, "delack-min", d.DelayedACKMin, "findings: report Nagle/delayed-ACK stalls from this many on a stream")
	f.IntVar(&c.RetransMin, "retrans-min", d.RetransMin, "findings: report a direction with at least this many retransmitted or late segments")
	f.Float64Var(&c.RetransWarnPercent, "retrans-warn-percent", d.RetransWarnPercent, "findings: ... a warning from this percentage of its data segments")
	f.DurationVar(&c.RTOMin, "rto-min", d.RTOMin, "findings: a retransmission after this much silence is a timeout")
	f.StringSliceVar(&c.HazardFramings, "hazard-framings", d.HazardFramings, "findings: framings checked for split/coalesced messages")
	f.IntVar(&c.HazardMin, "hazard-min", d.HazardMin, "findings: report a direction with at least this many split or coalesced messages")
	f.IntVar(&c.TLSTinyRecords, "tls-tiny-records", d.TLSTinyRecords, "findings (with TLS keys): report this many records in a row ...")
	f.IntVar(&c.TLSTinyBytes, "tls-tiny-bytes", d.TLSTinyBytes, "findings: ... each with fewer than this many bytes of application data")
	f.IntVar(&c.TLSStraddleSegments, "tls-straddle-segments", d.TLSStraddleSegments, "findings: report TLS records spread over at least this many segments")
	f.VisitAll(func(fl *pflag.Flag) {
		if strings.HasPrefix(fl.Usage, "findings") {
			f.SetAnnotation(fl.Name, tuningAnnotation, []string{"findings"})
		}
	})
}

// tuningAnnotation marks the findings' threshold flags, which help lists in
// a section of their own (withTuningSection).
const tuningAnnotation = "sockscope/findings-tuning"

// withTuningSection makes c's help list the findings' thresholds after its
// other flags, under a heading of their own, so that the flags most users
// need come first.
func withTuningSection(c *cobra.Command) {
	usage := c.UsageFunc()
	c.SetUsageFunc(func(c *cobra.Command) error {
		tuning := pflag.NewFlagSet("tuning", pflag.ContinueOnError)
		var hidden []*pflag.Flag
		c.LocalFlags().VisitAll(func(fl *pflag.Flag) {
			if _, ok := fl.Annotations[tuningAnnotation]; ok && !fl.Hidden {
				tuning.AddFlag(fl)
				fl.Hidden = true
				hidden = append(hidden, fl)
			}
		})
		err := usage(c)
		for _, fl := range hidden {
			fl.Hidden = false
		}
		if err == nil && len(hidden) > 0 {
			_, err = fmt.Fprintf(c.OutOrStderr(), "\nFindings tuning (the thresholds of the findings; --no-findings skips them):\n%s", tuning.FlagUsages())
		}
		return err
	})
}

// engine returns the engine, nil with --no-findings, or a usage error.
func (o *findingsOptions) engine() (*findings.Engine, error) {
	if o.Off {
		return nil, nil
	}
	if err := o.Cfg.Validate(); err != nil {
		return nil, usagef("%v", err)
	}
	return findings.New(o.Cfg), nil
}

// finish returns the findings of a finished capture (nil without an engine).
func finishFindings(e *findings.Engine, in *input, st reassembly.Stats) []findings.Finding {
	if e == nil {
		return nil
	}
	sum := findings.Summary{Info: in.Info(), Stats: st}
	if in.Live != nil {
		if k, err := in.Live.Stats(); err == nil {
			sum.DropsKnown, sum.Dropped, sum.Received = true, k.Dropped, k.Received
		}
	}
	fs := e.Finish(sum)
	if fs == nil {
		fs = []findings.Finding{}
	}
	return fs
}
