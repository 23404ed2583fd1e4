package telemetry

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

func TestMetricsHandlerServesRecordedCounter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  map[string]string
	}{
		{name: "SDK enabled", env: map[string]string{}},
		{name: "SDK disabled keeps metrics", env: map[string]string{"OTEL_SDK_DISABLED": "true"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tel := setup(t, Options{Lookup: mapLookup(tt.env), Version: "9.9.9"})
			counter, err := tel.MeterProvider.Meter(ScopeName).Int64Counter("ingest.test.events",
				metric.WithDescription("events seen by the test"))
			if err != nil {
				t.Fatalf("creating counter: %v", err)
			}
			counter.Add(context.Background(), 3, metric.WithAttributes(attribute.String("outcome", "ingested")))

			rec := httptest.NewRecorder()
			tel.Metrics.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
			res := rec.Result()
			body, err := io.ReadAll(res.Body)
			if err != nil {
				t.Fatalf("reading body: %v", err)
			}
			if res.StatusCode != http.StatusOK {
				t.Fatalf("status %d, body %s", res.StatusCode, body)
			}
			if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
				t.Errorf("Content-Type %q, want Prometheus text", ct)
			}
			var samples []string
			for line := range strings.Lines(string(body)) {
				if strings.HasPrefix(line, "ingest_test_events_total{") {
					samples = append(samples, line)
				}
			}
			if len(samples) != 1 || !strings.Contains(samples[0], `outcome="ingested"`) || !strings.HasSuffix(samples[0], "} 3\n") {
				t.Errorf("counter samples %q, want one with outcome=\"ingested\" and value 3\nbody:\n%s", samples, body)
			}
			for _, want := range []string{"# HELP ingest_test_events_total events seen by the test", "go_goroutines "} {
				if !strings.Contains(string(body), want) {
					t.Errorf("body lacks %q", want)
				}
			}
			if !strings.Contains(string(body), `service_version="9.9.9"`) {
				t.Error("target_info lacks service_version=\"9.9.9\"")
			}
		})
	}
}
