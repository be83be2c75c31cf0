package cmd

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const rotated = "../testdata/captures/rotated/"

// rotatedSet is a corpus capture and its parts, as editcap -c cut it.
type rotatedSet struct {
	whole string
	dir   string
	parts []string
	// streams to follow: one that crosses a part boundary at least
	follow []string
}

var rotatedSets = []rotatedSet{
	{corpus + "04_http11_keepalive_curl.pcap", rotated + "04", []string{"04_part1.pcap", "04_part2.pcap", "04_part3.pcap"}, []string{"tcp/0"}},
	{corpus + "05_http11_pipelined_10req.pcapng", rotated + "05", []string{"05_part1.pcapng", "05_part2.pcapng"}, []string{"tcp/0"}},
	{corpus + "06_http10_50_short_conns_ab.pcap.gz", rotated + "06", []string{"06_part1.pcap.gz", "06_part2.pcap.gz", "06_part3.pcap.gz", "06_part4.pcap.gz"}, nil},
}

// crossingStreams returns the TCP streams of a mergecap'd set that have
// frames in more than one part (parts of n frames each), from tshark's
// recorded frame → tcp.stream answers.
func crossingStreams(t *testing.T, tsv string, n int) []string {
	t.Helper()
	f, err := os.Open(tsv)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	parts := map[string]map[int]bool{}
	var order []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var frame int
		var stream string
		fields := strings.Split(sc.Text(), "\t")
		fmt.Sscan(fields[0], &frame)
		stream = "tcp/" + fields[1]
		if parts[stream] == nil {
			parts[stream] = map[int]bool{}
			order = append(order, stream)
		}
		parts[stream][(frame-1)/n] = true
	}
	var out []string
	for _, s := range order {
		if len(parts[s]) > 1 {
			out = append(out, s)
		}
	}
	return out
}

// withoutInputs drops what names the inputs: read's "file" header lines,
// and the summary record's file, format and files fields.
func withoutInputs(t *testing.T, out string) string {
	t.Helper()
	var b strings.Builder
	for _, l := range strings.SplitAfter(out, "\n") {
		if strings.HasPrefix(l, "file     ") {
			continue
		}
		if strings.HasPrefix(l, `{"type":"summary"`) {
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatal(err)
			}
			delete(m, "file")
			delete(m, "files")
			js, _ := json.Marshal(m)
			l = string(js) + "\n"
		}
		b.WriteString(l)
	}
	return b.String()
}

// The parts of a rotated capture, given as files (in order and shuffled),
// as a directory and as a pattern, give the same views as the whole file,
// byte for byte but for the lines that name the inputs.
func TestManyFilesEqualWhole(t *testing.T) {
	for _, set := range rotatedSets {
		t.Run(filepath.Base(set.whole), func(t *testing.T) {
			var paths []string
			for _, p := range set.parts {
				paths = append(paths, filepath.Join(set.dir, p))
			}
			shuffled := append([]string{}, paths[1:]...)
			shuffled = append(shuffled, paths[0])
			inputs := map[string][]string{
				"files":     paths,
				"shuffled":  shuffled,
				"directory": {set.dir},
				"pattern":   {set.dir + "/*part*"},
			}
			follow := set.follow
			if follow == nil {
				follow = crossingStreams(t, "../testdata/tshark/rotated/06_merged.tsv", 150)
				if len(follow) == 0 {
					t.Fatal("no stream crosses a part")
				}
			}
			views := [][]string{
				{"read"},
				{"read", "--format", "json"},
				{"read", "--stats", "--no-findings"},
				{"timeline", "--all", "--width", "100"},
				{"timeline", "--all", "--format", "json"},
			}
			for _, s := range follow {
				views = append(views, []string{"follow", "--format", "json", "STREAM", s}, []string{"follow", "--width", "100", "STREAM", s})
			}
			for _, v := range views {
				args := func(in []string) []string {
					var a []string
					for _, x := range v {
						if x == "STREAM" {
							a = append(a, in...)
						} else {
							a = append(a, x)
						}
					}
					if v[0] != "follow" {
						a = append(a, in...)
					}
					return a
				}
				want, werr, wcode := runCLI(t, nil, args([]string{set.whole})...)
				if wcode != 0 {
					t.Fatalf("%v: exit %d: %s", args([]string{set.whole}), wcode, werr)
				}
				want = withoutInputs(t, want)
				for name, in := range inputs {
					got, gerr, gcode := runCLI(t, nil, args(in)...)
					if gcode != 0 {
						t.Errorf("%s %v: exit %d: %s", name, args(in), gcode, gerr)
						continue
					}
					if got = withoutInputs(t, got); got != want {
						t.Errorf("%s: %v differs from the whole file:\n%s", name, args(in), firstLineDiff(want, got))
					}
				}
			}
		})
	}
}

func firstLineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := range min(len(w), len(g)) {
		if w[i] != g[i] {
			return fmt.Sprintf("line %d:\nwant %s\n got %s", i+1, w[i], g[i])
		}
	}
	return fmt.Sprintf("%d lines, want %d", len(g), len(w))
}

// read's header names every merged file with its format, link types,
// frames and damage.
func TestManyFilesHeader(t *testing.T) {
	out, errOut, code := runCLI(t, nil, "read", "--no-findings", rotated+"06/06_part2.pcap.gz", rotated+"04")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	head := strings.Join(strings.Split(out, "\n")[:5], "\n")
	want := `file     ../testdata/captures/rotated/06/06_part2.pcap.gz · pcap (gzip) · ethernet · 150 frames
file     ../testdata/captures/rotated/04/04_part1.pcap · pcap · ethernet · 11 frames
file     ../testdata/captures/rotated/04/04_part2.pcap · pcap · ethernet · 11 frames
file     ../testdata/captures/rotated/04/04_part3.pcap · pcap · ethernet · 10 frames
frames   182 · 5.192 s · 2026-11-21 11:23:31.337041 UTC → 2026-11-21 11:23:36.528785 UTC`
	if head != want {
		t.Errorf("header:\n%s\nwant:\n%s", head, want)
	}
	out, _, _ = runCLI(t, nil, "read", "--format", "json", rotated+"05", rotated+"tls")
	var sum struct {
		File  string
		Files []struct {
			File      string
			Format    string
			Frames    int
			LinkTypes []string `json:"link_types"`
		}
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &sum); err != nil {
		t.Fatal(err)
	}
	if sum.File != "4 files" || len(sum.Files) != 4 || sum.Files[3].Format != "pcapng" || sum.Files[2].Format != "pcap" || sum.Files[0].Frames != 24 || sum.Files[0].LinkTypes[0] != "ethernet" {
		t.Errorf("summary %+v", sum)
	}
}

// Two captures of different connections whose times overlap: frames
// interleave, and frame and stream numbers are tshark's on the mergecap'd
// file (recorded in testdata/tshark/rotated/interleave_merged.tsv).
func TestManyFilesInterleaved(t *testing.T) {
	f, err := os.Open("../testdata/tshark/rotated/interleave_merged.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := map[int]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), "\t")
		var frame int
		fmt.Sscan(fields[0], &frame)
		want[frame] = "tcp/" + fields[2]
	}
	for _, order := range [][]string{
		{rotated + "interleave/04_shifted_12s.pcap", corpus + "09_lines_odd_chunks_nodelay.pcap"},
		{corpus + "09_lines_odd_chunks_nodelay.pcap", rotated + "interleave/04_shifted_12s.pcap"},
	} {
		out, errOut, code := runCLI(t, nil, append([]string{"timeline", "--all", "--format", "json", "--framing", "none"}, order...)...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		seen := 0
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			var p struct {
				Type, Stream string
				Frame        int
			}
			if err := json.Unmarshal([]byte(l), &p); err != nil {
				t.Fatal(err)
			}
			if p.Type != "packet" {
				continue
			}
			seen++
			if want[p.Frame] != p.Stream {
				t.Errorf("%v: frame %d is in %s, tshark says %s", order, p.Frame, p.Stream, want[p.Frame])
			}
		}
		if seen != len(want) {
			t.Errorf("%v: %d packets, tshark %d", order, seen, len(want))
		}
		// The frames really interleave: tshark's stream changes often.
		switched, prev := 0, ""
		for i := 1; i <= len(want); i++ {
			if want[i] != prev && prev != "" {
				switched++
			}
			prev = want[i]
		}
		if switched < 4 {
			t.Errorf("the recorded frames do not interleave (%d switches)", switched)
		}
	}
	// A stream named by its endpoints resolves on the merge too.
	out, errOut, code := runCLI(t, nil, "follow", "--format", "json", rotated+"interleave/04_shifted_12s.pcap", corpus+"09_lines_odd_chunks_nodelay.pcap", "127.0.0.1:8000")
	if code != 0 || !strings.HasPrefix(out, `{"type":"follow","id":"tcp/1"`) {
		t.Errorf("follow by endpoint: exit %d %s: %.200s", code, errOut, out)
	}
}

