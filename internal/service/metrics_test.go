package service_test

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/sandbox"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/servicetest"
)

// scrape fetches /metrics and parses the Prometheus text format.
func scrape(tb testing.TB, e *servicetest.Env) map[string]*dto.MetricFamily {
	tb.Helper()
	code, body := e.Get("/metrics")
	if code != 200 {
		tb.Fatalf("/metrics answered %d: %s", code, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		tb.Fatalf("/metrics is not valid Prometheus text: %v\n%s", err, body)
	}
	return fams
}

// sample reads the value of the family's series whose labels include want; counters, gauges
// and untyped series give their value, histograms their sample count. Series matching want
// are summed; a family or series that is absent reads as 0.
func sample(fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	f, ok := fams[name]
	if !ok {
		return 0
	}
	var sum float64
	for _, m := range f.GetMetric() {
		if !hasLabels(m, want) {
			continue
		}
		switch f.GetType() {
		case dto.MetricType_COUNTER:
			sum += m.GetCounter().GetValue()
		case dto.MetricType_GAUGE:
			sum += m.GetGauge().GetValue()
		case dto.MetricType_HISTOGRAM:
			sum += float64(m.GetHistogram().GetSampleCount())
		default:
			sum += m.GetUntyped().GetValue()
		}
	}
	return sum
}

func hasLabels(m *dto.Metric, want map[string]string) bool {
	for k, v := range want {
		found := false
		for _, l := range m.GetLabel() {
			if l.GetName() == k && l.GetValue() == v {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// TestMetricsCountAMixedRun ingests N events, dead-letters M invalid ones and retries K once,
// then checks that /metrics counts exactly that, names its series by the Prometheus
// conventions, and keeps event ids and names out of every label.
func TestMetricsCountAMixedRun(t *testing.T) {
	t.Parallel()
	const n, m, k = 4, 3, 2
	// One event per request: a 503 fails a whole request, and each flaky event is to be
	// retried alone, without the events a batch would share it with.
	e := servicetest.Start(t, servicetest.Options{BacklogMaxAge: time.Millisecond,
		Env: map[string]string{"AMPLIENCE_BATCH_SIZE": "1"}})

	var names []string
	for i := range k {
		name := fmt.Sprintf("metrics-flaky-%d", i)
		e.Sandbox.AddFault(sandbox.Fault{Match: name, Times: 1, Status: 503})
		names = append(names, name)
	}
	for i := range n {
		names = append(names, fmt.Sprintf("metrics-ok-%d", i))
	}
	for _, name := range names {
		e.Publish(servicetest.NewEvent(name).Msg())
	}
	for i := range m {
		bad := servicetest.NewEvent(fmt.Sprintf("metrics-bad-%d", i))
		bad.Data["src"] = "https://10.0.0.1/file.jpg"
		e.Publish(bad.Msg())
		names = append(names, bad.Data["name"].(string))
	}

	e.WaitFor(15*time.Second, "every event settled", func() bool {
		return len(completions(t, e, "assets.ingested.")) == n+k && len(completions(t, e, "assets.failed.")) == m &&
			ackPending(t, e) == 0 && numPending(t, e) == 0
	})
	// The outcome is counted right after the ack: wait for the last one.
	const outcomes = "ingest_events_outcomes_total"
	var fams map[string]*dto.MetricFamily
	e.WaitFor(5*time.Second, "every outcome counted", func() bool {
		fams = scrape(t, e)
		return sample(fams, outcomes, nil) >= n+m+2*k
	})

	type series struct {
		name   string
		labels map[string]string
	}
	checks := []struct {
		series
		want float64
	}{
		{series{outcomes, map[string]string{"outcome": "ingested"}}, n + k},
		{series{outcomes, map[string]string{"outcome": "retry"}}, k},
		{series{outcomes, map[string]string{"outcome": "dead_lettered"}}, m},
		{series{outcomes, map[string]string{"outcome": "handed_back"}}, 0},
		{series{"ingest_events_received_total", nil}, n + m + 2*k},
		{series{"ingest_dead_letters_total", map[string]string{"error_class": "invalid_event"}}, m},
		{series{"ingest_dead_letters_total", nil}, m},
		{series{"ingest_create_asset_duration_seconds", nil}, n + 2*k},
		{series{"ingest_create_asset_duration_seconds", map[string]string{"result": "ok"}}, n + k},
		{series{"ingest_create_asset_calls_total", map[string]string{"result": "ok"}}, n + k},
		{series{"ingest_create_asset_calls_total", map[string]string{"result": "transient"}}, k},
		{series{"ingest_create_asset_calls_total", map[string]string{"result": "rate_limited"}}, 0},
		{series{"ingest_ledger_reads_total", map[string]string{"state": "miss"}}, n + k},
		{series{"ingest_ledger_reads_total", map[string]string{"state": "pending"}}, k},
		{series{"ingest_ledger_reads_total", nil}, n + 2*k},
		{series{"ingest_reconciliations_total", map[string]string{"found": "false"}}, k},
		{series{"ingest_dead_letters_depth", nil}, m},
		{series{"ingest_dead_letters_depth", map[string]string{"source": "akeneo"}}, m},
		{series{"ingest_consumer_pending", nil}, 0},
		{series{"ingest_consumer_ack_pending", nil}, 0},
		{series{"ingest_paused", nil}, 0},
		{series{"ingest_events_in_flight", nil}, 0},
	}
	for _, c := range checks {
		t.Run(seriesName(c.name, c.labels), func(t *testing.T) {
			t.Parallel()
			if _, ok := fams[c.name]; !ok {
				t.Fatalf("/metrics has no %s; families: %v", c.name, familyNames(fams))
			}
			if got := sample(fams, c.name, c.labels); got != c.want {
				t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
			}
		})
	}

	t.Run("conventions", func(t *testing.T) {
		t.Parallel()
		checkConventions(t, fams, names)
	})
}

// Go runtime and process collectors follow their own conventions.
var foreignPrefixes = []string{"go_", "process_", "promhttp_"}

var validName = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// allowedLabels are every label name the service's metrics may carry: bounded sets only.
var allowedLabels = []string{
	"outcome", "error_class", "result", "state", "found", "graphql_operation_name",
	"le",
	// The dead-letter depth by source, at most maxDepthSources of them (internal/ingest).
	"source",
	// otelhttp's client metrics and the resource's target_info.
	"http_request_method", "http_response_status_code", "server_address", "server_port",
	"url_scheme", "network_protocol_name", "network_protocol_version", "error_type",
	"service_name", "service_version", "telemetry_sdk_language", "telemetry_sdk_name",
	"telemetry_sdk_version", "host_name", "process_pid", "process_executable_name",
	"process_runtime_name", "process_runtime_version", "process_owner", "process_command",
	"process_executable_path", "process_runtime_description", "service_instance_id",
	"os_type", "os_description", "host_arch",
}

// checkConventions checks every family the service defines: snake_case names, counters
// ending in _total and nothing else doing so, durations and ages in seconds, and label names
// from a bounded set whose values never contain an event's id or name.
func checkConventions(t *testing.T, fams map[string]*dto.MetricFamily, eventNames []string) {
	t.Helper()
	sawIngest := false
	for name, f := range fams {
		if slices.ContainsFunc(foreignPrefixes, func(p string) bool { return strings.HasPrefix(name, p) }) {
			continue
		}
		sawIngest = sawIngest || strings.HasPrefix(name, "ingest_")
		if !validName.MatchString(name) {
			t.Errorf("metric %s: not snake_case", name)
		}
		isCounter := f.GetType() == dto.MetricType_COUNTER
		if isCounter != strings.HasSuffix(name, "_total") {
			t.Errorf("metric %s (%s): only counters, and every counter, end in _total", name, f.GetType())
		}
		if (strings.Contains(name, "duration") || strings.HasSuffix(name, "_age")) && !strings.HasSuffix(name, "_seconds") {
			t.Errorf("metric %s: durations and ages are in seconds with a _seconds suffix", name)
		}
		if strings.HasSuffix(name, "_ratio") {
			t.Errorf("metric %s: a 0/1 state or count is not a ratio", name)
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if !slices.Contains(allowedLabels, l.GetName()) {
					t.Errorf("metric %s: label %s=%q is not in the bounded set", name, l.GetName(), l.GetValue())
				}
				for _, ev := range eventNames {
					if strings.Contains(l.GetValue(), ev) {
						t.Errorf("metric %s: label %s=%q carries an event's id or name", name, l.GetName(), l.GetValue())
					}
				}
				if strings.Contains(l.GetValue(), servicetest.ClientSecret) {
					t.Errorf("metric %s: label %s carries the client secret", name, l.GetName())
				}
			}
		}
	}
	if !sawIngest {
		t.Errorf("no ingest_ metrics at all; families: %v", familyNames(fams))
	}
}

func familyNames(fams map[string]*dto.MetricFamily) []string {
	var out []string
	for name := range fams {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// TestMetricsStartAtZero: before any event, every counter already has a series at 0 for each
// known label value, so that an alert on a rate sees the first increase; no series carries the
// exporter's otel_scope_* labels.
func TestMetricsStartAtZero(t *testing.T) {
	t.Parallel()
	e := servicetest.Start(t, servicetest.Options{})
	fams := scrape(t, e)
	want := map[string][]map[string]string{
		"ingest_events_received_total": {nil},
		"ingest_events_outcomes_total": {{"outcome": "ingested"}, {"outcome": "retry"}, {"outcome": "dead_lettered"}, {"outcome": "handed_back"}},
		"ingest_dead_letters_total":    {{"error_class": "invalid_event"}, {"error_class": "rejected"}, {"error_class": "exhausted"}},
		"ingest_create_asset_calls_total": {{"result": "ok"}, {"result": "transient"}, {"result": "rate_limited"},
			{"result": "rejected"}, {"result": "permission"}, {"result": "unauthorized"}},
		"ingest_ledger_reads_total":    {{"state": "miss"}, {"state": "pending"}, {"state": "created"}, {"state": "dead"}},
		"ingest_reconciliations_total": {{"found": "true"}, {"found": "false"}},
		"ingest_events_in_flight":      {nil},
	}
	for name, series := range want {
		for _, labels := range series {
			t.Run(seriesName(name, labels), func(t *testing.T) {
				t.Parallel()
				f, ok := fams[name]
				if !ok {
					t.Fatalf("/metrics has no %s before any event; families: %v", name, familyNames(fams))
				}
				n := 0
				for _, m := range f.GetMetric() {
					if hasLabels(m, labels) {
						n++
					}
				}
				if n != 1 || sample(fams, name, labels) != 0 {
					t.Errorf("%d series of %s%v with value %v, want one at 0", n, name, labels, sample(fams, name, labels))
				}
			})
		}
	}
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if strings.HasPrefix(l.GetName(), "otel_scope_") {
					t.Errorf("%s carries %s=%q", name, l.GetName(), l.GetValue())
				}
			}
		}
	}
	if _, ok := fams["otel_scope_info"]; ok {
		t.Error("/metrics has otel_scope_info")
	}
}

// TestMetricsWhilePaused: while the credentials are refused the replica pauses, the paused
// gauge reads 1, the unprocessed event ages and nothing is dead-lettered.
func TestMetricsWhilePaused(t *testing.T) {
	t.Parallel()
	e := servicetest.Start(t, servicetest.Options{NoService: true, BacklogMaxAge: time.Millisecond})
	e.Sandbox.SetCredentialsValid(false)
	e.StartServiceUnready()
	e.Publish(servicetest.NewEvent("metrics-paused").Msg())

	var fams map[string]*dto.MetricFamily
	e.WaitFor(10*time.Second, "ingest_paused 1 with the event waiting", func() bool {
		fams = scrape(t, e)
		return sample(fams, "ingest_paused", nil) == 1 && sample(fams, "ingest_oldest_unprocessed_age_seconds", nil) > 0
	})
	for _, name := range []string{"ingest_dead_letters_total", "ingest_dead_letters_depth"} {
		if got := sample(fams, name, nil); got != 0 {
			t.Errorf("%s = %v while paused, want 0", name, got)
		}
	}
	if got := sample(fams, "ingest_events_outcomes_total", map[string]string{"outcome": "ingested"}); got != 0 {
		t.Errorf("ingested = %v while the credentials are refused", got)
	}
}

// seriesName formats name{k=v,...} with sorted labels.
func seriesName(name string, labels map[string]string) string {
	var kv []string
	for k, v := range labels {
		kv = append(kv, k+"="+v)
	}
	slices.Sort(kv)
	return name + "{" + strings.Join(kv, ",") + "}"
}
