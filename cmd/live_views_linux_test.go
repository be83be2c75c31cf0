//go:build linux

package cmd

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// runLiveView starts sockscope with args inside ns; views other than live
// say on stderr when they listen. stop cancels it (as Ctrl-C would); wait
// waits for it to end by itself (-c). Both return the exit code.
func runLiveView(t *testing.T, ns *testNS, args ...string) (out, errOut *syncBuffer, stop, wait func() int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	out, errOut = newSyncBuffer(), newSyncBuffer()
	code := make(chan int, 1)
	go func() {
		var c int
		if err := ns.do(func() { c = Main(ctx, args, nil, out, errOut) }); err != nil {
			t.Errorf("enter netns: %v", err)
			c = -1
		}
		code <- c
	}()
	if !errOut.waitFor(ctx, func(s string) bool { return strings.Contains(s, "listening on lo") }) {
		cancel()
		t.Fatalf("%v did not start capturing; stderr: %s", args, errOut)
	}
	var got *int
	result := func() int {
		if got == nil {
			c := <-code
			got = &c
		}
		return *got
	}
	return out, errOut, func() int { cancel(); return result() }, func() int { defer cancel(); return result() }
}

// waitOut waits up to 10 s for cond on b.
func waitOut(t *testing.T, b *syncBuffer, cond func(string) bool) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	return b.waitFor(ctx, cond)
}

// TestLiveFollow: follow -i keeps the stream asked for, numbered as streams
// appear; the bytes it shows are the bytes the test wrote.
func TestLiveFollow(t *testing.T) {
	ns := newTestNS(t)
	out, errOut, stop, _ := runLiveView(t, ns, "follow", "-i", "lo", "-f", "tcp", "tcp/0", "--format", "raw", "--dir", "s2c")
	_, resp, err := loTraffic(ns, 3000)
	if err != nil {
		t.Fatal(err)
	}
	closed := waitOut(t, errOut, func(s string) bool { return strings.Contains(s, "Ctrl-C shows it") })
	if code := stop(); code != 0 {
		t.Fatalf("exit %d; stderr: %s", code, errOut)
	}
	if !closed {
		t.Errorf("the end of tcp/0 was not announced: %s", errOut)
	}
	if out.String() != string(resp) {
		t.Errorf("follow -i --format raw: %d bytes, want the %d the server wrote", len(out.String()), len(resp))
	}
	for _, want := range []string{"tcp/0: 127.0.0.1:", "handshake complete", "capture on lo stopped: interrupted", "0 dropped by the kernel"} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}

	// -c stops the capture by itself; the view shows what it got.
	out, errOut, _, wait := runLiveView(t, ns, "follow", "-i", "lo", "-f", "tcp", "0", "-c", "3")
	if _, _, err := loTraffic(ns, 10); err != nil {
		t.Fatal(err)
	}
	if code := wait(); code != 0 {
		t.Fatalf("follow -c 3: exit %d; stderr: %s", code, errOut)
	}
	if !strings.Contains(errOut.String(), "stopped: -c 3 reached") || !strings.Contains(out.String(), "handshake incomplete") && !strings.Contains(out.String(), "open at end of capture") {
		t.Errorf("follow -c 3:\n%s\nstderr: %s", out, errOut)
	}
}

// TestLiveTimeline: timeline -i draws each arrow as its packet arrives:
// the request's label and the refusal are on screen before the capture stops.
func TestLiveTimeline(t *testing.T) {
	ns := newTestNS(t)
	out, errOut, stop, _ := runLiveView(t, ns, "timeline", "-i", "lo", "-f", "tcp", "--width", "100", "--color", "never")
	if _, _, err := loTraffic(ns, 10); err != nil {
		t.Fatal(err)
	}
	drawn := waitOut(t, out, func(s string) bool {
		return strings.Contains(s, "#1 GET /hello") && strings.Contains(s, "#1 200 OK") && strings.Contains(s, "connection refused")
	})
	if code := stop(); code != 0 {
		t.Fatalf("exit %d; stderr: %s", code, errOut)
	}
	text := out.String()
	if !drawn {
		t.Errorf("arrows not drawn while capturing:\n%s", text)
	}
	for _, want := range []string{"tcp/0  client 127.0.0.1:", "tcp/1  client 127.0.0.1:", "│─ SYN seq=0", "handshake", "messages: http1",
		"closes first", "RST,ACK seq=1 ack=1 win=0"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "udp/") || strings.Count(text, "# time") != 2 {
		t.Errorf("want exactly the two TCP streams' ladders:\n%s", text)
	}

	// JSON, one stream named: its records only, each as the file view writes them.
	out, errOut, stop, _ = runLiveView(t, ns, "timeline", "-i", "lo", "--format", "json", "udp/0", "tcp/0")
	req, _, err := loTraffic(ns, 10)
	if err != nil {
		t.Fatal(err)
	}
	waitOut(t, out, func(s string) bool { return strings.Count(s, `"stream":"udp/0"`) >= 2 })
	if code := stop(); code != 0 {
		t.Fatalf("json: exit %d; stderr: %s", code, errOut)
	}
	var udp, tcp, labels int
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var r struct {
			Type, Stream, Dir, Label string
			Len                      int
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("not JSON: %q", line)
		}
		switch {
		case r.Type == "packet" && r.Stream == "udp/0":
			udp++
			if r.Len != len("ping 1") || r.Label != "" {
				t.Errorf("datagram record %+v", r)
			}
		case r.Type == "packet" && r.Stream == "tcp/0":
			tcp++
			if r.Dir == "c2s" && r.Len == len(req) {
				labels++
				if r.Label != "#1 GET /hello" {
					t.Errorf("request arrow label %q", r.Label)
				}
			}
		case r.Type == "framing" && r.Stream == "tcp/0":
		default:
			t.Errorf("unexpected record %s", line)
		}
	}
	if udp != 2 || tcp < 8 || labels != 1 {
		t.Errorf("%d udp/0 records, %d tcp/0, %d request labels:\n%s", udp, tcp, labels, out)
	}
}

