//go:build pcap && linux

package capture_test

// Tests of the libpcap capture (-tags pcap), with the namespaces, traffic
// and checks of live_linux_test.go. Run them as root:
//
//	CGO_ENABLED=1 SOCKSCOPE_LIVE=1 go test -tags pcap -run 'Live|Pcap' ./capture

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/sockscope/sockscope/capture"
	"github.com/sockscope/sockscope/capture/filter"
	"github.com/sockscope/sockscope/reassembly"
)

// openPcap opens a libpcap capture on iface inside ns.
func openPcap(t *testing.T, ns *netns, ctx context.Context, iface string, o capture.LiveOptions) *capture.LiveSource {
	t.Helper()
	o.Libpcap = true
	var src *capture.LiveSource
	ns.do(t, func() {
		var err error
		if src, err = capture.OpenLive(ctx, iface, o); err != nil {
			t.Fatalf("open %s through libpcap: %v", iface, err)
		}
	})
	t.Cleanup(func() { src.Close() })
	if src.Method() != "libpcap" || src.Fallback() != "" {
		t.Errorf("method %q, fallback %q; want libpcap and none", src.Method(), src.Fallback())
	}
	return src
}

type collected struct {
	streams []*reassembly.Stream
	frames  int
}

func collectAsync(t *testing.T, src capture.Source, cancel context.CancelFunc, want func([]reassembly.Event) bool) chan collected {
	res := make(chan collected, 1)
	go func() {
		s, n := collect(t, src, cancel, want)
		res <- collected{s, n}
	}()
	return res
}

// sameStreams reports how two captures of the same traffic differ.
func sameStreams(t *testing.T, what string, a, b []*reassembly.Stream) {
	t.Helper()
	if len(a) != len(b) {
		t.Errorf("%s: %d streams, want %d", what, len(b), len(a))
		return
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.Name() != y.Name() || x.Describe() != y.Describe() || x.Client != y.Client || x.Server != y.Server ||
			!bytes.Equal(x.Dirs[0].Data, y.Dirs[0].Data) || !bytes.Equal(x.Dirs[1].Data, y.Dirs[1].Data) ||
			x.Dirs[0].Packets != y.Dirs[0].Packets || x.Dirs[1].Packets != y.Dirs[1].Packets {
			t.Errorf("%s: stream %s %s → %s %q (%d/%d packets), want %s %s → %s %q (%d/%d packets)", what,
				y.Name(), y.Client, y.Server, y.Describe(), y.Dirs[0].Packets, y.Dirs[1].Packets,
				x.Name(), x.Client, x.Server, x.Describe(), x.Dirs[0].Packets, x.Dirs[1].Packets)
		}
	}
}

