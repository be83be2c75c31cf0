//go:build linux

package cmd

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

const liveHowTo = "live capture test: run as root with SOCKSCOPE_LIVE=1, e.g. sudo SOCKSCOPE_LIVE=1 go test -run Live -v ./capture ./cmd"

var nsSeq atomic.Int32

// testNS is a network namespace for one test, with lo up, removed by t.Cleanup.
type testNS struct{ name string }

func newTestNS(t *testing.T) *testNS {
	t.Helper()
	if os.Getenv("SOCKSCOPE_LIVE") != "1" {
		t.Skip(liveHowTo)
	}
	n := &testNS{name: fmt.Sprintf("sscmd%d-%d", os.Getpid(), nsSeq.Add(1))}
	for _, args := range [][]string{{"netns", "add", n.name}, {"-n", n.name, "link", "set", "lo", "up"}} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s (%s)", args, err, bytes.TrimSpace(out), liveHowTo)
		}
		if args[0] == "netns" {
			t.Cleanup(func() { exec.Command("ip", "netns", "del", n.name).Run() })
		}
	}
	return n
}

// do runs f on a locked OS thread inside the namespace; sockets made there
// stay in it. It may run on any goroutine: it reports errors, not Fatal.
func (n *testNS) do(f func()) error {
	runtime.LockOSThread()
	orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer unix.Close(orig)
	target, err := unix.Open("/run/netns/"+n.name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer unix.Close(target)
	if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer func() {
		if unix.Setns(orig, unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
	}()
	f()
	return nil
}

// syncBuffer collects output written by another goroutine and lets the
// test wait for a condition on it.
type syncBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	changed chan struct{}
}

func newSyncBuffer() *syncBuffer { return &syncBuffer{changed: make(chan struct{}, 1)} }

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case s.changed <- struct{}{}:
	default:
	}
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor waits until cond holds for the output so far, or the deadline.
func (s *syncBuffer) waitFor(ctx context.Context, cond func(string) bool) bool {
	for {
		if cond(s.String()) {
			return true
		}
		select {
		case <-s.changed:
		case <-ctx.Done():
			return cond(s.String())
		}
	}
}

// tcpExchange, inside a namespace, connects to a fresh listener on
// 127.0.0.1, sends send, has the server answer with answer, and checks the
// client received exactly answer (each side bounded by a 5 s deadline).
func tcpExchange(send, answer []byte) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	served := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			served <- err
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(c, make([]byte, len(send))); err != nil {
			served <- err
			return
		}
		_, err = c.Write(answer)
		served <- err
	}()
	c, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
	if err != nil {
		return err
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	c.Write(send)
	got, err := io.ReadAll(c)
	c.Close()
	if err != nil || !bytes.Equal(got, answer) {
		return fmt.Errorf("response: %d bytes, %v", len(got), err)
	}
	return <-served
}

// loTraffic makes, inside ns: an HTTP-like request/response on 127.0.0.1,
// a refused connection and two UDP datagrams. It returns what was sent.
func loTraffic(ns *testNS, respBody int) (req, resp []byte, err error) {
	req = []byte("GET /hello HTTP/1.1\r\nHost: test\r\n\r\n")
	resp = []byte(fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", respBody, strings.Repeat("x", respBody)))
	var inner error
	err = ns.do(func() {
		if inner = tcpExchange(req, resp); inner != nil {
			return
		}
		l2, _ := net.Listen("tcp", "127.0.0.1:0")
		closed := l2.Addr().String()
		l2.Close()
		if _, err := net.DialTimeout("tcp", closed, 5*time.Second); !errors.Is(err, unix.ECONNREFUSED) {
			inner = fmt.Errorf("dial %s: %v, want refused", closed, err)
			return
		}
		u, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			inner = err
			return
		}
		defer u.Close()
		uc, err := net.Dial("udp", u.LocalAddr().String())
		if err != nil {
			inner = err
			return
		}
		defer uc.Close()
		uc.Write([]byte("ping 1"))
		uc.Write([]byte("ping 2"))
	})
	if err == nil {
		err = inner
	}
	return req, resp, err
}

type liveRecord struct {
	Type     string          `json:"type"`
	Event    string          `json:"event"`
	Stream   string          `json:"stream"`
	ID       string          `json:"id"`
	Dir      string          `json:"dir"`
	Protocol string          `json:"protocol"`
	Summary  string          `json:"summary"`
	Length   int64           `json:"length"`
	Segments int             `json:"segments"`
	Partial  bool            `json:"partial"`
	RTT      float64         `json:"handshake_rtt_ms"`
	Dropped  *uint64         `json:"kernel_dropped"`
	Received uint64          `json:"kernel_received"`
	Frames   json.RawMessage `json:"frames"`
	Framing  string          `json:"framing"`
}

