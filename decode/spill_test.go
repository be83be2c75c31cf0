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
