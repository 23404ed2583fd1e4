package docs_test

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// module is the module path, the prefix of the project's own imports.
const module = "github.com/amplience-ingest/asset-ingest-consumer/"

// testSupport are the packages ARCHITECTURE.md names as test support rather than in its table.
var testSupport = []string{"internal/natstest", "internal/servicetest"}

// ARCHITECTURE.md's package table is a map contributors trust: it lists every production
// package, and in an order where each imports only packages listed below it.
func TestArchitectureMapMatchesTheImports(t *testing.T) {
	t.Parallel()
	var listed []string
	for _, line := range section(t, readRepoFile(t, "ARCHITECTURE.md"), "## Packages") {
		if f := strings.Split(line, "`"); strings.HasPrefix(line, "| `") && len(f) > 2 {
			listed = append(listed, f[1])
		}
	}
	var packages []string
	for _, pattern := range []string{"cmd/*", "internal/*"} {
		dirs, err := filepath.Glob(filepath.Join(root, pattern))
		if err != nil {
			t.Fatal(err)
		}
		for _, dir := range dirs {
			rel := filepath.ToSlash(strings.TrimPrefix(dir, root+string(filepath.Separator)))
			if info, err := os.Stat(dir); err == nil && info.IsDir() && !slices.Contains(testSupport, rel) {
				packages = append(packages, rel)
			}
		}
	}
	for _, p := range packages {
		if !slices.Contains(listed, p) {
			t.Errorf("ARCHITECTURE.md does not list package %s", p)
		}
	}
	for i, p := range listed {
		if !slices.Contains(packages, p) {
			t.Errorf("ARCHITECTURE.md lists %s, which is no package", p)
			continue
		}
		for _, imp := range projectImports(t, p) {
			if j := slices.Index(listed, imp); j >= 0 && j <= i {
				t.Errorf("ARCHITECTURE.md lists %s above %s, which it imports", imp, p)
			}
		}
	}
}

// projectImports returns the project's packages that the non-test files of dir import.
func projectImports(tb testing.TB, dir string) []string {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join(root, filepath.FromSlash(dir), "*.go"))
	if err != nil {
		tb.Fatal(err)
	}
	var out []string
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			tb.Fatalf("parsing %s: %v", f, err)
		}
		for _, imp := range file.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if rest, ok := strings.CutPrefix(path, module); ok && !slices.Contains(out, rest) {
				out = append(out, rest)
			}
		}
	}
	return out
}
