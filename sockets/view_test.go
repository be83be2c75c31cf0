package sockets

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func sock(proto, state, local, remote string, inode uint32, owners ...Owner) Socket {
	s := Socket{Proto: proto, State: state, Local: netip.MustParseAddrPort(local), Remote: netip.MustParseAddrPort(remote), Inode: inode, Owners: owners}
	if state == "LISTEN" {
		aq, bl := uint32(0), uint32(128)
		s.AcceptQueue, s.Backlog = &aq, &bl
	}
	return s
}

func TestListenersAndPeers(t *testing.T) {
	nginx := func(fd int) Owner { return Owner{PID: 981, FD: fd, Command: "nginx"} }
	curl := Owner{PID: 4211, FD: 5, Command: "curl"}
	s := &Snapshot{Sockets: []Socket{
		sock("tcp", "LISTEN", "[::]:80", "[::]:0", 10, nginx(6)),
		sock("tcp", "LISTEN", "127.0.0.1:80", "0.0.0.0:0", 11, nginx(7)), // exact address wins over the wildcard
		sock("tcp", "ESTABLISHED", "[::ffff:10.0.0.1]:80", "[::ffff:10.0.0.2]:40000", 12, nginx(11)),
		sock("tcp", "ESTABLISHED", "127.0.0.1:80", "127.0.0.1:40001", 13, nginx(12)),
		sock("tcp", "ESTABLISHED", "127.0.0.1:40001", "127.0.0.1:80", 14, curl),
		sock("tcp", "ESTABLISHED", "127.0.0.1:80", "127.0.0.1:40002", 0), // queued
		sock("tcp", "TIME_WAIT", "127.0.0.1:80", "127.0.0.1:40003", 0),
		sock("tcp", "ESTABLISHED", "10.0.0.1:443", "10.0.0.9:1", 15), // no listener
		sock("udp", "UNCONN", "0.0.0.0:53", "0.0.0.0:0", 16),
		sock("udp", "UNCONN", "0.0.0.0:0", "0.0.0.0:0", 17), // unbound: not listening
	}}
	ls := s.Listeners()
	if len(ls) != 3 {
		t.Fatalf("%d listeners", len(ls))
	}
	if len(ls[0].Accepted) != 1 || ls[0].Accepted[0].Inode != 12 || ls[0].Exposure() != AllInterfaces {
		t.Errorf("[::]:80: %+v, %s", ls[0].Accepted, ls[0].Exposure())
	}
	if len(ls[1].Accepted) != 2 || ls[1].TimeWait != 1 || !ls[1].Accepted[1].Queued() || ls[1].Exposure() != LoopbackOnly {
		t.Errorf("127.0.0.1:80: %d accepted, %d TIME_WAIT", len(ls[1].Accepted), ls[1].TimeWait)
	}
	if ls[2].Proto != "udp" || ls[2].Exposure() != AllInterfaces {
		t.Errorf("udp: %+v", ls[2])
	}
	peer := s.Peers()
	if p := peer(&s.Sockets[3]); p == nil || p.Inode != 14 {
		t.Errorf("peer of nginx's fd 12: %+v", p)
	}
	if p := peer(&s.Sockets[7]); p != nil {
		t.Errorf("a remote peer found locally: %+v", p)
	}
	procs, unowned, tw := s.ByProcess()
	if len(procs) != 2 || procs[0].PID != 981 || len(procs[0].Sockets) != 2 || procs[1].Command != "curl" || len(unowned) != 3 || tw != 1 {
		t.Errorf("by process: %+v, %d unowned, %d TIME_WAIT", procs, len(unowned), tw)
	}
	if got := s.Sockets[2].OwnerNames(); got != "nginx[981] fd 11" {
		t.Errorf("OwnerNames %q", got)
	}
}

