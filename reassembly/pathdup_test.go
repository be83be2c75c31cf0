package reassembly_test

import (
	"bufio"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/sockscope/sockscope/capture"
	"github.com/sockscope/sockscope/reassembly"
)

// TestPathDuplicatesAgainstTshark: in the captures that hold every inner
// packet twice (dup_mirror.pcap: a tc mirred copy into VXLAN 77 on the same
// link; dup_any.pcap: tcpdump -i any on both a VXLAN tunnel and its
// underlay), the frames tshark flags as retransmissions or duplicate ACKs
// are exactly the second copies. sockscope counts them as path duplicates
// (same count, same first frames, the two paths named) and finds no
// retransmission; TestTunnelsAgainstTshark checks the streams' bytes.
func TestPathDuplicatesAgainstTshark(t *testing.T) {
	for _, tc := range []struct {
		file         string
		first, again string // in either order
	}{
		{"dup_mirror.pcap", "", "IPv4 10.97.0.1→10.97.0.2 › VXLAN 77"},
		{"dup_any.pcap", "", "IPv4 10.99.0.1→10.99.0.2 › VXLAN 42"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			flagged := tsharkDupFrames(t, filepath.Join("../testdata/tshark", tc.file+".frames.tsv"))
			streams, tr, err := analyze(t, filepath.Join("../testdata/captures/tunnels", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			total := 0
			for _, s := range streams {
				if s.Proto != capture.ProtoTCP {
					continue
				}
				want := flagged[s.ID]
				if len(want) == 0 {
					t.Fatalf("tshark flags nothing in tcp/%d: the capture is not what the test expects", s.ID)
				}
				if r := s.Dirs[0].Retrans + s.Dirs[1].Retrans; r != 0 {
					t.Errorf("tcp/%d: %d retransmissions, want 0 (the copies are path duplicates)", s.ID, r)
				}
				d := s.Dups
				if d == nil {
					t.Errorf("tcp/%d: no path duplicates; tshark flags %d frames", s.ID, len(want))
					continue
				}
				total += d.Count
				if d.Count != len(want) || !slices.Equal(d.Frames, want[:min(len(want), reassembly.MaxDupFrames)]) {
					t.Errorf("tcp/%d: %d duplicates, frames %v; tshark flags %d: %v", s.ID, d.Count, d.Frames, len(want), want)
				}
				// Which copy comes first depends on where the mirror hooks in
				// (tc egress runs before the capture tap, ingress after).
				if (d.First != tc.first || d.Again != tc.again) && (d.First != tc.again || d.Again != tc.first) {
					t.Errorf("tcp/%d: paths %q and %q, want %q and %q", s.ID, d.First, d.Again, tc.first, tc.again)
				}
			}
			if tr.Stats.PathDuplicates != total || total == 0 {
				t.Errorf("Stats.PathDuplicates %d, streams %d", tr.Stats.PathDuplicates, total)
			}
		})
	}
}

// tsharkDupFrames reads a frames.tsv (record_answers.sh) and returns, per
// tcp.stream, the frames tshark flags as retransmissions or duplicate ACKs.
func tsharkDupFrames(t *testing.T, path string) map[int][]int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m := map[int][]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		c := strings.Split(sc.Text(), "\t")
		if len(c) != 5 || c[0] == "frame.number" {
			continue
		}
		if c[3] == "" && c[4] == "" {
			continue
		}
		frame, _ := strconv.Atoi(c[0])
		stream, _ := strconv.Atoi(c[1])
		m[stream] = append(m[stream], frame)
	}
	return m
}

// TestPathDuplicatesNotRetransmissions: what makes a copy a path duplicate.
// The packets of dup_mirror.pcap are replayed three ways: as captured (every
// copy is a path duplicate); with each copy's IPv4 identification changed
// (a packet sent again, which gets a new one: retransmissions and
// duplicate ACKs, not duplicates); and with the copies dropped and every
// plain packet fed twice (the same path twice is the network's doing, or
// the same tap twice: not this artifact).
func TestPathDuplicatesNotRetransmissions(t *testing.T) {
	var pkts []capture.Packet
	src, err := capture.Open("../testdata/captures/tunnels/dup_mirror.pcap")
	if err != nil {
		t.Fatal(err)
	}
	for {
		var p capture.Packet
		if err := src.Next(&p); err != nil {
			break
		}
		p.Payload = slices.Clone(p.Payload)
		pkts = append(pkts, p)
	}
	src.Close()
	run := func(edit func(p capture.Packet) []capture.Packet) (dups, retrans int) {
		var col reassembly.Collector
		tr := reassembly.NewTracker(reassembly.Options{OnStream: col.Add})
		for _, p := range pkts {
			for _, q := range edit(p) {
				tr.Add(&q)
			}
		}
		tr.Finish()
		for _, s := range col.Streams() {
			retrans += s.Dirs[0].Retrans + s.Dirs[1].Retrans
		}
		return tr.Stats.PathDuplicates, retrans
	}
	if d, r := run(func(p capture.Packet) []capture.Packet { return []capture.Packet{p} }); d != 24 || r != 0 {
		t.Errorf("as captured: %d path duplicates, %d retransmissions; want 24, 0", d, r)
	}
	d, r := run(func(p capture.Packet) []capture.Packet {
		if p.Path.Len() > 0 {
			p.IPID ^= 0x5555
		}
		return []capture.Packet{p}
	})
	if d != 0 || r == 0 {
		t.Errorf("copies with new IP IDs: %d path duplicates, %d retransmissions; want 0 and some", d, r)
	}
	d, r = run(func(p capture.Packet) []capture.Packet {
		if p.Path.Len() > 0 {
			return nil
		}
		return []capture.Packet{p, p}
	})
	if d != 0 || r == 0 {
		t.Errorf("plain packets twice: %d path duplicates, %d retransmissions; want 0 and some", d, r)
	}
}
