package gqlapi

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// operation names the GraphQL operation a request carries, for span names and attributes.
type operation struct {
	name string // "CreateAsset"
	kind string // "query" or "mutation"
}

type operationKey struct{}

func withOperation(ctx context.Context, op operation) context.Context {
	return context.WithValue(ctx, operationKey{}, op)
}

func operationFrom(ctx context.Context) (operation, bool) {
	op, ok := ctx.Value(operationKey{}).(operation)
	return op, ok
}

// tracedTransport returns base wrapped so that every request gets an OpenTelemetry client span
// named after its GraphQL operation, and carries that span's traceparent and nothing else:
// otelhttp is given an empty propagator (so neither the global propagator nor the caller's
// tracestate or baggage reach Amplience), and wire writes the header itself.
func tracedTransport(base http.RoundTripper, tp trace.TracerProvider, mp metric.MeterProvider) http.RoundTripper {
	return otelhttp.NewTransport(wire{next: base},
		otelhttp.WithTracerProvider(tp),
		otelhttp.WithMeterProvider(mp),
		otelhttp.WithPropagators(propagation.NewCompositeTextMapPropagator()),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
			if op, ok := operationFrom(r.Context()); ok {
				return op.name
			}
			return "graphql"
		}),
	)
}

// wire readies a request for the wire, below otelhttp:
//   - it sets the W3C traceparent header from the span in the request's context (otelhttp's
//     client span) and removes any tracestate or baggage header;
//   - it reads the body (a GraphQL request, a few hundred bytes) into memory. otelhttp wraps
//     the body to measure it, and net/http sends the headers of a request whose body is not
//     an in-memory reader in a packet of their own, before the body: two writes per request
//     on both ends instead of one. Reading the wrapped body to its end is what otelhttp
//     measures, so its metrics are unchanged.
type wire struct {
	next http.RoundTripper
}

func (w wire) RoundTrip(r *http.Request) (*http.Response, error) {
	ctx := r.Context()
	r = r.Clone(ctx)
	r.Header.Del("tracestate")
	r.Header.Del("baggage")
	r.Header.Del("traceparent")
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r.Header.Set("traceparent", traceparent(sc))
		noteClientSpan(ctx, sc)
	}
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		if op, ok := operationFrom(ctx); ok {
			span.SetAttributes(
				attribute.String("graphql.operation.name", op.name),
				attribute.String("graphql.operation.type", op.kind),
			)
		}
	}
	if r.Body != nil && r.Body != http.NoBody {
		body, err := io.ReadAll(r.Body)
		_ = r.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("reading the request body: %w", err)
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
	}
	return w.next.RoundTrip(r)
}

// traceparent formats sc as a version-00 W3C traceparent value.
func traceparent(sc trace.SpanContext) string {
	flags := "00"
	if sc.IsSampled() {
		flags = "01"
	}
	return "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-" + flags
}
