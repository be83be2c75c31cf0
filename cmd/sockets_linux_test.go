//go:build linux

package cmd

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sockscope/sockscope/sockets"
)

// The sockets tests run real programs (cmd/testdata/sockets/peer.py) of
// known pids in a namespace of their own, take `sockscope sockets --format
// json` there, and check it against `ss -tinpe` run in the same namespace.

// startPeer runs peer.py with args inside ns and waits for its ready line;
// it returns the pid the program printed. t.Cleanup kills it by pid.
func startPeer(t *testing.T, ns *testNS, args ...string) int {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed")
	}
	script, _ := filepath.Abs("testdata/sockets/peer.py")
	c := exec.Command("ip", append([]string{"netns", "exec", ns.name, py, script}, args...)...)
	stdout, _ := c.StdoutPipe()
	var stderr bytes.Buffer
	c.Stderr = &stderr
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Process.Kill(); c.Wait() })
	ready := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		ready <- line
	}()
	select {
	case line := <-ready:
		f := strings.Fields(line)
		if len(f) < 2 {
			t.Fatalf("peer.py %v: %q; stderr: %s", args, line, stderr.String())
		}
		pid, _ := strconv.Atoi(f[1])
		if pid != c.Process.Pid {
			t.Fatalf("peer.py says pid %d, started as %d", pid, c.Process.Pid)
		}
		return pid
	case <-time.After(10 * time.Second):
		t.Fatalf("peer.py %v not ready in 10 s; stderr: %s", args, stderr.String())
	}
	return 0
}

// socketsJSON runs sockscope sockets --format json inside ns.
func socketsJSON(t *testing.T, ns *testNS) *socketsRecord {
	t.Helper()
	var out, errOut bytes.Buffer
	var code int
	if err := ns.do(func() { code = Main(t.Context(), []string{"sockets", "--format", "json"}, nil, &out, &errOut) }); err != nil {
		t.Fatal(err)
	}
	if code != 0 {
		t.Fatalf("sockets: exit %d: %s", code, errOut.String())
	}
	var rec socketsRecord
	if err := json.Unmarshal(out.Bytes(), &rec); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	return &rec
}

type socketsRecord struct {
	Type string `json:"type"`
	sockets.Snapshot
	Notes []sockets.Note `json:"notes"`
}

// find returns the TCP sockets with local or remote port port in state.
func (r *socketsRecord) find(localPort, remotePort uint16, state string) []sockets.Socket {
	var out []sockets.Socket
	for _, s := range r.Sockets {
		if s.Proto == "tcp" && (localPort == 0 || s.Local.Port() == localPort) && (remotePort == 0 || s.Remote.Port() == remotePort) && s.State == state {
			out = append(out, s)
		}
	}
	return out
}

func (r *socketsRecord) notes(kind string) []sockets.Note {
	var out []sockets.Note
	for _, n := range r.Notes {
		if n.Kind == kind {
			out = append(out, n)
		}
	}
	return out
}

// ssSocket is one socket as ss -tinpe -H -a prints it.
type ssSocket struct {
	state, local, peer string
	recvQ, sendQ       uint32
	inode              uint32
	users              []string // "python3,pid=981,fd=3"
	info               map[string]string
}

// ssSockets runs ss in ns: every TCP socket, keyed by "local peer".
func ssSockets(t *testing.T, ns *testNS) map[string]*ssSocket {
	t.Helper()
	return ssRun(t, ns, "-tinpe", "-H", "-a")
}

// ssRun runs ss with args in ns and parses its lines.
func ssRun(t *testing.T, ns *testNS, args ...string) map[string]*ssSocket {
	t.Helper()
	out, err := exec.Command("ip", append([]string{"netns", "exec", ns.name, "ss"}, args...)...).Output()
	if err != nil {
		t.Skipf("ss: %v", err)
	}
	got := map[string]*ssSocket{}
	var last *ssSocket
	for _, line := range strings.Split(string(out), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		if line[0] == '\t' || line[0] == ' ' {
			if last != nil {
				for _, f := range strings.Fields(line) {
					if k, v, ok := strings.Cut(f, ":"); ok {
						last.info[k] = v
					}
				}
			}
			continue
		}
		f := strings.Fields(line)
		if len(f) < 5 {
			t.Fatalf("ss line %q", line)
		}
		s := &ssSocket{state: f[0], local: f[3], peer: f[4], info: map[string]string{}}
		rq, _ := strconv.ParseUint(f[1], 10, 32)
		sq, _ := strconv.ParseUint(f[2], 10, 32)
		s.recvQ, s.sendQ = uint32(rq), uint32(sq)
		for _, x := range f[5:] {
			if u, ok := strings.CutPrefix(x, "users:(("); ok {
				for _, one := range strings.Split(strings.TrimSuffix(u, "))"), "),(") {
					s.users = append(s.users, strings.ReplaceAll(one, `"`, ""))
				}
			}
			if ino, ok := strings.CutPrefix(x, "ino:"); ok {
				n, _ := strconv.ParseUint(ino, 10, 32)
				s.inode = uint32(n)
			}
		}
		got[s.local+" "+s.peer] = s
		last = s
	}
	return got
}

