package decode_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/sockscope/sockscope/capture"
	"github.com/sockscope/sockscope/decode"
	"github.com/sockscope/sockscope/internal/pcapgen"
	"github.com/sockscope/sockscope/reassembly"
)

// TestSpilledAnalysisEqual checks that a stream whose bytes went to a
// temporary file (reassembly.Options.SpillOver, as follow does for long
// streams) frames exactly as the same stream held in memory, on every
// bundled capture, with a window small enough that messages straddle it.
func TestSpilledAnalysisEqual(t *testing.T) {
	var files []string
	for _, g := range []string{"../testdata/corpus/*", "../testdata/captures/*.pcap*", "../testdata/captures/tunnels/*.pcap*", "tlsdec/testdata/*.pcap*"} {
		m, _ := filepath.Glob(g)
		files = append(files, m...)
	}
	if len(files) < 50 {
		t.Fatalf("only %d captures found", len(files))
	}
	streams := 0
	// The second round maps (MapAt) every window wider than 3000 bytes.
	for _, w := range []struct{ win, mapOver int64 }{{64, 1 << 40}, {1500, 3000}} {
		win := w.win
		restore := decode.SetSpillWindow(win)
		restoreMap := decode.SetSpillMapOver(w.mapOver)
		for _, f := range files {
			mem := tracked(t, f, 0)
			spilled := tracked(t, f, 1)
			if len(mem) != len(spilled) {
				t.Fatalf("%s: %d streams in memory, %d spilled", f, len(mem), len(spilled))
			}
			for i := range mem {
				if mem[i].Proto == capture.ProtoTCP && mem[i].Dirs[0].DataLen()+mem[i].Dirs[1].DataLen() > 1 && !spilled[i].Dirs[0].Spilled() && !spilled[i].Dirs[1].Spilled() {
					t.Errorf("%s %s: not spilled", f, spilled[i].Name())
				}
				for _, spec := range []string{"auto", "raw", "line"} {
					a, err := decode.Analyze(mem[i], spec)
					if err != nil {
						t.Fatal(err)
					}
					b, err := decode.Analyze(spilled[i], spec)
					if err != nil {
						t.Fatal(err)
					}
					if d := analysisDiff(a, b); d != "" && !takesAll(a) {
						t.Errorf("%s %s --framing %s, window %d: spilled differs: %s", filepath.Base(f), mem[i].Name(), spec, win, d)
					}
				}
				streams++
			}
			for _, s := range spilled {
				s.Release()
			}
		}
		restore()
		restoreMap()
	}
	t.Logf("%d streams of %d captures framed alike in memory and spilled", streams/2, len(files))
}

func tracked(t *testing.T, path string, spillOver int64) []*reassembly.Stream {
	t.Helper()
	return keepAll(t, path, spillOver, true) // damaged captures: the streams before the damage count
}

func analysisDiff(a, b *decode.Analysis) string {
	var out []string
	for d := range 2 {
		if !reflect.DeepEqual(a.Messages[d], b.Messages[d]) {
			n := min(len(a.Messages[d]), len(b.Messages[d]))
			for i := 0; i < n; i++ {
				if !reflect.DeepEqual(a.Messages[d][i], b.Messages[d][i]) {
					out = append(out, fmt.Sprintf("dir %d message %d: %+v vs %+v", d, i, a.Messages[d][i], b.Messages[d][i]))
					break
				}
			}
			out = append(out, fmt.Sprintf("dir %d: %d vs %d messages", d, len(a.Messages[d]), len(b.Messages[d])))
		}
		if !reflect.DeepEqual(a.Errors[d], b.Errors[d]) || a.Stats[d] != b.Stats[d] || !reflect.DeepEqual(a.BySegment[d], b.BySegment[d]) {
			out = append(out, fmt.Sprintf("dir %d: errors %v vs %v, stats %+v vs %+v", d, a.Errors[d], b.Errors[d], a.Stats[d], b.Stats[d]))
		}
	}
	if a.Framing != b.Framing || a.Reason != b.Reason {
		out = append(out, fmt.Sprintf("framing %s (%s) vs %s (%s)", a.Framing, a.Reason, b.Framing, b.Reason))
	}
	return strings.Join(out, "; ")
}

// takesAll says the stream holds SSH encrypted with a cipher that hides
// packet lengths: its decoder frames whatever bytes it is given, so a
// spilled direction comes in window-sized pieces (decode.dirCursor.next).
func takesAll(a *decode.Analysis) bool {
	for _, ms := range a.Messages {
		for _, m := range ms {
			if m.Protocol == "ssh" && strings.HasPrefix(m.Summary, "encrypted: ") && strings.Contains(m.Summary, "hides packet lengths") {
				return true
			}
		}
	}
	return false
}

// BenchmarkAnalyzeSpilled frames a 32 MiB stream (1448-byte segments, as
// on a 1500-byte MTU link) kept in memory and spilled to a temporary file
// past 1 MiB, as follow does past 8 MiB: the cost of reading the bytes back
// through the window.
func BenchmarkAnalyzeSpilled(b *testing.B) {
	var buf bytes.Buffer
	if _, err := pcapgen.WriteLong(&buf, pcapgen.LongConfig{S2C: 32 << 20, SegSize: 1448}); err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "long.pcap")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name      string
		spillOver int64
	}{{"memory", 0}, {"spilled", 1 << 20}} {
		streams := keepAll(b, path, c.spillOver, false)
		s := streams[0]
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(s.Dirs[1].DataLen())
			for range b.N {
				if _, err := decode.Analyze(s, "line"); err != nil {
					b.Fatal(err)
				}
			}
		})
		for _, s := range streams {
			s.Release()
		}
	}
}

