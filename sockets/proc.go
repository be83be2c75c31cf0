package sockets

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// parseSocketLink reads an fd symlink's target, "socket:[12345]".
func parseSocketLink(link string) (uint32, bool) {
	s, ok := strings.CutPrefix(link, "socket:[")
	if !ok {
		return 0, false
	}
	s, ok = strings.CutSuffix(s, "]")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n == 0 {
		return 0, false
	}
	return uint32(n), true
}

// parseNetstat reads /proc/net/netstat (or /proc/net/snmp): pairs of lines,
// "Prefix: Name1 Name2 ..." then "Prefix: v1 v2 ...". It returns every
// counter as "Prefix.Name". A pair whose lines disagree (another prefix,
// another count, a value that is not a number) is an error.
func parseNetstat(b []byte) (map[string]uint64, error) {
	out := map[string]uint64{}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) == 1 && len(lines[0]) == 0 {
		return out, nil
	}
	if len(lines)%2 != 0 {
		return nil, fmt.Errorf("netstat: %d lines, want header and value pairs", len(lines))
	}
	for i := 0; i < len(lines); i += 2 {
		hp, hrest, ok1 := bytes.Cut(lines[i], []byte(":"))
		vp, vrest, ok2 := bytes.Cut(lines[i+1], []byte(":"))
		if !ok1 || !ok2 || !bytes.Equal(hp, vp) || len(hp) == 0 {
			return nil, fmt.Errorf("netstat: line %d: %q and %q are not a header and its values", i+1, trim(lines[i]), trim(lines[i+1]))
		}
		names, values := bytes.Fields(hrest), bytes.Fields(vrest)
		if len(names) != len(values) {
			return nil, fmt.Errorf("netstat: %s: %d names, %d values", hp, len(names), len(values))
		}
		for j, n := range names {
			v, err := strconv.ParseUint(string(values[j]), 10, 64)
			if err != nil {
				// Some counters (Tcp's MaxConn) are signed: -1 means none.
				sv, serr := strconv.ParseInt(string(values[j]), 10, 64)
				if serr != nil {
					return nil, fmt.Errorf("netstat: %s %s: %q is not a number", hp, n, values[j])
				}
				v = uint64(sv)
			}
			out[string(hp)+"."+string(n)] = v
		}
	}
	return out, nil
}

func trim(b []byte) string {
	if len(b) > 40 {
		b = b[:40]
	}
	return string(b)
}

// netstatOf picks the listen counters out of parsed /proc/net/netstat.
func netstatOf(c map[string]uint64) (*Netstat, error) {
	o, ok1 := c["TcpExt.ListenOverflows"]
	d, ok2 := c["TcpExt.ListenDrops"]
	if !ok1 || !ok2 {
		return nil, errors.New("netstat: no TcpExt ListenOverflows/ListenDrops")
	}
	return &Netstat{ListenOverflows: o, ListenDrops: d}, nil
}

// parseStat reads /proc/PID/stat: the command (field 2, in parentheses,
// which may itself hold spaces and parentheses) and the start time (field
// 22, clock ticks since boot), which tells a reused pid from the old one.
func parseStat(b []byte) (comm string, start uint64, ok bool) {
	open := bytes.IndexByte(b, '(')
	end := bytes.LastIndexByte(b, ')')
	if open < 0 || end < open {
		return "", 0, false
	}
	rest := bytes.Fields(b[end+1:]) // field 3 (state) onwards
	if len(rest) < 20 {
		return "", 0, false
	}
	start, err := strconv.ParseUint(string(rest[19]), 10, 64)
	if err != nil {
		return "", 0, false
	}
	return string(b[open+1 : end]), start, true
}

// parseStatusUID reads the effective uid from /proc/PID/status.
func parseStatusUID(b []byte) (uint32, bool) {
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		rest, ok := bytes.CutPrefix(line, []byte("Uid:"))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) < 2 {
			return 0, false
		}
		n, err := strconv.ParseUint(string(f[1]), 10, 32)
		return uint32(n), err == nil
	}
	return 0, false
}

// fdRef is one process's fd for a socket.
type fdRef struct{ pid, fd int }

// proc is what is cached about a process.
type proc struct {
	start   uint64
	comm    string
	cmdline string
	uid     uint32
}

