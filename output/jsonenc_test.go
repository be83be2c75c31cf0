package output

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestJSONEncoderEverywhere: every JSON the program writes goes through
// NewJSONEncoder (so through textsafe.JSONWriter): no other non-test source
// file makes its own encoder or marshals by hand.
func TestJSONEncoderEverywhere(t *testing.T) {
	direct := regexp.MustCompile(`\bjson\.(NewEncoder|Marshal|MarshalIndent)\(`)
	root := ".."
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); n == "testdata" || n == "vendor" || (strings.HasPrefix(n, ".") && path != root) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") || filepath.ToSlash(path) == "../output/jsonenc.go" {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, line := range bytes.Split(src, []byte("\n")) {
			if direct.Match(line) && !bytes.HasPrefix(bytes.TrimSpace(line), []byte("//")) {
				t.Errorf("%s:%d: %s: use output.NewJSONEncoder, which escapes DEL, C1 and bidi characters", path, i+1, bytes.TrimSpace(line))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
