package service_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/sandbox"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/servicetest"
)

// publisherSpan starts and ends a producer span as an upstream PIM would, exported to the
// same in-memory exporter as the service's spans, and returns its context.
func publisherSpan(tb testing.TB, e *servicetest.Env) trace.SpanContext {
	tb.Helper()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(e.Spans))
	tb.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	_, span := tp.Tracer("pim").Start(context.Background(), "send assets.published.*",
		trace.WithSpanKind(trace.SpanKindProducer))
	span.End()
	return span.SpanContext()
}

func traceparentOf(sc trace.SpanContext) string {
	return fmt.Sprintf("00-%s-%s-%s", sc.TraceID(), sc.SpanID(), sc.TraceFlags())
}

// spansOf returns the ended spans of trace id, waiting until one named name has ended.
func spansOf(tb testing.TB, e *servicetest.Env, id trace.TraceID, name string) tracetest.SpanStubs {
	tb.Helper()
	var out tracetest.SpanStubs
	e.WaitFor(10*time.Second, "span "+name+" in trace "+id.String(), func() bool {
		out = out[:0]
		for _, s := range e.Spans.GetSpans() {
			if s.SpanContext.TraceID() == id {
				out = append(out, s)
			}
		}
		return findSpan(out, name, nil) != nil
	})
	return out
}

// findSpan returns the first span named name for which match (nil: any) holds, or nil.
func findSpan(spans tracetest.SpanStubs, name string, match func(tracetest.SpanStub) bool) *tracetest.SpanStub {
	for i := range spans {
		if spans[i].Name == name && (match == nil || match(spans[i])) {
			return &spans[i]
		}
	}
	return nil
}

func mustSpan(tb testing.TB, spans tracetest.SpanStubs, name string) tracetest.SpanStub {
	tb.Helper()
	s := findSpan(spans, name, nil)
	if s == nil {
		tb.Fatalf("no span %q; spans: %s", name, describeSpans(spans))
	}
	return *s
}

func describeSpans(spans tracetest.SpanStubs) string {
	var b strings.Builder
	for _, s := range spans {
		fmt.Fprintf(&b, "\n  %s %s parent=%s kind=%s", s.Name, s.SpanContext.SpanID(), s.Parent.SpanID(), s.SpanKind)
	}
	return b.String()
}

// descends reports whether s is ancestor or a descendant of it within spans.
func descends(spans tracetest.SpanStubs, s tracetest.SpanStub, ancestor trace.SpanID) bool {
	for range len(spans) + 1 {
		if s.SpanContext.SpanID() == ancestor {
			return true
		}
		var parent *tracetest.SpanStub
		for i := range spans {
			if spans[i].SpanContext.SpanID() == s.Parent.SpanID() {
				parent = &spans[i]
			}
		}
		if parent == nil {
			return false
		}
		s = *parent
	}
	return false
}

func attrs(s tracetest.SpanStub) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes {
		m[kv.Key] = kv.Value
	}
	return m
}

// noSecrets fails when a span's name, attributes or event attributes carry the client
// secret or the src URL's query string.
func noSecrets(tb testing.TB, spans tracetest.SpanStubs) {
	tb.Helper()
	for _, s := range spans {
		all := append([]attribute.KeyValue(nil), s.Attributes...)
		for _, ev := range s.Events {
			all = append(all, ev.Attributes...)
		}
		for _, kv := range all {
			v := kv.Value.String()
			if strings.Contains(v, servicetest.ClientSecret) || strings.Contains(v, "secret-signature") {
				tb.Errorf("span %s attribute %s carries a secret: %q", s.Name, kv.Key, v)
			}
		}
		if strings.Contains(s.Status.Description, "secret-signature") {
			tb.Errorf("span %s status carries the src query string", s.Name)
		}
	}
}

