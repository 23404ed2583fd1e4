package docs_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/config"
)

// TestReadmeConfigurationTable: the README's configuration table lists every variable the
// configuration reads (each secret's _FILE form included), once, with its real default; a
// variable without a default says "unset". OTEL_* rows are the SDK's and may say anything.
func TestReadmeConfigurationTable(t *testing.T) {
	t.Parallel()
	rows := table(t, section(t, readRepoFile(t, "README.md"), "## Configuration"))
	defaults := config.Defaults()
	var listed []string
	for _, row := range rows {
		if len(row) != 3 {
			t.Errorf("row %q: want 3 cells (variable, default, meaning)", row)
			continue
		}
		name, ok := unquote(row[0])
		if !ok {
			t.Errorf("row %q: the variable is not one code span", row)
			continue
		}
		if strings.HasPrefix(name, "OTEL_") {
			continue
		}
		listed = append(listed, name)
		if row[2] == "" {
			t.Errorf("%s: the meaning is empty", name)
		}
		def, hasDefault := defaults[name]
		got, quoted := unquote(row[1])
		switch {
		case hasDefault && (!quoted || got != def):
			t.Errorf("%s: README says the default is %s, config says `%s`", name, row[1], def)
		case !hasDefault && row[1] != "unset":
			t.Errorf("%s: README says the default is %s, config has none (write: unset)", name, row[1])
		}
	}
	want := config.Variables()
	slices.Sort(want)
	slices.Sort(listed)
	if diff := cmp.Diff(want, listed); diff != "" {
		t.Errorf("configuration table vs config.Variables() (-want +README):\n%s", diff)
	}
}

// TestReadmeQuickStart: the quick start holds exactly two commands, dev mode and the test
// command, and the test command is the one CI runs (the first `go test` of .ci/run).
func TestReadmeQuickStart(t *testing.T) {
	t.Parallel()
	lines := section(t, readRepoFile(t, "README.md"), "## Quick start")
	if i := slices.Index(lines, "### With containers"); i >= 0 {
		lines = lines[:i]
	}
	var test string
	for _, l := range strings.Split(readRepoFile(t, ".ci/run"), "\n") {
		if strings.HasPrefix(l, "go test ") {
			test = strings.TrimSpace(l)
			break
		}
	}
	want := []string{"go run ./cmd/consumer dev", test}
	if diff := cmp.Diff(want, codeBlocks(lines, "sh")); diff != "" {
		t.Errorf("quick start commands (-want +README):\n%s", diff)
	}
}

// TestReadmePerformancePlaceholder: the Performance section exists for the benchmark work.
func TestReadmePerformancePlaceholder(t *testing.T) {
	t.Parallel()
	lines := section(t, readRepoFile(t, "README.md"), "## Performance")
	if strings.TrimSpace(strings.Join(lines, "\n")) == "" {
		t.Error("the Performance section is empty")
	}
}
