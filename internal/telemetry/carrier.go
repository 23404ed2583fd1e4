package telemetry

import (
	"context"
	"slices"
	"strings"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// HeaderCarrier adapts [nats.Header] to [propagation.TextMapCarrier].
//
// NATS header names keep their case, and publishers write "traceparent",
// "Traceparent" or "TRACEPARENT" alike, so the carrier matches names
// case-insensitively. A nil HeaderCarrier reads as empty; Set on it does
// nothing.
type HeaderCarrier nats.Header

var _ propagation.TextMapCarrier = HeaderCarrier(nil)

// Get returns the first value of key. A name spelled exactly as key wins;
// otherwise the first value of the alphabetically first name equal to key
// under case folding. It returns "" when there is none.
func (c HeaderCarrier) Get(key string) string {
	if vs, ok := c[key]; ok {
		if len(vs) == 0 {
			return ""
		}
		return vs[0]
	}
	var found string
	var value string
	for name, vs := range c {
		if !strings.EqualFold(name, key) || len(vs) == 0 {
			continue
		}
		if found == "" || name < found {
			found, value = name, vs[0]
		}
	}
	return value
}

// Set replaces every name equal to key under case folding with the single
// value under key as spelled. It does nothing on a nil carrier.
func (c HeaderCarrier) Set(key, value string) {
	if c == nil {
		return
	}
	for name := range c {
		if strings.EqualFold(name, key) {
			delete(c, name)
		}
	}
	c[key] = []string{value}
}

// Keys returns the header names as spelled, sorted.
func (c HeaderCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for name := range c {
		keys = append(keys, name)
	}
	slices.Sort(keys)
	return keys
}

// Extract returns ctx carrying the trace context and baggage p finds in h
// (any header-name case). Without a valid traceparent in h, ctx's own span
// context is left in place. A nil h is an empty header.
func Extract(ctx context.Context, p propagation.TextMapPropagator, h nats.Header) context.Context {
	return p.Extract(ctx, HeaderCarrier(h))
}

// Inject writes the span context and baggage in ctx into h through p.
//
// When ctx holds a valid span context, every "traceparent" and "tracestate"
// header already in h (any case) is removed first, so h ends up describing
// ctx's span only, even when that span has no tracestate. Without one, h's
// trace headers are left as they were. A "baggage" header is replaced only
// when ctx carries baggage. h must be non-nil to receive anything.
func Inject(ctx context.Context, p propagation.TextMapPropagator, h nats.Header) {
	if trace.SpanContextFromContext(ctx).IsValid() {
		for name := range h {
			if strings.EqualFold(name, "traceparent") || strings.EqualFold(name, "tracestate") {
				delete(h, name)
			}
		}
	}
	p.Inject(ctx, HeaderCarrier(h))
}

// ParseTraceparent parses a W3C traceparent value, such as the
// Ingest-Replay-Traceparent header a replay carries, into a remote span
// context suitable for [ProcessInfo.Link]. ok is false when v is empty or
// malformed.
func ParseTraceparent(v string) (sc trace.SpanContext, ok bool) {
	if v == "" {
		return trace.SpanContext{}, false
	}
	carrier := propagation.MapCarrier{"traceparent": v}
	sc = trace.SpanContextFromContext(propagation.TraceContext{}.Extract(context.Background(), carrier))
	return sc, sc.IsValid()
}
