package conformance

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/sandbox"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/servicetest"
)

// invalidEvent returns an event that fails validation (no data.name).
func invalidEvent(name string) servicetest.Event {
	ev := servicetest.NewEvent(name)
	delete(ev.Data, "name")
	return ev
}

// SPEC "Dead letters": a dead letter is published on assets.dlq.<source>; body: the original
// message body, byte for byte.
func TestSpec_DeadLetters_SubjectAndBodyByteForByte(t *testing.T) {
	t.Parallel()
	e := start(t, nil, nil)
	body := []byte("{ \"specversion\" : \"1.0\",\n\t\"id\":\"x\", \"source\":\"s\", \"type\":\"asset.published\", \"data\":{\"src\":1} }  ")
	seq := e.Publish(&nats.Msg{Subject: "assets.published.salsify", Data: body})
	dl := waitDeadLetterOf(t, e, seq)
	if dl.Subject != "assets.dlq.salsify" {
		t.Errorf("dead letter subject %q, want assets.dlq.salsify", dl.Subject)
	}
	if string(dl.Data) != string(body) {
		t.Errorf("dead letter body differs:\n got %q\nwant %q", dl.Data, body)
	}
}

// SPEC "Dead letters": header names are matched case-insensitively; inbound Ingest-* headers
// are dropped, so no publisher can forge the service's context.
func TestSpec_DeadLetters_ForgedIngestHeadersDropped(t *testing.T) {
	t.Parallel()
	e := start(t, nil, nil)
	ev := invalidEvent("forged")
	msg := ev.Msg()
	msg.Header["Ingest-Error-Class"] = []string{"forged"}
	msg.Header["INGEST-ATTEMPTS"] = []string{"99"}
	msg.Header["ingest-event-key"] = []string{"forged"}
	msg.Header["iNgEsT-oRiGiNaL-sUbJeCt"] = []string{"$JS.API.STREAM.DELETE.ASSETS"}
	msg.Header["Ingest-Custom"] = []string{"forged"}
	msg.Header["Ingest-Dropped-Headers"] = []string{"forged"}
	seq := e.Publish(msg)
	dl := waitDeadLetterOf(t, e, seq)

	want := map[string][]string{
		"Ingest-Error-Class":      {"invalid_event"},
		"Ingest-Attempts":         {"0"},
		"Ingest-Event-Key":        {keyOf(ev)},
		"Ingest-Original-Subject": {"assets.published.akeneo"},
		"Ingest-Custom":           nil,
		"Ingest-Dropped-Headers":  nil,
	}
	for name, vs := range want {
		if diff := cmp.Diff(vs, header(dl.Header, name)); diff != "" {
			t.Errorf("%s in any case (-want +got):\n%s", name, diff)
		}
	}
}