// ssState is ss's name for a state.
var ssState = map[string]string{"ESTABLISHED": "ESTAB", "SYN_SENT": "SYN-SENT", "SYN_RECV": "SYN-RECV", "FIN_WAIT1": "FIN-WAIT-1",
	"FIN_WAIT2": "FIN-WAIT-2", "TIME_WAIT": "TIME-WAIT", "CLOSE": "UNCONN", "CLOSE_WAIT": "CLOSE-WAIT", "LAST_ACK": "LAST-ACK", "LISTEN": "LISTEN", "CLOSING": "CLOSING"}

// checkAgainstSS compares every TCP socket of the snapshot with ss's view
// of the same namespace: the same set of sockets, and for each the state,
// queues, inode, owners (command, pid, fd) and, where ss prints them,
// cwnd and the bytes acknowledged and received.
func checkAgainstSS(t *testing.T, ns *testNS, rec *socketsRecord) {
	t.Helper()
	ss := ssSockets(t, ns)
	n := 0
	for _, s := range rec.Sockets {
		if s.Proto != "tcp" {
			continue
		}
		n++
		peer := s.Remote.String()
		if s.State == "LISTEN" {
			peer = "0.0.0.0:*"
		}
		o := ss[s.Local.String()+" "+peer]
		if o == nil {
			t.Errorf("ss has no %s %s (%s)", s.Local, peer, s.State)
			continue
		}
		var users []string
		for _, w := range s.Owners {
			users = append(users, fmt.Sprintf("%s,pid=%d,fd=%d", w.Command, w.PID, w.FD))
		}
		slices.Sort(users)
		slices.Sort(o.users)
		if ssState[s.State] != o.state || s.RecvQ != o.recvQ || s.SendQ != o.sendQ || s.Inode != o.inode || !slices.Equal(users, o.users) {
			t.Errorf("%s → %s: sockscope %s recv-q %d send-q %d ino %d %v; ss %s %d %d ino %d %v",
				s.Local, peer, s.State, s.RecvQ, s.SendQ, s.Inode, users, o.state, o.recvQ, o.sendQ, o.inode, o.users)
		}
		if s.TCP == nil {
			continue
		}
		for k, v := range map[string]uint64{"cwnd": uint64(s.TCP.Cwnd), "bytes_acked": s.TCP.BytesAcked, "bytes_received": s.TCP.BytesReceived} {
			if got, ok := o.info[k]; ok && got != strconv.FormatUint(v, 10) && s.State != "SYN_SENT" {
				t.Errorf("%s → %s %s: sockscope %d, ss %s", s.Local, peer, k, v, got)
			}
		}
	}
	if n != len(ss) {
		t.Errorf("sockscope lists %d TCP sockets, ss %d", n, len(ss))
	}
}

// stable takes snapshots until two in a row agree on every socket's state
// and queues (data in flight settles within a moment on loopback), at
// most 5 s.
func stable(t *testing.T, ns *testNS) *socketsRecord {
	t.Helper()
	key := func(r *socketsRecord) string {
		var b strings.Builder
		for _, s := range r.Sockets {
			fmt.Fprintf(&b, "%s %s %s %s %d %d %d;", s.Proto, s.State, s.Local, s.Remote, s.RecvQ, s.SendQ, len(s.Owners))
		}
		return b.String()
	}
	prev := socketsJSON(t, ns)
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); {
		time.Sleep(200 * time.Millisecond)
		cur := socketsJSON(t, ns)
		if key(cur) == key(prev) {
			return cur
		}
		prev = cur
	}
	t.Fatal("sockets did not settle in 5 s")
	return nil
}

func ownedBy(s sockets.Socket, pid int) (int, bool) {
	for _, o := range s.Owners {
		if o.PID == pid && strings.HasPrefix(o.Command, "python3") {
			return o.FD, true
		}
	}
	return 0, false
}

