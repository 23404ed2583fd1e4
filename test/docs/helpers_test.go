package docs_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// root is the module root, seen from this package's directory (where go test runs).
var root = filepath.Join("..", "..")

// readRepoFile returns the content of a file of the repository, by slash path from its root.
func readRepoFile(tb testing.TB, rel string) string {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(rel)))
	if err != nil {
		tb.Fatalf("reading %s: %v", rel, err)
	}
	return string(b)
}

// section returns the lines of the markdown section that starts with the heading line, up to
// the next heading of the same or a higher level.
func section(tb testing.TB, md, heading string) []string {
	tb.Helper()
	level := strings.Index(heading, " ")
	lines := strings.Split(md, "\n")
	start := slices.Index(lines, heading)
	if start < 0 {
		tb.Fatalf("README has no %q heading", heading)
	}
	var out []string
	inCode := false
	for _, l := range lines[start+1:] {
		if strings.HasPrefix(l, "```") {
			inCode = !inCode
		}
		if !inCode && strings.HasPrefix(l, "#") {
			if n := strings.Index(l, " "); n > 0 && n <= level && strings.Trim(l[:n], "#") == "" {
				break
			}
		}
		out = append(out, l)
	}
	return out
}

// table returns the cells of every row of the first markdown table in lines, the header row
// and the separator row left out. Cells are trimmed.
func table(tb testing.TB, lines []string) [][]string {
	tb.Helper()
	var rows [][]string
	started := false
	for _, l := range lines {
		if !strings.HasPrefix(l, "|") {
			if started {
				break
			}
			continue
		}
		started = true
		cells := strings.Split(strings.Trim(strings.TrimSpace(l), "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		rows = append(rows, cells)
	}
	if len(rows) < 3 {
		tb.Fatalf("no markdown table with rows found")
	}
	return rows[2:]
}

// codeBlocks returns the bodies of the fenced code blocks of language lang in lines.
func codeBlocks(lines []string, lang string) []string {
	var blocks []string
	var cur []string
	in, keep := false, false
	for _, l := range lines {
		switch {
		case !in && strings.HasPrefix(l, "```"):
			in, keep, cur = true, strings.TrimPrefix(l, "```") == lang, nil
		case in && strings.HasPrefix(l, "```"):
			in = false
			if keep {
				blocks = append(blocks, strings.Join(cur, "\n"))
			}
		case in:
			cur = append(cur, l)
		}
	}
	return blocks
}

// unquote returns the content of a cell written as one code span, and whether it was one.
func unquote(cell string) (string, bool) {
	if len(cell) < 2 || cell[0] != '`' || cell[len(cell)-1] != '`' || strings.Count(cell, "`") != 2 {
		return "", false
	}
	return cell[1 : len(cell)-1], true
}

// parseDir parses the non-test Go files of a repository directory.
func parseDir(tb testing.TB, rel string) []*ast.File {
	tb.Helper()
	dir := filepath.Join(root, filepath.FromSlash(rel))
	entries, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatalf("reading %s: %v", rel, err)
	}
	fset := token.NewFileSet()
	var files []*ast.File
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, e.Name()), nil, parser.SkipObjectResolution)
		if err != nil {
			tb.Fatalf("parsing %s/%s: %v", rel, e.Name(), err)
		}
		files = append(files, f)
	}
	return files
}

// consumerCommands returns the commands `consumer` dispatches: the string cases of the switch
// in cmd/consumer's func run.
func consumerCommands(tb testing.TB) []string {
	tb.Helper()
	var cmds []string
	for _, f := range parseDir(tb, "cmd/consumer") {
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Recv != nil || fn.Name.Name != "run" {
				continue
			}
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				cc, ok := n.(*ast.CaseClause)
				if !ok {
					return true
				}
				for _, e := range cc.List {
					if lit, ok := e.(*ast.BasicLit); ok && lit.Kind == token.STRING {
						if s, err := strconv.Unquote(lit.Value); err == nil {
							cmds = append(cmds, s)
						}
					}
				}
				return true
			})
		}
	}
	if !slices.Contains(cmds, "run") {
		tb.Fatalf("cannot find the command dispatch in cmd/consumer (func run's switch); found %q", cmds)
	}
	return cmds
}