// TestOneTraceAcrossEveryHop follows an event from its publisher's span through the
// process span, the createAsset client span and the asset.ingested producer span, whose
// context the API request and the completion event carry. The publisher's tracestate and
// baggage never reach Amplience.
func TestOneTraceAcrossEveryHop(t *testing.T) {
	t.Parallel()
	e := servicetest.Start(t, servicetest.Options{})
	pub := publisherSpan(t, e)
	tid := pub.TraceID()

	msg := servicetest.NewEvent("traced").Msg()
	msg.Header.Set("traceparent", traceparentOf(pub))
	msg.Header.Set("tracestate", "pim=opaque-vendor-value")
	msg.Header.Set("baggage", "tenant=acme,user=alice")
	seq := e.Publish(msg)

	e.WaitFor(10*time.Second, "asset.ingested", func() bool { return len(completions(t, e, "assets.ingested.")) == 1 })
	spans := spansOf(t, e, tid, "process assets.published.*")

	process := mustSpan(t, spans, "process assets.published.*")
	if process.Parent.SpanID() != pub.SpanID() || !process.Parent.IsRemote() {
		t.Errorf("process span's parent = %s (remote %t), want the publisher's span %s",
			process.Parent.SpanID(), process.Parent.IsRemote(), pub.SpanID())
	}
	if process.SpanKind != trace.SpanKindConsumer {
		t.Errorf("process span kind %s, want consumer", process.SpanKind)
	}
	if diff := cmp.Diff([]string{traceparentOf(pub)}, linkedTo(process)); diff != "" {
		t.Errorf("process span links, want one to the message's creation context (-want +got):\n%s", diff)
	}
	wantAttrs := map[attribute.Key]attribute.Value{
		"messaging.system":               attribute.StringValue("nats"),
		"messaging.operation.type":       attribute.StringValue("process"),
		"messaging.destination.name":     attribute.StringValue("assets.published.akeneo"),
		"messaging.consumer.group.name":  attribute.StringValue("asset-ingest"),
		"messaging.message.id":           attribute.StringValue("id-traced"),
		"messaging.nats.stream":          attribute.StringValue("ASSETS"),
		"messaging.nats.stream_sequence": attribute.Int64Value(int64(seq)),
		"messaging.nats.delivery_count":  attribute.Int64Value(1),
		"ingest.attempt":                 attribute.Int64Value(1),
		"ingest.outcome":                 attribute.StringValue("ingested"),
		"messaging.destination.template": attribute.StringValue("assets.published.*"),
		"messaging.operation.name":       attribute.StringValue("process"),
	}
	got := attrs(process)
	for k, want := range wantAttrs {
		if g, ok := got[k]; !ok || g != want {
			t.Errorf("process span attribute %s = %v, want %v", k, g.String(), want.String())
		}
	}

	client := mustSpan(t, spans, "CreateAsset")
	if client.SpanKind != trace.SpanKindClient {
		t.Errorf("CreateAsset span kind %s, want client", client.SpanKind)
	}
	if !descends(spans, client, process.SpanContext.SpanID()) {
		t.Errorf("CreateAsset span's parent %s is not under the process span %s:%s",
			client.Parent.SpanID(), process.SpanContext.SpanID(), describeSpans(spans))
	}

	send := mustSpan(t, spans, "send assets.ingested.*")
	if send.SpanKind != trace.SpanKindProducer || send.Parent.SpanID() != process.SpanContext.SpanID() {
		t.Errorf("send span kind %s parent %s, want a producer under the process span %s",
			send.SpanKind, send.Parent.SpanID(), process.SpanContext.SpanID())
	}
	if a := attrs(send); a["messaging.destination.name"].AsString() != "assets.ingested.akeneo" || a["messaging.system"].AsString() != "nats" {
		t.Errorf("send span attributes %v", send.Attributes)
	}

	ingested := e.Subjects("ASSET_RESULTS", "assets.ingested.")[0]
	if tp := ingested.Header.Get("traceparent"); tp != traceparentOf(send.SpanContext) {
		t.Errorf("asset.ingested traceparent %q, want the send span's %q", tp, traceparentOf(send.SpanContext))
	}
	if id := ingested.Header.Get(nats.MsgIdHdr); id == "" || attrs(send)["messaging.message.id"].AsString() != id {
		t.Errorf("send span messaging.message.id %q, want the completion's Nats-Msg-Id %q", attrs(send)["messaging.message.id"].AsString(), id)
	}

	reqs := e.Sandbox.Requests()
	if len(reqs) == 0 {
		t.Fatal("the sandbox recorded no request")
	}
	sawClient := false
	for _, r := range reqs {
		if servicetest.IsProbe(r) {
			continue // no event's: the verification at start
		}
		tp := r.Header.Get("traceparent")
		if !strings.HasPrefix(tp, "00-"+tid.String()+"-") {
			t.Errorf("%s request traceparent %q is not in the publisher's trace %s", r.OperationName, tp, tid)
		}
		if tp == traceparentOf(client.SpanContext) {
			sawClient = true
		}
		for _, h := range []string{"tracestate", "baggage"} {
			if v := r.Header.Values(h); len(v) > 0 {
				t.Errorf("%s request carries %s %q: only traceparent may reach Amplience", r.OperationName, h, v)
			}
		}
	}
	if !sawClient {
		t.Errorf("no API request carries the CreateAsset client span's context %s", traceparentOf(client.SpanContext))
	}
	noSecrets(t, spans)
}

