package gqlapi

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// publisherContext returns a context holding a remote span context with tracestate and
// baggage, as a NATS publisher's headers would give.
func publisherContext(tb testing.TB) (context.Context, trace.SpanContext) {
	tb.Helper()
	ts, err := trace.ParseTraceState("vendor=publisher-secret")
	if err != nil {
		tb.Fatal(err)
	}
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
		SpanID:     trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7},
		TraceFlags: trace.FlagsSampled,
		TraceState: ts,
		Remote:     true,
	})
	member, err := baggage.NewMember("user", "alice")
	if err != nil {
		tb.Fatal(err)
	}
	bag, err := baggage.New(member)
	if err != nil {
		tb.Fatal(err)
	}
	ctx := trace.ContextWithRemoteSpanContext(tb.Context(), sc)
	return baggage.ContextWithBaggage(ctx, bag), sc
}

// Not parallel: it sets the global propagator, to show the client does not use it.
func TestRequestsCarryOnlyTraceparent(t *testing.T) {
	prev := otel.GetTextMapPropagator()
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	t.Cleanup(func() { otel.SetTextMapPropagator(prev) })

	recorder := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(recorder))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	f := newFakeAmplience(t)
	c := newTestClient(t, f, func(o *Options) { o.TracerProvider = tp })
	ctx, parent := publisherContext(t)

	if _, err := Probe(ctx, c.gql); err != nil {
		t.Fatal(err)
	}

	spans := recorder.Ended()
	if len(spans) != 1 {
		t.Fatalf("ended spans = %d, want 1", len(spans))
	}
	span := spans[0]
	if span.Name() != "Probe" || span.SpanKind() != trace.SpanKindClient {
		t.Errorf("span = %q (%v), want client span \"Probe\"", span.Name(), span.SpanKind())
	}
	if span.Parent().SpanID() != parent.SpanID() {
		t.Errorf("span parent = %v, want the publisher's span %v", span.Parent().SpanID(), parent.SpanID())
	}
	if !hasAttribute(span.Attributes(), attribute.String("graphql.operation.name", "Probe")) {
		t.Errorf("span attributes %v lack graphql.operation.name", span.Attributes())
	}

	h := f.requests()[0].Header
	want := map[string][]string{
		"Traceparent": {"00-" + parent.TraceID().String() + "-" + span.SpanContext().SpanID().String() + "-01"},
	}
	got := map[string][]string{}
	for _, name := range []string{"Traceparent", "Tracestate", "Baggage"} {
		if v := h.Values(name); v != nil {
			got[name] = v
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("trace headers mismatch (-want +got):\n%s", diff)
	}
}

func TestNoTraceparentWithoutSpan(t *testing.T) {
	t.Parallel()
	f := newFakeAmplience(t)
	c := newTestClient(t, f, func(o *Options) { o.TracerProvider = noop.NewTracerProvider() })

	if err := probeQuery(t, c); err != nil {
		t.Fatal(err)
	}
	if got := f.requests()[0].Header.Get("Traceparent"); got != "" {
		t.Errorf("traceparent = %q, want none without a span", got)
	}
}

func TestRequestDurationMetric(t *testing.T) {
	t.Parallel()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	f := newFakeAmplience(t)
	f.setAPI(answer(400, `{"errors":[{"message":"bad"}]}`))
	c := newTestClient(t, f, func(o *Options) { o.MeterProvider = mp })

	if _, err := c.CreateAsset(t.Context(), testInput); KindOf(err) != KindRejected {
		t.Fatalf("CreateAsset error = %v, want rejected", err)
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(t.Context(), &rm); err != nil {
		t.Fatal(err)
	}
	var got []attribute.Set
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != "amplience.client.request.duration" {
				continue
			}
			for _, dp := range m.Data.(metricdata.Histogram[float64]).DataPoints {
				if dp.Count != 1 {
					t.Errorf("data point count = %d, want 1", dp.Count)
				}
				got = append(got, dp.Attributes)
			}
		}
	}
	want := []attribute.Set{attribute.NewSet(
		attribute.String("graphql.operation.name", "CreateAsset"),
		attribute.String("outcome", "rejected"),
	)}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b attribute.Set) bool { return a.Equals(&b) })); diff != "" {
		t.Errorf("data points mismatch (-want +got):\n%s", diff)
	}
}

// TestHTTPClientMetricsMeasureTheBody checks that the body otelhttp measures is the body sent:
// the transport below otelhttp reads it into memory (so that headers and body leave in one
// write), and the request keeps its length and every byte.
func TestHTTPClientMetricsMeasureTheBody(t *testing.T) {
	t.Parallel()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	f := newFakeAmplience(t)
	f.setAPI(answer(200, `{"data":{"createAsset":{"id":"QXNzZXQ6MQ=="}}}`))
	c := newTestClient(t, f, func(o *Options) { o.MeterProvider = mp })

	if _, err := c.CreateAsset(t.Context(), testInput); err != nil {
		t.Fatalf("CreateAsset: %v", err)
	}
	req := f.requests()[0]
	if req.BodySize == 0 || int64(req.BodySize) != req.ContentLength {
		t.Fatalf("received %d body bytes with Content-Length %d", req.BodySize, req.ContentLength)
	}
	if req.Variables["input"] == nil {
		t.Errorf("the received body has no input variable: %+v", req.Variables)
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(t.Context(), &rm); err != nil {
		t.Fatal(err)
	}
	sizes := map[string]int64{}
	counts := map[string]uint64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch data := m.Data.(type) {
			case metricdata.Histogram[int64]:
				for _, dp := range data.DataPoints {
					sizes[m.Name] += dp.Sum
					counts[m.Name] += dp.Count
				}
			case metricdata.Histogram[float64]:
				for _, dp := range data.DataPoints {
					counts[m.Name] += dp.Count
				}
			}
		}
	}
	if got := counts["http.client.request.duration"]; got != 1 {
		t.Errorf("http.client.request.duration count = %d, want 1", got)
	}
	if got, want := sizes["http.client.request.body.size"], int64(req.BodySize); got != want {
		t.Errorf("http.client.request.body.size = %d, want %d (all metrics: %v)", got, want, counts)
	}
}

func hasAttribute(attrs []attribute.KeyValue, want attribute.KeyValue) bool {
	for _, a := range attrs {
		if a == want {
			return true
		}
	}
	return false
}
