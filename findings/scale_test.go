package findings

import (
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/sockscope/sockscope/capture"
	"github.com/sockscope/sockscope/reassembly"
)

// synFlows feeds n short SYN flows to tr: a scan (one source, many
// address:ports, 1 in 12 open) or a flood (n sources, one service). An
// open target answers SYN-ACK and the client resets; the others answer RST.
func synFlows(tr *reassembly.Tracker, n int, flood bool) {
	t := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	frame := 0
	add := func(src, dst netip.AddrPort, seq, ack uint32, flags capture.TCPFlags, mss bool) {
		frame++
		t = t.Add(10 * time.Microsecond)
		p := capture.Packet{Frame: frame, Time: t, Proto: capture.ProtoTCP, Src: src, Dst: dst, Seq: seq, Ack: ack, Flags: flags, Window: 1024}
		p.Opts.MSS, p.Opts.HasMSS = 1460, mss
		tr.Add(&p)
	}
	for i := range n {
		cli := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 200, 0, 1}), uint16(32768+i%20000))
		srv := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(i % 4096 >> 8), byte(i % 4096)}), uint16(1+i/4096))
		if flood {
			cli = netip.AddrPortFrom(netip.AddrFrom4([4]byte{11, byte(i >> 16), byte(i >> 8), byte(i)}), 40000)
			srv = netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, 1}), 80)
		}
		isn := uint32(i * 7919)
		add(cli, srv, isn, 0, capture.SYN, true)
		if i%12 == 0 {
			add(srv, cli, 5000, isn+1, capture.SYN|capture.ACK, true)
			add(cli, srv, isn+1, 0, capture.RST, false)
		} else {
			add(srv, cli, 0, isn+1, capture.RST|capture.ACK, false)
		}
	}
}

// heldBytes runs n flows through a tracker (with the engine when e is not
// nil) and returns the heap still in use once every stream is delivered.
func heldBytes(n int, flood bool, e *Engine) uint64 {
	o := reassembly.Options{}
	if e != nil {
		o = e.Hooks(o)
	}
	tr := reassembly.NewTracker(o)
	synFlows(tr, n, flood)
	tr.Finish()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	runtime.KeepAlive(tr)
	runtime.KeepAlive(e)
	return m.HeapAlloc
}

// TestScale: the engine's memory grows by a few dozen bytes per flow on a
// scan or a flood of short flows, and no message or list grows with them.
func TestScale(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	const n = 200_000
	for _, tc := range []struct {
		name    string
		flood   bool
		perFlow uint64 // bytes held per flow, at most
		kinds   []Kind
	}{
		// A target and a service each take an 8-byte table entry (tables
		// are 1/2 to 3/4 full).
		{"scan", false, 48, []Kind{KindPortScan, KindRefused, KindServices}},
		// A source takes a 64-byte record and a table entry; its reset
		// during the handshake a 32-byte log entry.
		{"flood", true, 160, []Kind{KindReset, KindServices}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := heldBytes(n, tc.flood, nil)
			e := New(Config{})
			with := heldBytes(n, tc.flood, e)
			perFlow := uint64(0)
			if with > base {
				perFlow = (with - base) / n
			}
			t.Logf("engine holds %d bytes per flow (%d MB in all)", perFlow, (with-base)>>20)
			if perFlow > tc.perFlow {
				t.Errorf("engine holds %d bytes per flow, want at most %d", perFlow, tc.perFlow)
			}
			fs := e.Finish(Summary{})
			checkBounded(t, fs, e.Config())
			for _, k := range tc.kinds {
				if len(ofKind(fs, k)) != 1 {
					t.Errorf("%d %s findings, want 1:%s", len(ofKind(fs, k)), k, describe(fs))
				}
			}
			if f := ofKind(fs, KindServices); tc.name == "scan" && len(f) == 1 && !strings.Contains(f[0].Message, "listening services accepted connections (top 10 by connections: ") {
				t.Errorf("listening services: %s", f[0].Message)
			}
		})
	}
}

