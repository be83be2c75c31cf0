package filter

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// recording is testdata/tcpdump_accepts.json, written by testdata/record.sh.
type recording struct {
	Tcpdump  string `json:"tcpdump"`
	Captures []struct {
		File   string `json:"file"`
		Frames int    `json:"frames"`
		Stop   string `json:"stop"`
	} `json:"captures"`
	Results []struct {
		Expr    string  `json:"expr"`
		File    string  `json:"file"`
		Accepts *string `json:"accepts"`
		Error   string  `json:"error"`
	} `json:"results"`
}

// frame is one frame of a capture, numbered from 1 as tcpdump -# does.
type frame struct {
	num      int
	data     []byte
	wireLen  int
	linkType uint16
	iface    int
}

// readCapture reads every frame it can from a pcap, pcapng or .pcap.gz
// file; a read error ends the list, as it ends tcpdump's.
func readCapture(t *testing.T, path string) []frame {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		r = zr
	}
	br := bufio.NewReader(r)
	magic, err := br.Peek(4)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var frames []frame
	if binary.LittleEndian.Uint32(magic) == 0x0a0d0d0a {
		ng, err := pcapgo.NewNgReader(br, pcapgo.NgReaderOptions{WantMixedLinkType: true})
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for n := 1; ; n++ {
			data, ci, err := ng.ReadPacketData()
			if err != nil {
				break
			}
			lt, _ := ci.AncillaryData[0].(layers.LinkType)
			frames = append(frames, frame{n, data, ci.Length, uint16(lt), ci.InterfaceIndex})
		}
		return frames
	}
	pr, err := pcapgo.NewReader(br)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	for n := 1; ; n++ {
		data, ci, err := pr.ReadPacketData()
		if err != nil {
			break
		}
		frames = append(frames, frame{n, data, ci.Length, uint16(pr.LinkType()), 0})
	}
	return frames
}

// parseRanges parses "1-3,5" into {1,2,3,5}.
func parseRanges(s string) (map[int]bool, error) {
	out := map[int]bool{}
	if s == "" {
		return out, nil
	}
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return nil, err
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil {
				return nil, err
			}
		}
		for i := a; i <= b; i++ {
			out[i] = true
		}
	}
	return out, nil
}

// TestAgainstTcpdump checks that Matcher accepts exactly the frames that
// tcpdump 4.99 / libpcap 1.10 accepted for each recorded expression and
// capture, and refuses the expressions tcpdump refused.
func TestAgainstTcpdump(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "tcpdump_accepts.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rec recording
	if err := json.Unmarshal(raw, &rec); err != nil {
		t.Fatalf("decode tcpdump_accepts.json: %v", err)
	}
	if len(rec.Results) == 0 {
		t.Fatal("no recorded results")
	}
	t.Logf("recorded with %s", rec.Tcpdump)

	type capture struct {
		frames []frame
		limit  int // frames tcpdump read
	}
	caps := map[string]capture{}
	for _, c := range rec.Captures {
		file, part, _ := strings.Cut(c.File, "#")
		all := readCapture(t, filepath.Join("..", "..", filepath.FromSlash(file)))
		var frames []frame
		if part != "" {
			iface, err := strconv.Atoi(strings.TrimPrefix(part, "if"))
			if err != nil {
				t.Fatalf("bad capture label %q", c.File)
			}
			for _, f := range all {
				if f.iface == iface {
					frames = append(frames, f)
				}
			}
		} else {
			frames = all
		}
		if len(frames) < c.Frames {
			t.Errorf("%s: read %d frames, tcpdump read %d", c.File, len(frames), c.Frames)
		}
		if len(frames) > c.Frames {
			// tcpdump stopped at a damaged record; gopacket may read further.
			t.Logf("%s: read %d frames, tcpdump read %d (%s); comparing the first %d", c.File, len(frames), c.Frames, c.Stop, c.Frames)
			frames = frames[:c.Frames]
		}
		caps[c.File] = capture{frames: frames, limit: c.Frames}
	}

	exprs := map[string]bool{}
	for _, r := range rec.Results {
		exprs[r.Expr] = true
		c, ok := caps[r.File]
		if !ok {
			t.Fatalf("result for unknown capture %q", r.File)
		}
		lts := map[uint16]bool{}
		for _, f := range c.frames {
			lts[f.linkType] = true
		}
		matchers := map[uint16]*Matcher{}
		var compileErr error
		for lt := range lts {
			m, err := NewMatcher(r.Expr, lt)
			if err != nil {
				compileErr = err
				continue
			}
			matchers[lt] = m
		}
		if r.Error != "" {
			if compileErr == nil && len(lts) > 0 {
				t.Errorf("%q on %s: tcpdump refused it (%s), we accepted it", r.Expr, r.File, r.Error)
			}
			continue
		}
		if compileErr != nil {
			t.Errorf("%q on %s: tcpdump accepted it, we refused: %v", r.Expr, r.File, compileErr)
			continue
		}
		want, err := parseRanges(*r.Accepts)
		if err != nil {
			t.Fatalf("bad accepts %q: %v", *r.Accepts, err)
		}
		var extra, missing []int
		for _, f := range c.frames {
			got := matchers[f.linkType].MatchWire(f.data, f.wireLen)
			switch {
			case got && !want[f.num]:
				extra = append(extra, f.num)
			case !got && want[f.num]:
				missing = append(missing, f.num)
			}
		}
		if len(extra) > 0 || len(missing) > 0 {
			t.Errorf("%q on %s: we also accept frames %v, we reject frames %v", r.Expr, r.File, head(extra), head(missing))
		}
	}
	if len(exprs) < 45 {
		t.Errorf("only %d expressions recorded, want at least 45", len(exprs))
	}
}

func head(s []int) string {
	if len(s) > 10 {
		return fmt.Sprint(s[:10]) + fmt.Sprintf("... (%d)", len(s))
	}
	return fmt.Sprint(s)
}

// TestRecordingCoversCorpus fails when a capture is added to the corpus
// without rerunning record.sh.
func TestRecordingCoversCorpus(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "tcpdump_accepts.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rec recording
	if err := json.Unmarshal(raw, &rec); err != nil {
		t.Fatal(err)
	}
	var recorded []string
	for _, c := range rec.Captures {
		file, _, _ := strings.Cut(c.File, "#")
		recorded = append(recorded, file)
	}
	for _, dir := range []string{"../../testdata/corpus", "testdata/synth"} {
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			rel := "testdata/corpus/" + e.Name()
			if dir == "testdata/synth" {
				rel = "capture/filter/testdata/synth/" + e.Name()
			}
			if !slices.Contains(recorded, rel) {
				t.Errorf("%s is not in tcpdump_accepts.json; rerun testdata/record.sh", rel)
			}
		}
	}
}
