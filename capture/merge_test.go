package capture

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const rotated = "../testdata/captures/rotated"

func openAll(t *testing.T, paths ...string) []*FileSource {
	t.Helper()
	var srcs []*FileSource
	for _, p := range paths {
		s, err := Open(p)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		srcs = append(srcs, s)
	}
	return srcs
}

// frameLine is what a frame must keep through a merge: everything but the
// payload's buffer.
func frameLine(p *Packet) string {
	return fmt.Sprintf("%d %s %s %s>%s seq=%d ack=%d %s len=%d/%d wire=%d issue=%q reasm=%v frag=%v %x",
		p.Frame, p.Time.UTC().Format("15:04:05.000000000"), p.Proto, p.Src, p.Dst, p.Seq, p.Ack, p.Flags,
		len(p.Payload), p.PayloadLen, p.WireLen, p.Issue, p.Reassembled, p.Fragment, p.Payload)
}

func readLines(t *testing.T, src Source) ([]string, error) {
	t.Helper()
	var lines []string
	var p Packet
	for {
		err := src.Next(&p)
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = nil
			}
			return lines, err
		}
		lines = append(lines, frameLine(&p))
	}
}

func TestMergeRotatedEqualsWhole(t *testing.T) {
	for _, c := range []struct {
		whole string
		parts []string
	}{
		{"04_http11_keepalive_curl.pcap", []string{"04/04_part1.pcap", "04/04_part2.pcap", "04/04_part3.pcap"}},
		{"05_http11_pipelined_10req.pcapng", []string{"05/05_part1.pcapng", "05/05_part2.pcapng"}},
		{"06_http10_50_short_conns_ab.pcap.gz", []string{"06/06_part1.pcap.gz", "06/06_part2.pcap.gz", "06/06_part3.pcap.gz", "06/06_part4.pcap.gz"}},
	} {
		t.Run(c.whole, func(t *testing.T) {
			want, err := readLines(t, openAll(t, "../testdata/corpus/"+c.whole)[0])
			if err != nil {
				t.Fatal(err)
			}
			var paths []string
			for _, p := range c.parts {
				paths = append(paths, filepath.Join(rotated, p))
			}
			// In any order: the merge goes by time.
			for _, order := range [][]string{paths, reversed(paths)} {
				m := Merge(openAll(t, order...)...)
				got, err := readLines(t, m)
				if err != nil {
					t.Fatal(err)
				}
				if d := firstDiff(want, got); d != "" {
					t.Errorf("order %v: %s", order, d)
				}
				info := m.Info()
				if info.Name != fmt.Sprintf("%d files", len(paths)) || len(info.Files) != len(paths) {
					t.Errorf("info %+v", info)
				}
				n := 0
				for i, f := range info.Files {
					n += f.Frames
					if f.Name != order[i] || f.Damage != nil {
						t.Errorf("file %d: %+v", i, f)
					}
				}
				if n != len(want) {
					t.Errorf("files' frames add up to %d, want %d", n, len(want))
				}
			}
		})
	}
}

func reversed(s []string) []string {
	r := make([]string, len(s))
	for i, x := range s {
		r[len(s)-1-i] = x
	}
	return r
}

func firstDiff(want, got []string) string {
	for i := range min(len(want), len(got)) {
		if want[i] != got[i] {
			return fmt.Sprintf("frame %d:\n want %s\n  got %s", i+1, want[i], got[i])
		}
	}
	if len(want) != len(got) {
		return fmt.Sprintf("%d frames, want %d", len(got), len(want))
	}
	return ""
}

// tsharkFrames reads the recorded tshark fields of a merged capture: frame
// number, epoch time, tcp.stream, ports.
func tsharkFrames(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows [][]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rows = append(rows, strings.Split(sc.Text(), "\t"))
	}
	return rows
}

// Two captures of different connections whose times overlap: frames
// interleave exactly as in mergecap's output (tshark's frame numbers,
// times and ports recorded once).
func TestMergeInterleaved(t *testing.T) {
	want := tsharkFrames(t, "../testdata/tshark/rotated/interleave_merged.tsv")
	for _, order := range [][]string{
		{rotated + "/interleave/04_shifted_12s.pcap", "../testdata/corpus/09_lines_odd_chunks_nodelay.pcap"},
		{"../testdata/corpus/09_lines_odd_chunks_nodelay.pcap", rotated + "/interleave/04_shifted_12s.pcap"},
	} {
		m := Merge(openAll(t, order...)...)
		var p Packet
		i := 0
		for ; m.Next(&p) == nil; i++ {
			if i >= len(want) {
				t.Fatalf("more than %d frames", len(want))
			}
			w := want[i]
			sec, _ := strconv.ParseFloat(w[1], 64)
			got := fmt.Sprintf("%d %d %d", p.Frame, p.Src.Port(), p.Dst.Port())
			if exp := w[0] + " " + w[3] + " " + w[4]; got != exp {
				t.Fatalf("%v: frame %d: got %s, tshark %s", order, i+1, got, exp)
			}
			if d := float64(p.Time.UnixNano())/1e9 - sec; d > 1e-6 || d < -1e-6 {
				t.Fatalf("frame %d time %v, tshark %s", i+1, p.Time, w[1])
			}
		}
		if i != len(want) {
			t.Fatalf("%d frames, tshark %d", i, len(want))
		}
	}
}

