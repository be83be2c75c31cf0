//go:build linux

package cmd

import (
	"io"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestLiveUITmux: the live UI on loopback in a namespace of its own while
// a real client and server talk there, step by step: the screen shows the
// stream appear with its handshake, its ladder (read from what was
// captured so far) grow with its message, its bytes and message count in
// the table, and its close, each soon after it happened; q restores the
// terminal. Root, SOCKSCOPE_LIVE=1, tmux.
func TestLiveUITmux(t *testing.T) {
	ns := newTestNS(t)
	x := newTmuxUI(t, 120, 30, "NO_COLOR=1 ip netns exec "+ns.name, "ui -i lo")
	x.waitFor("live on lo · 0 frames (0/s) · 0 streams")
	var ln net.Listener
	var client net.Conn
	var err error
	if derr := ns.do(func() {
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			return
		}
		client, err = net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
	}); derr != nil || err != nil {
		t.Fatal(derr, err)
	}
	defer ln.Close()
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ends := client.LocalAddr().String() + " → " + ln.Addr().String()
	step := func(what string, want ...string) {
		t.Helper()
		start := time.Now()
		x.waitFor(want...)
		took := time.Since(start)
		t.Logf("%s: on screen after %v", what, took.Round(time.Millisecond))
		if took > 2*time.Second {
			t.Errorf("%s took %v to show", what, took)
		}
	}
	step("handshake", ends, "open")
	// The ladder of the open stream grows as its packets come.
	x.keys("Enter")
	x.waitFor("[l ladder]", "SYN,ACK seq=0 ack=1", "handshake")
	req, resp := "GET /ui HTTP/1.1\r\nHost: test\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
	client.SetDeadline(time.Now().Add(5 * time.Second))
	server.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := client.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(server, make([]byte, len(req))); err != nil {
		t.Fatal(err)
	}
	server.Write([]byte(resp))
	if _, err := io.ReadFull(client, make([]byte, len(resp))); err != nil {
		t.Fatal(err)
	}
	step("message on the ladder", "#1 GET /ui", "#1 200 OK 5 B")
	x.keys("Escape")
	step("message in the table", "32 B / ", "43 B / ", "http1 1/1")
	client.Close()
	io.Copy(io.Discard, server)
	server.Close()
	step("close", "closed by client (FIN first)", "· 0 dropped by the kernel ·")
	x.keys("Enter")
	s := x.waitFor("[l ladder]", "SYN,ACK seq=0 ack=1", "#1 GET /ui", "FIN,ACK")
	x.save("live_ladder", s)
	if !strings.Contains(s, ":"+strconv.Itoa(port)) {
		t.Errorf("the ladder is not of the server's stream:\n%s", s)
	}
	x.keys("Escape")
	x.save("live_conns", x.waitFor("▶ tcp/0"))
	// w writes what was captured so far: a pcapng file read to its end.
	x.keys("w")
	wstart := time.Now()
	x.waitFor("wrote 10 frames to sockscope-lo-")
	t.Logf("w: written after %v", time.Since(wstart).Round(time.Millisecond))
	saved, _ := filepath.Glob(filepath.Join(x.dir, "sockscope-lo-*.pcapng"))
	if len(saved) != 1 {
		t.Fatalf("w wrote %q", saved)
	}
	out, errOut, code := runCLI(t, nil, "read", saved[0])
	if code != 0 || !strings.Contains(out, "closed by client (FIN first)") || !strings.Contains(out, "frames   10 ") {
		t.Errorf("read of what w wrote: exit %d\n%s%s", code, out, errOut)
	}
	qstart := time.Now()
	x.keys("q")
	checkRestored(t, x)
	t.Logf("q: exited after %v", time.Since(qstart).Round(time.Millisecond))
}
