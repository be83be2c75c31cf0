package cmd

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sockscope/sockscope/internal/pcapgen"
)

// manySegments writes a generated capture of one connection whose
// directions carry 1 and 3 MiB in 200-byte segments, with losses,
// reordering and duplicates: enough segments that a spilled direction's
// segment map and chunk list go to disk too.
func manySegments(t *testing.T) string {
	t.Helper()
	cfg := pcapgen.LongConfig{C2S: 1 << 20, S2C: 3 << 20, SegSize: 200, Seed: 3}
	for d := range 2 {
		for _, off := range []int64{40_000, 400_000, 900_000} {
			for k, kind := range []pcapgen.LongEventKind{pcapgen.Lose, pcapgen.Reorder, pcapgen.Duplicate} {
				cfg.Events = append(cfg.Events, pcapgen.LongEvent{Dir: d, Offset: off + int64(k)*5000, Kind: kind})
			}
		}
	}
	var buf bytes.Buffer
	if _, err := pcapgen.WriteLong(&buf, cfg); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "many_segments.pcap")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestFollowSpilledSame checks that follow writes the same text,
// transcript and JSON views when the stream's bytes are spilled to a
// temporary file (as they are past followSpillOver) as when they are held
// in memory, on every bundled corpus capture.
func TestFollowSpilledSame(t *testing.T) {
	files, _ := filepath.Glob("../testdata/corpus/*")
	files = append(files, "../testdata/captures/http_connect_tls.pcap", "../testdata/captures/pg_pgbench_extended.pcap", "../testdata/captures/tls13_records_split_mtu1500.pcap",
		manySegments(t))
	views := [][]string{{"--all"}, {"--transcript"}, {"--format", "json"}, {"--all", "--keylog", "../testdata/keys/11_tls13_curl_openssl_sni.keys"}}
	compared := 0
	for _, f := range files {
		for _, stream := range []string{"tcp/0", "tcp/1", "udp/0"} {
			for _, v := range views {
				args := append([]string{"follow", f, stream, "--width", "120"}, v...)
				old := followSpillOver
				want, wantErr, wantCode := runCLI(t, nil, args...)
				followSpillOver = 1
				got, gotErr, gotCode := runCLI(t, nil, args...)
				followSpillOver = old
				if got != want || gotErr != wantErr || gotCode != wantCode {
					t.Errorf("%v: spilled output differs (exit %d vs %d)\nstderr: %q vs %q", args, gotCode, wantCode, gotErr, wantErr)
				}
				if wantCode == 0 {
					compared++
				}
			}
		}
	}
	if compared < 100 {
		t.Errorf("only %d views compared", compared)
	}
	t.Logf("%d views alike", compared)
}

// TestFollowAllSaysWhatItHolds: --all on a stream of many segments says on
// stderr how many rows it holds; the elided view does not.
func TestFollowAllSaysWhatItHolds(t *testing.T) {
	path := manySegments(t)
	old := allNoteOver
	allNoteOver = 1000
	defer func() { allNoteOver = old }()
	_, stderr, code := runCLI(t, nil, "follow", path, "tcp/0", "--all", "--dir", "c2s")
	if code != 0 || !strings.Contains(stderr, "--all holds every row of tcp/0's tables in memory to lay them out: 5246 segments and 5243 messages") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	if _, stderr, _ := runCLI(t, nil, "follow", path, "tcp/0"); stderr != "" {
		t.Errorf("without --all: stderr %q", stderr)
	}
}
