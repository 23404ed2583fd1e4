package conformance

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/events"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/sandbox"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/servicetest"
)

const (
	publisherTP = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	failedTP    = "00-1af7651916cd43dd8448eb211c80319c-c7ad6b7169203331-01"
)

// SPEC "Replay": it sends the dead letter's headers minus every Nats-*, Ingest-*, traceparent and
// tracestate header; Ingest-Original-Traceparent / -Tracestate restored under their own names
// (nothing when absent); plus Ingest-Replay-Count (1 + the dead letter's decimal value, 0 when
// absent or malformed), Ingest-Replay-Of, Ingest-Replay-Traceparent (the dead letter's
// traceparent), and Nats-Msg-Id: replay:<dlq stream>:<dlq sequence>.
func TestSpec_Replay_Headers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		dl   nats.Header
		want nats.Header
	}{
		{"full", nats.Header{
			"X-Custom": {"kept"}, "Nats-Msg-Id": {"ASSETS:5"}, "nats-expected-stream": {"ASSETS"}, "Ingest-Error-Class": {"rejected"},
			"Ingest-Original-Nats-TTL": {"1h"}, "traceparent": {failedTP}, "tracestate": {"failed=1"},
			"Ingest-Original-Traceparent": {publisherTP}, "ingest-original-tracestate": {"publisher=1"},
			"Ingest-Replay-Count": {"2"}, "Ingest-Original-Subject": {"assets.published.akeneo"},
		}, nats.Header{
			"X-Custom": {"kept"}, "traceparent": {publisherTP}, "tracestate": {"publisher=1"},
			"Ingest-Replay-Count": {"3"}, "Ingest-Replay-Of": {"ASSETS_DLQ:9"}, "Ingest-Replay-Traceparent": {failedTP},
			"Nats-Msg-Id": {"replay:ASSETS_DLQ:9"},
		}},
		{"no trace, no count", nats.Header{"Ingest-Error-Class": {"invalid_event"}}, nats.Header{
			"Ingest-Replay-Count": {"1"}, "Ingest-Replay-Of": {"ASSETS_DLQ:9"}, "Nats-Msg-Id": {"replay:ASSETS_DLQ:9"},
		}},
		{"malformed count", nats.Header{"Ingest-Replay-Count": {"two"}}, nats.Header{
			"Ingest-Replay-Count": {"1"}, "Ingest-Replay-Of": {"ASSETS_DLQ:9"}, "Nats-Msg-Id": {"replay:ASSETS_DLQ:9"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tc.want, events.ReplayHeader(tc.dl, "ASSETS_DLQ", 9)); diff != "" {
				t.Errorf("replay headers (-want +got):\n%s", diff)
			}
		})
	}
}

// SPEC "Replay": it publishes to Ingest-Original-Subject, only if that subject matches the
// inbound stream's subjects and does not start with $ (otherwise that dead letter is refused).
func TestSpec_Replay_Target(t *testing.T) {
	t.Parallel()
	inbound := []string{"assets.published.>"}
	for _, tc := range []struct {
		name, subject string
		ok            bool
	}{
		{"inbound subject", "assets.published.akeneo", true},
		{"system subject", "$JS.API.STREAM.DELETE.ASSETS", false},
		{"outside the inbound stream", "assets.dlq.akeneo", false},
		{"wildcard", "assets.published.*", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := events.ReplayTarget(nats.Header{"Ingest-Original-Subject": {tc.subject}}, inbound)
			if tc.ok && (err != nil || got != tc.subject) {
				t.Errorf("ReplayTarget = %q, %v; want %q", got, err, tc.subject)
			}
			if !tc.ok && !errors.Is(err, events.ErrReplayRefused) {
				t.Errorf("ReplayTarget = %q, %v; want refused", got, err)
			}
		})
	}
	if _, err := events.ReplayTarget(nats.Header{}, inbound); !errors.Is(err, events.ErrReplayRefused) {
		t.Errorf("a dead letter without Ingest-Original-Subject was not refused: %v", err)
	}
}

// replay publishes the replay of dead letter dl as `consumer dlq replay` does and returns the
// inbound acknowledgement.
func replay(t *testing.T, e *servicetest.Env, dl *jetstream.RawStreamMsg) *jetstream.PubAck {
	t.Helper()
	subject, err := events.ReplayTarget(dl.Header, []string{"assets.published.>"})
	if err != nil {
		t.Fatal(err)
	}
	ack, err := e.JS.PublishMsg(t.Context(), &nats.Msg{Subject: subject, Header: events.ReplayHeader(dl.Header, dlqStream, dl.Sequence), Data: dl.Data})
	if err != nil {
		t.Fatal(err)
	}
	return ack
}