// checkBounded checks that no finding's text or evidence grew with the
// capture.
func checkBounded(t *testing.T, fs []Finding, cfg Config) {
	t.Helper()
	perKind := map[Kind]int{}
	for _, f := range fs {
		perKind[f.Kind]++
		if len(f.Message) > 2000 {
			t.Errorf("%s message is %d bytes: %.200s…", f.Kind, len(f.Message), f.Message)
		}
		if len(f.Details) > cfg.MaxEvidence+1 {
			t.Errorf("%s has %d details", f.Kind, len(f.Details))
		}
		for _, d := range f.Details {
			if len(d) > 500 {
				t.Errorf("%s detail is %d bytes", f.Kind, len(d))
			}
		}
		if len(f.Streams) > cfg.MaxEvidence || len(f.Frames) > cfg.MaxEvidence {
			t.Errorf("%s lists %d streams, %d frames", f.Kind, len(f.Streams), len(f.Frames))
		}
	}
	for k, n := range perKind {
		if n > cfg.MaxPerKind+1 {
			t.Errorf("%d %s findings", n, k)
		}
	}
}

// TestScaleCaps: past MaxTracked, targets and services are not remembered,
// and analysis_limit says so.
func TestScaleCaps(t *testing.T) {
	e := New(Config{MaxTracked: 1000, MaxPerKind: 5})
	tr := reassembly.NewTracker(e.Hooks(reassembly.Options{}))
	synFlows(tr, 5000, false)
	tr.Finish()
	if e.scan.n > 1000 || e.services.len() > 1000 {
		t.Errorf("%d scan targets, %d services remembered: want at most 1000", e.scan.n, e.services.len())
	}
	fs := e.Finish(Summary{Stats: tr.Stats})
	checkBounded(t, fs, e.Config())
	lim := ofKind(fs, KindLimit)
	if len(lim) != 1 || !strings.Contains(strings.Join(lim[0].Details, "\n"), "more than the cap of 1000") {
		t.Errorf("analysis_limit: %s", describe(lim))
	}
}

// TestPerKindCap: per-stream findings past MaxPerKind are summed up in one.
func TestPerKindCap(t *testing.T) {
	e := New(Config{MaxPerKind: 3})
	tr := reassembly.NewTracker(e.Hooks(reassembly.Options{}))
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	srv := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, 1}), 80)
	frame := 0
	for i := range 10 {
		cli := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, 2}), uint16(40000+i))
		for j, p := range []capture.Packet{
			{Src: cli, Dst: srv, Seq: 100, Flags: capture.SYN},
			{Src: srv, Dst: cli, Seq: 500, Ack: 101, Flags: capture.SYN | capture.ACK},
			{Src: cli, Dst: srv, Seq: 101, Ack: 501, Flags: capture.ACK},
		} {
			frame++
			p.Frame, p.Time, p.Proto, p.Window = frame, t0.Add(time.Duration(i)*time.Second+time.Duration(j)*time.Millisecond), capture.ProtoTCP, 1024
			tr.Add(&p)
		}
	}
	// Every connection stays open 120 s with no data: held open.
	frame++
	last := capture.Packet{Frame: frame, Time: t0.Add(200 * time.Second), Proto: capture.ProtoTCP, Flags: capture.ACK, Window: 1024,
		Src: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, 3}), 1), Dst: srv}
	tr.Add(&last)
	for i := range 10 {
		cli := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, 2}), uint16(40000+i))
		frame++
		p := capture.Packet{Frame: frame, Time: t0.Add(200*time.Second + time.Duration(i)), Proto: capture.ProtoTCP, Src: cli, Dst: srv, Seq: 101, Ack: 501, Flags: capture.RST, Window: 1024}
		tr.Add(&p)
	}
	tr.Finish()
	fs := ofKind(e.Finish(Summary{Stats: tr.Stats}), KindSlowSender)
	if len(fs) != 4 {
		t.Fatalf("%d slow_sender findings, want 3 and a sum: %s", len(fs), describe(fs))
	}
	sum := fs[len(fs)-1]
	if !strings.Contains(sum.Message, "7 more findings of this kind") || sum.StreamCount != 7 {
		t.Errorf("sum: %q, %d streams", sum.Message, sum.StreamCount)
	}
}
