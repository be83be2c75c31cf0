package decode_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/sockscope/sockscope/capture"
	"github.com/sockscope/sockscope/decode"
	"github.com/sockscope/sockscope/reassembly"
)

func keptStreams(t testing.TB, path string) []*reassembly.Stream {
	t.Helper()
	return keepAll(t, path, 0, false)
}

// keepAll tracks path keeping every stream (spilling their bytes past
// spillOver when it is set); a damaged capture fails the test unless
// damaged is true, when the streams before the damage count.
func keepAll(t testing.TB, path string, spillOver int64, damaged bool) []*reassembly.Stream {
	t.Helper()
	src, err := capture.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var col reassembly.Collector
	tr := reassembly.NewTracker(reassembly.Options{OnStream: col.Add, SpillOver: spillOver, Keep: func(capture.Proto, int) bool { return true }})
	if err := tr.Consume(src); err != nil && !damaged {
		t.Fatal(err)
	}
	return col.Streams()
}

func corpusPath(t testing.TB, name string) string {
	for _, p := range []string{filepath.Join("../testdata/corpus", name), filepath.Join("../testdata/corpus", name+".gz")} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if d := os.Getenv("SOCKSCOPE_CORPUS"); d != "" {
		return filepath.Join(d, name)
	}
	t.Skipf("%s not bundled (set SOCKSCOPE_CORPUS)", name)
	return ""
}

// TestFramingFacts checks message, segment, split, multi and exact counts
// against the corpus facts (shared/corpus/README.txt, checked with tshark).
func TestFramingFacts(t *testing.T) {
	type st struct{ msgs, segs, split, multi, exact int }
	tests := []struct {
		file, framing string
		c2s, s2c      st
	}{
		{"09_lines_odd_chunks_nodelay.pcap", "line", st{11, 12, 4, 4, 0}, st{11, 11, 0, 0, 11}},
		{"10_lenprefix_u32be_split_coalesced.pcap", "len:u32be", st{10, 16, 3, 2, 3}, st{10, 13, 3, 0, 7}},
		{"14_dns_tcp_keepopen_u16be.pcap", "len:u16be", st{4, 4, 0, 0, 4}, st{4, 4, 0, 0, 4}},
		{"14_dns_tcp_keepopen_u16be.pcap", "dns", st{4, 4, 0, 0, 4}, st{4, 4, 0, 0, 4}},
		{"04_http11_keepalive_curl.pcap", "auto", st{5, 5, 0, 0, 5}, st{5, 10, 5, 0, 0}},
		{"05_http11_pipelined_10req.pcapng", "auto", st{10, 1, 0, 1, 0}, st{10, 20, 10, 0, 0}},
		{"17_slow_sender_1byte_per_s.pcap", "http1", st{1, 11, 1, 0, 0}, st{1, 2, 1, 0, 0}},
		{"20_ipv6_loopback_http_nanosec.pcap", "auto", st{2, 2, 0, 0, 2}, st{2, 4, 2, 0, 0}},
		{"28_routed_http_loss_retransmit.pcap", "auto", st{1, 1, 0, 0, 1}, st{1, 737, 1, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.file+"_"+tt.framing, func(t *testing.T) {
			ss := keptStreams(t, corpusPath(t, tt.file))
			a, err := decode.Analyze(ss[0], tt.framing)
			if err != nil {
				t.Fatal(err)
			}
			for d, want := range []st{tt.c2s, tt.s2c} {
				s := a.Stats[d]
				got := st{s.Messages, s.Segments, s.Split, s.Multi, s.Exact}
				if got != want {
					t.Errorf("%s (%s): got %+v, want %+v (partial %d, errors %d %v)", reassembly.Direction(d), a.Framing, got, want, s.Partial, s.Errors, a.Errors[d])
				}
			}
		})
	}
}
