package cmd

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"testing"

	"github.com/sockscope/sockscope/internal/pcapgen"
)

// TestLongStreamCLI: `read` and `follow --format raw` on one connection of
// 5 GiB each way (two sequence wraps; losses, reordering and duplicates at
// the 2 GiB and 4 GiB offsets), piped from the generator on stdin: read
// counts every byte, follow writes exactly the generator's bytes, and
// follow's JSON segment records tile both directions with exact 64-bit
// offsets (its bytes spilled to a temporary file, its memory bounded).
// Under -short and the race detector, 300 MiB each way.
func TestLongStreamCLI(t *testing.T) {
	n := int64(5 << 30)
	if testing.Short() || raceEnabled {
		n = 300 << 20
	}
	cfg := pcapgen.LongConfig{C2S: n, S2C: n, SegSize: 64000, ISN: [2]uint32{1<<32 - 1000, 1<<32 - 30000}, Seed: 11}
	for d := 0; d < 2; d++ {
		for _, e := range []struct {
			off int64
			k   pcapgen.LongEventKind
		}{{100_000, pcapgen.Lose}, {1<<31 - 50_000, pcapgen.Reorder}, {1<<31 + 1, pcapgen.Lose}, {1<<32 + 2000, pcapgen.Duplicate}, {1<<32 + 900_000, pcapgen.Lose}} {
			if e.off < n {
				cfg.Events = append(cfg.Events, pcapgen.LongEvent{Dir: d, Offset: e.off, Kind: e.k})
			}
		}
	}
	run := func(out io.Writer, args ...string) pcapgen.LongResult {
		t.Helper()
		pr, wait := pcapgen.PipeLong(cfg)
		var stderr bytes.Buffer
		if code := Main(context.Background(), args, pr, out, &stderr); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr.String())
		}
		pr.Close()
		return wait()
	}
	var js bytes.Buffer
	res := run(&js, "read", "-", "--format", "json")
	var rec struct {
		Type       string
		ID         string
		State      string
		BytesC2S   int64 `json:"bytes_c2s"`
		BytesS2C   int64 `json:"bytes_s2c"`
		MissingC2S int64 `json:"missing_c2s"`
		MissingS2C int64 `json:"missing_s2c"`
	}
	if err := json.Unmarshal(bytes.SplitN(js.Bytes(), []byte("\n"), 2)[0], &rec); err != nil || rec.Type != "stream" {
		t.Fatalf("first JSON record %q: %v", js.String()[:min(js.Len(), 300)], err)
	}
	if rec.BytesC2S != n || rec.BytesS2C != n || rec.MissingC2S != 0 || rec.MissingS2C != 0 || rec.State != "closed" {
		t.Errorf("read: %+v; want %d bytes each way, none missing, closed", rec, n)
	}
	if bytes.Contains(js.Bytes(), []byte("overlap")) || bytes.Contains(js.Bytes(), []byte("before_capture_start")) {
		t.Errorf("read reports overlap or before-start: %s", js.String())
	}
	for d, dir := range []string{"c2s", "s2c"} {
		h := sha256.New()
		res = run(h, "follow", "-", "tcp/0", "--format", "raw", "--dir", dir)
		if got := h.Sum(nil); string(got) != string(res.SHA256[d][:]) {
			t.Errorf("follow --dir %s: sha256 %x, generator %x", dir, got[:8], res.SHA256[d][:8])
		}
		if testing.Short() || raceEnabled {
			break
		}
	}
	checkFollowJSON(t, n, func(w io.Writer) { run(w, "follow", "-", "tcp/0", "--format", "json") })
	t.Logf("%d frames, %d MiB each way", res.Frames, n>>20)
}

// coverage is a set of disjoint byte ranges, ascending.
type coverage [][2]int64

// add puts [a,b) in the set; false when it overlaps what is there.
func (c *coverage) add(a, b int64) bool {
	s := *c
	i := sort.Search(len(s), func(i int) bool { return s[i][0] >= a })
	if i > 0 && s[i-1][1] > a || i < len(s) && s[i][0] < b {
		return false
	}
	s = slices.Insert(s, i, [2]int64{a, b})
	// Merge with the neighbours it touches.
	if i+1 < len(s) && s[i][1] == s[i+1][0] {
		s[i][1] = s[i+1][1]
		s = slices.Delete(s, i+1, i+2)
	}
	if i > 0 && s[i-1][1] == s[i][0] {
		s[i-1][1] = s[i][1]
		s = slices.Delete(s, i, i+1)
	}
	*c = s
	return true
}

// checkFollowJSON reads follow's JSON as it is written (it is too big to
// hold): each direction's segments that added bytes must tile [0, n) in
// order, with no gap and no anomaly but the generator's losses, and the
// header's message count must equal the message records.
func checkFollowJSON(t *testing.T, n int64, follow func(io.Writer)) {
	t.Helper()
	pr, pw := io.Pipe()
	type result struct {
		cover    [2]coverage
		segs     [2]int
		msgs     [2]int
		header   [2]int
		bad      []string
		crossing int
	}
	done := make(chan result)
	go func() {
		var r result
		dec := json.NewDecoder(pr)
		for {
			var rec struct {
				Type, Dir  string
				Start, End int64
				New        int64 `json:"new_bytes"`
				Stats      map[string]struct{ Messages int }
				Kind       string
			}
			if err := dec.Decode(&rec); err != nil {
				if err != io.EOF {
					r.bad = append(r.bad, err.Error())
				}
				io.Copy(io.Discard, pr)
				done <- r
				return
			}
			d := 0
			if rec.Dir == "s2c" {
				d = 1
			}
			switch rec.Type {
			case "follow":
				r.header[0], r.header[1] = rec.Stats["c2s"].Messages, rec.Stats["s2c"].Messages
			case "segment":
				if rec.New == 0 {
					continue
				}
				if !r.cover[d].add(rec.Start, rec.End) || rec.End-rec.Start != rec.New {
					if len(r.bad) < 5 {
						r.bad = append(r.bad, fmt.Sprintf("%s segment [%d,%d) new %d overlaps what came before", rec.Dir, rec.Start, rec.End, rec.New))
					}
				}
				if rec.Start < 1<<32 && rec.End > 1<<32 || rec.Start < 1<<31 && rec.End > 1<<31 {
					r.crossing++
				}
				r.segs[d]++
			case "message":
				r.msgs[d]++
			case "gap":
				r.bad = append(r.bad, fmt.Sprintf("%s gap [%d,%d)", rec.Dir, rec.Start, rec.End))
			}
		}
	}()
	follow(pw)
	pw.Close()
	r := <-done
	for _, b := range r.bad {
		t.Errorf("follow --format json: %s", b)
	}
	for d := range r.cover {
		if c := r.cover[d]; len(c) != 1 || c[0] != [2]int64{0, n} {
			t.Errorf("follow --format json: dir %d's new bytes cover %v, want [0,%d)", d, c[:min(len(c), 4)], n)
		}
	}
	if r.msgs != r.header || r.msgs[0] == 0 {
		t.Errorf("follow --format json: %v message records, header says %v", r.msgs, r.header)
	}
	if n > 1<<32 && r.crossing < 2 {
		t.Errorf("follow --format json: %d segments cross the 2 GiB or 4 GiB offsets, want them both", r.crossing)
	}
}
