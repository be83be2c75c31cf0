//go:build linux

package capture_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sockscope/sockscope/capture"
	"github.com/sockscope/sockscope/capture/filter"
	"github.com/sockscope/sockscope/reassembly"
)

// liveHowTo says how to run the live tests; they need root (CAP_NET_RAW,
// CAP_NET_ADMIN and CAP_SYS_ADMIN for the namespaces) and the ip tool.
const liveHowTo = "live capture test: run as root with SOCKSCOPE_LIVE=1, e.g. sudo SOCKSCOPE_LIVE=1 go test -run Live -v ./capture ./cmd"

func needLive(t *testing.T) {
	t.Helper()
	if os.Getenv("SOCKSCOPE_LIVE") != "1" {
		t.Skip(liveHowTo)
	}
}

var nsSeq atomic.Int32

// netns is a network namespace made for one test (ip netns add), deleted by
// t.Cleanup. Its loopback is up.
type netns struct{ name string }

func newNetNS(t *testing.T) *netns {
	t.Helper()
	n := &netns{name: fmt.Sprintf("sstest%d-%d", os.Getpid(), nsSeq.Add(1))}
	ip(t, "netns", "add", n.name)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", n.name).Run() })
	ip(t, "-n", n.name, "link", "set", "lo", "up")
	return n
}

func ip(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %v: %v: %s (%s)", args, err, bytes.TrimSpace(out), liveHowTo)
	}
}

// do runs f on a locked OS thread moved into the namespace. Sockets f
// creates belong to the namespace for good, whichever thread uses them later.
func (n *netns) do(t *testing.T, f func()) {
	t.Helper()
	runtime.LockOSThread()
	orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatalf("open own netns: %v", err)
	}
	defer unix.Close(orig)
	target, err := unix.Open("/run/netns/"+n.name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatalf("open netns %s: %v", n.name, err)
	}
	defer unix.Close(target)
	if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		t.Fatalf("enter netns %s: %v (%s)", n.name, err, liveHowTo)
	}
	defer func() {
		if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
			return // leave the thread locked: it dies with this goroutine
		}
		runtime.UnlockOSThread()
	}()
	f()
}

// traffic is what a test sent, the oracle for what the capture must show.
type traffic struct {
	req, resp   []byte
	clientPort  int
	refusedPort int
	datagrams   [][]byte
}

// makeTraffic runs, inside ns, a TCP request/response with server (host)
// address srv, a connection refused by the same host, and UDP datagrams.
// client is the namespace the client sockets are made in.
func makeTraffic(t *testing.T, client, server *netns, srv string, respSize int) traffic {
	t.Helper()
	tr := traffic{req: []byte("GET /hello HTTP/1.1\r\nHost: test\r\n\r\n")}
	tr.resp = []byte(fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", respSize))
	for i := range respSize {
		tr.resp = append(tr.resp, byte('a'+i%26))
	}
	var ln net.Listener
	var closedPort int
	var uconn net.PacketConn
	server.do(t, func() {
		var err error
		if ln, err = net.Listen("tcp", net.JoinHostPort(srv, "0")); err != nil {
			t.Fatal(err)
		}
		// A port with nothing behind it: listen, note the port, close.
		l2, err := net.Listen("tcp", net.JoinHostPort(srv, "0"))
		if err != nil {
			t.Fatal(err)
		}
		closedPort = l2.Addr().(*net.TCPAddr).Port
		l2.Close()
		if uconn, err = net.ListenPacket("udp", net.JoinHostPort(srv, "0")); err != nil {
			t.Fatal(err)
		}
	})
	defer ln.Close()
	defer uconn.Close()
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		got := make([]byte, len(tr.req))
		if _, err := io.ReadFull(c, got); err != nil {
			done <- err
			return
		}
		_, err = c.Write(tr.resp)
		done <- err
	}()
	client.do(t, func() {
		c, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		tr.clientPort = c.LocalAddr().(*net.TCPAddr).Port
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write(tr.req); err != nil {
			t.Fatal(err)
		}
		if got, err := io.ReadAll(c); err != nil || !bytes.Equal(got, tr.resp) {
			t.Fatalf("response: %d bytes, %v", len(got), err)
		}
		c.Close()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		tr.refusedPort = closedPort
		if _, err := net.DialTimeout("tcp", net.JoinHostPort(srv, fmt.Sprint(closedPort)), 5*time.Second); !errors.Is(err, unix.ECONNREFUSED) {
			t.Fatalf("dial closed port: %v, want connection refused", err)
		}
		u, err := net.Dial("udp", uconn.LocalAddr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer u.Close()
		for i := range 3 {
			d := []byte(fmt.Sprintf("datagram %d", i))
			if _, err := u.Write(d); err != nil {
				t.Fatal(err)
			}
			tr.datagrams = append(tr.datagrams, d)
		}
	})
	return tr
}

// capture reads src into a tracker that keeps every stream's bytes, until
// want says it has seen everything, or 5 s pass, and returns the streams.
func collect(t *testing.T, src capture.Source, cancel context.CancelFunc, want func(events []reassembly.Event) bool) ([]*reassembly.Stream, int) {
	t.Helper()
	var col reassembly.Collector
	var events []reassembly.Event
	tr := reassembly.NewTracker(reassembly.Options{
		Keep:     func(capture.Proto, int) bool { return true },
		OnStream: col.Add,
		OnEvent: func(e reassembly.Event) {
			events = append(events, reassembly.Event{Kind: e.Kind, Frame: e.Frame, Dir: e.Dir, Text: e.Text})
		},
	})
	n := 0
	var p capture.Packet
	for {
		err := src.Next(&p)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("next: %v", err)
		}
		n++
		tr.Add(&p)
		if want != nil && want(events) {
			cancel()
		}
	}
	tr.Finish()
	return col.Streams(), n
}

