package cmd

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"io"
	"testing"

	"github.com/sockscope/sockscope/internal/pcapgen"
)

// TestLongStreamCLI: `read` and `follow --format raw` on one connection of
// 5 GiB each way (two sequence wraps; losses, reordering and duplicates at
// the 2 GiB and 4 GiB offsets), piped from the generator on stdin: read
// counts every byte, follow writes exactly the generator's bytes. Under
// -short and the race detector, 300 MiB each way.
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
	t.Logf("%d frames, %d MiB each way", res.Frames, n>>20)
}