func records(t *testing.T, out string) []liveRecord {
	t.Helper()
	var recs []liveRecord
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var r liveRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("not JSON: %q: %v", sc.Text(), err)
		}
		recs = append(recs, r)
	}
	return recs
}

func countOf(recs []liveRecord, typ, event string) int {
	n := 0
	for _, r := range recs {
		if r.Type == typ && (event == "" || r.Event == event) {
			n++
		}
	}
	return n
}

// runLiveCLI starts sockscope with args inside ns and returns its output
// and a function that stops it (as Ctrl-C would) and returns the exit code.
func runLiveCLI(t *testing.T, ns *testNS, args ...string) (*syncBuffer, *syncBuffer, func() int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	out, errOut := newSyncBuffer(), newSyncBuffer()
	code := make(chan int, 1)
	go func() {
		var c int
		if err := ns.do(func() { c = Main(ctx, args, bytes.NewReader(nil), out, errOut) }); err != nil {
			t.Errorf("enter netns: %v", err)
			c = -1
		}
		code <- c
	}()
	started := out.waitFor(ctx, func(s string) bool { return strings.Contains(s, "\n") }) // the header: capture is open
	if !started {
		cancel()
		t.Fatalf("no header from %v; stderr: %s", args, errOut.String())
	}
	return out, errOut, func() int {
		cancel()
		return <-code
	}
}

func TestLiveCLI(t *testing.T) {
	ns := newTestNS(t)
	pcapng := filepath.Join(t.TempDir(), "live.pcapng")
	out, errOut, stop := runLiveCLI(t, ns, "live", "lo", "--format", "json", "-w", pcapng)
	if strings.Contains(out.String(), `"type":"capture"`) {
		t.Fatalf("stopped at once: %s %s", out, errOut)
	}
	req, resp, err := loTraffic(ns, 3000)
	if err != nil {
		t.Fatal(err)
	}
	waitCtx, cancelWait := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancelWait()
	seen := out.waitFor(waitCtx, func(s string) bool {
		return strings.Count(s, `"event":"closed"`) >= 1 && strings.Count(s, `"event":"refused"`) >= 1 && strings.Count(s, `"event":"datagram"`) >= 2
	})
	if code := stop(); code != 0 {
		t.Fatalf("exit %d; stderr: %s", code, errOut)
	}
	if !seen {
		t.Errorf("not all events seen within 10 s:\n%s", out)
	}
	recs := records(t, out.String())
	if recs[0].Type != "start" {
		t.Errorf("first record %+v, want start", recs[0])
	}
	for _, want := range []struct {
		typ, event string
		n          int
	}{{"event", "opened", 1}, {"event", "refused", 1}, {"event", "closed", 1}, {"event", "udp_flow", 1}, {"event", "datagram", 2}, {"message", "", 2}} {
		if got := countOf(recs, want.typ, want.event); got != want.n {
			t.Errorf("%d %s %s records, want %d:\n%s", got, want.typ, want.event, want.n, out)
		}
	}
	var live []string
	for _, r := range recs {
		switch {
		case r.Type == "event" && r.Event == "opened" && r.RTT <= 0:
			t.Errorf("opened without a handshake RTT: %+v", r)
		case r.Type == "message" && r.Dir == "c2s":
			if r.Protocol != "http1" || r.Summary != "GET /hello" || r.Length != int64(len(req)) || r.Segments != 1 || r.Partial {
				t.Errorf("request message %+v", r)
			}
		case r.Type == "message" && r.Dir == "s2c":
			if r.Protocol != "http1" || !strings.HasPrefix(r.Summary, "200 OK") || r.Length != int64(len(resp)) || r.Partial {
				t.Errorf("response message %+v", r)
			}
		case r.Type == "capture":
			var frames uint64
			json.Unmarshal(r.Frames, &frames)
			if r.Dropped == nil || *r.Dropped != 0 || r.Received != frames || frames == 0 {
				t.Errorf("capture record %+v: want every frame received, none dropped", r)
			}
		}
	}
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(line, `{"type":"stream"`) {
			live = append(live, line)
		}
	}

	// The -w file, read back, shows the same streams, and the bytes the test wrote.
	fileOut, fileErr, code := runCLI(t, nil, "read", "--format", "json", pcapng)
	if code != 0 {
		t.Fatalf("read -w output: exit %d: %s", code, fileErr)
	}
	var fromFile []string
	for _, line := range strings.Split(fileOut, "\n") {
		if strings.HasPrefix(line, `{"type":"stream"`) {
			fromFile = append(fromFile, line)
		}
	}
	if strings.Join(live, "\n") != strings.Join(fromFile, "\n") || len(live) != 3 {
		t.Errorf("live streams:\n%s\nread back from -w:\n%s", strings.Join(live, "\n"), strings.Join(fromFile, "\n"))
	}
	for dir, want := range map[string][]byte{"c2s": req, "s2c": resp} {
		got, stderr, code := runCLI(t, nil, "follow", pcapng, "tcp/0", "--format", "raw", "--dir", dir)
		if code != 0 || got != string(want) {
			t.Errorf("follow %s: exit %d, %d bytes, want the %d the test wrote; %s", dir, code, len(got), len(want), stderr)
		}
	}
}

