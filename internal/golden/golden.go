// Package golden compares test output with files under testdata/golden,
// named after the test; `go test ./... -update` rewrites them.
package golden

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// updateFlag is -update. A test binary that also links another golden
// helper defining -update (teatest's, initialized first: its import path
// sorts first) shares that flag instead of panicking on a second one.
var updateFlag = func() func() bool {
	if f := flag.Lookup("update"); f != nil {
		return func() bool { return f.Value.String() == "true" }
	}
	b := flag.Bool("update", false, "rewrite testdata/golden files")
	return func() bool { return *b }
}()

// Check compares got with testdata/golden/<TestName>.txt.
func Check(t *testing.T, got []byte) {
	t.Helper()
	name := strings.NewReplacer("/", "__", " ", "_", ":", "_").Replace(t.Name())
	path := filepath.Join("testdata", "golden", name+".txt")
	if updateFlag() {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if string(want) != string(got) {
		t.Errorf("%s differs (rerun with -update after reviewing):\n%s", path, diff(string(want), string(got)))
	}
}

// diff shows the first differing lines.
func diff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < max(len(w), len(g)) && shown < 20; i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d:\n  -want %q\n  +got  %q\n", i+1, wl, gl)
			shown++
		}
	}
	return b.String()
}