// SPEC "Dead letters": Ingest-Replay-Count, Ingest-Replay-Of and Ingest-Replay-Traceparent are
// kept when single-valued and well-formed.
func TestSpec_DeadLetters_ReplayHeadersKeptWhenWellFormed(t *testing.T) {
	t.Parallel()
	e := start(t, nil, nil)
	const tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	rows := []struct {
		name string
		in   nats.Header
		want map[string][]string
	}{
		{"well-formed", nats.Header{"Ingest-Replay-Count": {"2"}, "Ingest-Replay-Of": {"ASSETS_DLQ:7"}, "Ingest-Replay-Traceparent": {tp}},
			map[string][]string{"Ingest-Replay-Count": {"2"}, "Ingest-Replay-Of": {"ASSETS_DLQ:7"}, "Ingest-Replay-Traceparent": {tp}}},
		{"well-formed in another case", nats.Header{"ingest-replay-count": {"3"}, "INGEST-REPLAY-OF": {"ASSETS_DLQ:8"}},
			map[string][]string{"Ingest-Replay-Count": {"3"}, "Ingest-Replay-Of": {"ASSETS_DLQ:8"}, "Ingest-Replay-Traceparent": nil}},
		{"malformed", nats.Header{"Ingest-Replay-Count": {"-1"}, "Ingest-Replay-Of": {"no-sequence"}, "Ingest-Replay-Traceparent": {"00-zz"}},
			map[string][]string{"Ingest-Replay-Count": nil, "Ingest-Replay-Of": nil, "Ingest-Replay-Traceparent": nil}},
		{"multi-valued", nats.Header{"Ingest-Replay-Count": {"1", "2"}, "Ingest-Replay-Of": {"ASSETS_DLQ:1"}, "ingest-replay-of": {"ASSETS_DLQ:2"}},
			map[string][]string{"Ingest-Replay-Count": nil, "Ingest-Replay-Of": nil}},
	}
	seqs := make([]uint64, len(rows))
	for i, r := range rows {
		ev := invalidEvent("replay-headers-" + itoa(i))
		ev.Header = r.in
		seqs[i] = e.Publish(ev.Msg())
	}
	for i, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			dl := waitDeadLetterOf(t, e, seqs[i])
			for name, want := range r.want {
				if diff := cmp.Diff(want, header(dl.Header, name)); diff != "" {
					t.Errorf("%s (-want +got):\n%s", name, diff)
				}
			}
		})
	}
}

// SPEC "Dead letters": every Nats-* header is kept renamed as Ingest-Original-<name as spelled>
// and never re-sent, so a publisher's Nats-Expected-*, Nats-Msg-Id or Nats-TTL cannot make the
// copy fail or vanish; Nats-Msg-Id is then set to <stream>:<sequence> of the inbound message.
func TestSpec_DeadLetters_NatsHeadersRenamedNeverResent(t *testing.T) {
	t.Parallel()
	// The publisher's stream accepts per-message TTLs; the dead-letter stream the service
	// creates does not, so a re-sent Nats-TTL would make the dead letter fail.
	stream := inboundConfig()
	stream.AllowMsgTTL = true
	e := prepared(t, stream, nil)
	e.StartService()
	e.Sandbox.AddFault(sandbox.Fault{Match: "nats-rejected", Status: 400, GraphQLError: "refused", Code: "BAD_USER_INPUT"})

	rows := []struct {
		name string
		ev   servicetest.Event
	}{
		{"invalid_event", invalidEvent("nats-invalid")},
		{"rejected", servicetest.NewEvent("nats-rejected")},
	}
	for i, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			msg := r.ev.Msg()
			msg.Header["Nats-Expected-Stream"] = []string{inboundStream}
			msg.Header["Nats-Msg-Id"] = []string{"publisher-id-" + itoa(i)}
			msg.Header["Nats-TTL"] = []string{"1h"}
			msg.Header["NATS-Custom-thing"] = []string{"kept"}
			seq := e.Publish(msg)
			dl := waitDeadLetterOf(t, e, seq)
			want := map[string][]string{
				"Ingest-Original-Nats-Expected-Stream": {inboundStream},
				"Ingest-Original-Nats-Msg-Id":          {"publisher-id-" + itoa(i)},
				"Ingest-Original-Nats-TTL":             {"1h"},
				"Ingest-Original-NATS-Custom-thing":    {"kept"},
				"Nats-Msg-Id":                          {inboundStream + ":" + itoa(seq)},
			}
			for name, vs := range want {
				if diff := cmp.Diff(vs, dl.Header[name]); diff != "" {
					t.Errorf("%s as spelled (-want +got):\n%s", name, diff)
				}
			}
			for _, name := range []string{"Nats-Expected-Stream", "Nats-TTL", "NATS-Custom-thing"} {
				if got := header(dl.Header, name); got != nil {
					t.Errorf("%s was re-sent: %q", name, got)
				}
			}
		})
	}
}