// TestDeadLetteredTraceEndsInTheDeadLetterSpan: a rejected event's trace continues the
// publisher's through the call to the dead-letter producer span, whose context the dead letter
// carries; the publisher's context stays as Ingest-Original-Traceparent.
func TestDeadLetteredTraceEndsInTheDeadLetterSpan(t *testing.T) {
	t.Parallel()
	e := servicetest.Start(t, servicetest.Options{})
	e.Sandbox.AddFault(sandbox.Fault{Match: "traced-refused", Status: 400, GraphQLError: "Invalid src", Code: "BAD_USER_INPUT"})
	pub := publisherSpan(t, e)
	msg := servicetest.NewEvent("traced-refused").Msg()
	msg.Header.Set("traceparent", traceparentOf(pub))
	e.Publish(msg)

	e.WaitFor(10*time.Second, "a dead letter", func() bool { return len(e.Messages("ASSETS_DLQ")) == 1 })
	spans := spansOf(t, e, pub.TraceID(), "process assets.published.*")
	process := mustSpan(t, spans, "process assets.published.*")
	if process.Parent.SpanID() != pub.SpanID() {
		t.Errorf("process span's parent %s, want the publisher's %s", process.Parent.SpanID(), pub.SpanID())
	}
	if process.Status.Code != codes.Error || attrs(process)["ingest.error_class"].AsString() != "rejected" ||
		attrs(process)["error.type"].AsString() != "rejected" {
		t.Errorf("process span status %v, attributes %v: want an error with class and error.type rejected", process.Status, process.Attributes)
	}
	client := mustSpan(t, spans, "CreateAsset")
	if !descends(spans, client, process.SpanContext.SpanID()) {
		t.Errorf("CreateAsset span is not under the process span:%s", describeSpans(spans))
	}
	dlSpan := mustSpan(t, spans, "send assets.dlq.*")
	if dlSpan.SpanKind != trace.SpanKindProducer || dlSpan.Parent.SpanID() != process.SpanContext.SpanID() {
		t.Errorf("dead-letter span kind %s parent %s, want a producer under the process span", dlSpan.SpanKind, dlSpan.Parent.SpanID())
	}
	dl := e.Messages("ASSETS_DLQ")[0]
	if tp := dl.Header.Get("traceparent"); tp != traceparentOf(dlSpan.SpanContext) {
		t.Errorf("dead letter traceparent %q, want the dead-letter span's %q", tp, traceparentOf(dlSpan.SpanContext))
	}
	if got := dl.Header.Get("Ingest-Original-Traceparent"); got != traceparentOf(pub) {
		t.Errorf("Ingest-Original-Traceparent %q, want the publisher's %q", got, traceparentOf(pub))
	}
	if got, want := attrs(dlSpan)["messaging.message.id"].AsString(), dl.Header.Get(nats.MsgIdHdr); got != want || want == "" {
		t.Errorf("dead-letter span messaging.message.id %q, want the dead letter's Nats-Msg-Id %q", got, want)
	}
	// The failure event follows under the same process span.
	e.WaitFor(5*time.Second, "asset.ingest_failed", func() bool { return len(completions(t, e, "assets.failed.")) == 1 })
	spans = spansOf(t, e, pub.TraceID(), "send assets.failed.*")
	failed := mustSpan(t, spans, "send assets.failed.*")
	if failed.Parent.SpanID() != process.SpanContext.SpanID() {
		t.Errorf("asset.ingest_failed span's parent %s, want the process span", failed.Parent.SpanID())
	}
	failedMsg := e.Subjects("ASSET_RESULTS", "assets.failed.")[0]
	if got, want := attrs(failed)["messaging.message.id"].AsString(), failedMsg.Header.Get(nats.MsgIdHdr); got != want || want == "" {
		t.Errorf("asset.ingest_failed span messaging.message.id %q, want its Nats-Msg-Id %q", got, want)
	}
	noSecrets(t, spans)
}

