package ui

import (
	"context"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/sockscope/sockscope/capture"
	"github.com/sockscope/sockscope/internal/pcapgen"
	"github.com/sockscope/sockscope/reassembly"
)

// liveFile is a capture file read as if live (Tracker.Consume serially):
// Next hands one frame at a time and waits on step between frames, so a
// test sees the screen between any two packets.
type liveFile struct {
	*capture.FileSource
	step chan struct{}
	read atomic.Int32 // frames handed to the pipeline
}

func (l *liveFile) IsLive() bool { return true }
func (l *liveFile) Next(p *capture.Packet) error {
	<-l.step
	err := l.FileSource.Next(p)
	if err == nil {
		l.read.Add(1)
	}
	return err
}

// firstFrames ends a capture after n frames: the live UI's Load reads what
// was captured so far.
type firstFrames struct {
	*capture.FileSource
	n int
}

func (f *firstFrames) Next(p *capture.Packet) error {
	if f.n == 0 {
		return io.EOF
	}
	f.n--
	return f.FileSource.Next(p)
}

// TestLiveScan: a live capture shows a stream as it opens, its state and
// byte counts as they change (before the tracker has ended it: a closed
// stream lingers until a packet 2 s later), and its detail while open
// (read from what was captured: here, the file).
func TestLiveScan(t *testing.T) {
	var c pcapgen.Capture
	k := pcapgen.NewConn(&c, netip.MustParseAddrPort("10.0.0.1:40000"), netip.MustParseAddrPort("10.0.0.2:8000"), 1, 2)
	k.Handshake() // frames 1-3
	k.Send(0, []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	k.Send(1, []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")) // frames 4-5
	k.Fin(0)
	k.Fin(1)
	k.Ack(0) // frames 6-8
	k2 := pcapgen.NewConn(&c, netip.MustParseAddrPort("10.0.0.1:40001"), netip.MustParseAddrPort("10.0.0.2:9"), 1, 2)
	k2.T = k.T.Add(3 * time.Second) // past the close's linger
	k2.Raw(0, 1, pcapgen.SYN, nil)
	path := filepath.Join(t.TempDir(), "live.pcap")
	if err := os.WriteFile(path, c.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	fs, err := capture.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	src := &liveFile{FileSource: fs, step: make(chan struct{})}
	m := New(context.Background(), Options{Name: "lo", Live: true, Load: func(_ context.Context, id reassembly.StreamID) (*Detail, error) {
		f, err := capture.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		return LoadStream(&firstFrames{f, int(src.read.Load())}, id, reassembly.Options{}, nil)
	}})
	m.Update(tea.WindowSizeMsg{Width: 160, Height: 20})
	var mu sync.Mutex
	var msgs []tea.Msg
	so := scanOptions(t, fs)
	so.Live = true
	so.Kernel = func() (uint64, uint64, error) { return uint64(src.read.Load()), 2, nil }
	done := make(chan struct{})
	go func() {
		defer close(done)
		Scan(context.Background(), src, so, NewFeed(func(msg tea.Msg) { mu.Lock(); msgs = append(msgs, msg); mu.Unlock() }))
	}()
	// frames gives the pipeline n more frames and waits for the ticker.
	frames := func(n int) string {
		for range n {
			src.step <- struct{}{}
		}
		time.Sleep(3 * batchEvery)
		mu.Lock()
		for _, msg := range msgs {
			// A shown live stream is read again as it grows (now, or
			// after a tick that keeps reads apart).
			for _, cmd := m.Update(msg); cmd != nil; {
				_, cmd = m.Update(cmd())
			}
		}
		msgs = nil
		mu.Unlock()
		return m.Screen()
	}
	check := func(s string, want ...string) {
		t.Helper()
		for _, w := range want {
			if !strings.Contains(s, w) {
				t.Errorf("the screen lacks %q:\n%s", w, s)
			}
		}
	}
	check(frames(1), "live on lo · 1 frames (0/s) · 2 dropped by the kernel · 1 stream", "tcp/0", "handshake in progress")
	check(frames(2), "open", "0 B / 2 pkts")
	// The ladder of the open stream, then growing as its packets come,
	// showing its newest arrows.
	press(m, "enter")
	check(m.Screen(), "SYN,ACK", "handshake complete", "lines 1-")
	time.Sleep(refreshEvery)
	s := frames(2)
	check(s, "#1 GET /", "#1 200 OK")
	press(m, "esc")
	check(m.Screen(), "open", "27 B / 3 pkts", "40 B / 2 pkts", "http1 1/1")
	check(frames(3), "closed by client (FIN first)")
	press(m, "enter", "home")
	time.Sleep(refreshEvery)
	src.step <- struct{}{} // the SYN 3 s later ends tcp/0: read once more
	time.Sleep(3 * batchEvery)
	check(frames(0), "FIN,ACK", "lines 1-")
	press(m, "esc")
	s = m.Screen()
	if !strings.Contains(s, "tcp/1") || !strings.Contains(s, "closed by client (FIN first)") {
		t.Errorf("no tcp/1:\n%s", s)
	}
	close(src.step) // the capture stops: Next reads the end of the file
	<-done
	for _, msg := range msgs {
		m.Update(msg)
	}
	if !m.done || !strings.Contains(m.Screen(), "streams 2 TCP") {
		t.Errorf("after the capture stopped:\n%s", m.Screen())
	}
}
