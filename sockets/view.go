package sockets

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Listener is a listening socket with the connections it accepted that
// are still open: the one-listener-many-sockets picture.
type Listener struct {
	*Socket
	// Accepted are the connections to the listener's address and port, by
	// remote address: those with an owner were accept()ed; those with
	// Inode 0 in ESTABLISHED wait in the accept queue.
	Accepted []*Socket
	// TimeWait counts the listener's connections that closed and linger in
	// TIME_WAIT (they are not listed).
	TimeWait int
}

// Queued reports whether c is still in the listener's accept queue.
func (c *Socket) Queued() bool { return c.Inode == 0 && c.State == "ESTABLISHED" && c.Proto == "tcp" }

// Listeners returns the listening sockets (TCP LISTEN, bound unconnected
// UDP) in Snapshot order, each with its accepted connections.
func (s *Snapshot) Listeners() []Listener {
	var out []Listener
	idx := map[int]int{} // socket index → out index
	for i := range s.Sockets {
		if s.Sockets[i].Listening() {
			idx[i] = len(out)
			out = append(out, Listener{Socket: &s.Sockets[i]})
		}
	}
	for i := range s.Sockets {
		c := &s.Sockets[i]
		if c.Proto != "tcp" || c.Listening() {
			continue
		}
		l := s.listenerOf(c)
		if l < 0 {
			continue
		}
		if c.State == "TIME_WAIT" {
			out[idx[l]].TimeWait++
		} else {
			out[idx[l]].Accepted = append(out[idx[l]].Accepted, c)
		}
	}
	return out
}

// listenerOf finds the TCP listener whose address and port c's local end
// has: the exact address first, then a wildcard of the same family (an
// IPv6 wildcard also takes IPv4 clients, seen as ::ffff:a.b.c.d). It
// returns the socket's index, or -1. (With SO_REUSEPORT several listeners
// share an address; the first is named.)
func (s *Snapshot) listenerOf(c *Socket) int {
	wild := -1
	for i := range s.Sockets {
		l := &s.Sockets[i]
		if l.State != "LISTEN" || l.Proto != "tcp" || l.Local.Port() != c.Local.Port() {
			continue
		}
		la, ca := l.Local.Addr(), c.Local.Addr()
		switch {
		case la == ca:
			return i
		case wild < 0 && la.IsUnspecified() && la.Is4() == ca.Is4():
			wild = i
		}
	}
	return wild
}

// Process is one process with the sockets it holds, by fd.
type Process struct {
	PID     int
	Command string
	User    string
	Sockets []FDSocket
}

// FDSocket is a socket seen through one of its owner's fds.
type FDSocket struct {
	FD int
	*Socket
}

// ByProcess groups the sockets that are not listening by owning process
// (by pid), and returns the rest, that no process holds, apart: those in
// TIME_WAIT are only counted.
func (s *Snapshot) ByProcess() (procs []Process, unowned []*Socket, timeWait int) {
	at := map[int]int{}
	for i := range s.Sockets {
		c := &s.Sockets[i]
		if c.Listening() {
			continue
		}
		if len(c.Owners) == 0 {
			if c.State == "TIME_WAIT" {
				timeWait++
			} else {
				unowned = append(unowned, c)
			}
			continue
		}
		for _, o := range c.Owners {
			j, ok := at[o.PID]
			if !ok {
				j = len(procs)
				at[o.PID] = j
				procs = append(procs, Process{PID: o.PID, Command: o.Command, User: o.User})
			}
			procs[j].Sockets = append(procs[j].Sockets, FDSocket{FD: o.FD, Socket: c})
		}
	}
	slices.SortFunc(procs, func(a, b Process) int { return cmp.Compare(a.PID, b.PID) })
	for _, p := range procs {
		slices.SortFunc(p.Sockets, func(a, b FDSocket) int { return cmp.Compare(a.FD, b.FD) })
	}
	return procs, unowned, timeWait
}

// OwnerNames names a socket's owners, "python3[981] fd 3", or "" when none is known.
func (s *Socket) OwnerNames() string {
	var b strings.Builder
	for i, o := range s.Owners {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s[%d] fd %d", o.Command, o.PID, o.FD)
	}
	return b.String()
}

// UnreadBytes is the data received and not read by the application. A
// TCP socket that received the peer's FIN counts it in RecvQ (one sequence
// number) until the application reads the end of the stream; that byte is
// not data.
func (s *Socket) UnreadBytes() uint32 {
	if s.Proto == "tcp" && s.RecvQ > 0 {
		switch s.State {
		case "CLOSE_WAIT", "LAST_ACK", "CLOSING":
			return s.RecvQ - 1
		}
	}
	return s.RecvQ
}

// Note is a fact worth a reader's attention, drawn from socket state.
type Note struct {
	Kind    string `json:"kind"` // one of the Note* kinds
	Message string `json:"message"`
	// PID is the owning process, when there is one.
	PID int `json:"pid,omitempty"`
}

// Note kinds.
const (
	NoteExposed         = "listening_on_all_interfaces"
	NoteAcceptQueueFull = "accept_queue_full"
	NoteListenOverflows = "listen_overflows"
	NoteCloseWait       = "close_wait"
	NoteTimeWait        = "time_wait_pile"
	NoteNotReading      = "application_not_reading"
	NoteSenderBlocked   = "sender_blocked"
)

// NoteOptions are the thresholds behind Notes.
type NoteOptions struct {
	// TimeWaitPile is how many TIME_WAIT sockets to one remote make a note.
	TimeWaitPile int
}

