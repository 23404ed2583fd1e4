package conformance

import (
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/events"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/servicetest"
)

// SPEC "Dead letters": header values are single lines (CR and LF become spaces). The NATS client
// also flattens values when it sends them, so this is checked where the headers are built.
func TestSpec_DeadLetters_HeaderValuesSingleLine(t *testing.T) {
	t.Parallel()
	orig := nats.Header{"X-Multi": {"a\r\nb"}, "Nats-Odd": {"c\nd"}, "traceparent": {"e\rf"}}
	h := events.DeadLetterHeader(orig, events.DeadLetter{
		Stream: "ASSETS", Sequence: 1, Subject: "assets.published.akeneo", Class: "rejected",
		Err: "line one\nline two\r\nline three", EventID: "id\nwith break", EventSource: "src\rwith break",
		FailedAt: time.Now(), PublishedAt: time.Now(),
	})
	if len(h) < 10 {
		t.Fatalf("only %d headers built: %v", len(h), h)
	}
	for k, vs := range h {
		for _, v := range vs {
			if strings.ContainsAny(v, "\r\n") {
				t.Errorf("%s = %q is not one line", k, v)
			}
		}
	}
	if got := h.Get("Ingest-Error"); got != "line one line two  line three" {
		t.Errorf("Ingest-Error %q, want CR and LF replaced by spaces", got)
	}
}

// rawPublish publishes a message with a raw header block through the NATS protocol, as a
// publisher whose client does not check header names would.
func rawPublish(t *testing.T, e *servicetest.Env, subject, headerLines string, body []byte) {
	t.Helper()
	if _, ok := newRawPublisher(t, e).publish(t, subject, headerLines, body); !ok {
		t.Fatal("the inbound stream refused the raw message")
	}
}

// SPEC "Dead letters": if the copy still cannot be published as specified, header names the
// client library refuses are dropped and listed in Ingest-Dropped-Headers.
func TestSpec_DeadLetters_UnsendableHeaderNamesListed(t *testing.T) {
	t.Parallel()
	e := start(t, nil, nil)
	body := invalidEvent("unsendable").Msg().Data
	rawPublish(t, e, "assets.published.akeneo", "Bad(Name): 1\r\nNats-Odd@Name: 2\r\nX-Fine: 3\r\n", body)
	dls := waitDeadLetters(t, e, 1)
	h := dls[0].Header
	got := strings.Split(h.Get("Ingest-Dropped-Headers"), ",")
	sort.Strings(got)
	if diff := cmp.Diff([]string{`"Bad(Name)"`, `"Ingest-Original-Nats-Odd@Name"`}, got); diff != "" {
		t.Errorf("Ingest-Dropped-Headers (-want +got):\n%s", diff)
	}
	if h.Get("X-Fine") != "3" || h.Get("Ingest-Error-Class") != "invalid_event" {
		t.Errorf("the rest of the dead letter is missing: %v", h)
	}
}

// SPEC "Dead letters": a body that would exceed the server's maximum payload is left out with
// Ingest-Body-Omitted: <bytes> (the inbound stream still holds it at Ingest-Original-Sequence).
func TestSpec_DeadLetters_OversizedBodyOmitted(t *testing.T) {
	t.Parallel()
	e := start(t, nil, nil)
	ev := invalidEvent("oversized")
	ev.Data["padding"] = strings.Repeat("p", int(e.NC.MaxPayload())-512) // fits inbound; not with the dead letter's headers
	msg := ev.Msg()
	seq := e.Publish(msg)
	dl := waitDeadLetterOf(t, e, seq)
	if diff := cmp.Diff([]any{itoa(len(msg.Data)), 0}, []any{dl.Header.Get("Ingest-Body-Omitted"), len(dl.Data)}); diff != "" {
		t.Errorf("Ingest-Body-Omitted and body size (-want +got):\n%s", diff)
	}
	s, err := e.JS.Stream(t.Context(), inboundStream)
	if err != nil {
		t.Fatal(err)
	}
	if orig, err := s.GetMsg(t.Context(), seq); err != nil || len(orig.Data) != len(msg.Data) {
		t.Errorf("the inbound stream no longer holds the body at %d: %v", seq, err)
	}
}
