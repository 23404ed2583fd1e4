package conformance

import (
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/servicetest"
)

// spansNamed returns the exported spans named name in trace traceID (any trace when empty).
func spansNamed(e *servicetest.Env, name, traceID string) []tracetest.SpanStub {
	var out []tracetest.SpanStub
	for _, s := range e.Spans.GetSpans() {
		if s.Name == name && (traceID == "" || s.SpanContext.TraceID().String() == traceID) {
			out = append(out, s)
		}
	}
	return out
}

// waitSpan waits for exactly one span named name in trace traceID and returns it.
func waitSpan(t *testing.T, e *servicetest.Env, name, traceID string) tracetest.SpanStub {
	t.Helper()
	e.WaitFor(wait, "span "+name, func() bool { return len(spansNamed(e, name, traceID)) > 0 })
	return spansNamed(e, name, traceID)[0]
}

func attrs(kvs []attribute.KeyValue) map[string]any {
	out := map[string]any{}
	for _, kv := range kvs {
		out[string(kv.Key)] = kv.Value.AsInterface()
	}
	return out
}

// SPEC "Tracing": per delivery, a consumer process span (parent = the publisher's context,
// messaging attributes, attempt and delivery counts), a client span for the GraphQL call, and a
// producer span for the completion publish, whose headers carry the context.
func TestSpec_Tracing_OneTraceAcrossEveryHop(t *testing.T) {
	t.Parallel()
	e := start(t, nil, nil)
	const (
		traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
		parent  = "00f067aa0ba902b7"
	)
	ev := servicetest.NewEvent("traced")
	ev.Header = nats.Header{"traceparent": {"00-" + traceID + "-" + parent + "-01"}, "tracestate": {"vendor=secret-state"}, "baggage": {"user=secret-baggage"}}
	e.Publish(ev.Msg())
	c := waitCompletions(t, e, "assets.ingested.", 1)[0]

	process := waitSpan(t, e, "process assets.published.*", traceID)
	if process.SpanKind != trace.SpanKindConsumer || process.Parent.SpanID().String() != parent {
		t.Errorf("process span kind %v parent %s, want consumer with parent %s", process.SpanKind, process.Parent.SpanID(), parent)
	}
	got := attrs(process.Attributes)
	want := map[string]any{
		"messaging.system": "nats", "messaging.operation.type": "process",
		"messaging.destination.name": "assets.published.akeneo", "messaging.consumer.group.name": durable,
		"messaging.nats.delivery_count": int64(1), "ingest.attempt": int64(1),
	}
	for k, v := range want {
		if diff := cmp.Diff(v, got[k]); diff != "" {
			t.Errorf("process span attribute %s (-want +got):\n%s", k, diff)
		}
	}

	client := waitSpan(t, e, "CreateAsset", traceID)
	if client.SpanKind != trace.SpanKindClient || !descends(e, client, process.SpanContext.SpanID()) {
		t.Errorf("CreateAsset span kind %v is not a client span under the process span", client.SpanKind)
	}
	producer := waitSpan(t, e, "send assets.ingested.*", traceID)
	if producer.SpanKind != trace.SpanKindProducer || producer.Parent.SpanID() != process.SpanContext.SpanID() {
		t.Errorf("producer span kind %v parent %s, want producer under the process span", producer.SpanKind, producer.Parent.SpanID())
	}
	if diff := cmp.Diff([]string{"00-" + traceID + "-" + producer.SpanContext.SpanID().String() + "-01"}, header(c.NATS.Header, "traceparent")); diff != "" {
		t.Errorf("completion traceparent is not the producer span's (-want +got):\n%s", diff)
	}
}

// descends reports whether s is spanID or a descendant of it among e's spans.
func descends(e *servicetest.Env, s tracetest.SpanStub, spanID trace.SpanID) bool {
	byID := map[trace.SpanID]tracetest.SpanStub{}
	for _, x := range e.Spans.GetSpans() {
		byID[x.SpanContext.SpanID()] = x
	}
	for range 10 {
		if s.SpanContext.SpanID() == spanID || s.Parent.SpanID() == spanID {
			return true
		}
		p, ok := byID[s.Parent.SpanID()]
		if !ok {
			return false
		}
		s = p
	}
	return false
}

