package findings

import (
	"bytes"
	"testing"

	"github.com/sockscope/sockscope/capture"
	"github.com/sockscope/sockscope/reassembly"
)

// analyze runs the engine over a capture file's bytes.
func analyze(t *testing.T, name string, data []byte, cfg Config) []Finding {
	t.Helper()
	src, err := capture.NewReader(name, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	e := New(cfg)
	tr := reassembly.NewTracker(e.Hooks(reassembly.Options{}))
	tr.Consume(src)
	return e.Finish(Summary{Info: src.Info(), Stats: tr.Stats})
}

func kindsOf(fs []Finding) []string {
	var out []string
	seen := map[Kind]bool{}
	for _, f := range fs {
		if !seen[f.Kind] {
			seen[f.Kind] = true
			out = append(out, string(f.Kind))
		}
	}
	return out
}
