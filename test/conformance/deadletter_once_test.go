package conformance

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/ledger"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/servicetest"
)

// SPEC "Dead letters": a dead letter is published once: a delivery that finds the ledger
// already recording its stored dead letter does not publish another. The failure event is
// still published, with the recorded sequence, and the message terminated.
func TestSpec_DeadLetters_RecordedDeadLetterNotPublishedAgain(t *testing.T) {
	t.Parallel()
	e := start(t, nil, nil)
	ev := servicetest.NewEvent("dead-recorded")
	key := keyOf(ev)
	putEntry(t, e, key, ledger.Entry{
		State: ledger.StateDead, Class: "rejected", Error: "refused earlier", Attempts: 1,
		FailedAt: time.Now().UTC(), DLQSequence: 41,
	})
	e.Publish(ev.Msg())
	failed := waitCompletions(t, e, "assets.failed.", 1)
	if got := failed[0].Data.DLQSequence; got != 41 {
		t.Errorf("asset.ingest_failed dlqSequence %d, want the recorded 41", got)
	}
	e.WaitFor(wait, "the message settled", func() bool { return settled(t, e) })
	if n := len(e.Messages(dlqStream)); n != 0 {
		t.Errorf("%d dead letters published for an event whose dead letter the ledger records", n)
	}
}

// SPEC "Dead letters", published once, for an invalid event: the failure event could not be
// published for longer than the dead-letter stream's duplicate window (the results stream was
// gone); the redelivery after the pause publishes no second dead letter.
func TestSpec_DeadLetters_InvalidEventDeadLetteredOnceAcrossAnOutage(t *testing.T) {
	t.Parallel()
	e := servicetest.Start(t, servicetest.Options{NoService: true})
	ctx := context.Background()
	// A dead-letter stream whose duplicate window the outage outlasts.
	if _, err := e.JS.CreateStream(ctx, jetstream.StreamConfig{
		Name: dlqStream, Subjects: []string{"assets.dlq.>"}, Duplicates: 100 * time.Millisecond,
	}); err != nil {
		t.Fatal(err)
	}
	e.StartService()
	results, err := e.JS.Stream(ctx, resultsStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := results.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.JS.DeleteStream(ctx, resultsStream); err != nil {
		t.Fatal(err)
	}
	seq := e.Publish(invalidEvent("invalid-across-outage").Msg())
	waitDeadLetterOf(t, e, seq)
	e.WaitFor(wait, "the replica paused", func() bool {
		return strings.Contains(e.Logs.String(), "publishing asset.ingest_failed")
	})
	time.Sleep(300 * time.Millisecond) // outlast the dead-letter stream's duplicate window
	if _, err := e.JS.CreateStream(ctx, info.Config); err != nil {
		t.Fatal(err)
	}
	waitCompletions(t, e, "assets.failed.", 1)
	e.WaitFor(wait, "the message settled", func() bool { return settled(t, e) })
	if n := len(e.Messages(dlqStream)); n != 1 {
		t.Errorf("%d dead letters for one invalid event, want 1", n)
	}
}