// A damaged part in the middle: the others are still read, the error names
// the file and where it stopped, and the exit status is 1.
func TestManyFilesDamagedPart(t *testing.T) {
	out, errOut, code := runCLI(t, nil, "read", "--no-findings", rotated+"damaged")
	if code != 1 {
		t.Fatalf("exit %d, want 1: %s", code, errOut)
	}
	for _, w := range []string{
		"file     ../testdata/captures/rotated/damaged/04_part2.pcap · pcap · ethernet · 6 frames · damaged at its frame 7\n",
		"file     ../testdata/captures/rotated/damaged/04_part3.pcap · pcap · ethernet · 10 frames\n",
		"frames   27 · 181.9 ms",
		"damaged  ../testdata/captures/rotated/damaged/04_part2.pcap: its frame 7 at byte offset 2192: file ends in the middle of a packet",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	if want := "sockscope: ../testdata/captures/rotated/damaged/04_part2.pcap: its frame 7 at byte offset 2192: file ends in the middle of a packet: record says 1471 bytes, only 792 present; the other files were merged to their end (every frame before it was analyzed)\n"; errOut != want {
		t.Errorf("stderr %q, want %q", errOut, want)
	}
	// The stream goes on in the part after the damage: its last frames
	// are there.
	out, _, code = runCLI(t, nil, "timeline", "--format", "json", "--framing", "none", rotated+"damaged", "tcp/0")
	if code != 1 || !strings.Contains(out, `"frame":27,`) {
		t.Errorf("timeline: exit %d, lacks frame 27:\n%s", code, out)
	}
}

// -f applies to every file; frames it skips keep their numbers in the
// merged capture, as in one file.
func TestManyFilesFilter(t *testing.T) {
	whole, _, _ := runCLI(t, nil, "timeline", "--format", "json", "-f", "tcp[tcpflags] & tcp-push != 0", corpus+"04_http11_keepalive_curl.pcap", "0")
	parts, _, _ := runCLI(t, nil, "timeline", "--format", "json", "-f", "tcp[tcpflags] & tcp-push != 0", rotated+"04", "0")
	if whole == "" || whole != parts {
		t.Errorf("filtered views differ:\n%s", firstLineDiff(whole, parts))
	}
}

// pcapng secrets in a later part decrypt the TLS stream that began in an
// earlier one.
func TestManyFilesSecrets(t *testing.T) {
	out, errOut, code := runCLI(t, nil, "follow", "--format", "raw", "--dir", "s2c", rotated+"tls", "0")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	want, _, _ := runCLI(t, nil, "follow", "--format", "raw", "--dir", "s2c", "--keylog", "../testdata/keys/11_tls13_curl_openssl_sni.keys", corpus+"11_tls13_curl_openssl_sni.pcap", "0")
	if out != want || !strings.Contains(out, "HTTP/") {
		t.Errorf("decrypted %q, want %q", out, want)
	}
}

func TestManyFilesUsage(t *testing.T) {
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"read", "-", corpus + "01_tcp_handshake_hello_fin.pcap"}, 2, "standard input) can't be merged"},
		{[]string{"read", rotated + "04", rotated + "04/04_part1.pcap"}, 2, "is given twice"},
		{[]string{"read", rotated + "nothing-*.pcap"}, 2, "no file matches"},
		{[]string{"read", rotated + "04", "nope.pcap"}, 1, "nope.pcap"},
		{[]string{"timeline", rotated + "04", "nope.pcap"}, 1, "nope.pcap: no such file"},
		{[]string{"timeline", rotated + "04", "tcp/x"}, 2, `stream "tcp/x"`},
		{[]string{"follow", rotated + "04"}, 2, "several files (a directory, a pattern) go before the stream"},
		{[]string{"follow", rotated + "04", "udp/0"}, 2, "the merge of the 3 files has no udp/0"},
		{[]string{"timeline", rotated + "06", "127.0.0.1:8080"}, 2, "matches the 50 streams of the merge of the 4 files listed above: name one by number (sockscope timeline ../testdata/captures/rotated/06/06_part1.pcap.gz"},
	} {
		_, errOut, code := runCLI(t, nil, tt.args...)
		if code != tt.code || !strings.Contains(errOut, tt.want) {
			t.Errorf("%v: exit %d %q, want %d and %q", tt.args, code, errOut, tt.code, tt.want)
		}
	}
}

