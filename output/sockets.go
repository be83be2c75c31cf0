package output

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/sockscope/sockscope/internal/textsafe"
	"github.com/sockscope/sockscope/sockets"
)

// SocketsOptions shape the sockets view.
type SocketsOptions struct {
	Notes sockets.NoteOptions
}

// SocketsText renders a snapshot: the listening sockets, each with the
// connections it accepted (one listener, a socket per client), the other
// connections by process, the notes, and what the snapshot lacks.
func SocketsText(w io.Writer, s *sockets.Snapshot, o SocketsOptions) error {
	ew := &errWriter{w: w}
	var tcp, udp int
	for _, sk := range s.Sockets {
		if sk.Proto == "tcp" {
			tcp++
		} else {
			udp++
		}
	}
	fmt.Fprintf(ew, "sockets  %s · %d TCP · %d UDP\n", Stamp(s.Time), tcp, udp)

	peer := s.Peers()
	ls := s.Listeners()
	fmt.Fprintf(ew, "\nlistening (%d)\n", len(ls))
	if len(ls) == 0 {
		fmt.Fprintln(ew, "  none")
	}
	for _, l := range ls {
		queue := "-"
		if l.AcceptQueue != nil && l.Backlog != nil {
			queue = fmt.Sprintf("accept queue %d of %d", *l.AcceptQueue, *l.Backlog)
		} else if l.RecvQ > 0 {
			queue = fmt.Sprintf("%d B queued", l.RecvQ)
		}
		fmt.Fprintf(ew, "  %s %s  %s  %s  user %s  %s\n", l.Proto, l.Local, l.Exposure(), owners(l.Socket), user(l.User, l.UID), queue)
		if l.Proto != "tcp" {
			continue
		}
		if len(l.Accepted) == 0 {
			fmt.Fprintf(ew, "      no connections now")
		} else {
			each := "each a socket of its own"
			if len(l.Accepted) == 1 {
				each = "a socket of its own"
			}
			fmt.Fprintf(ew, "      %s, %s", nThings(len(l.Accepted), "connection"), each)
		}
		if l.TimeWait > 0 {
			fmt.Fprintf(ew, " · %d closed in TIME_WAIT", l.TimeWait)
		}
		fmt.Fprintln(ew)
		if len(l.Accepted) == 0 {
			continue
		}
		iw := &indentWriter{w: ew, prefix: "      "}
		t := newTable(iw, []string{"fd", "state", "remote", "recv-q", "send-q", "rtt", "client process"}, "lllrrrl")
		queued := 0
		for _, c := range l.Accepted {
			fd, client := "-", "-"
			switch {
			case len(c.Owners) > 0:
				fd = acceptedFDs(c, l.Socket)
			case c.Queued():
				fd = "queued"
				queued++
			default:
				fd = "-"
			}
			if p := peer(c); p != nil && len(p.Owners) > 0 {
				client = commands(p)
			}
			t.Append(fd, c.State, c.Remote.String(), c.RecvQ, c.SendQ, rtt(c), client)
		}
		if err := t.Render(); err != nil {
			return err
		}
		iw.flush()
		if queued > 0 {
			fmt.Fprintf(ew, "      queued: the handshake is done, the connection waits in the accept queue: no accept() yet, so no fd\n")
		}
	}

	procs, unowned, timeWait := s.ByProcess()
	fmt.Fprintf(ew, "\nconnections by process (%d)\n", len(procs))
	for _, p := range procs {
		fmt.Fprintf(ew, "  %s[%d]  user %s  %s\n", textsafe.Escape(p.Command), p.PID, textsafe.Escape(p.User), nThings(len(p.Sockets), "socket"))
		iw := &indentWriter{w: ew, prefix: "    "}
		t := newTable(iw, []string{"fd", "proto", "state", "local", "remote", "recv-q", "send-q", "rtt", "cwnd", "retrans", "peer process"}, "rllllrrrrrl")
		for _, c := range p.Sockets {
			cwnd, retr := "-", "-"
			if c.TCP != nil {
				cwnd, retr = strconv.Itoa(int(c.TCP.Cwnd)), strconv.Itoa(int(c.TCP.TotalRetrans))
			}
			peerProc := "-"
			if p := peer(c.Socket); p != nil && len(p.Owners) > 0 {
				peerProc = commands(p)
			}
			t.Append(c.FD, c.Proto, c.State, c.Local.String(), remote(c.Socket), c.RecvQ, c.SendQ, rtt(c.Socket), cwnd, retr, peerProc)
		}
		if err := t.Render(); err != nil {
			return err
		}
		iw.flush()
	}
	if len(unowned) > 0 {
		fmt.Fprintf(ew, "  no process (%d): no fd refers to them (closed by the application and finishing, waiting in an accept queue) or their process could not be read\n", len(unowned))
		iw := &indentWriter{w: ew, prefix: "    "}
		t := newTable(iw, []string{"proto", "state", "local", "remote", "recv-q", "send-q", "inode"}, "llllrrr")
		for _, c := range unowned {
			t.Append(c.Proto, c.State, c.Local.String(), remote(c), c.RecvQ, c.SendQ, c.Inode)
		}
		if err := t.Render(); err != nil {
			return err
		}
		iw.flush()
	}
	if timeWait > 0 {
		fmt.Fprintf(ew, "  TIME_WAIT: %s, held by the kernel after close, no process\n", nThings(timeWait, "socket"))
	}

	if ns := s.Notes(o.Notes); len(ns) > 0 {
		fmt.Fprintf(ew, "\nnotes\n")
		for _, n := range ns {
			fmt.Fprintf(ew, "  - %s\n", textsafe.Escape(n.Message))
		}
	}
	if s.Netstat != nil {
		fmt.Fprintf(ew, "\nkernel counters  ListenOverflows %d · ListenDrops %d (this network namespace)\n", s.Netstat.ListenOverflows, s.Netstat.ListenDrops)
	}
	if len(s.Missing) > 0 {
		fmt.Fprintf(ew, "\nmissing\n")
		for _, g := range s.Missing {
			fmt.Fprintf(ew, "  - %s: %s\n", textsafe.Escape(g.What), textsafe.Escape(g.Why))
		}
	}
	return ew.err
}