// TestLiveSocketsAccept: one listening socket, three clients, and a socket
// of its own for each accepted connection.
func TestLiveSocketsAccept(t *testing.T) {
	ns := newTestNS(t)
	server := startPeer(t, ns, "server", "8000", "5", "read")
	client := startPeer(t, ns, "client", "8000", "3", "100")
	rec := stable(t, ns)
	ls := rec.find(8000, 0, "LISTEN")
	if len(ls) != 1 {
		t.Fatalf("%d listeners on 8000", len(ls))
	}
	if fd, ok := ownedBy(ls[0], server); !ok || fd != 3 || *ls[0].AcceptQueue != 0 || *ls[0].Backlog != 5 {
		t.Errorf("listener %+v: want python3[%d] fd 3, accept queue 0 of 5", ls[0], server)
	}
	var serverFDs, clientFDs []int
	for _, s := range rec.find(8000, 0, "ESTABLISHED") {
		fd, ok := ownedBy(s, server)
		if !ok || s.TCP == nil || s.TCP.BytesReceived != 100 {
			t.Errorf("accepted %+v: want python3[%d], 100 B received", s, server)
		}
		serverFDs = append(serverFDs, fd)
	}
	for _, s := range rec.find(0, 8000, "ESTABLISHED") {
		fd, ok := ownedBy(s, client)
		if !ok || s.TCP == nil || s.TCP.BytesAcked != 101 { // 100 B and the SYN
			t.Errorf("client %+v: want python3[%d], 100 B acknowledged", s, client)
		}
		clientFDs = append(clientFDs, fd)
	}
	slices.Sort(serverFDs)
	slices.Sort(clientFDs)
	if !slices.Equal(serverFDs, []int{4, 5, 6}) || !slices.Equal(clientFDs, []int{3, 4, 5}) {
		t.Errorf("server fds %v, want 4 5 6 (listener 3); client fds %v, want 3 4 5", serverFDs, clientFDs)
	}
	for _, l := range rec.Listeners() {
		if l.Local.Port() == 8000 && len(l.Accepted) != 3 {
			t.Errorf("listener has %d accepted connections, want 3", len(l.Accepted))
		}
	}
	checkAgainstSS(t, ns, rec)
}

// TestLiveSocketsCloseWait: the server closes at once; the client never
// closes after the server's FIN, and sits in CLOSE_WAIT.
func TestLiveSocketsCloseWait(t *testing.T) {
	ns := newTestNS(t)
	startPeer(t, ns, "server", "8001", "5", "close")
	client := startPeer(t, ns, "client", "8001", "1", "0")
	rec := stable(t, ns)
	cw := rec.find(0, 8001, "CLOSE_WAIT")
	if len(cw) != 1 {
		t.Fatalf("%d CLOSE_WAIT sockets, want 1", len(cw))
	}
	if fd, ok := ownedBy(cw[0], client); !ok || fd != 3 || cw[0].RecvQ != 1 || cw[0].UnreadBytes() != 0 {
		t.Errorf("CLOSE_WAIT socket %+v: want python3[%d] fd 3, recv-q 1 (the FIN), no data", cw[0], client)
	}
	if fw := rec.find(8001, 0, "FIN_WAIT2"); len(fw) != 1 || len(fw[0].Owners) != 0 || fw[0].Inode != 0 {
		t.Errorf("server side %+v: want one FIN_WAIT2 socket no fd refers to", fw)
	}
	if n := rec.notes(sockets.NoteCloseWait); len(n) != 1 || n[0].PID != client || !strings.Contains(n[0].Message, fmt.Sprintf("python3[%d] fd 3", client)) {
		t.Errorf("close_wait notes %+v", n)
	}
	if n := rec.notes(sockets.NoteNotReading); len(n) != 0 {
		t.Errorf("the FIN counted as unread data: %+v", n)
	}
	checkAgainstSS(t, ns, rec)
}