// report takes several files too; its title says how many.
func TestManyFilesReport(t *testing.T) {
	out, errOut, code := runCLI(t, nil, "report", "-o", "-", rotated+"04")
	if code != 0 || !strings.Contains(out, "<title>sockscope report: 3 files</title>") {
		t.Errorf("exit %d %s; title missing", code, errOut)
	}
}

// The README's Many files examples are this build's output.
func TestManyFilesREADME(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	start := strings.Index(s, "### Many files\n")
	if start < 0 {
		t.Fatal("README has no Many files section")
	}
	sec := s[start+1:]
	sec = sec[:strings.Index(sec, "\n### ")]
	n := 0
	for _, block := range strings.Split(sec, "```\n")[1:] {
		cmdLine, want, ok := strings.Cut(block, "\n")
		if !ok || !strings.HasPrefix(cmdLine, "$ sockscope ") {
			continue
		}
		var args []string
		for _, a := range strings.Fields(strings.TrimPrefix(cmdLine, "$ sockscope ")) {
			if strings.HasPrefix(a, "testdata/") {
				a = "../" + a
			}
			args = append(args, a)
		}
		out, errOut, _ := runCLI(t, nil, args...)
		var got []string
		for _, l := range strings.Split(strings.TrimRight(out+errOut, "\n"), "\n") {
			got = append(got, strings.TrimRight(strings.ReplaceAll(l, "../testdata/", "testdata/"), " "))
		}
		wantLines := strings.Split(strings.TrimRight(want, "\n"), "\n")
		// An elided example ("...") shows the first lines and the last.
		if i := slices.Index(wantLines, "..."); i >= 0 {
			tail := len(wantLines) - i - 1
			if len(got) < i+tail {
				t.Errorf("%s: %d lines", cmdLine, len(got))
				continue
			}
			got = append(append(got[:i:i], "..."), got[len(got)-tail:]...)
		}
		if g, w := strings.Join(got, "\n"), strings.Join(wantLines, "\n"); g != w {
			t.Errorf("README example %q is out of date:\n%s", cmdLine, firstLineDiff(w, g))
		}
		n++
	}
	if n < 4 {
		t.Errorf("%d examples checked", n)
	}
}

// A rotated set read as a directory has tshark's streams and bytes (the
// whole file's recorded answers), and its stream numbers are tshark's
// tcp.stream on the mergecap'd parts: each stream's first and last frames
// are in that stream for tshark.
func TestManyFilesMatchTshark(t *testing.T) {
	for _, set := range rotatedSets {
		base := strings.TrimSuffix(filepath.Base(set.whole), ".gz")
		t.Run(base, func(t *testing.T) { jsonMatchesTshark(t, set.dir, base, true) })
	}
	f, err := os.Open("../testdata/tshark/rotated/06_merged.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tshark := map[int]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), "\t")
		var frame int
		fmt.Sscan(fields[0], &frame)
		tshark[frame] = "tcp/" + fields[1]
	}
	out, _, _ := runCLI(t, nil, "read", "--format", "json", "--no-findings", rotated+"06")
	n := 0
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var r struct {
			Type, ID   string
			FirstFrame int `json:"first_frame"`
			LastFrame  int `json:"last_frame"`
		}
		if json.Unmarshal([]byte(l), &r); r.Type != "stream" {
			continue
		}
		n++
		if tshark[r.FirstFrame] != r.ID || tshark[r.LastFrame] != r.ID {
			t.Errorf("%s: frames %d–%d are tshark's %s–%s", r.ID, r.FirstFrame, r.LastFrame, tshark[r.FirstFrame], tshark[r.LastFrame])
		}
	}
	if n != 50 {
		t.Errorf("%d streams, want 50", n)
	}
}