// SPEC "Dead letters": traceparent/tracestate become the failed processing's, the publisher's
// values kept as Ingest-Original-Traceparent / -Tracestate.
func TestSpec_DeadLetters_TraceContextMovedAside(t *testing.T) {
	t.Parallel()
	e := start(t, nil, nil)
	const (
		traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
		tp      = "00-" + traceID + "-00f067aa0ba902b7-01"
		ts      = "vendor=opaque"
	)
	ev := invalidEvent("trace-aside")
	ev.Header = nats.Header{"Traceparent": {tp}, "TRACESTATE": {ts}}
	seq := e.Publish(ev.Msg())
	dl := waitDeadLetterOf(t, e, seq)
	if diff := cmp.Diff([][]string{{tp}, {ts}},
		[][]string{header(dl.Header, "Ingest-Original-Traceparent"), header(dl.Header, "Ingest-Original-Tracestate")}); diff != "" {
		t.Errorf("publisher's trace context (-want +got):\n%s", diff)
	}
	got := header(dl.Header, "traceparent")
	if len(got) != 1 || !strings.HasPrefix(got[0], "00-"+traceID+"-") || got[0] == tp {
		t.Fatalf("dead letter traceparent %q, want one value: a span of the processing in trace %s", got, traceID)
	}
	// The processing's span is the process span or a child of it: it is in the exported spans.
	spanID := got[0][36:52]
	e.WaitFor(wait, "the producer span", func() bool {
		for _, s := range e.Spans.GetSpans() {
			if s.SpanContext.SpanID().String() == spanID {
				return true
			}
		}
		return false
	})
}

// SPEC "Dead letters", the table of added headers, each written with Set: Nats-Msg-Id,
// Ingest-Error-Class, Ingest-Error, Ingest-Attempts, Ingest-Original-Subject/-Stream/-Sequence,
// Ingest-Event-Id/-Source (when the attribute is a non-empty string without NUL), Ingest-Event-Key
// (when both are set), Ingest-Published-At (the inbound message's JetStream time) and
// Ingest-Failed-At (the decision time), UTC, RFC 3339 with nanoseconds.
func TestSpec_DeadLetters_AddedHeaders(t *testing.T) {
	t.Parallel()
	e := start(t, nil, nil)
	e.Sandbox.AddFault(sandbox.Fault{Match: "added-rejected", Status: 400, GraphQLError: "Invalid src: not reachable", Code: "BAD_USER_INPUT"})

	rejected := servicetest.NewEvent("added-rejected")
	before := time.Now().UTC()
	seq := e.Publish(rejected.Msg())
	dl := waitDeadLetterOf(t, e, seq)
	after := time.Now().UTC()

	got := map[string][]string{}
	for _, name := range []string{"Nats-Msg-Id", "Ingest-Error-Class", "Ingest-Attempts", "Ingest-Original-Subject",
		"Ingest-Original-Stream", "Ingest-Original-Sequence", "Ingest-Event-Id", "Ingest-Event-Source", "Ingest-Event-Key"} {
		got[name] = header(dl.Header, name)
	}
	want := map[string][]string{
		"Nats-Msg-Id":              {inboundStream + ":" + itoa(seq)},
		"Ingest-Error-Class":       {"rejected"},
		"Ingest-Attempts":          {"1"},
		"Ingest-Original-Subject":  {"assets.published.akeneo"},
		"Ingest-Original-Stream":   {inboundStream},
		"Ingest-Original-Sequence": {itoa(seq)},
		"Ingest-Event-Id":          {rejected.ID},
		"Ingest-Event-Source":      {rejected.Source},
		"Ingest-Event-Key":         {keyOf(rejected)},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("headers (-want +got):\n%s", diff)
	}
	if msg := header(dl.Header, "Ingest-Error"); len(msg) != 1 || !strings.Contains(msg[0], "Invalid src: not reachable") {
		t.Errorf("Ingest-Error %q does not carry the API's message", msg)
	}

	s, err := e.JS.Stream(t.Context(), inboundStream)
	if err != nil {
		t.Fatal(err)
	}
	orig, err := s.GetMsg(t.Context(), seq)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{orig.Time.UTC().Format(time.RFC3339Nano)}, header(dl.Header, "Ingest-Published-At")); diff != "" {
		t.Errorf("Ingest-Published-At is not the inbound JetStream time (-want +got):\n%s", diff)
	}
	failedAt := header(dl.Header, "Ingest-Failed-At")
	if len(failedAt) != 1 || !strings.HasSuffix(failedAt[0], "Z") {
		t.Fatalf("Ingest-Failed-At %q, want one UTC value", failedAt)
	}
	at, err := time.Parse(time.RFC3339Nano, failedAt[0])
	if err != nil || at.Before(before) || at.After(after) {
		t.Errorf("Ingest-Failed-At %s (%v) is not the decision time, between %s and %s", failedAt[0], err, before, after)
	}
}