// TestLiveSocketsNotReading: the server accepts and never reads; its
// receive queue fills, and the client's sends wait for a window.
func TestLiveSocketsNotReading(t *testing.T) {
	ns := newTestNS(t)
	server := startPeer(t, ns, "server", "8002", "5", "noread")
	client := startPeer(t, ns, "client", "8002", "1", "3000000")
	rec := stable(t, ns)
	srv, cli := rec.find(8002, 0, "ESTABLISHED"), rec.find(0, 8002, "ESTABLISHED")
	if len(srv) != 1 || len(cli) != 1 {
		t.Fatalf("%d server and %d client sockets", len(srv), len(cli))
	}
	if fd, ok := ownedBy(srv[0], server); !ok || fd != 4 || srv[0].RecvQ == 0 {
		t.Errorf("server socket %+v: want python3[%d] fd 4 with bytes queued", srv[0], server)
	}
	if fd, ok := ownedBy(cli[0], client); !ok || fd != 3 || cli[0].SendQ == 0 || cli[0].TCP == nil || cli[0].TCP.SndWnd != 0 {
		t.Errorf("client socket %+v: want python3[%d] fd 3, bytes waiting to be sent, a zero window", cli[0], client)
	}
	if n := rec.notes(sockets.NoteNotReading); len(n) != 1 || n[0].PID != server || !strings.Contains(n[0].Message, fmt.Sprintf("%d B received", srv[0].RecvQ)) {
		t.Errorf("not-reading notes %+v", n)
	}
	if n := rec.notes(sockets.NoteSenderBlocked); len(n) != 1 || n[0].PID != client {
		t.Errorf("sender-blocked notes %+v", n)
	}
	checkAgainstSS(t, ns, rec)
}

// TestLiveSocketsBacklogFlood: a listener with backlog 1 that never
// accepts, flooded by five connects: the accept queue holds two (the
// kernel takes backlog+1), the rest wait in SYN_SENT, and the namespace's
// ListenOverflows counter moves.
func TestLiveSocketsBacklogFlood(t *testing.T) {
	ns := newTestNS(t)
	server := startPeer(t, ns, "server", "8003", "1", "noaccept")
	flood := startPeer(t, ns, "flood", "8003", "5")
	time.Sleep(1500 * time.Millisecond) // the SYN retransmissions (1 s) overflow again
	rec := socketsJSON(t, ns)
	ls := rec.find(8003, 0, "LISTEN")
	if len(ls) != 1 {
		t.Fatalf("%d listeners", len(ls))
	}
	if fd, ok := ownedBy(ls[0], server); !ok || fd != 3 || *ls[0].AcceptQueue != 2 || *ls[0].Backlog != 1 {
		t.Errorf("listener %+v: want python3[%d] fd 3, accept queue 2 of 1", ls[0], server)
	}
	queued := 0
	for _, s := range rec.find(8003, 0, "ESTABLISHED") {
		if s.Queued() {
			queued++
		}
	}
	waiting := rec.find(0, 8003, "SYN_SENT")
	if queued != 2 || len(waiting) != 3 {
		t.Errorf("%d queued for accept, %d in SYN_SENT; want 2 and 3", queued, len(waiting))
	}
	for _, s := range waiting {
		if _, ok := ownedBy(s, flood); !ok {
			t.Errorf("SYN_SENT %+v not python3[%d]", s, flood)
		}
	}
	if rec.Netstat == nil || rec.Netstat.ListenOverflows == 0 || rec.Netstat.ListenDrops < rec.Netstat.ListenOverflows {
		t.Errorf("netstat %+v: want overflows counted in this new namespace", rec.Netstat)
	}
	if n := rec.notes(sockets.NoteAcceptQueueFull); len(n) != 1 || n[0].PID != server {
		t.Errorf("accept-queue notes %+v", n)
	}
	if n := rec.notes(sockets.NoteListenOverflows); len(n) != 1 {
		t.Errorf("overflow notes %+v", n)
	}
	checkAgainstSS(t, ns, rec)
}

// TestLiveSocketsWatch: --watch off a terminal prints --count snapshots,
// and stops early on interrupt.
func TestLiveSocketsWatch(t *testing.T) {
	ns := newTestNS(t)
	startPeer(t, ns, "server", "8000", "5", "read")
	var out, errOut bytes.Buffer
	var code int
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	start := time.Now()
	ns.do(func() {
		code = Main(ctx, []string{"sockets", "--watch", "--count", "3", "--interval", "100ms"}, nil, &out, &errOut)
	})
	if code != 0 || strings.Count(out.String(), "sockets  ") != 3 || strings.Count(out.String(), "tcp 127.0.0.1:8000  loopback only") != 3 {
		t.Errorf("exit %d: %s\n%s", code, errOut.String(), out.String())
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("3 snapshots 100 ms apart took %s", time.Since(start))
	}
}