// A filter skips frames in each file, and skipped frames keep their
// numbers in the merged capture: the frames kept are numbered as in the
// whole file read with the same filter.
func TestMergeFilterKeepsNumbers(t *testing.T) {
	keepAcksOnly := func(l LinkType, frame []byte) bool {
		var p Packet
		DecodeFrame(l, frame, &p)
		return len(p.Payload) == 0
	}
	whole := openAll(t, "../testdata/corpus/04_http11_keepalive_curl.pcap")[0]
	whole.Filter = keepAcksOnly
	want, err := readLines(t, whole)
	if err != nil {
		t.Fatal(err)
	}
	parts := openAll(t, rotated+"/04/04_part2.pcap", rotated+"/04/04_part3.pcap", rotated+"/04/04_part1.pcap")
	for _, s := range parts {
		s.Filter = keepAcksOnly
	}
	m := Merge(parts...)
	got, err := readLines(t, m)
	if err != nil {
		t.Fatal(err)
	}
	if d := firstDiff(want, got); d != "" {
		t.Error(d)
	}
	if m.Filtered() != whole.Filtered || m.Filtered() == 0 {
		t.Errorf("filtered %d, whole file %d", m.Filtered(), whole.Filtered)
	}
}

// A damaged file in the middle: its good frames are merged, the others are
// read to the end, and the damage names the file at the end.
func TestMergeDamagedMiddle(t *testing.T) {
	d := rotated + "/damaged/"
	one := openAll(t, d+"04_part2.pcap")[0]
	partWant, werr := readLines(t, one)
	var single *DamageError
	if !errors.As(werr, &single) {
		t.Fatalf("part 2 alone: %v, want damage", werr)
	}
	m := Merge(openAll(t, d+"04_part1.pcap", d+"04_part2.pcap", d+"04_part3.pcap")...)
	got, err := readLines(t, m)
	var de *DamageError
	if !errors.As(err, &de) {
		t.Fatalf("err %v, want a *DamageError", err)
	}
	if de.File != d+"04_part2.pcap" || !de.Merged || de.Frame != single.Frame || de.Offset != single.Offset {
		t.Errorf("damage %+v, part alone %+v", de, single)
	}
	if !strings.Contains(err.Error(), "04_part2.pcap: its frame ") || !strings.Contains(err.Error(), "other files were merged") {
		t.Errorf("message %q", err)
	}
	if want := 11 + len(partWant) + 10; len(got) != want {
		t.Errorf("%d frames, want %d", len(got), want)
	}
	if err2 := m.Next(&Packet{}); err2 != err && err2.Error() != err.Error() {
		t.Errorf("not sticky: %v", err2)
	}
	info := m.Info()
	if info.Files[1].Damage == nil || info.Files[0].Damage != nil || info.Files[2].Damage != nil {
		t.Errorf("files %+v", info.Files)
	}
	if info.Files[1].Frames != len(partWant) {
		t.Errorf("damaged file frames %d, want %d", info.Files[1].Frames, len(partWant))
	}
}

// The secrets of a pcapng Decryption Secrets Block reach OnSecrets from
// whichever file carries them.
func TestMergeSecrets(t *testing.T) {
	parts := openAll(t, rotated+"/tls/11_part1.pcap", rotated+"/tls/11_part2_keys.pcapng")
	var got []byte
	for _, s := range parts {
		s.OnSecrets = func(typ uint32, data []byte) { got = append(got, data...) }
	}
	m := Merge(parts...)
	if _, err := readLines(t, m); err != nil {
		t.Fatal(err)
	}
	keys, err := os.ReadFile("../testdata/keys/11_tls13_curl_openssl_sni.keys")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(bytes.TrimSpace(got), bytes.TrimSpace(keys)) {
		t.Errorf("secrets %q, want the key log", got)
	}
	if lt := m.Info().LinkTypes; len(lt) != 1 || lt[0] != LinkEthernet {
		t.Errorf("link types %v", lt)
	}
	if f := m.Info().Format; f != "pcap+pcapng" {
		t.Errorf("format %q", f)
	}
}

