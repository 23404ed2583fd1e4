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

// SPEC "What happens to one delivery": ingested, retried after a transient failure (network,
// timeout, HTTP 5xx), dead-lettered as rejected when the API refused the input (including a
// duplicate name it refuses, or a permission error while the probe passes). One row per answer.
func TestSpec_Delivery_OutcomeOfEachAnswer(t *testing.T) {
	t.Parallel()
	// One event per request, so that each row's answer is its own (see TestSpec_Batching_* for
	// the answers to a request carrying several events).
	e := start(t, map[string]string{"AMPLIENCE_BATCH_SIZE": "1"}, func(o *sandbox.Options) { o.DuplicateNames = sandbox.DuplicatesReject })
	atStart := e.Sandbox.Stats().ByOperation["Probe"] // the verification before the first pull
	e.Sandbox.AddFault(sandbox.Fault{Match: "answer-400", Status: 400, GraphQLError: "Invalid input", Code: "BAD_USER_INPUT"})
	e.Sandbox.AddFault(sandbox.Fault{Match: "answer-403", Status: 403})
	e.Sandbox.AddFault(sandbox.Fault{Match: "answer-500", Times: 2, Status: 500})
	e.Sandbox.AddFault(sandbox.Fault{Match: "answer-timeout", Times: 1, Delay: 3 * time.Second}) // AMPLIENCE_TIMEOUT is 2s
	e.Sandbox.AddFault(sandbox.Fault{Match: "answer-401-twice", Times: 2, Status: 401})
	e.Sandbox.AddFault(sandbox.Fault{Match: "answer-401", Times: 1, Status: 401})
	e.Sandbox.AddFault(sandbox.Fault{Match: "answer-200-naming-403", Status: 200, GraphQLError: "Request failed with status code 403"})
	seedAsset(t, e, "answer-duplicate")

	rows := []struct {
		name     string
		class    string // empty: ingested
		attempts int
		calls    int
	}{
		{"answer-ok", "", 1, 1},
		{"answer-400", "rejected", 1, 1},
		{"answer-403", "rejected", 1, 1},
		{"answer-duplicate", "rejected", 1, 2}, // the seed is the first call
		{"answer-500", "", 3, 3},
		{"answer-timeout", "", 2, 2},
		{"answer-401", "", 1, 2},       // one token refresh and one repeat: one attempt
		{"answer-401-twice", "", 2, 3}, // 401 after the refresh, the probe passes: transient
		{"answer-200-naming-403", "rejected", 1, 1},
	}
	for _, r := range rows {
		e.Publish(servicetest.NewEvent(r.name).Msg())
	}
	e.WaitFor(20*time.Second, "every event settled", func() bool {
		return len(completions(t, e, "assets.")) == len(rows)
	})
	byName := map[string]completion{}
	for _, c := range completions(t, e, "assets.") {
		byName[c.Data.Name] = c
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			c := byName[r.name]
			got := []any{c.Data.ErrorClass, c.Data.Attempts, e.Sandbox.Stats().CreateAssetCalls[r.name]}
			if diff := cmp.Diff([]any{r.class, r.attempts, r.calls}, got); diff != "" {
				t.Errorf("class, attempts, createAsset calls (-want +got):\n%s", diff)
			}
		})
	}
	if n := e.Sandbox.Stats().ByOperation["Probe"]; n == atStart {
		t.Errorf("a 403 was dead-lettered as rejected without a probe")
	}
}