// SPEC "Replay" and "The ledger": a replayed event has a fresh budget of INGEST_MAX_ATTEMPTS; its
// dead letter and asset.ingest_failed carry the replay count; a replay repeated within the
// duplicate window is dropped; Ingest-Attempts counts calls since the last replay.
func TestSpec_Replay_FreshBudgetAndReplayCount(t *testing.T) {
	t.Parallel()
	e := start(t, nil, nil)
	e.Sandbox.AddFault(sandbox.Fault{Match: "replay-e2e", Times: 2, Status: 400, GraphQLError: "refused", Code: "BAD_USER_INPUT"})
	ev := servicetest.NewEvent("replay-e2e")
	key := keyOf(ev)

	dl1 := waitDeadLetterOf(t, e, e.Publish(ev.Msg()))
	ack := replay(t, e, dl1)
	if again := replay(t, e, dl1); !again.Duplicate {
		t.Errorf("a second replay of dead letter %d within the window was stored again", dl1.Sequence)
	}
	dl2 := waitDeadLetterOf(t, e, ack.Sequence)
	got := []string{dl2.Header.Get("Ingest-Replay-Count"), dl2.Header.Get("Ingest-Replay-Of"), dl2.Header.Get("Ingest-Attempts"), dl2.Header.Get("Ingest-Error-Class")}
	if diff := cmp.Diff([]string{"1", "ASSETS_DLQ:" + itoa(dl1.Sequence), "1", "rejected"}, got); diff != "" {
		t.Errorf("second dead letter: replay count, replay of, attempts, class (-want +got):\n%s", diff)
	}

	// SPEC "What happens": the ledger entry becomes dead (class, dead-letter sequence, replay count).
	e.WaitFor(wait, "the ledger to record the second dead letter", func() bool {
		entry, _ := getEntry(t, e, key)
		return entry.State == "dead" && entry.Class == "rejected" && entry.DLQSequence == dl2.Sequence && entry.ReplayCount == 1
	})
	replay(t, e, dl2)
	c := waitCompletions(t, e, "assets.ingested.", 1)[0]
	if c.Data.Attempts != 1 {
		t.Errorf("attempts %d after the second replay, want 1", c.Data.Attempts)
	}
	ids := map[string]bool{}
	for _, f := range completions(t, e, "assets.failed.") {
		ids[f.ID] = true
	}
	if diff := cmp.Diff(map[string]bool{key + ":failed:0": true, key + ":failed:1": true}, ids); diff != "" {
		t.Errorf("asset.ingest_failed ids (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"CreateAsset", "FindAssetsByName", "CreateAsset", "FindAssetsByName", "CreateAsset"}, callsFor(e, "replay-e2e")); diff != "" {
		t.Errorf("calls: each replay reconciles before calling (-want +got):\n%s", diff)
	}
}

// Issue "A forged Ingest-Replay-Count makes the event unreplayable": a publisher's count too
// large for one more to be read keeps its event replayable, since the replay names the very
// dead letter the ledger records.
func TestSpec_Replay_ForgedReplayCountStaysReplayable(t *testing.T) {
	t.Parallel()
	e := start(t, nil, nil)
	e.Sandbox.AddFault(sandbox.Fault{Match: "forged-count", Times: 1, Status: 400, GraphQLError: "refused", Code: "BAD_USER_INPUT"})
	ev := servicetest.NewEvent("forged-count")
	ev.Header = nats.Header{"Ingest-Replay-Count": {"999999999"}}
	key := keyOf(ev)

	dl := waitDeadLetterOf(t, e, e.Publish(ev.Msg()))
	e.WaitFor(wait, "the ledger to record the dead letter", func() bool {
		entry, _ := getEntry(t, e, key)
		return entry.State == "dead" && entry.DLQSequence == dl.Sequence
	})
	replay(t, e, dl)
	c := waitCompletions(t, e, "assets.ingested.", 1)[0]
	if c.Data.Attempts != 1 {
		t.Errorf("attempts %d after the replay, want 1", c.Data.Attempts)
	}
	entry, _ := getEntry(t, e, key)
	if entry.State != "created" || entry.ReplayCount <= 999999999 {
		t.Errorf("ledger entry state %s, replay count %d; want created, with a count above the forged one", entry.State, entry.ReplayCount)
	}
}
