package docs_test

import (
	"go/ast"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// instrument is one OpenTelemetry instrument created in the code.
type instrument struct {
	name, unit string
	counter    bool // monotonic: Prometheus adds _total
}

// instrumentMethods are the metric.Meter methods that create instruments; the value says
// whether the instrument is a monotonic counter.
var instrumentMethods = map[string]bool{
	"Int64Counter": true, "Float64Counter": true, "Int64ObservableCounter": true, "Float64ObservableCounter": true,
	"Int64UpDownCounter": false, "Float64UpDownCounter": false,
	"Int64ObservableUpDownCounter": false, "Float64ObservableUpDownCounter": false,
	"Int64Histogram": false, "Float64Histogram": false, "Int64Gauge": false, "Float64Gauge": false,
	"Int64ObservableGauge": false, "Float64ObservableGauge": false,
}

// codeInstruments finds every instrument the packages under internal/ create with a literal
// name, and its literal metric.WithUnit.
func codeInstruments(tb testing.TB) map[string]instrument {
	tb.Helper()
	entries, err := os.ReadDir(filepath.Join(root, "internal"))
	if err != nil {
		tb.Fatal(err)
	}
	found := map[string]instrument{}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		for _, f := range parseDir(tb, "internal/"+e.Name()) {
			ast.Inspect(f, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok || len(call.Args) == 0 {
					return true
				}
				counter, ok := instrumentMethods[sel.Sel.Name]
				if !ok {
					return true
				}
				name, ok := stringLit(call.Args[0])
				if !ok {
					return true
				}
				in := instrument{name: name, counter: counter}
				for _, a := range call.Args[1:] {
					if opt, ok := a.(*ast.CallExpr); ok {
						if s, ok := opt.Fun.(*ast.SelectorExpr); ok && s.Sel.Name == "WithUnit" && len(opt.Args) == 1 {
							in.unit, _ = stringLit(opt.Args[0])
						}
					}
				}
				found[name] = in
				return true
			})
		}
	}
	if len(found) == 0 {
		tb.Fatal("found no instruments under internal/: the parser no longer matches the code")
	}
	return found
}

func stringLit(e ast.Expr) (string, bool) {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(lit.Value)
	return s, err == nil
}

// prometheusName is the name the Prometheus exporter gives an instrument: dots become
// underscores, the unit adds a suffix, and monotonic counters end in _total.
func prometheusName(in instrument) string {
	n := strings.ReplaceAll(in.name, ".", "_")
	switch in.unit {
	case "s":
		n += "_seconds"
	case "ms":
		n += "_milliseconds"
	case "By":
		n += "_bytes"
	case "1":
		n += "_ratio"
	}
	if in.counter {
		n += "_total"
	}
	return n
}

// TestReadmeMetricsTable: the README's metrics table lists every instrument the code creates,
// under the name /metrics shows, and nothing else.
func TestReadmeMetricsTable(t *testing.T) {
	t.Parallel()
	code := codeInstruments(t)
	rows := table(t, section(t, readRepoFile(t, "README.md"), "### Metrics"))
	var listed []string
	for _, row := range rows {
		if len(row) != 4 {
			t.Errorf("row %q: want 4 cells (metric, instrument, labels, meaning)", row)
			continue
		}
		prom, ok1 := unquote(row[0])
		name, ok2 := unquote(row[1])
		if !ok1 || !ok2 {
			t.Errorf("row %q: metric and instrument must each be one code span", row)
			continue
		}
		listed = append(listed, name)
		in, ok := code[name]
		if !ok {
			continue // reported by the diff below
		}
		if want := prometheusName(in); prom != want {
			t.Errorf("instrument %s (unit %q): README says %s, /metrics shows %s", name, in.unit, prom, want)
		}
		if row[3] == "" {
			t.Errorf("%s: the meaning is empty", prom)
		}
	}
	var want []string
	for name := range code {
		want = append(want, name)
	}
	slices.Sort(want)
	slices.Sort(listed)
	if diff := cmp.Diff(want, listed); diff != "" {
		t.Errorf("metrics table vs instruments in the code (-code +README):\n%s", diff)
	}
}

// TestReadmeMetricNames: every metric the README names in its text (alert advice,
// troubleshooting) is one the code creates, as a series name or a histogram's _count, _sum or
// _bucket.
func TestReadmeMetricNames(t *testing.T) {
	t.Parallel()
	known := map[string]bool{}
	for _, in := range codeInstruments(t) {
		n := prometheusName(in)
		known[n] = true
		for _, suffix := range []string{"_count", "_sum", "_bucket"} {
			known[n+suffix] = true
		}
	}
	readme := readRepoFile(t, "README.md")
	seen := 0
	for _, m := range regexp.MustCompile("`((?:ingest|amplience)_[a-z0-9_]+)[`{]").FindAllStringSubmatch(readme, -1) {
		seen++
		if !known[m[1]] {
			t.Errorf("README names the metric %s, which /metrics does not have", m[1])
		}
	}
	if seen == 0 {
		t.Error("found no metric names in the README: the pattern no longer matches")
	}
}

func TestPrometheusName(t *testing.T) {
	t.Parallel()
	// The names /metrics showed for these instruments when the README was written.
	tests := []struct {
		in   instrument
		want string
	}{
		{instrument{name: "ingest.events.received", unit: "{event}", counter: true}, "ingest_events_received_total"},
		{instrument{name: "ingest.create_asset.duration", unit: "s"}, "ingest_create_asset_duration_seconds"},
		{instrument{name: "ingest.paused", unit: "1"}, "ingest_paused_ratio"},
		{instrument{name: "ingest.consumer.pending", unit: "{event}"}, "ingest_consumer_pending"},
	}
	for _, tt := range tests {
		t.Run(tt.in.name, func(t *testing.T) {
			t.Parallel()
			if got := prometheusName(tt.in); got != tt.want {
				t.Errorf("prometheusName(%+v) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}
