package archtest

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/sockscope/sockscope/"

// layers ranks the top-level directories. internal/ is rank 0: everyone may
// use it and it uses nobody above it. bench/ holds tools outside the
// pipeline and is not ranked.
var layers = map[string]int{
	"internal":   0,
	"capture":    1,
	"sockets":    1, // kernel socket facts (sock_diag, /proc): beside capture
	"reassembly": 2,
	"decode":     3,
	"findings":   4,
	"output":     5,
	"ui":         6,
	"cmd":        7,
}

// testHelpers may import testing: only test files use them (checked).
var testHelpers = []string{"internal/golden"}

func top(pkg string) string { return strings.SplitN(pkg, "/", 2)[0] }

// imports returns, for every package directory under root (relative path),
// the module packages its non-test files import (relative paths too).
func imports(t *testing.T, root string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); n == "testdata" || strings.HasPrefix(n, ".") && path != root {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		rel = filepath.ToSlash(rel)
		for _, is := range f.Imports {
			p, _ := strconv.Unquote(is.Path.Value)
			if (p == "testing" || strings.HasPrefix(p, "testing/")) && !slices.Contains(testHelpers, filepath.ToSlash(filepath.Dir(mustRel(root, path)))) {
				t.Errorf("%s imports %s outside a test file", path, p)
			}
			if slices.Contains(testHelpers, strings.TrimPrefix(p, module)) {
				t.Errorf("%s imports the test helper %s outside a test file", path, p)
			}
			if strings.HasPrefix(p, module) {
				q := strings.TrimPrefix(p, module)
				if !slices.Contains(out[rel], q) {
					out[rel] = append(out[rel], q)
				}
			}
		}
		if out[rel] == nil {
			out[rel] = []string{}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func mustRel(root, path string) string {
	rel, err := filepath.Rel(root, path)
	if err != nil {
		return path
	}
	return rel
}

func TestImportsPointOneWay(t *testing.T) {
	graph := imports(t, "../..")
	if len(graph) < 10 {
		t.Fatalf("found only %d packages: is the test run from internal/archtest?", len(graph))
	}
	for pkg, deps := range graph {
		from, ranked := layers[top(pkg)]
		if !ranked {
			if top(pkg) != "bench" && pkg != "." {
				t.Errorf("package %s is in no layer: add its directory to layers", pkg)
			}
			continue
		}
		for _, dep := range deps {
			to, ok := layers[top(dep)]
			if !ok {
				t.Errorf("%s imports %s, which is in no layer", pkg, dep)
				continue
			}
			if top(dep) == top(pkg) {
				continue // a layer's own subpackages
			}
			if to >= from {
				t.Errorf("%s imports %s: imports must point down the layers (capture → reassembly → decode → findings → output → ui → cmd; internal below all)", pkg, dep)
			}
		}
	}
}

// TestBinaryWithoutTesting checks what the linker gets, which the file scan
// above cannot see for dependencies outside the module.
func TestBinaryWithoutTesting(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	cmd := exec.Command(gobin, "list", "-deps", "./cmd/sockscope")
	cmd.Dir = "../.."
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		if p == "testing" || strings.HasPrefix(p, "testing/") {
			t.Errorf("the sockscope binary links %s", p)
		}
	}
}
