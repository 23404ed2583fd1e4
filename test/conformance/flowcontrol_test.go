package conformance

import (
	"testing"
	"time"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/sandbox"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/servicetest"
)

// SPEC "Flow control": a replica pulls no more messages than it has free slots
// (INGEST_CONCURRENCY).
func TestSpec_FlowControl_PullsNoMoreThanFreeSlots(t *testing.T) {
	t.Parallel()
	e := start(t, map[string]string{"INGEST_CONCURRENCY": "2"}, nil)
	e.Sandbox.AddFault(sandbox.Fault{Match: "slot-", Delay: 300 * time.Millisecond})
	for i := range 6 {
		e.Publish(servicetest.NewEvent("slot-" + itoa(i)).Msg())
	}
	most := 0
	e.WaitFor(wait, "six events ingested", func() bool {
		n := consumerInfo(t, e).NumAckPending
		if n > 2 {
			// The ack of a finished event and the pull for its slot travel separately
			// inside the server, so the pull may be served before the ack is counted. A
			// message pulled beyond the free slots would stay for the 300 ms its call
			// takes; a count the server has not caught up with is gone 50 ms later.
			time.Sleep(50 * time.Millisecond)
			n = consumerInfo(t, e).NumAckPending
		}
		most = max(most, n)
		return len(completions(t, e, "assets.ingested.")) == 6
	})
	if most > 2 {
		t.Errorf("%d messages pulled at once with INGEST_CONCURRENCY=2", most)
	}
	if most == 0 {
		t.Errorf("never saw a message in flight")
	}
}

// SPEC "Flow control": while a message waits for the rate budget or a call, InProgress is sent
// every INGEST_ACK_WAIT/3, so a wait longer than the ack wait causes no redelivery.
func TestSpec_FlowControl_InProgressWhileWaiting(t *testing.T) {
	t.Parallel()
	// Four events at one request (of one event) per second: the last waits about 3s for the
	// shared budget, three ack waits.
	e := start(t, map[string]string{"AMPLIENCE_RATE_LIMIT": "1/s", "INGEST_ACK_WAIT": "1s", "AMPLIENCE_TIMEOUT": "400ms", "AMPLIENCE_BATCH_SIZE": "1"}, nil)
	for i := range 4 {
		e.Publish(servicetest.NewEvent("waiting-" + itoa(i)).Msg())
	}
	waitCompletions(t, e, "assets.ingested.", 4)
	reqs := requests(e, "CreateAsset")
	if span := reqs[len(reqs)-1].Time.Sub(reqs[0].Time); span < 2*time.Second {
		t.Fatalf("the calls spread over %s only: the rate budget did not make anyone wait", span)
	}
	if ci := consumerInfo(t, e); ci.Delivered.Consumer != 4 {
		t.Errorf("%d deliveries of 4 events: an event waiting for the budget was redelivered", ci.Delivered.Consumer)
	}
	for _, c := range completions(t, e, "assets.ingested.") {
		if c.Data.Attempts != 1 {
			t.Errorf("%s: %d attempts", c.Data.Name, c.Data.Attempts)
		}
	}
}
