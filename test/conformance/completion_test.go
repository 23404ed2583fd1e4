package conformance

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/nats-io/nats.go"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/sandbox"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/servicetest"
)

// validTraceparent reports whether tp is a W3C version-00 traceparent.
func validTraceparent(tp string) bool {
	return len(tp) == 55 && strings.HasPrefix(tp, "00-") && tp[35] == '-' && tp[52] == '-' &&
		strings.Trim(tp[3:35], "0") != "" && strings.Trim(tp[36:52], "0") != ""
}

// SPEC "Completion events": asset.ingested on assets.ingested.<source>, structured CloudEvents
// JSON with traceparent and Nats-Msg-Id = the CloudEvents id <event key>:ingested; data: eventId,
// eventSource, assetId, name, assetRepositoryId, src (without its query string), attempts,
// durationMs.
func TestSpec_CompletionEvents_Ingested(t *testing.T) {
	t.Parallel()
	e := start(t, nil, nil)
	ev := servicetest.NewEvent("completion-ok")
	ev.Subject = "assets.published.inriver"
	ev.Data["src"] = "https://media.example-pim.com/exports/a.jpg?X-Amz-Signature=secret-signature#frag"
	e.Publish(ev.Msg())
	c := waitCompletions(t, e, "assets.ingested.", 1)[0]
	asset := e.Sandbox.Assets()[0]
	key := eventKey("inriver", ev.Source, ev.ID)

	if c.NATS.Subject != "assets.ingested.inriver" {
		t.Errorf("subject %q, want assets.ingested.inriver", c.NATS.Subject)
	}
	if diff := cmp.Diff([]string{c.ID}, c.NATS.Header[nats.MsgIdHdr]); diff != "" {
		t.Errorf("Nats-Msg-Id is not the CloudEvents id (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"application/cloudevents+json"}, header(c.NATS.Header, "content-type")); diff != "" {
		t.Errorf("Content-Type (-want +got):\n%s", diff)
	}
	if tp := header(c.NATS.Header, "traceparent"); len(tp) != 1 || !validTraceparent(tp[0]) {
		t.Errorf("traceparent %q", tp)
	}
	if _, err := time.Parse(time.RFC3339Nano, c.Time); err != nil {
		t.Errorf("time %q: %v", c.Time, err)
	}
	if c.Data.DurationMs == nil || *c.Data.DurationMs < 0 {
		t.Errorf("durationMs missing or negative: %v", c.Data.DurationMs)
	}
	want := completion{SpecVersion: "1.0", ID: key + ":ingested", Source: "urn:asset-ingest-consumer", Type: "asset.ingested",
		Subject: ev.Data["name"].(string), DataContentType: "application/json"}
	want.Data.EventID, want.Data.EventSource, want.Data.AssetID = ev.ID, ev.Source, asset.ID
	want.Data.Name, want.Data.AssetRepositoryID = "completion-ok", servicetest.Repository
	want.Data.Src, want.Data.Attempts = "https://media.example-pim.com/exports/a.jpg", 1
	if diff := cmp.Diff(want, c, cmpopts.IgnoreFields(completion{}, "Time", "NATS", "Data.DurationMs")); diff != "" {
		t.Errorf("asset.ingested (-want +got):\n%s", diff)
	}
}

// SPEC "Completion events": asset.ingest_failed on assets.failed.<source>, id
// <event key>:failed:<replay count> (<stream>:<sequence>:failed:<replay count> when the key could
// not be read; the replay count is 0 for an original delivery); data: eventId, eventSource, name,
// src, errorClass, error, attempts, dlqSequence.
func TestSpec_CompletionEvents_IngestFailed(t *testing.T) {
	t.Parallel()
	e := start(t, nil, nil)
	e.Sandbox.AddFault(sandbox.Fault{Match: "failed-rejected", Status: 400, GraphQLError: "refused by the API", Code: "BAD_USER_INPUT"})

	rejected := servicetest.NewEvent("failed-rejected")
	rejected.Subject = "assets.published.salsify"
	rejected.Data["src"] = "https://media.example-pim.com/r.jpg?sig=secret-signature"
	replayed := invalidEvent("failed-replayed")
	replayed.Header = nats.Header{"Ingest-Replay-Count": {"3"}}
	noKey := invalidEvent("failed-no-key")
	noKey.ID = ""

	seqRejected := e.Publish(rejected.Msg())
	seqReplayed := e.Publish(replayed.Msg())
	seqNoKey := e.Publish(noKey.Msg())
	waitCompletions(t, e, "assets.failed.", 3)
	byID := map[string]completion{}
	for _, c := range completions(t, e, "assets.failed.") {
		byID[c.ID] = c
	}
	dlqSeq := func(seq uint64) uint64 { return deadLetterOf(e, seq).Sequence }

	for _, tc := range []struct {
		name, id, subject string
		class             string
		src               string // checked when set: an invalid event's src may be unreadable
		attempts          int
		dlq               uint64
	}{
		{"rejected", eventKey("salsify", rejected.Source, rejected.ID) + ":failed:0", "assets.failed.salsify",
			"rejected", "https://media.example-pim.com/r.jpg", 1, dlqSeq(seqRejected)},
		{"replay count 3", keyOf(replayed) + ":failed:3", "assets.failed.akeneo",
			"invalid_event", "", 0, dlqSeq(seqReplayed)},
		{"no key", "ASSETS:" + itoa(seqNoKey) + ":failed:0", "assets.failed.akeneo",
			"invalid_event", "", 0, dlqSeq(seqNoKey)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, ok := byID[tc.id]
			if !ok {
				t.Fatalf("no asset.ingest_failed with id %s; have %v", tc.id, keys(byID))
			}
			src := c.Data.Src
			if tc.src == "" {
				src = ""
			}
			got := []any{c.NATS.Subject, c.Type, c.Source, c.Data.ErrorClass, c.Data.Attempts, c.Data.DLQSequence, src, c.NATS.Header.Get(nats.MsgIdHdr)}
			want := []any{tc.subject, "asset.ingest_failed", "urn:asset-ingest-consumer", tc.class, tc.attempts, tc.dlq, tc.src, tc.id}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("subject, type, source, class, attempts, dlqSequence, src, Nats-Msg-Id (-want +got):\n%s", diff)
			}
			if c.Data.Error == "" || c.Data.EventSource == "" {
				t.Errorf("error %q or eventSource %q missing", c.Data.Error, c.Data.EventSource)
			}
			if diff := cmp.Diff([]string{"application/cloudevents+json"}, header(c.NATS.Header, "content-type")); diff != "" {
				t.Errorf("Content-Type (-want +got):\n%s", diff)
			}
			if tp := header(c.NATS.Header, "traceparent"); len(tp) != 1 || !validTraceparent(tp[0]) {
				t.Errorf("traceparent %q", tp)
			}
		})
	}
	if c := byID[eventKey("salsify", rejected.Source, rejected.ID)+":failed:0"]; c.Data.EventID != rejected.ID || c.Data.Name != "failed-rejected" {
		t.Errorf("eventId %q name %q", c.Data.EventID, c.Data.Name)
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