func TestLiveCLIText(t *testing.T) {
	ns := newTestNS(t)
	out, errOut, stop := runLiveCLI(t, ns, "live", "lo", "-f", "tcp")
	if _, _, err := loTraffic(ns, 10); err != nil {
		t.Fatal(err)
	}
	waitCtx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	out.waitFor(waitCtx, func(s string) bool { return strings.Contains(s, "refused") })
	if code := stop(); code != 0 {
		t.Fatalf("exit %d; stderr: %s", code, errOut)
	}
	text := out.String()
	for _, want := range []string{`listening on lo (loopback, ethernet) · filter "tcp" · tpacket_v3 ring`, "handshake complete (RTT",
		"c→s  http1  GET /hello  · 35 B in 1 segment", "s→c  http1  200 OK 10 B  · 49 B in 1 segment", "closed (", "refused: SYN answered by RST",
		"capture  interrupted", "0 dropped", "streams  2 TCP · 0 UDP"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "udp/") {
		t.Errorf("UDP passed -f tcp:\n%s", text)
	}
}

func TestLiveCLIErrors(t *testing.T) {
	ns := newTestNS(t)
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unknown interface", []string{"live", "nosuch0"}, 2, `no such network interface: "nosuch0"; the interfaces here are lo`},
		{"bad filter", []string{"live", "lo", "-f", "tcp port"}, 2, `-f "tcp port": invalid filter`},
		{"unsupported filter", []string{"live", "lo", "-f", "ether host 1:2:3:4:5:6"}, 2, `unsupported filter "ether host"`},
		{"read needs file or -i", []string{"read"}, 2, "or -i IFACE"},
		{"read file and -i", []string{"read", "x.pcap", "-i", "lo"}, 2, "not both"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			var code int
			if err := ns.do(func() { code = Main(t.Context(), tt.args, nil, &out, &errOut) }); err != nil {
				t.Fatal(err)
			}
			if code != tt.code || !strings.Contains(errOut.String(), tt.want) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, errOut.String(), tt.code, tt.want)
			}
		})
	}
}

// TestLiveRead checks read -i: the summary of a live capture.
func TestLiveRead(t *testing.T) {
	ns := newTestNS(t)
	out, errOut, stop := runLiveCLIRead(t, ns)
	if _, _, err := loTraffic(ns, 10); err != nil {
		t.Fatal(err)
	}
	if code := stop(); code != 0 {
		t.Fatalf("exit %d; stderr: %s", code, errOut)
	}
	if !strings.Contains(out.String(), "closed by") || !strings.Contains(out.String(), "refused (SYN answered by RST)") ||
		!strings.Contains(errOut.String(), "0 dropped by the kernel") {
		t.Errorf("read -i lo:\n%s\nstderr: %s", out, errOut)
	}
}

// runLiveCLIRead starts read -i lo, which says on stderr when it listens.
func runLiveCLIRead(t *testing.T, ns *testNS) (*syncBuffer, *syncBuffer, func() int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	out, errOut := newSyncBuffer(), newSyncBuffer()
	code := make(chan int, 1)
	go func() {
		var c int
		ns.do(func() { c = Main(ctx, []string{"read", "-i", "lo"}, nil, out, errOut) })
		code <- c
	}()
	if !errOut.waitFor(ctx, func(s string) bool { return strings.Contains(s, "listening on lo") }) {
		cancel()
		t.Fatalf("read -i lo did not start capturing; stderr: %s", errOut)
	}
	return out, errOut, func() int {
		cancel()
		return <-code
	}
}