func countEvents(events []reassembly.Event, k reassembly.EventKind) int {
	n := 0
	for _, e := range events {
		if e.Kind == k {
			n++
		}
	}
	return n
}

func seenAll(events []reassembly.Event) bool {
	return countEvents(events, reassembly.EventClosed) >= 1 && countEvents(events, reassembly.EventRefused) >= 1 &&
		countEvents(events, reassembly.EventDatagram) >= 3
}

// checkStreams compares what was captured with what the test sent.
func checkStreams(t *testing.T, streams []*reassembly.Stream, want traffic) {
	t.Helper()
	var tcp, refused, udp *reassembly.Stream
	for _, s := range streams {
		switch {
		case s.Proto == capture.ProtoUDP:
			udp = s
		case s.State == reassembly.StateRefused && int(s.Server.Port()) == want.refusedPort:
			refused = s
		case int(s.Client.Port()) == want.clientPort:
			tcp = s
		}
	}
	if tcp == nil || refused == nil || udp == nil {
		for _, s := range streams {
			t.Logf("%s %s → %s %s", s.Name(), s.Client, s.Server, s.Describe())
		}
		t.Fatalf("want a TCP stream from port %d, a refused connection to %d and a UDP flow", want.clientPort, want.refusedPort)
	}
	if got := tcp.Dirs[reassembly.ClientToServer].Data; !bytes.Equal(got, want.req) {
		t.Errorf("c2s bytes = %q, want %q", got, want.req)
	}
	if got := tcp.Dirs[reassembly.ServerToClient].Data; !bytes.Equal(got, want.resp) {
		t.Errorf("s2c: %d bytes, want the %d the server wrote", len(got), len(want.resp))
	}
	if tcp.State != reassembly.StateClosed || tcp.Midstream || tcp.HandshakeRTT <= 0 {
		t.Errorf("tcp stream: %s, handshake RTT %v", tcp.Describe(), tcp.HandshakeRTT)
	}
	for d, h := range tcp.Dirs {
		if h.Retrans != 0 || h.OutOfOrd != 0 {
			t.Errorf("%s: %d retransmissions, %d out of order: packets seen twice?", reassembly.Direction(d), h.Retrans, h.OutOfOrd)
		}
	}
	if got, want := udp.Dirs[0].Data, bytes.Join(want.datagrams, nil); !bytes.Equal(got, want) {
		t.Errorf("udp bytes = %q, want %q", got, want)
	}
	if n := udp.Dirs[0].Packets; n != len(want.datagrams) {
		t.Errorf("udp: %d datagrams, want %d (each seen once)", n, len(want.datagrams))
	}
}