// Hundreds of rotated files merge with one small read buffer each (the
// heap stays bounded by the number of files, not their size).
func TestMergeManyFiles(t *testing.T) {
	whole := "../testdata/corpus/28_routed_http_loss_retransmit.pcap"
	data, err := os.ReadFile(whole)
	if err != nil {
		t.Fatal(err)
	}
	want, err := readLines(t, openAll(t, whole)[0])
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	parts := splitPcap(t, data, 300)
	var srcs []*FileSource
	for i, part := range parts {
		p := filepath.Join(dir, fmt.Sprintf("trace.pcap%d", i))
		if err := os.WriteFile(p, part, 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := OpenSize(p, MergeReadBuffer)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		srcs = append(srcs, s)
	}
	got, err := readLines(t, Merge(srcs...))
	if err != nil {
		t.Fatal(err)
	}
	if d := firstDiff(want, got); d != "" {
		t.Errorf("%d parts: %s", len(parts), d)
	}
}

// Fragments are reassembled after the merge: a datagram whose fragments
// fall in two parts is rebuilt, at the frame of its last fragment.
func TestMergeFragmentsAcrossFiles(t *testing.T) {
	whole := "../testdata/corpus/22_veth_udp_ip_fragments.pcap"
	data, err := os.ReadFile(whole)
	if err != nil {
		t.Fatal(err)
	}
	want, err := readLines(t, openAll(t, whole)[0])
	if err != nil {
		t.Fatal(err)
	}
	var srcs []*FileSource
	for _, part := range splitPcap(t, data, 7) {
		s, err := NewReader("part", bytes.NewReader(part))
		if err != nil {
			t.Fatal(err)
		}
		srcs = append(srcs, s)
	}
	m := Merge(srcs...)
	got, err := readLines(t, m)
	if err != nil {
		t.Fatal(err)
	}
	if d := firstDiff(want, got); d != "" {
		t.Error(d)
	}
	// Read alone, the parts rebuild fewer: some datagrams straddle a cut.
	alone := 0
	for _, part := range splitPcap(t, data, 7) {
		s, _ := NewReader("part", bytes.NewReader(part))
		readLines(t, s)
		alone += s.Defrag().Stats.Reassembled
	}
	if n := m.Defrag().Stats.Reassembled; n == 0 || alone >= n {
		t.Errorf("merged rebuilt %d datagrams, the parts alone %d: no datagram straddles a cut", n, alone)
	}
}

// tinyPcap is a pcap of records at the given seconds, each as many bytes
// long as its id (so that the merged order can be read back from CapLen).
func tinyPcap(recs ...[2]uint32) []byte {
	b := binary.LittleEndian.AppendUint32(nil, 0xa1b2c3d4)
	b = binary.LittleEndian.AppendUint16(b, 2)
	b = binary.LittleEndian.AppendUint16(b, 4)
	b = append(b, make([]byte, 8)...)
	b = binary.LittleEndian.AppendUint32(b, 262144)
	b = binary.LittleEndian.AppendUint32(b, uint32(LinkEthernet))
	for _, r := range recs {
		sec, id := r[0], r[1]
		for _, v := range []uint32{sec, 0, id, id} {
			b = binary.LittleEndian.AppendUint32(b, v)
		}
		b = append(b, make([]byte, id)...)
	}
	return b
}

// Equal timestamps go to the file given first, and a file's frames keep
// their order even where its own timestamps go backwards (the merge takes
// the earliest pending frame; it does not sort). mergecap 4.0 gives ties
// to the file given last instead (on these files it writes 30 20 31 21 22
// 32 23 and 20 30 31 21 22 32 23): sockscope keeps a rotated set's order
// where the last frame of one part and the first of the next share a
// timestamp, which mergecap would swap.
func TestMergeOrderTiesAndBackwards(t *testing.T) {
	a := tinyPcap([2]uint32{10, 20}, [2]uint32{12, 21}, [2]uint32{11, 22}, [2]uint32{20, 23})
	b := tinyPcap([2]uint32{10, 30}, [2]uint32{11, 31}, [2]uint32{12, 32})
	for _, c := range []struct {
		files [][]byte
		want  string
	}{
		{[][]byte{a, b}, "20 30 31 21 22 32 23"},
		{[][]byte{b, a}, "30 20 31 32 21 22 23"},
	} {
		var srcs []*FileSource
		for _, f := range c.files {
			s, err := NewReader("tiny", bytes.NewReader(f))
			if err != nil {
				t.Fatal(err)
			}
			srcs = append(srcs, s)
		}
		m := Merge(srcs...)
		var got []string
		var p Packet
		for i := 1; m.Next(&p) == nil; i++ {
			if p.Frame != i {
				t.Errorf("frame %d numbered %d", i, p.Frame)
			}
			got = append(got, strconv.Itoa(p.CapLen))
		}
		if g := strings.Join(got, " "); g != c.want {
			t.Errorf("order %s, want %s", g, c.want)
		}
	}
}

// Two damaged files: both are named, the first met first.
func TestMergeTwoDamaged(t *testing.T) {
	a, b := rotated+"/damaged/04_part2.pcap", "../testdata/corpus/26_corrupt_record_length.pcap"
	_, err := readLines(t, Merge(openAll(t, rotated+"/04/04_part1.pcap", b, a)...))
	var de *DamageError
	if !errors.As(err, &de) || len(de.More) != 1 {
		t.Fatalf("err %v, want a *DamageError with one more", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, b+": its frame 6 at byte offset") || !strings.Contains(msg, "; also "+a+": its frame 7 at byte offset 2192") || !strings.HasSuffix(msg, "; the other files were merged to their end") {
		t.Errorf("message %q", msg)
	}
}
