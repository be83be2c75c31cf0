package sockets

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseSocketLink(t *testing.T) {
	for _, tt := range []struct {
		link string
		ino  uint32
		ok   bool
	}{
		{"socket:[12345]", 12345, true},
		{"socket:[4294967295]", 4294967295, true},
		{"socket:[4294967296]", 0, false}, // wider than an inode number here
		{"socket:[0]", 0, false},
		{"socket:[]", 0, false},
		{"socket:[12x]", 0, false},
		{"socket:12", 0, false},
		{"pipe:[12345]", 0, false},
		{"anon_inode:[eventpoll]", 0, false},
		{"/dev/null", 0, false},
		{"socket:[-1]", 0, false},
	} {
		ino, ok := parseSocketLink(tt.link)
		if ino != tt.ino || ok != tt.ok {
			t.Errorf("parseSocketLink(%q) = %d, %v; want %d, %v", tt.link, ino, ok, tt.ino, tt.ok)
		}
	}
}

// TestParseNetstat reads a copy of a real /proc/net/netstat (Linux 6.18).
func TestParseNetstat(t *testing.T) {
	b, err := os.ReadFile("testdata/netstat")
	if err != nil {
		t.Fatal(err)
	}
	c, err := parseNetstat(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(c) < 100 {
		t.Errorf("%d counters, want the TcpExt, IpExt and MPTcpExt ones", len(c))
	}
	ns, err := netstatOf(c)
	if err != nil {
		t.Fatal(err)
	}
	if ns.ListenOverflows != 0 || ns.ListenDrops != 0 {
		t.Errorf("%+v", ns)
	}
	edited := setCounter(t, b, "TcpExt", map[string]string{"ListenOverflows": "7", "ListenDrops": "9"})
	c, err = parseNetstat(edited)
	if err != nil {
		t.Fatal(err)
	}
	if ns, _ := netstatOf(c); ns == nil || ns.ListenOverflows != 7 || ns.ListenDrops != 9 {
		t.Errorf("edited: %+v", ns)
	}

	for _, bad := range []string{
		"TcpExt: A B\n",                                // no values
		"TcpExt: A B\nTcpExt: 1\n",                     // short
		"TcpExt: A B\nIpExt: 1 2\n",                    // another prefix
		"TcpExt: A B\nTcpExt: 1 x\n",                   // not a number
		"TcpExt A B\nTcpExt 1 2\n",                     // no colon
		": A\n: 1\n",                                   // no prefix
		"TcpExt: A\nTcpExt: 99999999999999999999999\n", // too big
	} {
		if _, err := parseNetstat([]byte(bad)); err == nil {
			t.Errorf("parseNetstat(%q) accepted", bad)
		}
	}
	if c, err := parseNetstat([]byte("Tcp: MaxConn\nTcp: -1\n")); err != nil || c["Tcp.MaxConn"] != ^uint64(0) {
		t.Errorf("signed counter: %v %v", c, err)
	}
	if _, err := netstatOf(map[string]uint64{}); err == nil {
		t.Error("netstatOf without TcpExt accepted")
	}
}

// setCounter rewrites named counters of prefix in netstat text.
func setCounter(t *testing.T, b []byte, prefix string, set map[string]string) []byte {
	lines := strings.Split(string(b), "\n")
	for i := 0; i+1 < len(lines); i += 2 {
		if !strings.HasPrefix(lines[i], prefix+":") {
			continue
		}
		names, vals := strings.Fields(lines[i])[1:], strings.Fields(lines[i+1])[1:]
		for j, n := range names {
			if v, ok := set[n]; ok {
				vals[j] = v
			}
		}
		lines[i+1] = prefix + ": " + strings.Join(vals, " ")
		return []byte(strings.Join(lines, "\n"))
	}
	t.Fatalf("no %s in netstat", prefix)
	return nil
}

// FuzzParseNetstat: parseNetstat never panics, and what it accepts
// round-trips: writing the counters back as pairs parses to the same map.
func FuzzParseNetstat(f *testing.F) {
	if b, err := os.ReadFile("testdata/netstat"); err == nil {
		f.Add(b)
	}
	f.Add([]byte("TcpExt: ListenOverflows ListenDrops\nTcpExt: 1 2\n"))
	f.Add([]byte("Tcp: MaxConn\nTcp: -1\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := parseNetstat(b)
		if err != nil {
			if c != nil {
				t.Fatal("error with counters")
			}
			return
		}
		var buf bytes.Buffer
		for k, v := range c {
			p, n, _ := strings.Cut(k, ".")
			fmt.Fprintf(&buf, "%s: %s\n%s: %d\n", p, n, p, v)
		}
		c2, err := parseNetstat(buf.Bytes())
		if err != nil {
			// A name holding "." or spaces cannot round-trip this way;
			// the parser split on whitespace, so spaces cannot occur.
			if strings.Contains(buf.String(), "..") {
				return
			}
			t.Fatalf("re-parse %q: %v", buf.String(), err)
		}
		for k, v := range c {
			if c2[k] != v {
				t.Fatalf("%s: %d then %d", k, v, c2[k])
			}
		}
	})
}

func TestParseStat(t *testing.T) {
	rest := " S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 4242 20 21\n"
	for _, tt := range []struct {
		in    string
		comm  string
		start uint64
		ok    bool
	}{
		{"981 (python3)" + rest, "python3", 4242, true},
		{"981 (a) b (c))" + rest, "a) b (c)", 4242, true}, // a name may hold parentheses
		{"981 (tab\tname)" + rest, "tab\tname", 4242, true},
		{"981 python3" + rest, "", 0, false},
		{"981 (python3) S 1 2", "", 0, false},
	} {
		comm, start, ok := parseStat([]byte(tt.in))
		if comm != tt.comm || start != tt.start || ok != tt.ok {
			t.Errorf("parseStat(%q) = %q %d %v", tt.in, comm, start, ok)
		}
	}
	if uid, ok := parseStatusUID([]byte("Name:\tx\nUid:\t1000\t1001\t1001\t1001\nGid:\t5\n")); !ok || uid != 1001 {
		t.Errorf("uid %d %v, want the effective 1001", uid, ok)
	}
	if _, ok := parseStatusUID([]byte("Name:\tx\n")); ok {
		t.Error("no Uid line accepted")
	}
	if got := cmdline([]byte("python3\x00-c\x00print(1)\x00")); got != "python3 -c print(1)" {
		t.Errorf("cmdline %q", got)
	}
}

// fakeProc builds a /proc tree from testdata/proc.txt lines:
// "PID COMM UID FD LINK".
func fakeProc(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("testdata/proc.txt")
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		pid, comm, uid, fd, link := f[0], f[1], f[2], f[3], f[4]
		dir := filepath.Join(root, pid)
		if err := os.MkdirAll(filepath.Join(dir, "fd"), 0o755); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, "stat"), []byte(pid+" ("+comm+") S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 100 20\n"), 0o644)
		os.WriteFile(filepath.Join(dir, "cmdline"), []byte(comm+"\x00--serve\x00"), 0o644)
		os.WriteFile(filepath.Join(dir, "status"), []byte("Name:\t"+comm+"\nUid:\t"+uid+"\t"+uid+"\t"+uid+"\t"+uid+"\n"), 0o644)
		if err := os.Symlink(link, filepath.Join(dir, "fd", fd)); err != nil {
			t.Fatal(err)
		}
	}
	os.MkdirAll(filepath.Join(root, "self"), 0o755) // not a pid: skipped
	return root
}

