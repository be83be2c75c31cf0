package cmd

import (
	"github.com/spf13/pflag"

	"github.com/sockscope/sockscope/reassembly"
)

// boundsOptions are the memory bounds of the flow table (see README,
// "Memory"): what is flushed or given up because of them is counted and
// shown, never dropped silently.
type boundsOptions struct {
	MaxFlows         int
	MaxBuffered      string
	MaxBufferedTotal string
}

// addFlags adds --max-flows, and --max-buffered for views that keep
// streams' bytes (kept).
func (o *boundsOptions) addFlags(f *pflag.FlagSet, kept bool) {
	f.IntVar(&o.MaxFlows, "max-flows", reassembly.DefaultMaxFlows,
		"flows held at once (~1.6 KB each); past it the least recently active is flushed early, and the summary counts it")
	if !kept {
		return
	}
	f.StringVar(&o.MaxBuffered, "max-buffered", "64MiB",
		"out-of-order bytes buffered per followed stream while they wait for a hole to fill; past it the hole becomes a reported gap")
	f.StringVar(&o.MaxBufferedTotal, "max-buffered-total", "256MiB",
		"out-of-order bytes buffered by all streams together; past it the stream adding more gives up its hole (a reported gap)")
}

// apply sets the bounds in t (zero values, as in a command without these
// flags, keep the tracker's defaults).
func (o *boundsOptions) apply(t *reassembly.Options) error {
	if o.MaxFlows < 0 {
		return usagef("--max-flows %d: want 1 or more", o.MaxFlows)
	}
	t.MaxFlows = o.MaxFlows
	if o.MaxBuffered != "" {
		n, err := parseSize(o.MaxBuffered)
		if err != nil {
			return usagef("--max-buffered %q: %v", o.MaxBuffered, err)
		}
		t.MaxBuffered = n
	}
	if o.MaxBufferedTotal != "" {
		n, err := parseSize(o.MaxBufferedTotal)
		if err != nil {
			return usagef("--max-buffered-total %q: %v", o.MaxBufferedTotal, err)
		}
		t.MaxBufferedTotal = n
	}
	return nil
}