// SPEC "What happens": INGEST_MAX_ATTEMPTS=N means at most N calls since the last replay, and the
// dead letter follows the Nth failed one (exhausted).
func TestSpec_Attempts_AtMostNCallsThenExhausted(t *testing.T) {
	t.Parallel()
	e := start(t, map[string]string{"INGEST_MAX_ATTEMPTS": "3"}, nil)
	e.Sandbox.AddFault(sandbox.Fault{Match: "doomed", Status: 503})
	seq := e.Publish(servicetest.NewEvent("doomed").Msg())
	dl := waitDeadLetterOf(t, e, seq)
	got := []any{dl.Header.Get("Ingest-Error-Class"), dl.Header.Get("Ingest-Attempts"), e.Sandbox.Stats().CreateAssetCalls["doomed"]}
	if diff := cmp.Diff([]any{"exhausted", "3", 3}, got); diff != "" {
		t.Errorf("class, attempts, calls (-want +got):\n%s", diff)
	}
	e.WaitFor(wait, "terminated", func() bool { return settled(t, e) })
	if ci := consumerInfo(t, e); ci.Delivered.Consumer != 3 {
		t.Errorf("%d deliveries, want 3: the dead letter follows the 3rd failed call", ci.Delivered.Consumer)
	}
}

// SPEC "What happens": a 429 is not the event's fault: it spends no attempt, and the message
// waits at least Retry-After.
func TestSpec_Attempts_429SpendsNoAttemptAndWaitsRetryAfter(t *testing.T) {
	t.Parallel()
	e := start(t, nil, nil)
	e.Sandbox.AddFault(sandbox.Fault{Match: "throttled", Times: 2, Status: 429, RetryAfter: "1"})
	e.Publish(servicetest.NewEvent("throttled").Msg())
	c := waitCompletions(t, e, "assets.ingested.", 1)[0]
	if c.Data.Attempts != 1 {
		t.Errorf("attempts %d after two 429s, want 1", c.Data.Attempts)
	}
	reqs := requests(e, "CreateAsset")
	if len(reqs) != 3 {
		t.Fatalf("%d createAsset requests, want 3", len(reqs))
	}
	for i := 1; i < len(reqs); i++ {
		if gap := reqs[i].Time.Sub(reqs[i-1].Time); gap < time.Second-50*time.Millisecond {
			t.Errorf("request %d came %s after a 429 with Retry-After: 1", i+1, gap)
		}
	}
}

// SPEC "What happens": a 429 lowers the shared request rate for max(Retry-After, 60 s) (with
// AMPLIENCE_RATE_LIMIT=0 it only delays that event).
func TestSpec_Attempts_429LowersTheSharedRate(t *testing.T) {
	t.Parallel()
	gaps := func(e *servicetest.Env, prefix string) []time.Duration {
		var times []time.Time
		for _, r := range requests(e, "CreateAsset") {
			if in, _ := r.Variables["input"].(map[string]any); strings.HasPrefix(in["name"].(string), prefix) {
				times = append(times, r.Time)
			}
		}
		var out []time.Duration
		for i := 1; i < len(times); i++ {
			out = append(out, times[i].Sub(times[i-1]))
		}
		return out
	}
	t.Run("shared limit halved", func(t *testing.T) {
		t.Parallel()
		// 20/s: one request (of one event) per 50ms; after the 429, one per 100ms at most.
		e := start(t, map[string]string{"AMPLIENCE_RATE_LIMIT": "20/s", "INGEST_CONCURRENCY": "8", "AMPLIENCE_BATCH_SIZE": "1"}, nil)
		e.Sandbox.AddFault(sandbox.Fault{Match: "first-429", Times: 1, Status: 429, RetryAfter: "1"})
		e.Publish(servicetest.NewEvent("first-429").Msg())
		e.WaitFor(wait, "the 429", func() bool { return e.Sandbox.Stats().TooManyRequests == 1 })
		for i := range 6 {
			e.Publish(servicetest.NewEvent("after-429-" + itoa(i)).Msg())
		}
		waitCompletions(t, e, "assets.ingested.", 7)
		// Six requests at one per 100ms span at least 500ms (at 20/s: 250ms); single gaps
		// jitter with the scheduler, so the span is what is checked.
		var span time.Duration
		for _, g := range gaps(e, "after-429-") {
			span += g
		}
		if span < 450*time.Millisecond {
			t.Errorf("six requests after a 429 spread over %s (%v), want the rate halved to one per 100ms", span, gaps(e, "after-429-"))
		}
	})
	t.Run("no limit: only that event waits", func(t *testing.T) {
		t.Parallel()
		e := start(t, map[string]string{"AMPLIENCE_RATE_LIMIT": "0"}, nil)
		e.Sandbox.AddFault(sandbox.Fault{Match: "alone-429", Times: 1, Status: 429, RetryAfter: "2"})
		e.Publish(servicetest.NewEvent("alone-429").Msg())
		e.WaitFor(wait, "the 429", func() bool { return e.Sandbox.Stats().TooManyRequests == 1 })
		at := time.Now()
		e.Publish(servicetest.NewEvent("other-event").Msg())
		e.WaitFor(wait, "the other event ingested", func() bool { return len(completions(t, e, "assets.ingested.")) >= 1 })
		if took := time.Since(at); took > 1500*time.Millisecond {
			t.Errorf("another event took %s behind a 429 with Retry-After 2 and no client-side limit", took)
		}
		waitCompletions(t, e, "assets.ingested.", 2)
		if g := gaps(e, "alone-429"); len(g) != 1 || g[0] < 2*time.Second-50*time.Millisecond {
			t.Errorf("the throttled event came back after %v, want at least its Retry-After", g)
		}
	})
}

