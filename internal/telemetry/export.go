package telemetry

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// newSpanExporter chooses where spans go (see [Setup]). A nil exporter means
// spans are created, sampled and propagated but not exported. name describes
// the choice for [Telemetry.TraceExport].
func newSpanExporter(ctx context.Context, lookup func(string) (string, bool), override sdktrace.SpanExporter) (exp sdktrace.SpanExporter, name string, err error) {
	if override != nil {
		return override, "custom", nil
	}
	kind := strings.TrimSpace(env(lookup, "OTEL_TRACES_EXPORTER"))
	switch {
	case kind == "none":
		return nil, "none", nil
	case kind == "" && env(lookup, "OTEL_EXPORTER_OTLP_ENDPOINT") == "" &&
		env(lookup, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "":
		return nil, "none (no OTLP endpoint configured)", nil
	}
	switch kind {
	case "":
		kind = "otlp"
	case "otlp", "console":
	default:
		return nil, "", fmt.Errorf("OTEL_TRACES_EXPORTER=%q is not supported; use otlp, console or none (one value)", kind)
	}
	if kind == "otlp" {
		// The OTLP exporters log malformed header entries, values included,
		// through OpenTelemetry's global logger. Refuse them here instead so
		// that a credential never reaches a log.
		for _, key := range []string{"OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS"} {
			if err := checkOTLPHeaders(key, env(lookup, key)); err != nil {
				return nil, "", err
			}
		}
	}
	exp, err = newExporter(ctx, kind, lookup)
	if err != nil {
		return nil, "", fmt.Errorf("creating the %s trace exporter (check OTEL_EXPORTER_OTLP_PROTOCOL and the other OTEL_EXPORTER_OTLP_* settings): %w", kind, err)
	}
	return exp, kind, nil
}

// newExporter makes the exporter of kind, otlp or console, as
// go.opentelemetry.io/contrib/exporters/autoexport would: OTLP over the
// protocol OTEL_EXPORTER_OTLP_TRACES_PROTOCOL or OTEL_EXPORTER_OTLP_PROTOCOL
// names (http/protobuf by default), each exporter reading its own
// OTEL_EXPORTER_OTLP_* settings. autoexport itself would also link the log and
// metric exporters, which the service never uses, into every replica.
func newExporter(ctx context.Context, kind string, lookup func(string) (string, bool)) (sdktrace.SpanExporter, error) {
	if kind == "console" {
		return stdouttrace.New()
	}
	proto := env(lookup, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
	if proto == "" {
		proto = env(lookup, "OTEL_EXPORTER_OTLP_PROTOCOL")
	}
	switch proto {
	case "", "http/protobuf":
		return otlptracehttp.New(ctx)
	case "grpc":
		return otlptracegrpc.New(ctx)
	default:
		return nil, fmt.Errorf("OTLP protocol %q is not supported; use http/protobuf or grpc", proto)
	}
}

// checkOTLPHeaders validates the W3C-baggage-style list the OTLP exporters
// parse from key: comma-separated name=value entries, names HTTP tokens,
// values percent-encoded. Empty entries are allowed. Errors point at the entry
// by position and never include its text.
func checkOTLPHeaders(key, value string) error {
	if strings.TrimSpace(value) == "" {
		return nil
	}
	entries := strings.Split(value, ",")
	for i, entry := range entries {
		if strings.TrimSpace(entry) == "" {
			continue
		}
		name, val, found := strings.Cut(entry, "=")
		var problem string
		switch {
		case !found:
			problem = "has no '='"
		case !isHeaderToken(strings.TrimSpace(name)):
			problem = "has an invalid header name"
		default:
			if _, err := url.PathUnescape(val); err != nil {
				problem = "has a value that is not valid percent-encoding"
			}
		}
		if problem != "" {
			return fmt.Errorf("%s entry %d of %d %s; expected name=value pairs separated by commas (values are not shown: they may be credentials)",
				key, i+1, len(entries), problem)
		}
	}
	return nil
}

// isHeaderToken reports whether s is a non-empty HTTP token (RFC 9110).
func isHeaderToken(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.ContainsRune("!#$%&'*+-.^_`|~", c):
		default:
			return false
		}
	}
	return true
}

// env returns the value of key, or "" when it is unset.
func env(lookup func(string) (string, bool), key string) string {
	v, _ := lookup(key)
	return v
}
