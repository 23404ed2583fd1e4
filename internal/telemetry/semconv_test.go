package telemetry

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// spanNamed returns the one exported span called name.
func spanNamed(tb testing.TB, exp *tracetest.InMemoryExporter, name string) tracetest.SpanStub {
	tb.Helper()
	var found []tracetest.SpanStub
	for _, s := range exp.GetSpans() {
		if s.Name == name {
			found = append(found, s)
		}
	}
	if len(found) != 1 {
		tb.Fatalf("found %d spans named %q, want 1 (all: %v)", len(found), name, spanNames(exp.GetSpans()))
	}
	return found[0]
}

func spanNames(spans tracetest.SpanStubs) []string {
	var names []string
	for _, s := range spans {
		names = append(names, s.Name)
	}
	return names
}

// attrs maps a span's attributes to their values for comparison.
func attrs(kvs []attribute.KeyValue) map[string]any {
	m := make(map[string]any, len(kvs))
	for _, kv := range kvs {
		m[string(kv.Key)] = kv.Value.AsInterface()
	}
	return m
}

func inboundMessage(h nats.Header) ProcessInfo {
	return ProcessInfo{
		Subject:   "assets.published.akeneo",
		Stream:    "ASSETS",
		Consumer:  "asset-ingest",
		Sequence:  42,
		Delivered: 3,
		MessageID: "evt-1",
		Header:    h,
	}
}