// SPEC "What happens": the consumer's MaxDeliver is only a backstop; on a max-deliveries advisory
// the service fetches the message by sequence and reads the ledger: otherwise it is
// dead-lettered as exhausted with the ledger's attempt count; headers that reading the message by
// sequence adds, such as Nats-Sequence, are left out.
func TestSpec_Attempts_MaxDeliveriesAdvisoryDeadLettersExhausted(t *testing.T) {
	t.Parallel()
	// A 429 storm: every delivery is handed back without spending an attempt, so only
	// JetStream's MaxDeliver stops it.
	// The operator's inbound stream allows direct get, which adds Nats-* headers to a message
	// read by sequence.
	stream := inboundConfig()
	stream.AllowDirect = true
	e := prepared(t, stream, nil)
	e.Config.MaxDeliver, e.Config.MaxAttempts = 3, 3
	e.StartService()
	e.Sandbox.AddFault(sandbox.Fault{Match: "storm", Status: 429})
	ev := servicetest.NewEvent("storm")
	msg := ev.Msg()
	msg.Header.Set("Nats-Expected-Stream", inboundStream)
	seq := e.Publish(msg)
	dl := waitDeadLetterOf(t, e, seq)
	if diff := cmp.Diff([]string{"exhausted", "0"}, []string{dl.Header.Get("Ingest-Error-Class"), dl.Header.Get("Ingest-Attempts")}); diff != "" {
		t.Errorf("class and attempts (-want +got):\n%s", diff)
	}
	if len(e.Messages(advisoryStream)) == 0 {
		t.Errorf("the advisory stream recorded no max-deliveries advisory")
	}
	for name := range dl.Header {
		lower := strings.ToLower(name)
		for _, added := range []string{"nats-sequence", "nats-stream", "nats-subject", "nats-time-stamp", "nats-num-pending", "nats-last-sequence"} {
			if strings.HasSuffix(lower, "-"+added) || lower == added {
				t.Errorf("dead letter carries %s, which reading by sequence added", name)
			}
		}
	}
	if got := dl.Header.Get("Ingest-Original-Nats-Expected-Stream"); got != inboundStream {
		t.Errorf("the publisher's Nats-Expected-Stream was lost: %q", got)
	}
	if e.Sandbox.Stats().TooManyRequests < 3 {
		t.Errorf("only %d 429s: the event was not delivered MaxDeliver times", e.Sandbox.Stats().TooManyRequests)
	}
	waitCompletions(t, e, "assets.failed.", 1)
}