func TestLiveLoopback(t *testing.T) {
	needLive(t)
	for _, tt := range []struct {
		name   string
		noRing bool
	}{{"ring", false}, {"socket", true}} {
		t.Run(tt.name, func(t *testing.T) {
			ns := newNetNS(t)
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			var pcapng bytes.Buffer
			var src *capture.LiveSource
			ns.do(t, func() {
				var err error
				src, err = capture.OpenLive(ctx, "lo", capture.LiveOptions{NoRing: tt.noRing, WriteTo: &pcapng})
				if err != nil {
					t.Fatalf("open live: %v", err)
				}
			})
			type result struct {
				streams []*reassembly.Stream
				frames  int
			}
			res := make(chan result, 1)
			go func() {
				s, n := collect(t, src, cancel, seenAll)
				res <- result{s, n}
			}()
			want := makeTraffic(t, ns, ns, "127.0.0.1", 100_000)
			r := <-res
			if ctx.Err() == context.DeadlineExceeded {
				t.Errorf("capture did not see all the traffic within 10 s")
			}
			stats, err := src.Stats()
			if err != nil {
				t.Fatal(err)
			}
			if err := src.Close(); err != nil {
				t.Fatalf("close: %v", err)
			}
			if want := map[bool]string{false: "tpacket_v3 ring", true: "packet socket"}[tt.noRing]; src.Method() != want {
				t.Errorf("method %q, want %q", src.Method(), want)
			}
			t.Logf("%d frames; kernel: %d received, %d dropped (%s)", r.frames, stats.Received, stats.Dropped, stats.Method)
			checkStreams(t, r.streams, want)
			if stats.Dropped != 0 || stats.Received < uint64(r.frames) {
				t.Errorf("kernel stats %+v for %d frames", stats, r.frames)
			}

			// What -w wrote reads back as the same capture.
			fs, err := capture.NewReader("written.pcapng", bytes.NewReader(pcapng.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			back, n := collect(t, fs, func() {}, nil)
			if n != r.frames {
				t.Errorf("pcapng holds %d frames, live saw %d", n, r.frames)
			}
			if len(back) != len(r.streams) {
				t.Fatalf("pcapng: %d streams, live %d", len(back), len(r.streams))
			}
			for i := range back {
				a, b := r.streams[i], back[i]
				if a.Name() != b.Name() || a.Describe() != b.Describe() || !bytes.Equal(a.Dirs[0].Data, b.Dirs[0].Data) ||
					!bytes.Equal(a.Dirs[1].Data, b.Dirs[1].Data) || a.Dirs[0].Packets != b.Dirs[0].Packets || a.Dirs[1].Packets != b.Dirs[1].Packets ||
					!a.Start.Equal(b.Start) || !a.End.Equal(b.End) {
					t.Errorf("stream %s: live %q, pcapng %s %q", a.Name(), a.Describe(), b.Name(), b.Describe())
				}
			}
		})
	}
}

// vethPair makes two namespaces joined by a veth pair, a's end net.1/24
// and b's net.2/24 (net is the first three octets), both up; it returns
// the namespaces and their interface names.
func vethPair(t *testing.T, net string) (a, b *netns, va, vb string) {
	t.Helper()
	a, b = newNetNS(t), newNetNS(t)
	va, vb = a.name+"v", b.name+"v"
	ip(t, "link", "add", va, "netns", a.name, "type", "veth", "peer", "name", vb, "netns", b.name)
	ip(t, "-n", a.name, "addr", "add", net+".1/24", "dev", va)
	ip(t, "-n", b.name, "addr", "add", net+".2/24", "dev", vb)
	ip(t, "-n", a.name, "link", "set", va, "up")
	ip(t, "-n", b.name, "link", "set", vb, "up")
	return a, b, va, vb
}

// TestLiveVeth captures Ethernet frames on one end of a veth pair joining
// two namespaces, with a kernel filter that keeps only TCP.
func TestLiveVeth(t *testing.T) {
	needLive(t)
	a, b, va, _ := vethPair(t, "10.251.0")
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var src *capture.LiveSource
	a.do(t, func() {
		var err error
		src, err = capture.OpenLive(ctx, va, capture.LiveOptions{Filter: "tcp"})
		if err != nil {
			t.Fatalf("open live: %v", err)
		}
	})
	defer src.Close()
	if got := src.Info().LinkTypes; len(got) != 1 || got[0] != capture.LinkEthernet {
		t.Errorf("link types %v, want ethernet", got)
	}
	res := make(chan []*reassembly.Stream, 1)
	go func() {
		s, _ := collect(t, src, cancel, func(ev []reassembly.Event) bool {
			return countEvents(ev, reassembly.EventClosed) >= 1 && countEvents(ev, reassembly.EventRefused) >= 1
		})
		res <- s
	}()
	want := makeTraffic(t, a, b, "10.251.0.2", 200_000)
	streams := <-res
	for _, s := range streams {
		if s.Proto != capture.ProtoTCP {
			t.Errorf("%s passed the filter \"tcp\"", s.Name())
		}
	}
	// The UDP datagrams were filtered out in the kernel: check TCP only.
	var tcpOK bool
	for _, s := range streams {
		if int(s.Client.Port()) == want.clientPort {
			tcpOK = bytes.Equal(s.Dirs[0].Data, want.req) && bytes.Equal(s.Dirs[1].Data, want.resp) && s.State == reassembly.StateClosed
			t.Logf("%s %s → %s: %s, %d/%d packets", s.Name(), s.Client, s.Server, s.Describe(), s.Dirs[0].Packets, s.Dirs[1].Packets)
		}
	}
	if !tcpOK {
		t.Errorf("the request/response over veth was not captured whole")
	}
}

func TestLiveErrors(t *testing.T) {
	needLive(t)
	ns := newNetNS(t)
	ns.do(t, func() {
		_, err := capture.OpenLive(t.Context(), "nosuch0", capture.LiveOptions{})
		if !errors.Is(err, capture.ErrNoInterface) {
			t.Errorf("unknown interface: %v, want ErrNoInterface", err)
		}
		_, err = capture.OpenLive(t.Context(), "lo", capture.LiveOptions{Filter: "ether host 00:11:22:33:44:55"})
		if !errors.Is(err, filter.ErrUnsupported) {
			t.Errorf("unsupported filter: %v", err)
		}
		var fe *filter.Error
		if _, err = capture.OpenLive(t.Context(), "lo", capture.LiveOptions{Filter: "tcp port"}); !errors.As(err, &fe) {
			t.Errorf("bad filter: %v", err)
		}
	})
}