// SPEC "Dead letters": Ingest-Event-Id and Ingest-Event-Source are written when the attribute is
// a non-empty string without NUL; Ingest-Event-Key when both are set.
func TestSpec_DeadLetters_EventAttributesOnlyWhenUsable(t *testing.T) {
	t.Parallel()
	e := start(t, nil, nil)
	rows := []struct {
		name                 string
		body                 string
		id, source, keyWants bool
	}{
		{"both usable", `{"specversion":"1.0","id":"i1","source":"s1","type":"asset.published"}`, true, true, true},
		{"id missing", `{"specversion":"1.0","source":"s2","type":"asset.published"}`, false, true, false},
		{"id empty", `{"specversion":"1.0","id":"","source":"s3","type":"asset.published"}`, false, true, false},
		{"id not a string", `{"specversion":"1.0","id":5,"source":"s4","type":"asset.published"}`, false, true, false},
		{"source with NUL", `{"specversion":"1.0","id":"i5","source":"s\u0000x","type":"asset.published"}`, true, false, false},
	}
	seqs := make([]uint64, len(rows))
	for i, r := range rows {
		seqs[i] = e.Publish(&nats.Msg{Subject: "assets.published.akeneo", Data: []byte(r.body)})
	}
	for i, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			dl := waitDeadLetterOf(t, e, seqs[i])
			got := []bool{len(header(dl.Header, "Ingest-Event-Id")) == 1, len(header(dl.Header, "Ingest-Event-Source")) == 1,
				len(header(dl.Header, "Ingest-Event-Key")) == 1}
			if diff := cmp.Diff([]bool{r.id, r.source, r.keyWants}, got); diff != "" {
				t.Errorf("Ingest-Event-Id, -Source, -Key present (-want +got):\n%s", diff)
			}
		})
	}
}

// SPEC "Dead letters": Ingest-Error is one line, at most 1024 bytes, secrets and URL query strings
// redacted.
func TestSpec_DeadLetters_IngestErrorBoundedAndRedacted(t *testing.T) {
	t.Parallel()
	e := start(t, nil, nil)
	long := "bad input\nsee https://cdn.example.com/a.jpg?token=SECRETTOKEN for details " + strings.Repeat("x", 3000)
	e.Sandbox.AddFault(sandbox.Fault{Match: "long-error", Status: 400, GraphQLError: long, Code: "BAD_USER_INPUT"})
	seq := e.Publish(servicetest.NewEvent("long-error").Msg())
	dl := waitDeadLetterOf(t, e, seq)
	msg := dl.Header.Get("Ingest-Error")
	switch {
	case len(msg) > 1024:
		t.Errorf("Ingest-Error is %d bytes, want at most 1024", len(msg))
	case len(msg) < 100:
		t.Errorf("Ingest-Error %q lost the API's message", msg)
	case strings.Contains(msg, "SECRETTOKEN"):
		t.Errorf("Ingest-Error keeps a URL query string: %q", msg)
	case strings.ContainsAny(msg, "\r\n"):
		t.Errorf("Ingest-Error is not one line: %q", msg)
	}
}