// TestReplayedEventLinksToItsDeadLetter: a replay's process span links to
// Ingest-Replay-Traceparent, keeps the publisher's parent when there is one, and is a new root
// when there is none; what it publishes carries its own trace.
func TestReplayedEventLinksToItsDeadLetter(t *testing.T) {
	t.Parallel()
	e := servicetest.Start(t, servicetest.Options{})
	dead := publisherSpan(t, e) // stands for the processing that dead-lettered the event
	pub := publisherSpan(t, e)

	tests := []struct {
		name       string
		parent     trace.SpanContext // invalid: no traceparent
		wantParent bool
	}{
		{name: "with the publisher's traceparent", parent: pub, wantParent: true},
		{name: "without a traceparent", wantParent: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			name := "replayed-" + strings.ReplaceAll(tc.name, " ", "-")
			msg := servicetest.NewEvent(name).Msg()
			msg.Header.Set("Ingest-Replay-Count", "1")
			msg.Header.Set("Ingest-Replay-Of", "ASSETS_DLQ:7")
			msg.Header.Set("Ingest-Replay-Traceparent", traceparentOf(dead))
			if tc.parent.IsValid() {
				msg.Header.Set("traceparent", traceparentOf(tc.parent))
			}
			e.Publish(msg)

			var process tracetest.SpanStub
			e.WaitFor(10*time.Second, "the replay's process span", func() bool {
				for _, s := range e.Spans.GetSpans() {
					if s.Name == "process assets.published.*" && attrs(s)["messaging.message.id"].AsString() == "id-"+name {
						process = s
						return true
					}
				}
				return false
			})
			wantLinks := []string{traceparentOf(dead)}
			if tc.wantParent {
				// The message's creation context comes first.
				wantLinks = append([]string{traceparentOf(pub)}, wantLinks...)
			}
			if diff := cmp.Diff(wantLinks, linkedTo(process)); diff != "" {
				t.Errorf("process span links (-want +got):\n%s", diff)
			}
			if tc.wantParent {
				if process.Parent.SpanID() != pub.SpanID() || process.SpanContext.TraceID() != pub.TraceID() {
					t.Errorf("process span parent %s in trace %s, want the publisher's %s",
						process.Parent.SpanID(), process.SpanContext.TraceID(), traceparentOf(pub))
				}
			} else {
				if process.Parent.IsValid() {
					t.Errorf("process span has parent %s, want a new root", process.Parent.SpanID())
				}
				if process.SpanContext.TraceID() == dead.TraceID() {
					t.Errorf("the new root reuses the linked trace id")
				}
			}
			spans := spansOf(t, e, process.SpanContext.TraceID(), "send assets.ingested.*")
			send := mustSpan(t, spans, "send assets.ingested.*")
			var completion *nats.Header
			e.WaitFor(5*time.Second, "the replay's asset.ingested", func() bool {
				for _, m := range e.Subjects("ASSET_RESULTS", "assets.ingested.") {
					if strings.Contains(string(m.Data), `"eventId":"id-`+name+`"`) {
						h := nats.Header(m.Header)
						completion = &h
						return true
					}
				}
				return false
			})
			if tp := completion.Get("traceparent"); tp != traceparentOf(send.SpanContext) ||
				send.Parent.SpanID() != process.SpanContext.SpanID() {
				t.Errorf("asset.ingested traceparent %q (send span %s, parent %s), want the send span under the process span",
					tp, traceparentOf(send.SpanContext), send.Parent.SpanID())
			}
		})
	}
}