// procTable maps socket inodes to processes through root (/proc). It keeps
// what it found: a later resolve checks each cached fd with one readlink
// and reads every process's fds again only when a socket it was asked
// about is new to it.
type procTable struct {
	root    string
	byInode map[uint32][]fdRef
	// unowned holds inodes the last full scan looked for and did not find,
	// so that one unmappable socket does not cost a full scan every time.
	unowned map[uint32]bool
	procs   map[int]*proc
	// denied is the pids whose fds the last full scan could not read.
	denied int
}

func newProcTable(root string) *procTable {
	return &procTable{root: root, byInode: map[uint32][]fdRef{}, unowned: map[uint32]bool{}, procs: map[int]*proc{}}
}

func (p *procTable) fdPath(r fdRef) string {
	return filepath.Join(p.root, strconv.Itoa(r.pid), "fd", strconv.Itoa(r.fd))
}

// resolve returns the owners of each inode in want (0 entries are
// ignored), and updates st.
func (p *procTable) resolve(want []uint32, st *ScanStats) map[uint32][]fdRef {
	got := make(map[uint32][]fdRef, len(want))
	needScan := false
	for _, ino := range want {
		if ino == 0 {
			continue
		}
		if _, done := got[ino]; done {
			continue
		}
		var ok []fdRef
		for _, r := range p.byInode[ino] {
			link, err := os.Readlink(p.fdPath(r))
			st.LinksRead++
			if n, isSock := parseSocketLink(link); err == nil && isSock && n == ino {
				ok = append(ok, r)
			}
		}
		switch {
		case len(ok) > 0:
			got[ino] = ok
		case !p.unowned[ino]:
			needScan = true
		}
	}
	if !needScan {
		st.DeniedProcess = p.denied
		return got
	}
	p.scan(st)
	st.FullProcScan = true
	got = make(map[uint32][]fdRef, len(want))
	p.unowned = map[uint32]bool{}
	for _, ino := range want {
		if ino == 0 {
			continue
		}
		if refs := p.byInode[ino]; len(refs) > 0 {
			got[ino] = refs
		} else {
			p.unowned[ino] = true
		}
	}
	return got
}

// scan reads every process's fd table.
func (p *procTable) scan(st *ScanStats) {
	p.byInode = map[uint32][]fdRef{}
	p.denied = 0
	ents, err := os.ReadDir(p.root)
	if err != nil {
		return
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 0 {
			continue
		}
		fdDir := filepath.Join(p.root, e.Name(), "fd")
		fds, err := os.ReadDir(fdDir)
		if err != nil {
			if errors.Is(err, fs.ErrPermission) {
				p.denied++
			}
			continue // or the process exited meanwhile
		}
		st.Processes++
		for _, f := range fds {
			fd, err := strconv.Atoi(f.Name())
			if err != nil {
				continue
			}
			link, err := os.Readlink(filepath.Join(fdDir, f.Name()))
			st.LinksRead++
			if err != nil {
				continue
			}
			if ino, ok := parseSocketLink(link); ok {
				p.byInode[ino] = append(p.byInode[ino], fdRef{pid, fd})
			}
		}
	}
	st.DeniedProcess = p.denied
}

// process returns what is known about pid, reading /proc/PID/stat each
// time (to catch a reused pid) and the rest only when the pid is new.
func (p *procTable) process(pid int) *proc {
	dir := filepath.Join(p.root, strconv.Itoa(pid))
	b, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return nil
	}
	comm, start, ok := parseStat(b)
	if !ok {
		return nil
	}
	if c := p.procs[pid]; c != nil && c.start == start {
		c.comm = comm // exec keeps the start time and changes the name
		return c
	}
	c := &proc{start: start, comm: comm}
	if b, err := os.ReadFile(filepath.Join(dir, "cmdline")); err == nil {
		c.cmdline = cmdline(b)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "status")); err == nil {
		c.uid, _ = parseStatusUID(b)
	}
	p.procs[pid] = c
	return c
}

// forget drops cached processes not in keep.
func (p *procTable) forget(keep map[int]bool) {
	for pid := range p.procs {
		if !keep[pid] {
			delete(p.procs, pid)
		}
	}
}

// maxCmdline bounds the command line kept per process.
const maxCmdline = 256

// cmdline turns /proc/PID/cmdline's NUL-separated arguments into one line.
func cmdline(b []byte) string {
	b = bytes.TrimRight(b, "\x00")
	s := strings.ReplaceAll(string(b), "\x00", " ")
	if len(s) > maxCmdline {
		s = strings.ToValidUTF8(s[:maxCmdline], "") + "…"
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
