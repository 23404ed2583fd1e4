package telemetry

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// mapLookup is an environment made of m.
func mapLookup(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

// setup runs Setup and registers its Shutdown as a cleanup.
func setup(tb testing.TB, o Options) *Telemetry {
	tb.Helper()
	tel, err := Setup(context.Background(), o)
	if err != nil {
		tb.Fatalf("Setup: %v", err)
	}
	tb.Cleanup(func() {
		if err := tel.Shutdown(context.Background()); err != nil {
			tb.Errorf("Shutdown: %v", err)
		}
	})
	return tel
}

// setupMemory returns telemetry whose spans land in the returned exporter.
func setupMemory(tb testing.TB, env map[string]string) (*Telemetry, *tracetest.InMemoryExporter) {
	tb.Helper()
	exp := tracetest.NewInMemoryExporter()
	return setup(tb, Options{Lookup: mapLookup(env), SpanExporter: exp}), exp
}

func TestSetupChoosesExport(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		env         map[string]string
		wantExport  string
		wantSpanIDs bool
	}{
		{
			name:        "unset exporter and no endpoint exports nothing",
			env:         map[string]string{},
			wantExport:  "none (no OTLP endpoint configured)",
			wantSpanIDs: true,
		},
		{
			name:        "empty exporter and empty endpoints export nothing",
			env:         map[string]string{"OTEL_TRACES_EXPORTER": " ", "OTEL_EXPORTER_OTLP_ENDPOINT": ""},
			wantExport:  "none (no OTLP endpoint configured)",
			wantSpanIDs: true,
		},
		{
			name:        "none exports nothing even with an endpoint",
			env:         map[string]string{"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1"},
			wantExport:  "none",
			wantSpanIDs: true,
		},
		{
			name:        "disabled SDK",
			env:         map[string]string{"OTEL_SDK_DISABLED": "TRUE", "OTEL_TRACES_EXPORTER": "otlp"},
			wantExport:  "disabled",
			wantSpanIDs: false,
		},
		{
			name:        "disabled false keeps the SDK",
			env:         map[string]string{"OTEL_SDK_DISABLED": "false"},
			wantExport:  "none (no OTLP endpoint configured)",
			wantSpanIDs: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tel := setup(t, Options{Lookup: mapLookup(tt.env), Version: "1.2.3"})
			if diff := cmp.Diff(tt.wantExport, tel.TraceExport); diff != "" {
				t.Errorf("TraceExport (-want +got):\n%s", diff)
			}
			_, span := tel.TracerProvider.Tracer("test").Start(context.Background(), "op")
			span.End()
			if got := span.SpanContext().IsValid(); got != tt.wantSpanIDs {
				t.Errorf("span context valid = %v, want %v", got, tt.wantSpanIDs)
			}
		})
	}
}

func TestSetupRejectsBadConfiguration(t *testing.T) {
	t.Parallel()
	const secret = "s3cr3t-value"
	tests := []struct {
		name     string
		env      map[string]string
		wantText string
	}{
		{
			name:     "unknown exporter",
			env:      map[string]string{"OTEL_TRACES_EXPORTER": "jaeger"},
			wantText: `OTEL_TRACES_EXPORTER="jaeger" is not supported`,
		},
		{
			name:     "exporter list",
			env:      map[string]string{"OTEL_TRACES_EXPORTER": "otlp,console"},
			wantText: "use otlp, console or none",
		},
		{
			name: "unknown OTLP protocol",
			env: map[string]string{
				"OTEL_TRACES_EXPORTER":        "otlp",
				"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json",
			},
			wantText: `OTLP protocol "http/json" is not supported; use http/protobuf or grpc`,
		},
		{
			name: "the traces protocol wins",
			env: map[string]string{
				"OTEL_TRACES_EXPORTER":               "otlp",
				"OTEL_EXPORTER_OTLP_PROTOCOL":        "grpc",
				"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "udp",
			},
			wantText: `OTLP protocol "udp" is not supported`,
		},
		{
			name: "header without equals",
			env: map[string]string{
				"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1",
				"OTEL_EXPORTER_OTLP_HEADERS":  "x-ok=1,authorization " + secret,
			},
			wantText: "OTEL_EXPORTER_OTLP_HEADERS entry 2 of 2 has no '='",
		},
		{
			name: "header value with a bad escape",
			env: map[string]string{
				"OTEL_TRACES_EXPORTER":              "otlp",
				"OTEL_EXPORTER_OTLP_TRACES_HEADERS": "authorization=Bearer%zz" + secret,
			},
			wantText: "OTEL_EXPORTER_OTLP_TRACES_HEADERS entry 1 of 1 has a value that is not valid percent-encoding",
		},
		{
			name: "header name not a token",
			env: map[string]string{
				"OTEL_TRACES_EXPORTER":       "otlp",
				"OTEL_EXPORTER_OTLP_HEADERS": "bad name=" + secret,
			},
			wantText: "entry 1 of 1 has an invalid header name",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tel, err := Setup(context.Background(), Options{Lookup: mapLookup(tt.env)})
			if err == nil {
				_ = tel.Shutdown(context.Background())
				t.Fatal("Setup succeeded, want an error")
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("error %q does not contain %q", err, tt.wantText)
			}
			if strings.Contains(err.Error(), secret) {
				t.Error("error contains the header value")
			}
		})
	}
}

func TestShutdownTwice(t *testing.T) {
	t.Parallel()
	tel, exp := setupMemory(t, nil)
	_, span := tel.TracerProvider.Tracer("test").Start(context.Background(), "op")
	span.End()
	if got := len(exp.GetSpans()); got != 1 {
		t.Fatalf("exported %d spans before shutdown, want 1", got)
	}
	if err := tel.Shutdown(context.Background()); err != nil {
		t.Fatalf("first Shutdown: %v", err)
	}
	if err := tel.Shutdown(context.Background()); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
	_, span = tel.TracerProvider.Tracer("test").Start(context.Background(), "after")
	span.End()
	if got := len(exp.GetSpans()); got != 0 {
		// The in-memory exporter resets on shutdown; a span ended after it
		// must not be exported.
		t.Errorf("exported %d spans after shutdown, want 0", got)
	}
}

// TestSetupExportsOTLP sets the process environment, which the OTLP exporter
// reads itself, so it cannot run in parallel.
func TestSetupExportsOTLP(t *testing.T) {
	type request struct {
		Path, APIKey string
	}
	var (
		mu   sync.Mutex
		reqs []request
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		reqs = append(reqs, request{Path: r.URL.Path, APIKey: r.Header.Get("X-Api-Key")})
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)

	t.Setenv("OTEL_TRACES_EXPORTER", "otlp")
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", srv.URL)
	t.Setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-api-key=key%20one")

	tel, err := Setup(context.Background(), Options{Lookup: os.LookupEnv})
	if err != nil {
		t.Fatalf("Setup: %v", err)
	}
	if diff := cmp.Diff("otlp", tel.TraceExport); diff != "" {
		t.Errorf("TraceExport (-want +got):\n%s", diff)
	}
	_, span := tel.TracerProvider.Tracer("test").Start(context.Background(), "op",
		trace.WithSpanKind(trace.SpanKindInternal))
	span.End()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := tel.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if diff := cmp.Diff([]request{{Path: "/v1/traces", APIKey: "key one"}}, reqs); diff != "" {
		t.Errorf("collector requests (-want +got):\n%s", diff)
	}
}