// TestFailedPublishSpansCarryErrorType: with the results stream gone, the completion's send
// span fails with error.type naming the NATS failure, still with its messaging.message.id, and
// the process span of the delivery, handed back as a systemic failure, carries error.type too.
func TestFailedPublishSpansCarryErrorType(t *testing.T) {
	t.Parallel()
	e := servicetest.Start(t, servicetest.Options{})
	if err := e.JS.DeleteStream(t.Context(), "ASSET_RESULTS"); err != nil {
		t.Fatal(err)
	}
	pub := publisherSpan(t, e)
	msg := servicetest.NewEvent("traced-no-results").Msg()
	msg.Header.Set("traceparent", traceparentOf(pub))
	e.Publish(msg)

	spans := spansOf(t, e, pub.TraceID(), "process assets.published.*")
	send := mustSpan(t, spans, "send assets.ingested.*")
	process := mustSpan(t, spans, "process assets.published.*")
	type span struct{ Status, ErrorType string }
	got := []span{
		{send.Status.Code.String(), attrs(send)["error.type"].AsString()},
		{process.Status.Code.String(), attrs(process)["error.type"].AsString()},
	}
	want := []span{{"Error", "no_stream_response"}, {"Error", "systemic"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("send and process spans (-want +got):\n%s", diff)
	}
	if id := attrs(send)["messaging.message.id"].AsString(); !strings.HasSuffix(id, ":ingested") {
		t.Errorf("failed send span messaging.message.id %q, want the completion's id", id)
	}
}

// linkedTo returns the traceparents a span links to, in order.
func linkedTo(s tracetest.SpanStub) []string {
	var out []string
	for _, l := range s.Links {
		out = append(out, traceparentOf(l.SpanContext))
	}
	return out
}

// logRecord is one JSON log line.
type logRecord map[string]any

func logRecords(tb testing.TB, e *servicetest.Env) []logRecord {
	tb.Helper()
	var out []logRecord
	for line := range strings.Lines(e.Logs.String()) {
		var r logRecord
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			tb.Fatalf("log line is not JSON: %v: %q", err, line)
		}
		out = append(out, r)
	}
	return out
}

