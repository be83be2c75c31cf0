package reassembly_test

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sockscope/sockscope/reassembly"
)

// summarize runs a capture through a tracker that keeps nothing (read's
// view: flows flushed after ClosedLinger, late packets resumed and merged)
// and returns the merged streams.
func summarize(t *testing.T, path string, linger time.Duration) []*reassembly.Stream {
	t.Helper()
	streams, _, _ := track(t, path, reassembly.Options{ClosedLinger: linger}) // damaged captures: what was read is compared
	return streams
}

// TestReadAgreesWithFollow: for every stream of every capture, the summary
// of a tracker that keeps nothing and flushes closed flows (read) equals
// the kept stream that is never flushed (follow): bytes, packets, state,
// retransmissions. The late-packet captures are the point; every other
// capture must hold it too. A short linger (1 ms) makes every late packet
// of the corpus a resumed flow.
func TestReadAgreesWithFollow(t *testing.T) {
	for base, path := range corpusFiles(t) {
		t.Run(base, func(t *testing.T) {
			kept, _, _ := analyze(t, path)
			for _, linger := range []time.Duration{0, time.Millisecond} {
				sum := summarize(t, path, linger)
				if len(sum) != len(kept) {
					t.Fatalf("linger %v: %d streams, kept %d", linger, len(sum), len(kept))
				}
				for i, k := range kept {
					s := sum[i]
					if s.Name() != k.Name() {
						t.Fatalf("stream %d: %s vs %s", i, s.Name(), k.Name())
					}
					if s.State != k.State || (s.State == reassembly.StateClosed && s.ClosedBy != k.ClosedBy) {
						t.Errorf("linger %v %s: state %v by %v, follow %v by %v", linger, s.Name(), s.State, s.ClosedBy, k.State, k.ClosedBy)
					}
					for d := range s.Dirs {
						a, b := &s.Dirs[d], &k.Dirs[d]
						if a.Bytes != b.Bytes || a.Missing != b.Missing || a.Captured != b.Captured || a.Packets != b.Packets || a.Wire != b.Wire {
							t.Errorf("linger %v %s %s: bytes %d missing %d captured %d packets %d wire %d; follow %d %d %d %d %d", linger, s.Name(), reassembly.Direction(d),
								a.Bytes, a.Missing, a.Captured, a.Packets, a.Wire, b.Bytes, b.Missing, b.Captured, b.Packets, b.Wire)
						}
						if a.Retrans != b.Retrans || a.FIN != b.FIN || a.RST != b.RST {
							t.Errorf("linger %v %s %s: retrans %d fin %v rst %v; follow %d %v %v", linger, s.Name(), reassembly.Direction(d), a.Retrans, a.FIN, a.RST, b.Retrans, b.FIN, b.RST)
						}
					}
				}
			}
		})
	}
}

// TestLatePacketsAgainstTshark checks, for the late-packet captures, that
// every frame lands in the stream tshark puts it in (tcp.stream), and how
// the late ones are classified.
func TestLatePacketsAgainstTshark(t *testing.T) {
	cases := map[string]map[int]reassembly.Kind{
		"late_retrans_3s_after_close.pcap": {21: reassembly.KindRetransmission},
		"late_ack_after_close.pcap":        {},
		"port_reuse_new_isn_1s.pcap":       {},
		// tshark: retransmission (spurious) in stream 1, measured against
		// the new connection's ISN; here: before that connection's SYN.
		"late_old_after_reuse.pcap": {15: reassembly.KindBeforeStart},
	}
	for name, kinds := range cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join("../testdata/captures", name)
			want := tsharkFrames(t, filepath.Join("../testdata/tshark", name+".frames.tsv"))
			streams, _, err := analyze(t, path)
			if err != nil {
				t.Fatal(err)
			}
			got := map[int]int{}
			for _, s := range streams {
				for _, r := range s.Packets.All() {
					got[r.Frame] = s.ID
					if k, ok := kinds[r.Frame]; ok && r.Kind != k {
						t.Errorf("frame %d: kind %v, want %v", r.Frame, r.Kind, k)
					}
				}
			}
			if len(got) != len(want) {
				t.Errorf("%d frames in streams, tshark %d", len(got), len(want))
			}
			for f, id := range want {
				if got[f] != id {
					t.Errorf("frame %d: tcp/%d, tshark tcp.stream %d", f, got[f], id)
				}
			}
			// Read's summary (flows flushed) has as many streams as tshark.
			if n := len(summarize(t, path, 0)); n != maxStream(want)+1 {
				t.Errorf("read: %d streams, tshark %d", n, maxStream(want)+1)
			}
		})
	}
}

// tsharkFrames reads frame.number → tcp.stream from a recorded .frames.tsv.
func tsharkFrames(t *testing.T, path string) map[int]int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[int]int{}
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		cols := strings.Split(sc.Text(), "\t")
		fr, err1 := strconv.Atoi(cols[0])
		id, err2 := strconv.Atoi(cols[1])
		if err1 != nil || err2 != nil {
			t.Fatalf("%s: bad line %q", path, sc.Text())
		}
		out[fr] = id
	}
	return out
}

func maxStream(m map[int]int) int {
	n := -1
	for _, id := range m {
		n = max(n, id)
	}
	return n
}