// SocketsJSON writes the snapshot as one JSON line, with its notes.
func SocketsJSON(w io.Writer, s *sockets.Snapshot, o SocketsOptions) error {
	notes := s.Notes(o.Notes)
	if notes == nil {
		notes = []sockets.Note{}
	}
	return NewJSONEncoder(w).Encode(struct {
		Type string `json:"type"`
		*sockets.Snapshot
		Notes []sockets.Note `json:"notes"`
	}{"sockets", s, notes})
}

func owners(s *sockets.Socket) string {
	if len(s.Owners) == 0 {
		return "no process"
	}
	return textsafe.Escape(s.OwnerNames())
}

// acceptedFDs lists the fds of an accepted connection: the number alone
// when the listener's own process holds it, else "nginx[982] fd 11" (a
// worker that inherited the listener, or a process it was passed to).
func acceptedFDs(c, l *sockets.Socket) string {
	var b strings.Builder
	for i, o := range c.Owners {
		if i > 0 {
			b.WriteString(", ")
		}
		if len(l.Owners) > 0 && o.PID == l.Owners[0].PID {
			b.WriteString(strconv.Itoa(o.FD))
		} else {
			fmt.Fprintf(&b, "%s[%d] fd %d", textsafe.Escape(o.Command), o.PID, o.FD)
		}
	}
	return b.String()
}

// commands names a socket's owning processes, "python3[981]".
func commands(s *sockets.Socket) string {
	var b strings.Builder
	for i, o := range s.Owners {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s[%d]", textsafe.Escape(o.Command), o.PID)
	}
	return b.String()
}

func user(name string, uid uint32) string {
	if name == "" {
		return strconv.FormatUint(uint64(uid), 10)
	}
	return textsafe.Escape(name)
}

func remote(s *sockets.Socket) string {
	if s.Remote.Port() == 0 && s.Remote.Addr().IsUnspecified() {
		return "*"
	}
	return s.Remote.String()
}

func rtt(s *sockets.Socket) string {
	if s.TCP == nil || s.TCP.RTTMicros == 0 {
		return "-"
	}
	return fmt.Sprintf("%.3f ms", float64(s.TCP.RTTMicros)/1000)
}

func nThings(n int, what string) string { return strconv.Itoa(n) + " " + what + plural(n) }

// indentWriter prefixes every line written through it, and drops the
// trailing spaces tablewriter pads the last column with.
type indentWriter struct {
	w      io.Writer
	prefix string
	buf    bytes.Buffer
}

func (iw *indentWriter) Write(p []byte) (int, error) {
	iw.buf.Write(p)
	return len(p), nil
}

func (iw *indentWriter) flush() {
	sc := bufio.NewScanner(&iw.buf)
	for sc.Scan() {
		fmt.Fprintf(iw.w, "%s%s\n", iw.prefix, strings.TrimRight(sc.Text(), " "))
	}
	iw.buf.Reset()
}