// lineTraffic makes, inside ns, one connection whose client writes three
// text lines in one write (a framing hazard: one segment, three messages),
// waits out the tracker's 2 s closed-linger, then sends a datagram, the
// packet that lets the tracker finish the connection while capturing.
func lineTraffic(t *testing.T, ns *testNS) {
	t.Helper()
	var inner error
	err := ns.do(func() {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			inner = err
			return
		}
		defer ln.Close()
		done := make(chan error, 1)
		go func() {
			c, err := ln.Accept()
			if err != nil {
				done <- err
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			io.Copy(io.Discard, c)
			_, err = c.Write([]byte("ok\n"))
			done <- err
		}()
		c, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
		if err != nil {
			inner = err
			return
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		c.Write([]byte("hello one\nhello two\nhello three\n"))
		c.(*net.TCPConn).CloseWrite()
		io.ReadAll(c)
		c.Close()
		if inner = <-done; inner != nil {
			return
		}
		time.Sleep(2100 * time.Millisecond) // reassembly's ClosedLinger, in capture time
		u, err := net.Dial("udp", "127.0.0.1:9")
		if err != nil {
			inner = err
			return
		}
		u.Write([]byte("tick"))
		u.Close()
	})
	if err == nil {
		err = inner
	}
	if err != nil {
		t.Fatal(err)
	}
}

// TestLiveFindings: live reports a stream's findings as soon as the stream
// is finished, while capturing, and the capture-wide ones at the end; in
// JSON each finding is written once.
func TestLiveFindings(t *testing.T) {
	ns := newTestNS(t)
	out, errOut, stop := runLiveCLI(t, ns, "live", "lo", "--format", "json")
	lineTraffic(t, ns)
	live := waitOut(t, out, func(s string) bool { return strings.Contains(s, `"kind":"framing_hazard"`) })
	if code := stop(); code != 0 {
		t.Fatalf("exit %d; stderr: %s", code, errOut)
	}
	if !live {
		t.Errorf("framing_hazard not reported while capturing:\n%s", out)
	}
	s := out.String()
	hazard := strings.Index(s, `"kind":"framing_hazard"`)
	if strings.Count(s, `"kind":"framing_hazard"`) != 1 || strings.Count(s, `"kind":"listening_services"`) != 1 ||
		hazard > strings.Index(s, `"type":"stream"`) || strings.Index(s, `"kind":"listening_services"`) < strings.Index(s, `"type":"stream"`) {
		t.Errorf("want framing_hazard once, while capturing, and listening_services once at the end:\n%s", s)
	}
	if strings.Index(s, `"event":"datagram"`) > hazard {
		t.Errorf("the finding should come with the datagram that finished its stream:\n%s", s)
	}

	out, errOut, stop = runLiveCLI(t, ns, "live", "lo", "--no-findings")
	lineTraffic(t, ns)
	waitOut(t, out, func(s string) bool { return strings.Contains(s, "datagram") })
	if code := stop(); code != 0 {
		t.Fatalf("--no-findings: exit %d; stderr: %s", code, errOut)
	}
	if strings.Contains(out.String(), "finding") {
		t.Errorf("--no-findings:\n%s", out)
	}

	out, errOut, stop = runLiveCLI(t, ns, "live", "lo")
	lineTraffic(t, ns)
	waitOut(t, out, func(s string) bool { return strings.Contains(s, "finding (info) framing_hazard") })
	if code := stop(); code != 0 {
		t.Fatalf("text: exit %d; stderr: %s", code, errOut)
	}
	text := out.String()
	for _, want := range []string{"tcp/0  finding (info) framing_hazard: One send is not one recv", "worst coalescing: c→s frame 4 carried 3 messages",
		"\nfindings (", "listening_services"} {
		if !strings.Contains(text, want) {
			t.Errorf("text output lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "capabilities dropped") {
		t.Errorf("a test process must not drop privileges implicitly:\n%s", text)
	}
}