// DefaultNoteOptions are the thresholds the sockets view uses.
var DefaultNoteOptions = NoteOptions{TimeWaitPile: 100}

// Notes draws notes from the snapshot, in a fixed order: listeners,
// accept queues, then the connections in snapshot order.
func (s *Snapshot) Notes(opt NoteOptions) []Note {
	var out []Note
	add := func(kind string, sk *Socket, format string, args ...any) {
		n := Note{Kind: kind, Message: fmt.Sprintf(format, args...)}
		if sk != nil && len(sk.Owners) > 0 {
			n.PID = sk.Owners[0].PID
		}
		out = append(out, n)
	}
	who := func(sk *Socket) string {
		if n := sk.OwnerNames(); n != "" {
			return n
		}
		if sk.Inode == 0 {
			return "no process (no fd refers to it)"
		}
		return fmt.Sprintf("an unknown process (inode %d)", sk.Inode)
	}
	for _, l := range s.Listeners() {
		if l.Exposure() == AllInterfaces {
			add(NoteExposed, l.Socket, "%s listens on %s %s (all interfaces): other hosts can reach it", who(l.Socket), strings.ToUpper(l.Proto), l.Local)
		}
	}
	for _, l := range s.Listeners() {
		if l.AcceptQueue != nil && l.Backlog != nil && *l.AcceptQueue > *l.Backlog {
			add(NoteAcceptQueueFull, l.Socket, "accept queue full: %s on %s holds %d connections (backlog %d) that it has not accepted: the kernel drops new handshakes", who(l.Socket), l.Local, *l.AcceptQueue, *l.Backlog)
		}
	}
	if ns := s.Netstat; ns != nil && (ns.ListenOverflows > 0 || ns.ListenDrops > 0) {
		add(NoteListenOverflows, nil, "the kernel counted %d accept-queue overflows and %d dropped SYNs/ACKs at listeners in this network namespace (/proc/net/netstat ListenOverflows, ListenDrops)", ns.ListenOverflows, ns.ListenDrops)
	}
	timeWait := map[string]int{}
	for i := range s.Sockets {
		sk := &s.Sockets[i]
		if sk.Proto != "tcp" {
			if sk.RecvQ > 0 {
				add(NoteNotReading, sk, "%s has %d B of datagrams queued on UDP %s that the application has not read", who(sk), sk.RecvQ, sk.Local)
			}
			continue
		}
		switch sk.State {
		case "LISTEN":
			continue
		case "TIME_WAIT":
			// Group by the end that stays the same: the server's.
			if s.listenerOf(sk) >= 0 {
				timeWait["to "+sk.Local.String()]++
			} else {
				timeWait["with "+sk.Remote.String()]++
			}
			continue
		case "CLOSE_WAIT":
			add(NoteCloseWait, sk, "CLOSE_WAIT: the peer %s closed its side of %s, and %s has not closed this socket (a leak if it stays)", sk.Remote, sk.Local, who(sk))
		}
		if n := sk.UnreadBytes(); n > 0 && !sk.Queued() {
			since := ""
			if sk.TCP != nil {
				since = fmt.Sprintf("; the last data arrived %s ago", millis(sk.TCP.LastDataRecvMillis))
			}
			add(NoteNotReading, sk, "%s has %d B received on %s ← %s that the application has not read%s", who(sk), n, sk.Local, sk.Remote, since)
		}
		if open := sk.State == "ESTABLISHED" || sk.State == "CLOSE_WAIT"; open && sk.TCP != nil && sk.TCP.SndWndKnown && sk.TCP.SndWnd == 0 && sk.SendQ > 0 {
			add(NoteSenderBlocked, sk, "sender blocked: %s has %d B queued to send on %s → %s and the peer advertises a zero window (the peer is not reading)", who(sk), sk.SendQ, sk.Local, sk.Remote)
		}
	}
	var remotes []string
	for r, n := range timeWait {
		if n >= opt.TimeWaitPile {
			remotes = append(remotes, r)
		}
	}
	slices.Sort(remotes)
	for _, r := range remotes {
		add(NoteTimeWait, nil, "%d connections %s linger in TIME_WAIT (many short connections: consider keep-alive or connection reuse)", timeWait[r], r)
	}
	return out
}

// millis words a millisecond count, "2.0 s" or "350 ms".
func millis(ms uint32) string {
	if ms >= 1000 {
		return fmt.Sprintf("%.1f s", float64(ms)/1000)
	}
	return fmt.Sprintf("%d ms", ms)
}

// Peers returns a function giving, for a connection whose other end is a
// socket in the same snapshot (a loopback or local connection), that
// socket: the process on the other end.
func (s *Snapshot) Peers() func(*Socket) *Socket {
	type key struct {
		proto         string
		local, remote netip.AddrPort
	}
	at := make(map[key]*Socket, len(s.Sockets))
	norm := func(a netip.AddrPort) netip.AddrPort { return netip.AddrPortFrom(a.Addr().Unmap(), a.Port()) }
	for i := range s.Sockets {
		c := &s.Sockets[i]
		if !c.Listening() && c.Remote.Port() != 0 {
			at[key{c.Proto, norm(c.Local), norm(c.Remote)}] = c
		}
	}
	return func(c *Socket) *Socket {
		if c.Listening() {
			return nil
		}
		return at[key{c.Proto, norm(c.Remote), norm(c.Local)}]
	}
}
