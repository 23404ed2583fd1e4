// Package telemetry is the one place where OpenTelemetry and logging are set
// up for the asset ingest consumer.
//
// It builds the tracer and meter providers ([Setup]), the W3C propagator, the
// Prometheus handler served on /metrics, the structured logger ([NewLogger])
// whose records carry trace_id and span_id, the carrier that moves trace
// context through NATS headers ([HeaderCarrier], [Extract], [Inject]) and the
// messaging span helpers ([StartProcess], [StartPublish]).
//
// Nothing here sets OpenTelemetry globals: [Setup] returns the providers and
// cmd decides whether to install them with otel.SetTracerProvider and friends.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// DefaultServiceName is the service.name used when neither
// [Options.ServiceName] nor OTEL_SERVICE_NAME is set.
const DefaultServiceName = "asset-ingest-consumer"

// Options configures [Setup].
type Options struct {
	// ServiceName is the service.name resource attribute when
	// OTEL_SERVICE_NAME is unset. Empty means [DefaultServiceName].
	ServiceName string

	// Version is the service.version resource attribute; empty leaves it out.
	Version string

	// Lookup reads an environment variable (cmd passes os.LookupEnv, tests a
	// map). Every decision Setup makes (OTEL_SDK_DISABLED, whether and how to
	// export traces, validating OTEL_EXPORTER_OTLP_HEADERS) reads through it.
	// The SDK and the exporters it creates read the process environment
	// themselves (OTEL_TRACES_SAMPLER, OTEL_SERVICE_NAME,
	// OTEL_RESOURCE_ATTRIBUTES, OTEL_EXPORTER_OTLP_*), so in production Lookup
	// must see the same environment. Nil means no variable is set.
	Lookup func(string) (string, bool)

	// SpanExporter, when non-nil, replaces the exporter chosen from
	// OTEL_TRACES_EXPORTER and receives every ended span synchronously (tests
	// pass tracetest.NewInMemoryExporter()). It is ignored when
	// OTEL_SDK_DISABLED=true.
	SpanExporter sdktrace.SpanExporter
}

// Telemetry holds what [Setup] built. Its fields are never nil.
type Telemetry struct {
	// TracerProvider is the SDK provider, or a noop provider when
	// OTEL_SDK_DISABLED=true. A noop tracer still carries the inbound span
	// context forward, so trace context passes through the service untouched.
	TracerProvider trace.TracerProvider

	// MeterProvider records metrics read by Metrics. It is an SDK provider
	// even when OTEL_SDK_DISABLED=true: /metrics is part of the service's
	// contract, not an optional OpenTelemetry feature.
	MeterProvider metric.MeterProvider

	// Propagator is W3C TraceContext plus Baggage, whatever the SDK state.
	Propagator propagation.TextMapPropagator

	// Metrics serves the Prometheus text exposition of MeterProvider's
	// metrics (plus Go runtime and process collectors) from a registry of its
	// own, never the prometheus global registry.
	Metrics http.Handler

	// TraceExport says where spans go, for a start-up log line: "disabled"
	// (OTEL_SDK_DISABLED), "none", "none (no OTLP endpoint configured)",
	// "otlp", "console" or "custom". It never contains endpoints or headers.
	TraceExport string

	// Shutdown flushes pending spans and stops the providers; ctx bounds the
	// flush. Calls after the first do nothing and return nil.
	Shutdown func(context.Context) error
}