// TestLiveSocketsUnprivileged runs the sockscope binary as nobody, with
// no capabilities, beside a root-owned server: every socket is still
// listed with its state, queues and tcp_info (sock_diag answers anyone),
// but root's process cannot be mapped, and the output says why.
func TestLiveSocketsUnprivileged(t *testing.T) {
	ns := newTestNS(t)
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("setpriv (util-linux) not installed")
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	bin := filepath.Join(dir, "sockscope")
	if out, err := exec.Command("go", "build", "-o", bin, "./sockscope").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v: %s", err, out)
	}
	startPeer(t, ns, "server", "8000", "5", "read")
	startPeer(t, ns, "client", "8000", "1", "100")
	out, err := exec.Command("ip", "netns", "exec", ns.name, setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
		bin, "sockets", "--format", "json").Output()
	if err != nil {
		t.Fatalf("sockscope sockets as nobody: %v", err)
	}
	var rec socketsRecord
	if err := json.Unmarshal(out, &rec); err != nil {
		t.Fatal(err)
	}
	ls := rec.find(8000, 0, "LISTEN")
	est := rec.find(0, 0, "ESTABLISHED")
	if len(ls) != 1 || len(ls[0].Owners) != 0 || *ls[0].Backlog != 5 || len(est) != 2 || est[0].TCP == nil || est[0].TCP.Cwnd == 0 {
		t.Errorf("as nobody: listener %+v, %d connections (want 2, with tcp_info, no owners)", ls, len(est))
	}
	missing := ""
	for _, g := range rec.Missing {
		missing += g.What + ": " + g.Why + "\n"
	}
	if !strings.Contains(missing, "owners: ") || !strings.Contains(missing, "not root") || !strings.Contains(missing, "CAP_SYS_PTRACE") {
		t.Errorf("missing %q: want the owners gap, saying why", missing)
	}
}

// TestLiveSocketsTimeWait: 120 short connections closed by the client
// leave 120 TIME_WAIT sockets, which no process holds, and a note.
func TestLiveSocketsTimeWait(t *testing.T) {
	ns := newTestNS(t)
	// Backlog 128: connect() returns before accept(), so with 5 the client
	// outruns the server, the queue overflows and SYNs wait 1 s to retry.
	startPeer(t, ns, "server", "8000", "128", "read")
	startPeer(t, ns, "churn", "8000", "120")
	rec := stable(t, ns)
	tw := rec.find(0, 8000, "TIME_WAIT")
	if len(tw) != 120 {
		t.Errorf("%d TIME_WAIT sockets, want 120", len(tw))
	}
	for _, s := range tw {
		if len(s.Owners) != 0 || s.Inode != 0 {
			t.Errorf("TIME_WAIT %+v: want no owner, no inode", s)
		}
	}
	if n := rec.notes(sockets.NoteTimeWait); len(n) != 1 || !strings.Contains(n[0].Message, "120 connections with 127.0.0.1:8000 linger in TIME_WAIT") {
		t.Errorf("TIME_WAIT notes %+v", n)
	}
	checkAgainstSS(t, ns, rec)
}

// TestLiveSocketsUDP: a UDP socket bound to all interfaces that never
// reads the three datagrams sent to it, checked against ss -uanpe.
func TestLiveSocketsUDP(t *testing.T) {
	ns := newTestNS(t)
	pid := startPeer(t, ns, "udp", "5353", "3")
	rec := stable(t, ns)
	ss := ssRun(t, ns, "-uanpe", "-H")
	n := 0
	for _, s := range rec.Sockets {
		if s.Proto != "udp" {
			continue
		}
		n++
		o := ss[s.Local.String()+" "+strings.Replace(s.Remote.String(), ":0", ":*", 1)]
		if o == nil {
			t.Errorf("ss has no UDP %s", s.Local)
			continue
		}
		var users []string
		for _, w := range s.Owners {
			users = append(users, fmt.Sprintf("%s,pid=%d,fd=%d", w.Command, w.PID, w.FD))
		}
		if o.state != "UNCONN" || s.State != "UNCONN" || o.recvQ != s.RecvQ || o.inode != s.Inode || !slices.Equal(users, o.users) {
			t.Errorf("%s: sockscope %s %d ino %d %v; ss %s %d ino %d %v", s.Local, s.State, s.RecvQ, s.Inode, users, o.state, o.recvQ, o.inode, o.users)
		}
		if s.Local.Port() == 5353 {
			if fd, ok := ownedBy(s, pid); !ok || fd != 3 || s.RecvQ == 0 || s.Exposure() != sockets.AllInterfaces {
				t.Errorf("UDP 5353: %+v, want python3[%d] fd 3 with datagrams queued, on all interfaces", s, pid)
			}
		}
	}
	if n != len(ss) || n != 2 {
		t.Errorf("sockscope lists %d UDP sockets, ss %d; want 2 (the bound one and the sender)", n, len(ss))
	}
	if notes := rec.notes(sockets.NoteNotReading); len(notes) != 1 || notes[0].PID != pid {
		t.Errorf("not-reading notes %+v", notes)
	}
}