func TestStartProcessParentsToInbound(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"traceparent", "Traceparent", "TRACEPARENT"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tel, exp := setupMemory(t, nil)
			tr := tel.TracerProvider.Tracer(ScopeName)

			// An unrelated span in ctx must not become the parent.
			ctx, outer := tr.Start(context.Background(), "fetch loop")
			ctx, span := StartProcess(ctx, tr, tel.Propagator, inboundMessage(nats.Header{name: {inboundTraceparent}}))
			span.SetAttributes(Attempt(2))
			if trace.SpanFromContext(ctx) != span {
				t.Error("returned context does not hold the process span")
			}
			span.End()
			outer.End()

			got := spanNamed(t, exp, "process assets.published.*")
			if diff := cmp.Diff(inboundTraceID, got.SpanContext.TraceID().String()); diff != "" {
				t.Errorf("trace id (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(inboundSpanID, got.Parent.SpanID().String()); diff != "" {
				t.Errorf("parent span id (-want +got):\n%s", diff)
			}
			if got.SpanKind != trace.SpanKindConsumer {
				t.Errorf("kind = %v, want consumer", got.SpanKind)
			}
			want := map[string]any{
				"messaging.system":               "nats",
				"messaging.operation.type":       "process",
				"messaging.operation.name":       "process",
				"messaging.destination.name":     "assets.published.akeneo",
				"messaging.destination.template": "assets.published.*",
				"messaging.consumer.group.name":  "asset-ingest",
				"messaging.message.id":           "evt-1",
				"messaging.nats.stream":          "ASSETS",
				"messaging.nats.stream_sequence": int64(42),
				"messaging.nats.delivery_count":  int64(3),
				"ingest.attempt":                 int64(2),
			}
			if diff := cmp.Diff(want, attrs(got.Attributes)); diff != "" {
				t.Errorf("attributes (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStartProcessNewRootWithoutTraceparent(t *testing.T) {
	t.Parallel()
	tel, exp := setupMemory(t, nil)
	tr := tel.TracerProvider.Tracer(ScopeName)
	ctx, outer := tr.Start(context.Background(), "fetch loop")
	_, span := StartProcess(ctx, tr, tel.Propagator, inboundMessage(nats.Header{"other": {"x"}}))
	span.End()
	outer.End()

	got := spanNamed(t, exp, "process assets.published.*")
	if got.Parent.IsValid() {
		t.Errorf("process span has parent %v, want a new root", got.Parent)
	}
	if got.SpanContext.TraceID() == outer.SpanContext().TraceID() {
		t.Error("process span joined the trace already in ctx, want a new trace")
	}
}

func TestStartProcessLink(t *testing.T) {
	t.Parallel()
	const replayTraceID = "0af7651916cd43dd8448eb211c80319c"
	link, ok := ParseTraceparent("00-" + replayTraceID + "-b7ad6b7169203331-01")
	if !ok {
		t.Fatal("ParseTraceparent rejected the replay traceparent")
	}
	tests := []struct {
		name         string
		header       nats.Header
		wantParent   string // span id, "" for a root
		wantSameAsIn bool   // trace id equals the inbound one
		wantLinks    []string
	}{
		{name: "no inbound trace: new root with the link", header: nats.Header{}, wantParent: "",
			wantLinks: []string{replayTraceID + "/b7ad6b7169203331"}},
		{name: "inbound trace: child linked to its creation context and the link", header: nats.Header{"traceparent": {inboundTraceparent}},
			wantParent: inboundSpanID, wantSameAsIn: true,
			wantLinks: []string{inboundTraceID + "/" + inboundSpanID, replayTraceID + "/b7ad6b7169203331"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tel, exp := setupMemory(t, nil)
			msg := inboundMessage(tt.header)
			msg.Link = link
			_, span := StartProcess(context.Background(), tel.TracerProvider.Tracer(ScopeName), tel.Propagator, msg)
			span.End()

			got := spanNamed(t, exp, "process assets.published.*")
			parent := ""
			if got.Parent.IsValid() {
				parent = got.Parent.SpanID().String()
			}
			if diff := cmp.Diff(tt.wantParent, parent); diff != "" {
				t.Errorf("parent span id (-want +got):\n%s", diff)
			}
			if same := got.SpanContext.TraceID().String() == inboundTraceID; same != tt.wantSameAsIn {
				t.Errorf("trace id %s, same as inbound = %v, want %v", got.SpanContext.TraceID(), same, tt.wantSameAsIn)
			}
			var links []string
			for _, l := range got.Links {
				links = append(links, l.SpanContext.TraceID().String()+"/"+l.SpanContext.SpanID().String())
			}
			if diff := cmp.Diff(tt.wantLinks, links); diff != "" {
				t.Errorf("links (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStartPublishInjectsProducerContext(t *testing.T) {
	t.Parallel()
	tel, exp := setupMemory(t, nil)
	tr := tel.TracerProvider.Tracer(ScopeName)
	ctx, process := StartProcess(context.Background(), tr, tel.Propagator,
		inboundMessage(nats.Header{"Traceparent": {inboundTraceparent}}))

	// A copied publisher header in another case must be replaced, not doubled.
	out := nats.Header{"TraceParent": {inboundTraceparent}, nats.MsgIdHdr: {"key:ingested"}}
	_, publish := StartPublish(ctx, tr, tel.Propagator, "assets.ingested.akeneo", out)
	publish.End()
	process.End()

	got := spanNamed(t, exp, "send assets.ingested.*")
	proc := spanNamed(t, exp, "process assets.published.*")
	if diff := cmp.Diff(proc.SpanContext.SpanID(), got.Parent.SpanID()); diff != "" {
		t.Errorf("send span's parent is not the process span (-want +got):\n%s", diff)
	}
	if got.SpanKind != trace.SpanKindProducer {
		t.Errorf("kind = %v, want producer", got.SpanKind)
	}
	wantHeader := nats.Header{
		"traceparent": {"00-" + inboundTraceID + "-" + got.SpanContext.SpanID().String() + "-01"},
		nats.MsgIdHdr: {"key:ingested"},
	}
	if diff := cmp.Diff(wantHeader, out); diff != "" {
		t.Errorf("published header (-want +got):\n%s", diff)
	}
	want := map[string]any{
		"messaging.system":               "nats",
		"messaging.operation.type":       "send",
		"messaging.operation.name":       "send",
		"messaging.destination.name":     "assets.ingested.akeneo",
		"messaging.destination.template": "assets.ingested.*",
		"messaging.message.id":           "key:ingested",
	}
	if diff := cmp.Diff(want, attrs(got.Attributes)); diff != "" {
		t.Errorf("attributes (-want +got):\n%s", diff)
	}
}

// TestFail: a failed span has status Error, error.type and the error as an exception event;
// ErrorType names NATS failures from a bounded set.
func TestFail(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, wantType string
		err            error
	}{
		{"timeout", "timeout", fmt.Errorf("publishing: %w", nats.ErrTimeout)},
		{"deadline", "timeout", context.DeadlineExceeded},
		{"canceled", "canceled", fmt.Errorf("publishing: %w", context.Canceled)},
		{"no responders", "no_responders", fmt.Errorf("publishing: %w", nats.ErrNoResponders)},
		{"closed", "connection_closed", nats.ErrConnectionClosed},
		{"no stream", "no_stream_response", fmt.Errorf("publishing: %w", jetstream.ErrNoStreamResponse)},
		{"API error", "jetstream_api_error", &jetstream.APIError{Code: 400, ErrorCode: 10071}},
		{"other", "*errors.errorString", errors.New("boom")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tel, exp := setupMemory(t, nil)
			_, span := tel.TracerProvider.Tracer(ScopeName).Start(context.Background(), "op")
			Fail(span, ErrorType(tt.err), "publish failed", tt.err)
			span.End()
			got := spanNamed(t, exp, "op")
			if diff := cmp.Diff(tt.wantType, attrs(got.Attributes)["error.type"]); diff != "" {
				t.Errorf("error.type (-want +got):\n%s", diff)
			}
			if got.Status.Code != codes.Error || got.Status.Description != "publish failed" {
				t.Errorf("status %+v, want Error with the description", got.Status)
			}
			if len(got.Events) != 1 || got.Events[0].Name != "exception" {
				t.Errorf("events %+v, want one exception", got.Events)
			}
		})
	}
}

func TestDisabledSDKPassesContextThrough(t *testing.T) {
	t.Parallel()
	exp := tracetest.NewInMemoryExporter()
	tel := setup(t, Options{
		Lookup:       mapLookup(map[string]string{"OTEL_SDK_DISABLED": "true"}),
		SpanExporter: exp,
	})
	if _, ok := tel.TracerProvider.(*sdktrace.TracerProvider); ok {
		t.Fatal("TracerProvider is the SDK's, want a noop provider")
	}
	tr := tel.TracerProvider.Tracer(ScopeName)
	in := nats.Header{"TRACEPARENT": {inboundTraceparent}, "tracestate": {"vendor=x"}, "baggage": {"tenant=acme"}}
	ctx, process := StartProcess(context.Background(), tr, tel.Propagator, inboundMessage(in))
	out := nats.Header{}
	_, publish := StartPublish(ctx, tr, tel.Propagator, "assets.ingested.akeneo", out)
	publish.End()
	process.End()

	want := nats.Header{"traceparent": {inboundTraceparent}, "tracestate": {"vendor=x"}, "baggage": {"tenant=acme"}}
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("published header (-want +got):\n%s", diff)
	}
	if n := len(exp.GetSpans()); n != 0 {
		t.Errorf("%d spans exported with the SDK disabled, want 0", n)
	}
}

func TestSubjectPattern(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{in: "assets.published.akeneo", want: "assets.published.*"},
		{in: "assets.dlq.salsify", want: "assets.dlq.*"},
		{in: "single", want: "single"},
		{in: "", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, SubjectPattern(tt.in)); diff != "" {
				t.Errorf("SubjectPattern(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestProcessAttributesFitOneAllocation(t *testing.T) {
	msg := ProcessInfo{Subject: "assets.published.akeneo", Stream: "ASSETS", Consumer: "asset-ingest",
		Sequence: 7, Delivered: 2, MessageID: "evt-1"}
	if n := len(ProcessAttributes(msg)); n != maxProcessAttributes {
		t.Errorf("%d attributes with every field set, want maxProcessAttributes = %d", n, maxProcessAttributes)
	}
	// The slice, and the subject pattern's string.
	if allocs := testing.AllocsPerRun(100, func() { ProcessAttributes(msg) }); allocs > 2 {
		t.Errorf("ProcessAttributes allocates %v times, want 2", allocs)
	}
}