// TestPcapLoopback captures the same loopback traffic through libpcap and
// through the AF_PACKET ring at once: both must see every packet once, and
// reassemble the same streams, which must be what was sent. What -w wrote
// must read back as the same capture.
func TestPcapLoopback(t *testing.T) {
	needLive(t)
	ns := newNetNS(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	ringCtx, ringCancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer ringCancel()
	var pcapng bytes.Buffer
	src := openPcap(t, ns, ctx, "lo", capture.LiveOptions{WriteTo: &pcapng})
	var ring *capture.LiveSource
	ns.do(t, func() {
		var err error
		if ring, err = capture.OpenLive(ringCtx, "lo", capture.LiveOptions{}); err != nil {
			t.Fatalf("open the ring beside libpcap: %v", err)
		}
	})
	defer ring.Close()
	if info := src.Info(); info.Format != "live" || info.Name != "lo" || len(info.LinkTypes) != 1 ||
		info.LinkTypes[0] != capture.LinkEthernet || info.Snaplen != capture.DefaultSnaplen {
		t.Errorf("info %+v: want live capture of lo, ethernet, snaplen %d", info, capture.DefaultSnaplen)
	}
	if ifc := src.Interface(); ifc.Name != "lo" || !ifc.Loopback || ifc.Link != capture.LinkEthernet {
		t.Errorf("interface %+v", ifc)
	}

	got := collectAsync(t, src, cancel, seenAll)
	gotRing := collectAsync(t, ring, ringCancel, seenAll)
	want := makeTraffic(t, ns, ns, "127.0.0.1", 100_000)
	r, rr := <-got, <-gotRing
	if ctx.Err() == context.DeadlineExceeded {
		t.Errorf("libpcap did not see all the traffic within 10 s")
	}
	stats, err := src.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	t.Logf("libpcap: %d frames, %d streams; pcap_stats: %d received, %d dropped; ring: %d frames",
		r.frames, len(r.streams), stats.Received, stats.Dropped, rr.frames)
	checkStreams(t, r.streams, want)
	if r.frames != rr.frames || r.frames != src.Frames() {
		t.Errorf("libpcap returned %d frames (Frames() %d), the ring %d", r.frames, src.Frames(), rr.frames)
	}
	sameStreams(t, "libpcap vs ring", rr.streams, r.streams)

	// libpcap drops loopback's outgoing copies after the kernel counted
	// them: ps_recv holds both copies of each packet (a fresh namespace has
	// no other traffic).
	if stats.Method != "libpcap" || stats.Dropped != 0 || stats.Received < uint64(r.frames) || stats.Received > 2*uint64(r.frames) {
		t.Errorf("stats %+v for %d frames: want 0 dropped and %d to %d received", stats, r.frames, r.frames, 2*r.frames)
	}
	if after, err := src.Stats(); err != nil || after != stats {
		t.Errorf("stats after Close: %+v, %v; want %+v", after, err, stats)
	}

	fs, err := capture.NewReader("written.pcapng", bytes.NewReader(pcapng.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	back, n := collect(t, fs, func() {}, nil)
	if n != r.frames {
		t.Errorf("pcapng holds %d frames, live saw %d", n, r.frames)
	}
	sameStreams(t, "pcapng vs live", r.streams, back)
	for i := range min(len(back), len(r.streams)) {
		if a, b := r.streams[i], back[i]; !a.Start.Equal(b.Start) || !a.End.Equal(b.End) {
			t.Errorf("stream %s: live %v–%v, pcapng %v–%v", a.Name(), a.Start, a.End, b.Start, b.End)
		}
	}
}

// TestPcapVeth captures Ethernet frames on one end of a veth pair through
// libpcap, with a filter (compiled by capture/filter, run in the kernel)
// that keeps the TCP traffic of one host only.
func TestPcapVeth(t *testing.T) {
	needLive(t)
	a, b, va, _ := vethPair(t, "10.252.0")
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	src := openPcap(t, a, ctx, va, capture.LiveOptions{Filter: "tcp and host 10.252.0.2"})
	if got := src.Info().LinkTypes; len(got) != 1 || got[0] != capture.LinkEthernet {
		t.Errorf("link types %v, want ethernet", got)
	}
	res := collectAsync(t, src, cancel, func(ev []reassembly.Event) bool {
		return countEvents(ev, reassembly.EventClosed) >= 1 && countEvents(ev, reassembly.EventRefused) >= 1
	})
	want := makeTraffic(t, a, b, "10.252.0.2", 200_000)
	r := <-res
	if ctx.Err() == context.DeadlineExceeded {
		t.Errorf("libpcap did not see the TCP traffic within 10 s")
	}
	var tcpOK, refusedOK bool
	for _, s := range r.streams {
		if s.Proto != capture.ProtoTCP {
			t.Errorf("%s %s → %s passed the filter %q", s.Name(), s.Client, s.Server, "tcp and host 10.252.0.2")
		}
		switch {
		case int(s.Client.Port()) == want.clientPort:
			tcpOK = bytes.Equal(s.Dirs[0].Data, want.req) && bytes.Equal(s.Dirs[1].Data, want.resp) &&
				s.State == reassembly.StateClosed && s.Dirs[0].Retrans == 0 && s.Dirs[1].Retrans == 0
			t.Logf("%s %s → %s: %s, %d/%d packets", s.Name(), s.Client, s.Server, s.Describe(), s.Dirs[0].Packets, s.Dirs[1].Packets)
		case int(s.Server.Port()) == want.refusedPort:
			refusedOK = s.State == reassembly.StateRefused
		}
	}
	if !tcpOK || !refusedOK {
		t.Errorf("over veth: request/response captured whole %v, refused connection %v", tcpOK, refusedOK)
	}
	stats, err := src.Stats()
	if err != nil || stats.Dropped != 0 || stats.Received < uint64(r.frames) {
		t.Errorf("stats %+v, %v for %d frames", stats, err, r.frames)
	}
}

// TestPcapSnaplenAndClose checks the snapshot length, then that Close,
// called from another goroutine while Next waits for frames, makes Next
// return io.EOF promptly; and that cancelling the context does too.
func TestPcapSnaplenAndClose(t *testing.T) {
	needLive(t)
	ns := newNetNS(t)
	var udp net.PacketConn
	ns.do(t, func() {
		var err error
		if udp, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
	})
	defer udp.Close()
	port := udp.LocalAddr().(*net.UDPAddr).Port
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	const snaplen, size, count = 100, 1000, 5
	src := openPcap(t, ns, ctx, "lo", capture.LiveOptions{Snaplen: snaplen, NoPromisc: true,
		Filter: fmt.Sprintf("udp dst port %d", port), PollInterval: 50 * time.Millisecond})
	if got := src.Info().Snaplen; got != snaplen {
		t.Errorf("snaplen %d, want %d", got, snaplen)
	}
	ns.do(t, func() {
		c, err := net.Dial("udp", udp.LocalAddr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		for range count {
			if _, err := c.Write(bytes.Repeat([]byte{'x'}, size)); err != nil {
				t.Fatal(err)
			}
		}
	})
	var p capture.Packet
	for i := range count {
		if err := src.Next(&p); err != nil {
			t.Fatalf("frame %d: %v", i+1, err)
		}
		if p.Frame != i+1 || p.CapLen != snaplen || p.WireLen != 14+20+8+size || !p.Truncated ||
			p.Proto != capture.ProtoUDP || int(p.Dst.Port()) != port || p.PayloadLen != size {
			t.Errorf("frame %d: #%d caplen %d wirelen %d truncated %v %v %v → %v payload %d", i+1,
				p.Frame, p.CapLen, p.WireLen, p.Truncated, p.Proto, p.Src, p.Dst, p.PayloadLen)
		}
	}

	// Nothing else matches the filter: Next waits until Close.
	next := make(chan error, 1)
	go func() { next <- src.Next(&p) }()
	time.Sleep(300 * time.Millisecond)
	select {
	case err := <-next:
		t.Fatalf("Next returned %v (frame %d) with no traffic", err, p.Frame)
	default:
	}
	start := time.Now()
	closed := make(chan error, 1)
	go func() { closed <- src.Close() }()
	for what, ch := range map[string]chan error{"Close": closed, "Next": next} {
		select {
		case err := <-ch:
			if what == "Next" && err != io.EOF {
				t.Errorf("Next after Close: %v, want io.EOF", err)
			} else if what == "Close" && err != nil {
				t.Errorf("Close: %v", err)
			}
		case <-time.After(3 * time.Second):
			t.Fatalf("%s still blocked 3 s after Close", what)
		}
	}
	t.Logf("Close returned and Next unblocked within %v", time.Since(start))
	if ctx.Err() != nil {
		t.Errorf("the context ended (%v): Next stopped for that, not for Close", ctx.Err())
	}
	if err := src.Next(&p); err != io.EOF {
		t.Errorf("Next on a closed capture: %v, want io.EOF", err)
	}
	if err := src.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if st, err := src.Stats(); err != nil || st.Received < count || st.Dropped != 0 || src.Frames() != count {
		t.Errorf("after Close: stats %+v, %v; %d frames", st, err, src.Frames())
	}

	// A done context ends a waiting Next too.
	ctx2, cancel2 := context.WithCancel(t.Context())
	defer cancel2()
	src2 := openPcap(t, ns, ctx2, "lo", capture.LiveOptions{Filter: "udp port 9", PollInterval: 50 * time.Millisecond})
	go func() { next <- src2.Next(&p) }()
	time.Sleep(100 * time.Millisecond)
	cancel2()
	select {
	case err := <-next:
		if err != io.EOF {
			t.Errorf("Next after cancel: %v, want io.EOF", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Next still blocked 3 s after the context was cancelled")
	}
}

// TestPcapErrors checks that the libpcap capture refuses what the
// AF_PACKET one refuses, with the same errors.
func TestPcapErrors(t *testing.T) {
	needLive(t)
	ns := newNetNS(t)
	ns.do(t, func() {
		open := func(iface string, o capture.LiveOptions) error {
			o.Libpcap = true
			src, err := capture.OpenLive(t.Context(), iface, o)
			if err == nil {
				src.Close()
			}
			return err
		}
		if err := open("nosuch0", capture.LiveOptions{}); !errors.Is(err, capture.ErrNoInterface) {
			t.Errorf("unknown interface: %v, want ErrNoInterface", err)
		}
		if err := open("any", capture.LiveOptions{}); err == nil || !strings.Contains(err.Error(), "not supported") {
			t.Errorf("interface any: %v", err)
		}
		if err := open("lo", capture.LiveOptions{NoRing: true}); err == nil || !strings.Contains(err.Error(), "--no-ring") {
			t.Errorf("NoRing with libpcap: %v", err)
		}
		if err := open("lo", capture.LiveOptions{Filter: "ether host 00:11:22:33:44:55"}); !errors.Is(err, filter.ErrUnsupported) {
			t.Errorf("unsupported filter: %v", err)
		}
		var fe *filter.Error
		if err := open("lo", capture.LiveOptions{Filter: "tcp port"}); !errors.As(err, &fe) {
			t.Errorf("bad filter: %v", err)
		}
	})
}

// TestPcapPermission runs itself without CAP_NET_RAW (setpriv empties the
// bounding set of that capability) and checks that libpcap's refusal
// wraps os.ErrPermission, which the command line turns into a hint.
func TestPcapPermission(t *testing.T) {
	if os.Getenv("SOCKSCOPE_PCAP_NOPERM_CHILD") == "1" {
		_, err := capture.OpenLive(t.Context(), "lo", capture.LiveOptions{Libpcap: true})
		if !errors.Is(err, os.ErrPermission) {
			t.Fatalf("without CAP_NET_RAW: %v, want an error wrapping os.ErrPermission", err)
		}
		fmt.Printf("child error: %v\n", err)
		return
	}
	needLive(t)
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("needs setpriv (util-linux)")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, setpriv, "--bounding-set=-net_raw,-net_admin", "--inh-caps=-net_raw,-net_admin",
		"--", os.Args[0], "-test.run=^TestPcapPermission$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), "SOCKSCOPE_PCAP_NOPERM_CHILD=1")
	out, err := cmd.CombinedOutput()
	for _, line := range strings.Split(string(out), "\n") {
		if err == nil && strings.HasPrefix(line, "child error: ") {
			t.Log(line)
			return
		}
	}
	t.Fatalf("child: %v\n%s", err, out)
}
