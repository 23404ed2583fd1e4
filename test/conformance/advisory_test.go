package conformance

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/ledger"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/servicetest"
)

// startWithPausedConsumer runs the service over an operator's advisory stream that captures the
// max-deliveries advisories of every consumer on the inbound stream, with the service's durable
// consumer paused (a pause the service did not set and never lifts), so that only advisories
// reach the pipeline until the test resumes it.
func startWithPausedConsumer(t *testing.T) (*servicetest.Env, jetstream.Stream) {
	t.Helper()
	e := prepared(t, inboundConfig(), &jetstream.ConsumerConfig{
		Durable: durable, AckPolicy: jetstream.AckExplicitPolicy, DeliverPolicy: jetstream.DeliverAllPolicy,
		AckWait: 5 * time.Second, MaxDeliver: 100, MaxAckPending: 1000, PauseUntil: ptr(time.Now().Add(time.Hour)),
	})
	ctx := context.Background()
	if _, err := e.JS.CreateStream(ctx, jetstream.StreamConfig{
		Name: advisoryStream, Subjects: []string{"$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.ASSETS.*"},
	}); err != nil {
		t.Fatal(err)
	}
	inbound, err := e.JS.Stream(ctx, inboundStream)
	if err != nil {
		t.Fatal(err)
	}
	return e, inbound
}

func ptr[T any](v T) *T { return &v }

// waitAdvisoriesHandled waits until the service's advisory consumer has settled every
// advisory in the advisory stream.
func waitAdvisoriesHandled(t *testing.T, e *servicetest.Env) {
	t.Helper()
	e.WaitFor(wait, "the advisories handled", func() bool {
		c, err := e.JS.Consumer(context.Background(), advisoryStream, durable+"-advisories")
		if err != nil {
			return false
		}
		ci, err := c.Info(context.Background())
		return err == nil && ci.NumPending == 0 && ci.NumAckPending == 0 && ci.Delivered.Stream > 0
	})
}

// Issue: act only on max-deliveries advisories for the service's stream and durable. An
// operator's audit consumer on ASSETS with MaxDeliver 1 gives up on an event at once; its
// advisory, captured in the same advisory stream, must not dead-letter the event, which this
// service then ingests.
func TestSpec_Advisories_OtherConsumersAdvisoryIgnored(t *testing.T) {
	t.Parallel()
	e, inbound := startWithPausedConsumer(t)
	ctx := context.Background()
	audit, err := inbound.CreateConsumer(ctx, jetstream.ConsumerConfig{
		Durable: "audit", AckPolicy: jetstream.AckExplicitPolicy, AckWait: 100 * time.Millisecond, MaxDeliver: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	ev := servicetest.NewEvent("audited")
	e.Publish(ev.Msg())
	// The audit consumer takes the event and never acks it: JetStream gives up on it there.
	e.WaitFor(wait, "the audit consumer's max-deliveries advisory", func() bool {
		b, err := audit.Fetch(1, jetstream.FetchMaxWait(200*time.Millisecond))
		if err == nil {
			for range b.Messages() {
			}
		}
		return len(e.Messages(advisoryStream)) > 0
	})
	e.StartService()
	waitAdvisoriesHandled(t, e)
	if n := len(e.Messages(dlqStream)); n != 0 {
		t.Fatalf("the audit consumer's advisory dead-lettered %d events\nlogs:\n%s", n, e.Logs.String())
	}
	if _, err := e.JS.ResumeConsumer(ctx, inboundStream, durable); err != nil {
		t.Fatal(err)
	}
	waitCompletions(t, e, "assets.ingested.", 1)
	if n := len(e.Messages(dlqStream)); n != 0 {
		t.Errorf("%d dead letters for an ingested event", n)
	}
}

// Issue: compare the advisory with the ledger, so that an old advisory read again cannot end a
// newer replay's retries. The original message was dead-lettered and replayed; the replay's
// claim is between retries (not live) when the original's advisory is read again.
func TestSpec_Advisories_OldAdvisoryDoesNotEndAReplay(t *testing.T) {
	t.Parallel()
	e, _ := startWithPausedConsumer(t)
	e.StartService()
	ev := servicetest.NewEvent("replayed-later")
	seq := e.Publish(ev.Msg())
	key := keyOf(ev)
	putEntry(t, e, key, ledger.Entry{
		State: ledger.StatePending, Owner: "replica-gone", Heartbeat: time.Now().Add(-time.Hour).UTC(),
		Attempts: 1, FirstAttempt: time.Now().Add(-time.Hour).UTC(), ReplayCount: 1,
	})
	b, _ := json.Marshal(map[string]any{
		"type": "io.nats.jetstream.advisory.v1.max_deliver", "stream": inboundStream, "consumer": durable,
		"stream_seq": seq, "deliveries": 100,
	})
	adv := nats.NewMsg("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.ASSETS." + durable)
	adv.Data = b
	if err := e.NC.PublishMsg(adv); err != nil {
		t.Fatal(err)
	}
	waitAdvisoriesHandled(t, e)
	if n := len(e.Messages(dlqStream)); n != 0 {
		t.Errorf("the original's advisory dead-lettered the replayed event (%d dead letters)", n)
	}
	entry, _ := getEntry(t, e, key)
	if entry.State != ledger.StatePending || entry.ReplayCount != 1 {
		t.Errorf("the replay's entry became %s at replay count %s", entry.State, strconv.Itoa(entry.ReplayCount))
	}
}