// SPEC "What happens": a max-deliveries advisory for a message that aged out of the inbound
// stream is reported as lost.
func TestSpec_Attempts_AdvisoryForAgedOutMessageReportedLost(t *testing.T) {
	t.Parallel()
	e := start(t, nil, nil)
	adv := nats.NewMsg("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.ASSETS.asset-ingest")
	adv.Data = []byte(`{"type":"io.nats.jetstream.advisory.v1.max_deliver","stream":"ASSETS","consumer":"asset-ingest","stream_seq":4242,"deliveries":100}`)
	if err := e.NC.PublishMsg(adv); err != nil {
		t.Fatal(err)
	}
	e.WaitFor(wait, "the loss logged", func() bool {
		return strings.Contains(e.Logs.String(), "lost") && strings.Contains(e.Logs.String(), "4242")
	})
	if n := len(e.Messages(dlqStream)); n != 0 {
		t.Errorf("%d dead letters for a message that is gone", n)
	}
}

// SPEC "attempt": a call whose attempt is given back because the system failed (its answer
// lost, then a failed probe) is still a call made. The asset it created, adopted by a later
// delivery through reconciliation, is reported with the call that created it.
func TestSpec_Attempts_CallWhoseAttemptWasGivenBackIsReported(t *testing.T) {
	t.Parallel()
	e := start(t, map[string]string{"INGEST_MAX_ATTEMPTS": "1"}, nil)
	// The call creates the asset and its answer is lost; the probe that follows fails too.
	e.Sandbox.AddFault(sandbox.Fault{Times: 2, Status: 500, CreateThenFail: true})
	ev := servicetest.NewEvent("given-back")
	e.Publish(ev.Msg())

	c := waitCompletions(t, e, "assets.ingested.", 1)[0]
	if assets := e.Sandbox.Assets(); len(assets) != 1 || c.Data.AssetID != assets[0].ID {
		t.Fatalf("%d assets; completion names %s", len(assets), c.Data.AssetID)
	}
	if c.Data.Attempts != 1 {
		t.Errorf("asset.ingested attempts = %d, want 1: one call created the asset", c.Data.Attempts)
	}
	if n := e.Sandbox.Stats().CreateAssetCalls["given-back"]; n != 1 {
		t.Errorf("%d createAsset calls, want 1", n)
	}
	if !strings.Contains(e.Logs.String(), "Amplience probe failed") {
		t.Errorf("the replica did not pause on the failed probe; the test proves nothing\nlogs:\n%s", e.Logs.String())
	}
}

// SPEC "attempt": Ingest-Attempts and the failed event's attempts report the calls made since
// the last replay, a call whose attempt was given back included; INGEST_MAX_ATTEMPTS limits
// the attempts charged.
func TestSpec_Attempts_DeadLetterReportsCallsMade(t *testing.T) {
	t.Parallel()
	e := start(t, map[string]string{"INGEST_MAX_ATTEMPTS": "1"}, nil)
	// The first call fails without creating anything and the probe that follows fails too:
	// the attempt is given back. The second call is refused.
	e.Sandbox.AddFault(sandbox.Fault{Match: "calls-made", Times: 1, Status: 500})
	e.Sandbox.AddFault(sandbox.Fault{Times: 1, Status: 503})
	e.Sandbox.AddFault(sandbox.Fault{Match: "calls-made", Status: 400, GraphQLError: "refused", Code: "BAD_USER_INPUT"})
	seq := e.Publish(servicetest.NewEvent("calls-made").Msg())

	dl := waitDeadLetterOf(t, e, seq)
	got := []string{dl.Header.Get("Ingest-Error-Class"), dl.Header.Get("Ingest-Attempts")}
	if diff := cmp.Diff([]string{"rejected", "2"}, got); diff != "" {
		t.Errorf("dead letter class and attempts (-want +got):\n%s", diff)
	}
	if c := waitCompletions(t, e, "assets.failed.", 1)[0]; c.Data.Attempts != 2 {
		t.Errorf("asset.ingest_failed attempts = %d, want 2", c.Data.Attempts)
	}
	if n := e.Sandbox.Stats().CreateAssetCalls["calls-made"]; n != 2 {
		t.Errorf("%d createAsset calls, want 2", n)
	}
}
