package sockets

import (
	"os"
	"os/user"
	"strconv"
	"time"
)

// Scanner takes snapshots, keeping what it learnt about processes between
// them so that a refresh (sockscope sockets --watch) reads /proc cheaply.
// A Scanner is not safe for concurrent use. On Linux, the sockets seen are
// those of the network namespace of the thread that calls Take.
type Scanner struct {
	procs *procTable
	users map[uint32]string
	now   func() time.Time
}

// NewScanner returns a Scanner reading the real /proc.
func NewScanner() *Scanner {
	return &Scanner{procs: newProcTable("/proc"), users: map[uint32]string{}, now: time.Now}
}

// Take asks the kernel for every TCP and UDP socket and maps them to
// processes. An error means the kernel could not be asked at all; facts
// that are merely missing are listed in Snapshot.Missing.
func (sc *Scanner) Take() (*Snapshot, error) {
	start := sc.now()
	socks, gaps, err := dump()
	if err != nil {
		return nil, err
	}
	snap := &Snapshot{Time: start, Missing: gaps}
	sc.attach(socks, &snap.Scan)
	sortSockets(socks)
	snap.Sockets = socks
	if snap.Scan.DeniedProcess > 0 {
		why := strconv.Itoa(snap.Scan.DeniedProcess) + " processes' file descriptors could not be read"
		if os.Geteuid() != 0 {
			why += " (not root: another user's /proc/PID/fd needs root or CAP_SYS_PTRACE)"
		} else {
			why += " (permission denied: CAP_SYS_PTRACE was dropped, or /proc is mounted with hidepid)"
		}
		snap.Missing = append(snap.Missing, Gap{What: "owners", Why: why + "; their sockets show no process"})
	}
	if snap.Scan.DeniedProcess == 0 {
		n := 0
		for _, s := range socks {
			if s.Inode != 0 && len(s.Owners) == 0 {
				n++
			}
		}
		if n > 0 {
			snap.Missing = append(snap.Missing, Gap{What: "owners", Why: strconv.Itoa(n) + " sockets with an fd have no process here: held by a process this /proc does not show (another PID namespace), or one that exited meanwhile"})
		}
	}
	ns, err := readNetstat()
	if err != nil {
		snap.Missing = append(snap.Missing, Gap{What: "netstat", Why: err.Error()})
	} else {
		snap.Netstat = ns
	}
	snap.Scan.Elapsed = sc.now().Sub(start)
	return snap, nil
}

// attach fills each socket's owners and user names.
func (sc *Scanner) attach(socks []Socket, st *ScanStats) {
	want := make([]uint32, 0, len(socks))
	for _, s := range socks {
		want = append(want, s.Inode)
	}
	owners := sc.procs.resolve(want, st)
	seen := map[int]bool{}
	for i := range socks {
		s := &socks[i]
		s.User = sc.user(s.UID)
		for _, r := range owners[s.Inode] {
			p := sc.procs.process(r.pid)
			if p == nil {
				continue // exited since its fds were read
			}
			seen[r.pid] = true
			s.Owners = append(s.Owners, Owner{PID: r.pid, FD: r.fd, Command: p.comm, Cmdline: p.cmdline, UID: p.uid, User: sc.user(p.uid)})
		}
	}
	sc.procs.forget(seen)
}

func (sc *Scanner) user(uid uint32) string {
	if n, ok := sc.users[uid]; ok {
		return n
	}
	n := ""
	if u, err := user.LookupId(strconv.FormatUint(uint64(uid), 10)); err == nil {
		n = u.Username
	}
	sc.users[uid] = n
	return n
}

// readNetstat reads the calling thread's namespace's listen counters.
func readNetstat() (*Netstat, error) {
	// /proc/net is /proc/self/net: the namespace of the process's main
	// thread. thread-self follows the thread that asks, as netlink does.
	b, err := os.ReadFile("/proc/thread-self/net/netstat")
	if err != nil {
		b, err = os.ReadFile("/proc/net/netstat")
	}
	if err != nil {
		return nil, err
	}
	c, err := parseNetstat(b)
	if err != nil {
		return nil, err
	}
	return netstatOf(c)
}
