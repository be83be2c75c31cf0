package reassembly_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sockscope/sockscope/capture"
	"github.com/sockscope/sockscope/reassembly"
)

// tsharkFollow is the recorded answer of tshark 4.0's Follow TCP Stream for
// one capture (testdata/tshark/*.json; see testdata/README.md).
type tsharkFollow struct {
	File       string `json:"file"`
	TCPStreams int    `json:"tcp_streams"`
	UDPStreams int    `json:"udp_streams"`
	TCP        []struct {
		ID    int `json:"id"`
		Sides []struct {
			Endpoint string  `json:"endpoint"`
			Bytes    int64   `json:"bytes"`
			SHA256   string  `json:"sha256"`
			Chunks   [][]int `json:"chunks"`
		} `json:"sides"`
	} `json:"tcp"`
}

// corpusFiles returns the bundled corpus captures plus, when SOCKSCOPE_CORPUS
// names a directory (CI sets it to ../shared/corpus), the large ones that are
// not bundled.
func corpusFiles(t *testing.T) map[string]string {
	t.Helper()
	files := map[string]string{}
	add := func(dir string) {
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			n := e.Name()
			base := strings.TrimSuffix(n, ".gz")
			if !strings.HasSuffix(base, ".pcap") && !strings.HasSuffix(base, ".pcapng") {
				continue
			}
			if _, ok := files[base]; !ok {
				files[base] = filepath.Join(dir, n)
			}
		}
	}
	add("../testdata/corpus")
	add("../testdata/captures")
	if d := os.Getenv("SOCKSCOPE_CORPUS"); d != "" {
		add(d)
	}
	if len(files) == 0 {
		t.Fatal("no corpus captures in ../testdata/corpus")
	}
	return files
}

// analyze runs a capture through a tracker that keeps every stream.
func analyze(t *testing.T, path string) ([]*reassembly.Stream, *reassembly.Tracker, error) {
	t.Helper()
	return track(t, path, reassembly.Options{Keep: func(capture.Proto, int) bool { return true }})
}

// track runs a capture through a tracker with o and returns its streams,
// merged (Collector) and sorted.
func track(t *testing.T, path string, o reassembly.Options) ([]*reassembly.Stream, *reassembly.Tracker, error) {
	t.Helper()
	src, err := capture.Open(path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer src.Close()
	var col reassembly.Collector
	o.OnStream = col.Add
	tr := reassembly.NewTracker(o)
	err = tr.Consume(src)
	return col.Streams(), tr, err
}

// TestCorpusAgainstTshark checks stream counts, per-direction captured byte
// counts, the reassembled bytes (sha256) and the chunk list (which frame
// supplied how many new bytes) against tshark's Follow TCP Stream.
func TestCorpusAgainstTshark(t *testing.T) {
	damaged := map[string]string{
		"25_truncated_mid_packet.pcap":  "file ends in the middle of a packet",
		"26_corrupt_record_length.pcap": "more than the snapshot length",
		"27_truncated_mid_block.pcapng": "file ends in the middle of a block",
	}
	for base, path := range corpusFiles(t) {
		t.Run(base, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("../testdata/tshark", base+".json"))
			if err != nil {
				t.Skipf("no recorded tshark answer: %v", err)
			}
			var want tsharkFollow
			if err := json.Unmarshal(raw, &want); err != nil {
				t.Fatal(err)
			}
			streams, tr, err := analyze(t, path)
			if msg, ok := damaged[base]; ok {
				var de *capture.DamageError
				if !errors.As(err, &de) || !strings.Contains(de.Reason, msg) {
					t.Fatalf("err = %v, want a DamageError about %q", err, msg)
				}
			} else if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			compareTshark(t, streams, tr, &want, true)
		})
	}
}

// compareTshark checks a tracker's streams against tshark's recorded
// answer: stream counts (UDP too when udp is set), and per TCP stream and
// direction the bytes, their sha256 and the chunk list.
func compareTshark(t *testing.T, streams []*reassembly.Stream, tr *reassembly.Tracker, want *tsharkFollow, udp bool) {
	t.Helper()
	if tr.Stats.TCPStreams != want.TCPStreams || udp && tr.Stats.UDPFlows != want.UDPStreams {
		t.Errorf("streams: tcp %d udp %d, tshark tcp %d udp %d", tr.Stats.TCPStreams, tr.Stats.UDPFlows, want.TCPStreams, want.UDPStreams)
	}
	used := map[*reassembly.Stream]bool{}
	for _, ws := range want.TCP {
		if len(ws.Sides) != 2 {
			continue
		}
		e0, e1 := ws.Sides[0].Endpoint, ws.Sides[1].Endpoint
		var s *reassembly.Stream
		for _, c := range streams {
			if c.Proto != capture.ProtoTCP || used[c] {
				continue
			}
			a, b := c.Client.String(), c.Server.String()
			if (a == e0 && b == e1) || (a == e1 && b == e0) || (e0 == ":0" && c.ID == ws.ID) {
				s = c
				break
			}
		}
		if s == nil {
			t.Errorf("tshark stream %s ⇄ %s not found", e0, e1)
			continue
		}
		used[s] = true
		for _, side := range ws.Sides {
			d := reassembly.ClientToServer
			if side.Endpoint == s.Server.String() {
				d = reassembly.ServerToClient
			} else if side.Endpoint == ":0" { // tshark gave up (snaplen): nothing to compare but the count
				if s.Dirs[0].Captured+s.Dirs[1].Captured != 0 {
					t.Errorf("%s: captured %d+%d bytes, tshark 0", s.Name(), s.Dirs[0].Captured, s.Dirs[1].Captured)
				}
				continue
			}
			h := &s.Dirs[d]
			if h.Bytes-h.Missing != side.Bytes {
				t.Errorf("%s %s: bytes-missing = %d-%d = %d, tshark %d", s.Name(), d, h.Bytes, h.Missing, h.Bytes-h.Missing, side.Bytes)
			}
			sum := sha256.Sum256(h.Data)
			if got := hex.EncodeToString(sum[:]); got != side.SHA256 {
				t.Errorf("%s %s: sha256 %s, tshark %s", s.Name(), d, got[:12], side.SHA256[:12])
			}
			var got [][]int
			for _, c := range h.Chunks.All() {
				got = append(got, []int{c.Frame, int(c.Range.Len())})
			}
			if !equalChunks(got, side.Chunks) {
				t.Errorf("%s %s: chunks differ\n got  %v\n want %v", s.Name(), d, head(got), head(side.Chunks))
			}
		}
	}
}

func equalChunks(a, b [][]int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i][0] != b[i][0] || a[i][1] != b[i][1] {
			return false
		}
	}
	return true
}

func head(c [][]int) [][]int {
	if len(c) > 40 {
		return c[:40]
	}
	return c
}
