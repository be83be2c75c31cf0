package cmd

import (
	"path/filepath"
	"testing"
)

// TestFollowSpilledSame checks that follow writes the same text,
// transcript and JSON views when the stream's bytes are spilled to a
// temporary file (as they are past followSpillOver) as when they are held
// in memory, on every bundled corpus capture.
func TestFollowSpilledSame(t *testing.T) {
	files, _ := filepath.Glob("../testdata/corpus/*")
	files = append(files, "../testdata/captures/http_connect_tls.pcap", "../testdata/captures/pg_pgbench_extended.pcap", "../testdata/captures/tls13_records_split_mtu1500.pcap")
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