func TestProcTable(t *testing.T) {
	root := fakeProc(t)
	p := newProcTable(root)
	var st ScanStats
	got := p.resolve([]uint32{1001, 1002, 2001, 0, 9999}, &st)
	if !st.FullProcScan || st.Processes != 3 {
		t.Errorf("first resolve: %+v, want a full scan of 3 processes", st)
	}
	want := map[uint32][]fdRef{1001: {{981, 3}}, 1002: {{981, 4}, {982, 4}}, 2001: {{4211, 5}}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("owners %v, want %v", got, want)
	}
	if pr := p.process(981); pr == nil || pr.comm != "python3" || pr.cmdline != "python3 --serve" || pr.uid != 1000 {
		t.Errorf("process 981: %+v", pr)
	}

	// Again: cached owners are checked one readlink each, and 9999 (not
	// found last time) costs no full scan.
	st = ScanStats{}
	got = p.resolve([]uint32{1001, 1002, 2001, 9999}, &st)
	if st.FullProcScan || st.LinksRead != 4 || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("second resolve: %+v %v", st, got)
	}

	// fd 3 of 981 now holds another socket: a new inode means a full scan.
	link := filepath.Join(root, "981", "fd", "3")
	os.Remove(link)
	os.Symlink("socket:[1003]", link)
	st = ScanStats{}
	got = p.resolve([]uint32{1001, 1003}, &st)
	if !st.FullProcScan || fmt.Sprint(got) != fmt.Sprint(map[uint32][]fdRef{1003: {{981, 3}}}) {
		t.Errorf("after fd reuse: %+v %v", st, got)
	}

	// A reused pid (another start time) is read again.
	os.WriteFile(filepath.Join(root, "981", "stat"), []byte("981 (nginx) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 200 20\n"), 0o644)
	if pr := p.process(981); pr == nil || pr.comm != "nginx" || pr.start != 200 {
		t.Errorf("reused pid: %+v", pr)
	}
	p.forget(map[int]bool{})
	if len(p.procs) != 0 {
		t.Errorf("forget kept %d", len(p.procs))
	}
}

// TestProcTableDenied: an fd directory that cannot be read is counted.
func TestProcTableDenied(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads every directory")
	}
	root := fakeProc(t)
	os.Chmod(filepath.Join(root, "4211", "fd"), 0)
	defer os.Chmod(filepath.Join(root, "4211", "fd"), 0o755)
	var st ScanStats
	newProcTable(root).resolve([]uint32{2001}, &st)
	if st.DeniedProcess != 1 {
		t.Errorf("%+v, want 1 denied", st)
	}
}