// streamedAnalysis frames s with AnalyzeTo and puts what its sink got and
// what SegmentAt says back into an Analysis's Messages and BySegment, to
// compare with Analyze's.
func streamedAnalysis(t *testing.T, s *reassembly.Stream, spec string) *decode.Analysis {
	t.Helper()
	var got [2][]decode.Message
	a, err := decode.AnalyzeTo(s, spec, func(m decode.Message) { got[m.Dir] = append(got[m.Dir], m) })
	if err != nil {
		t.Fatal(err)
	}
	if a.Messages[0] != nil || a.Messages[1] != nil || a.BySegment[0] != nil || a.BySegment[1] != nil {
		t.Fatalf("%s: AnalyzeTo held messages", s.Name())
	}
	a.Messages = got
	var by [2][]decode.SegmentMessages
	for d := range s.Dirs {
		by[d] = make([]decode.SegmentMessages, s.Dirs[d].Segments.Len())
		for i, seg := range s.Dirs[d].Segments.All() {
			by[d][i] = a.SegmentAt(reassembly.Direction(d), i, seg)
		}
	}
	a.BySegment = by
	return a
}

// TestStreamedAnalysisEqual checks that AnalyzeTo (follow's JSON view,
// which writes messages as they are framed) gives the messages, segment
// map and statistics Analyze gives, on every bundled capture.
func TestStreamedAnalysisEqual(t *testing.T) {
	var files []string
	for _, g := range []string{"../testdata/corpus/*", "../testdata/captures/*.pcap*", "../testdata/captures/tunnels/*.pcap*"} {
		m, _ := filepath.Glob(g)
		files = append(files, m...)
	}
	streams := 0
	for _, f := range files {
		for _, s := range tracked(t, f, 0) {
			for _, spec := range []string{"auto", "raw", "line"} {
				a, err := decode.Analyze(s, spec)
				if err != nil {
					t.Fatal(err)
				}
				if d := analysisDiff(a, streamedAnalysis(t, s, spec)); d != "" {
					t.Errorf("%s %s --framing %s: streamed differs: %s", filepath.Base(f), s.Name(), spec, d)
				}
			}
			streams++
		}
	}
	if streams < 300 {
		t.Errorf("only %d streams compared", streams)
	}
}

// TestSpilledSegmentMap checks a stream long enough in segments that its
// segment map and chunk list go to disk too (their blocks hold a few
// hundred to a few thousand entries), with losses, reordering and
// duplicates along the way: framed in memory, spilled, and spilled and
// streamed (AnalyzeTo), the answers are the same.
func TestSpilledSegmentMap(t *testing.T) {
	cfg := pcapgen.LongConfig{C2S: 2 << 20, S2C: 5 << 20, SegSize: 300, Seed: 5}
	for d := range 2 {
		for _, e := range []struct {
			off int64
			k   pcapgen.LongEventKind
		}{{50_000, pcapgen.Lose}, {700_001, pcapgen.Reorder}, {1_000_000, pcapgen.Duplicate}, {1_500_000, pcapgen.LoseForever}, {1_900_000, pcapgen.Lose}} {
			cfg.Events = append(cfg.Events, pcapgen.LongEvent{Dir: d, Offset: e.off, Kind: e.k})
		}
	}
	var buf bytes.Buffer
	if _, err := pcapgen.WriteLong(&buf, cfg); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "many.pcap")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	mem, spilled := tracked(t, path, 0), tracked(t, path, 1<<20)
	if len(mem) != 1 || len(spilled) != 1 {
		t.Fatalf("%d and %d streams", len(mem), len(spilled))
	}
	defer spilled[0].Release()
	for d := range 2 {
		h := &spilled[0].Dirs[d]
		if h.Segments.OnDisk() == 0 || h.Chunks.OnDisk() == 0 || h.Segments.OnDisk() >= h.Segments.Len() {
			t.Fatalf("dir %d: %d of %d segments and %d of %d chunks on disk", d, h.Segments.OnDisk(), h.Segments.Len(), h.Chunks.OnDisk(), h.Chunks.Len())
		}
		if !reflect.DeepEqual(mem[0].Dirs[d].Segments.Clone(), h.Segments.Clone()) || !reflect.DeepEqual(mem[0].Dirs[d].Chunks.Clone(), h.Chunks.Clone()) {
			t.Errorf("dir %d: the segment map or chunk list read back from disk differs", d)
		}
		if err := h.DataErr(); err != nil {
			t.Fatal(err)
		}
	}
	for _, spec := range []string{"auto", "raw", "line", "fixed:1000"} {
		a, err := decode.Analyze(mem[0], spec)
		if err != nil {
			t.Fatal(err)
		}
		b, err := decode.Analyze(spilled[0], spec)
		if err != nil {
			t.Fatal(err)
		}
		if d := analysisDiff(a, b); d != "" {
			t.Errorf("--framing %s: spilled differs: %s", spec, d)
		}
		if d := analysisDiff(a, streamedAnalysis(t, spilled[0], spec)); d != "" {
			t.Errorf("--framing %s: spilled and streamed differs: %s", spec, d)
		}
	}
}