func TestNotes(t *testing.T) {
	app := Owner{PID: 7, FD: 3, Command: "app"}
	s := &Snapshot{Netstat: &Netstat{ListenOverflows: 3, ListenDrops: 4}}
	full := sock("tcp", "LISTEN", "127.0.0.1:9000", "0.0.0.0:0", 1, app)
	two, one := uint32(2), uint32(1)
	full.AcceptQueue, full.Backlog = &two, &one
	s.Sockets = append(s.Sockets, full, sock("tcp", "LISTEN", "0.0.0.0:22", "0.0.0.0:0", 2, Owner{PID: 1, FD: 3, Command: "sshd"}))
	cw := sock("tcp", "CLOSE_WAIT", "127.0.0.1:5000", "127.0.0.1:9000", 3, app)
	cw.RecvQ = 1 // only the FIN
	unread := sock("tcp", "ESTABLISHED", "127.0.0.1:9000", "127.0.0.1:5001", 4, app)
	unread.RecvQ, unread.TCP = 4096, &TCPInfo{LastDataRecvMillis: 2500}
	blocked := sock("tcp", "ESTABLISHED", "127.0.0.1:5001", "127.0.0.1:9000", 5, app)
	blocked.SendQ, blocked.TCP = 100000, &TCPInfo{SndWndKnown: true}
	syn := sock("tcp", "SYN_SENT", "127.0.0.1:5002", "127.0.0.1:9000", 6, app)
	syn.SendQ, syn.TCP = 1, &TCPInfo{SndWndKnown: true}
	s.Sockets = append(s.Sockets, cw, unread, blocked, syn)
	for i := 0; i < 3; i++ {
		s.Sockets = append(s.Sockets, sock("tcp", "TIME_WAIT", "127.0.0.1:"+string(rune('0'+i))+"0000", "10.0.0.2:80", 0))
		s.Sockets = append(s.Sockets, sock("tcp", "TIME_WAIT", "0.0.0.0:22", "10.0.0.3:"+string(rune('1'+i))+"000", 0))
	}
	var kinds []string
	var text strings.Builder
	for _, n := range s.Notes(NoteOptions{TimeWaitPile: 3}) {
		kinds = append(kinds, n.Kind)
		text.WriteString(n.Message + "\n")
	}
	want := []string{NoteExposed, NoteAcceptQueueFull, NoteListenOverflows, NoteCloseWait, NoteNotReading, NoteSenderBlocked, NoteTimeWait, NoteTimeWait}
	if !slices.Equal(kinds, want) {
		t.Errorf("kinds %v, want %v:\n%s", kinds, want, &text)
	}
	for _, w := range []string{"sshd[1] fd 3 listens on TCP 0.0.0.0:22", "holds 2 connections (backlog 1)", "3 accept-queue overflows and 4",
		"app[7] fd 3 has not closed", "4096 B received", "arrived 2.5 s ago", "100000 B queued to send",
		"3 connections to 0.0.0.0:22 linger", "3 connections with 10.0.0.2:80 linger"} {
		if !strings.Contains(text.String(), w) {
			t.Errorf("notes lack %q:\n%s", w, &text)
		}
	}
	if n := s.Notes(NoteOptions{TimeWaitPile: 4}); len(n) != 6 {
		t.Errorf("%d notes under a higher TIME_WAIT threshold, want 6", len(n))
	}
}

// FuzzParseStat: never panics; an accepted line's command is what sits
// between the first '(' and the last ')'.
func FuzzParseStat(f *testing.F) {
	f.Add([]byte("981 (python3) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 4242 20 21\n"))
	f.Add([]byte("1 (a) b (c)) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 1 20\n"))
	f.Add([]byte("("))
	f.Fuzz(func(t *testing.T, b []byte) {
		comm, _, ok := parseStat(b)
		if !ok {
			if comm != "" {
				t.Fatal("a command without ok")
			}
			return
		}
		s := string(b)
		if want := s[strings.IndexByte(s, '(')+1 : strings.LastIndexByte(s, ')')]; comm != want {
			t.Fatalf("comm %q, want %q", comm, want)
		}
	})
}