// SPEC "Tracing": requests to Amplience carry traceparent only: the GraphQL client writes it
// itself and never forwards a publisher's tracestate or baggage.
func TestSpec_Tracing_AmplienceGetsTraceparentOnly(t *testing.T) {
	t.Parallel()
	e := start(t, nil, nil)
	const traceID = "5bf92f3577b34da6a3ce929d0e0e4736"
	ev := servicetest.NewEvent("traceparent-only")
	ev.Header = nats.Header{"traceparent": {"00-" + traceID + "-00f067aa0ba902b7-01"}, "tracestate": {"vendor=secret-state"}, "baggage": {"user=secret-baggage"}}
	e.Publish(ev.Msg())
	waitCompletions(t, e, "assets.ingested.", 1)
	client := waitSpan(t, e, "CreateAsset", traceID)
	reqs := requests(e, "CreateAsset")
	if len(reqs) != 1 {
		t.Fatalf("%d CreateAsset requests", len(reqs))
	}
	h := http.Header(reqs[0].Header)
	if diff := cmp.Diff([]string{"00-" + traceID + "-" + client.SpanContext.SpanID().String() + "-01"}, h.Values("Traceparent")); diff != "" {
		t.Errorf("traceparent sent to Amplience is not the client span's (-want +got):\n%s", diff)
	}
	for _, name := range []string{"Tracestate", "Baggage"} {
		if v := h.Values(name); len(v) > 0 {
			t.Errorf("%s reached Amplience: %q", name, v)
		}
	}
}

// SPEC "Tracing": every message the service publishes carries a traceparent (a new root when the
// inbound event had none); a replayed event's process span links to Ingest-Replay-Traceparent
// (and is a new root when the original carried no trace).
func TestSpec_Tracing_NewRootAndReplayLink(t *testing.T) {
	t.Parallel()
	e := start(t, nil, nil)
	const replayTrace = "6bf92f3577b34da6a3ce929d0e0e4736"
	plain := servicetest.NewEvent("untraced")
	replayed := servicetest.NewEvent("replayed-trace")
	replayed.Header = nats.Header{"Ingest-Replay-Count": {"1"}, "Ingest-Replay-Traceparent": {"00-" + replayTrace + "-00f067aa0ba902b7-01"}}
	e.Publish(plain.Msg())
	e.Publish(replayed.Msg())
	waitCompletions(t, e, "assets.ingested.", 2)

	for _, tc := range []struct {
		name string
		link string
	}{{"untraced", ""}, {"replayed-trace", replayTrace}} {
		t.Run(tc.name, func(t *testing.T) {
			var process *tracetest.SpanStub
			e.WaitFor(wait, "the process span", func() bool {
				for _, s := range spansNamed(e, "process assets.published.*", "") {
					if attrs(s.Attributes)["messaging.message.id"] == "id-"+tc.name {
						process = &s
						return true
					}
				}
				return false
			})
			if process.Parent.IsValid() {
				t.Errorf("process span has parent %s, want a new root", process.Parent.SpanID())
			}
			var links []string
			for _, l := range process.Links {
				links = append(links, l.SpanContext.TraceID().String())
			}
			var want []string
			if tc.link != "" {
				want = []string{tc.link}
			}
			if diff := cmp.Diff(want, links); diff != "" {
				t.Errorf("links (-want +got):\n%s", diff)
			}
		})
	}
	for _, c := range completions(t, e, "assets.ingested.") {
		if tp := header(c.NATS.Header, "traceparent"); len(tp) != 1 || !validTraceparent(tp[0]) {
			t.Errorf("%s: completion traceparent %q", c.Data.Name, tp)
		}
	}
}
