package telemetry

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

const (
	inboundTraceID     = "4bf92f3577b34da6a3ce929d0e0e4736"
	inboundSpanID      = "00f067aa0ba902b7"
	inboundTraceparent = "00-" + inboundTraceID + "-" + inboundSpanID + "-01"
)

func w3c() propagation.TextMapPropagator {
	return propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
}

func TestHeaderCarrierGet(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		header nats.Header
		key    string
		want   string
	}{
		{name: "exact", header: nats.Header{"traceparent": {"a"}}, key: "traceparent", want: "a"},
		{name: "title case", header: nats.Header{"Traceparent": {"b"}}, key: "traceparent", want: "b"},
		{name: "upper case", header: nats.Header{"TRACEPARENT": {"c"}}, key: "traceparent", want: "c"},
		{name: "exact wins over variants", header: nats.Header{"TRACEPARENT": {"x"}, "traceparent": {"y"}}, key: "traceparent", want: "y"},
		{name: "variants: alphabetically first", header: nats.Header{"TraceParent": {"x"}, "TRACEPARENT": {"y"}}, key: "traceparent", want: "y"},
		{name: "first value", header: nats.Header{"Tracestate": {"1", "2"}}, key: "tracestate", want: "1"},
		{name: "absent", header: nats.Header{"other": {"v"}}, key: "traceparent", want: ""},
		{name: "empty value list", header: nats.Header{"traceparent": {}}, key: "traceparent", want: ""},
		{name: "nil", header: nil, key: "traceparent", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, HeaderCarrier(tt.header).Get(tt.key)); diff != "" {
				t.Errorf("Get(%q) (-want +got):\n%s", tt.key, diff)
			}
		})
	}
}

func TestHeaderCarrierSetReplacesVariants(t *testing.T) {
	t.Parallel()
	h := nats.Header{"Traceparent": {"old1"}, "TRACEPARENT": {"old2", "old3"}, "Other": {"keep"}}
	HeaderCarrier(h).Set("traceparent", "new")
	want := nats.Header{"traceparent": {"new"}, "Other": {"keep"}}
	if diff := cmp.Diff(want, h); diff != "" {
		t.Errorf("header after Set (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"Other", "traceparent"}, HeaderCarrier(h).Keys()); diff != "" {
		t.Errorf("Keys (-want +got):\n%s", diff)
	}
	HeaderCarrier(nil).Set("traceparent", "ignored") // must not panic
}

func TestExtractAnyCase(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"traceparent", "Traceparent", "TRACEPARENT"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h := nats.Header{name: {inboundTraceparent}, "BAGGAGE": {"tenant=acme"}}
			ctx := Extract(context.Background(), w3c(), h)
			sc := trace.SpanContextFromContext(ctx)
			got := []string{sc.TraceID().String(), sc.SpanID().String(), baggage.FromContext(ctx).Member("tenant").Value()}
			if diff := cmp.Diff([]string{inboundTraceID, inboundSpanID, "acme"}, got); diff != "" {
				t.Errorf("extracted trace id, span id, baggage (-want +got):\n%s", diff)
			}
			if !sc.IsRemote() {
				t.Error("extracted span context is not remote")
			}
		})
	}
}

func TestInject(t *testing.T) {
	t.Parallel()
	sc, ok := ParseTraceparent(inboundTraceparent)
	if !ok {
		t.Fatal("ParseTraceparent rejected a valid traceparent")
	}
	tests := []struct {
		name string
		ctx  context.Context
		in   nats.Header
		want nats.Header
	}{
		{
			name: "replaces case variants and a stale tracestate",
			ctx:  trace.ContextWithSpanContext(context.Background(), sc),
			in:   nats.Header{"Traceparent": {"00-stale"}, "TRACESTATE": {"vendor=stale"}, "Other": {"keep"}},
			want: nats.Header{"traceparent": {inboundTraceparent}, "Other": {"keep"}},
		},
		{
			name: "without a span context leaves the header alone",
			ctx:  context.Background(),
			in:   nats.Header{"Traceparent": {"00-publisher"}, "tracestate": {"vendor=publisher"}},
			want: nats.Header{"Traceparent": {"00-publisher"}, "tracestate": {"vendor=publisher"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			Inject(tt.ctx, w3c(), tt.in)
			if diff := cmp.Diff(tt.want, tt.in); diff != "" {
				t.Errorf("header after Inject (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseTraceparent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		wantOK  bool
		wantTID string
	}{
		{name: "valid", in: inboundTraceparent, wantOK: true, wantTID: inboundTraceID},
		{name: "empty", in: "", wantOK: false, wantTID: "00000000000000000000000000000000"},
		{name: "garbage", in: "not-a-traceparent", wantOK: false, wantTID: "00000000000000000000000000000000"},
		{name: "zero trace id", in: "00-00000000000000000000000000000000-" + inboundSpanID + "-01", wantOK: false, wantTID: "00000000000000000000000000000000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sc, ok := ParseTraceparent(tt.in)
			if ok != tt.wantOK {
				t.Errorf("ok = %v, want %v", ok, tt.wantOK)
			}
			if diff := cmp.Diff(tt.wantTID, sc.TraceID().String()); diff != "" {
				t.Errorf("trace id (-want +got):\n%s", diff)
			}
		})
	}
}