// TestLogsCarryTheTraceAndOneLinePerOutcome: every record logged while handling an event
// carries the trace and span ids of that event's trace; each outcome is one line with the
// event's id and source, the outcome, class, attempts, duration and asset id; nothing secret
// is logged.
func TestLogsCarryTheTraceAndOneLinePerOutcome(t *testing.T) {
	t.Parallel()
	// One event per request: a 503 fails a whole request, and only logged-flaky is to retry.
	e := servicetest.Start(t, servicetest.Options{Env: map[string]string{"AMPLIENCE_BATCH_SIZE": "1"}})
	e.Sandbox.AddFault(sandbox.Fault{Match: "logged-flaky", Times: 1, Status: 503})
	e.Publish(servicetest.NewEvent("logged-ok").Msg())
	e.Publish(servicetest.NewEvent("logged-flaky").Msg())
	bad := servicetest.NewEvent("logged-bad")
	bad.Data["src"] = "ftp://media.example-pim.com/x.jpg?sig=secret-signature"
	e.Publish(bad.Msg())

	e.WaitFor(10*time.Second, "every event settled", func() bool {
		return len(completions(t, e, "assets.ingested.")) == 2 && len(completions(t, e, "assets.failed.")) == 1 &&
			ackPending(t, e) == 0 && numPending(t, e) == 0
	})
	assetOf := map[string]string{}
	for _, c := range completions(t, e, "assets.ingested.") {
		assetOf[c.Data.EventID] = c.Data.AssetID
	}

	// The trace ids of every process span, by event id, and every span id exported.
	traces := map[string]map[string]bool{}
	spanIDs := map[string]bool{}
	e.WaitFor(5*time.Second, "four process spans", func() bool {
		clear(traces)
		n := 0
		for _, s := range e.Spans.GetSpans() {
			spanIDs[s.SpanContext.SpanID().String()] = true
			if s.Name != "process assets.published.*" {
				continue
			}
			id := attrs(s)["messaging.message.id"].AsString()
			if traces[id] == nil {
				traces[id] = map[string]bool{}
			}
			traces[id][s.SpanContext.TraceID().String()] = true
			n++
		}
		return n == 4
	})

	type outcomeLine struct{ outcome, class string }
	outcomes := map[string][]outcomeLine{}
	for _, r := range logRecords(t, e) {
		id, _ := r["event_id"].(string)
		if id == "" {
			continue
		}
		// Logged while handling the event: inside its process span.
		tid, _ := r["trace_id"].(string)
		sid, _ := r["span_id"].(string)
		if !traces[id][tid] || !spanIDs[sid] {
			t.Errorf("record %q of %s has trace_id %q span_id %q, want one of its process spans' trace and a span of it", r["msg"], id, tid, sid)
		}
		o, _ := r["outcome"].(string)
		if o == "" {
			continue
		}
		class, _ := r["class"].(string)
		outcomes[id] = append(outcomes[id], outcomeLine{o, class})
		for _, k := range []string{"event_source", "attempts", "duration_ms"} {
			if _, ok := r[k]; !ok {
				t.Errorf("outcome record %q of %s lacks %s: %v", r["msg"], id, k, r)
			}
		}
		if r["event_source"] != "pim://akeneo/test" {
			t.Errorf("outcome record of %s: event_source %v", id, r["event_source"])
		}
		switch o {
		case "ingested":
			if r["asset_id"] != assetOf[id] || assetOf[id] == "" {
				t.Errorf("ingested record of %s: asset_id %v, want %q", id, r["asset_id"], assetOf[id])
			}
		case "dead_lettered":
			if class == "" {
				t.Errorf("dead-lettered record of %s has no class", id)
			}
		}
	}
	want := map[string][]outcomeLine{
		"id-logged-ok":    {{"ingested", ""}},
		"id-logged-flaky": {{"retry", ""}, {"ingested", ""}},
		"id-logged-bad":   {{"dead_lettered", "invalid_event"}},
	}
	for id, w := range want {
		if fmt.Sprint(outcomes[id]) != fmt.Sprint(w) {
			t.Errorf("outcome records of %s: %v, want %v", id, outcomes[id], w)
		}
	}
	all := e.Logs.String()
	for _, secret := range []string{servicetest.ClientSecret, "secret-signature", "sig="} {
		if strings.Contains(all, secret) {
			t.Errorf("the logs contain %q", secret)
		}
	}
}