// Setup builds the providers described on [Telemetry].
//
// The tracing SDK is always installed, even when nothing is exported, so
// every message the service publishes carries a traceparent; only
// OTEL_SDK_DISABLED=true replaces it with a noop provider. Where spans go is
// decided separately (see [Telemetry.TraceExport]):
//
//   - OTEL_TRACES_EXPORTER=none: nowhere.
//   - OTEL_TRACES_EXPORTER unset or empty, and neither
//     OTEL_EXPORTER_OTLP_ENDPOINT nor OTEL_EXPORTER_OTLP_TRACES_ENDPOINT set:
//     nowhere. This deliberately differs from the SDK default (OTLP to
//     localhost:4318) so a laptop running `consumer dev` without a collector
//     does not log export failures forever.
//   - Otherwise the exporter is chosen as
//     go.opentelemetry.io/contrib/exporters/autoexport would choose it: "otlp"
//     (the default once an endpoint is set; protocol from
//     OTEL_EXPORTER_OTLP_TRACES_PROTOCOL or OTEL_EXPORTER_OTLP_PROTOCOL,
//     http/protobuf or grpc) or "console" (stdout), behind a batching
//     processor.
//
// Sampling follows OTEL_TRACES_SAMPLER as the SDK reads it
// (parentbased_always_on by default). The resource has service.name,
// service.version, the telemetry.sdk.* and host.name attributes, and whatever
// OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME add (they win).
//
// An error means the OTEL_* configuration is unusable (unknown exporter,
// malformed OTEL_EXPORTER_OTLP_HEADERS or OTEL_RESOURCE_ATTRIBUTES); it names
// the variable and never quotes header values. Setup opens no connection.
func Setup(ctx context.Context, o Options) (*Telemetry, error) {
	lookup := o.Lookup
	if lookup == nil {
		lookup = func(string) (string, bool) { return "", false }
	}

	res, err := newResource(ctx, o)
	if err != nil {
		return nil, err
	}

	mp, metricsHandler, err := newMetrics(res)
	if err != nil {
		return nil, err
	}

	t := &Telemetry{
		MeterProvider: mp,
		Propagator: propagation.NewCompositeTextMapPropagator(
			propagation.TraceContext{}, propagation.Baggage{}),
		Metrics: metricsHandler,
	}
	shutdowns := []func(context.Context) error{mp.Shutdown}

	if sdkDisabled(lookup) {
		t.TracerProvider = noop.NewTracerProvider()
		t.TraceExport = "disabled"
	} else {
		exp, name, err := newSpanExporter(ctx, lookup, o.SpanExporter)
		if err != nil {
			return nil, errors.Join(err, mp.Shutdown(ctx))
		}
		opts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
		switch {
		case exp == nil:
		case o.SpanExporter != nil:
			opts = append(opts, sdktrace.WithSyncer(exp))
		default:
			opts = append(opts, sdktrace.WithBatcher(exp))
		}
		tp := sdktrace.NewTracerProvider(opts...)
		t.TracerProvider = tp
		t.TraceExport = name
		// Traces first: their flush may still record metrics.
		shutdowns = []func(context.Context) error{tp.Shutdown, mp.Shutdown}
	}

	var once sync.Once
	t.Shutdown = func(ctx context.Context) error {
		var err error
		once.Do(func() {
			for _, s := range shutdowns {
				err = errors.Join(err, s(ctx))
			}
			if err != nil {
				err = fmt.Errorf("shutting down telemetry: %w", err)
			}
		})
		return err
	}
	return t, nil
}

// sdkDisabled reports OTEL_SDK_DISABLED=true (the specification accepts only
// "true", case-insensitively; anything else leaves the SDK on).
func sdkDisabled(lookup func(string) (string, bool)) bool {
	v, _ := lookup("OTEL_SDK_DISABLED")
	return strings.EqualFold(strings.TrimSpace(v), "true")
}

// newResource describes this process. Later sources win: environment over
// options over detected attributes.
func newResource(ctx context.Context, o Options) (*resource.Resource, error) {
	name := o.ServiceName
	if name == "" {
		name = DefaultServiceName
	}
	attrs := []resource.Option{
		resource.WithTelemetrySDK(),
		resource.WithHost(),
		resource.WithSchemaURL(semconv.SchemaURL),
		resource.WithAttributes(semconv.ServiceName(name)),
	}
	if o.Version != "" {
		attrs = append(attrs, resource.WithAttributes(semconv.ServiceVersion(o.Version)))
	}
	attrs = append(attrs, resource.WithFromEnv())
	res, err := resource.New(ctx, attrs...)
	if err != nil {
		return nil, fmt.Errorf("building the OpenTelemetry resource (check OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME): %w", err)
	}
	return res, nil
}
