package service_test

import (
	"testing"
	"time"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/natstest"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/sandbox"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/servicetest"
)

// SPEC "The ledger": a pending claim left by an earlier attempt is reconciled before calling
// again, even when that attempt was given back because the probe failed: the call may have
// created the asset.
func TestAttemptGivenBackAfterAFailedProbeStillReconciles(t *testing.T) {
	t.Parallel()
	e := servicetest.Start(t, servicetest.Options{Env: map[string]string{"INGEST_MAX_ATTEMPTS": "1"}})
	e.Sandbox.AddFault(sandbox.Fault{Match: "maybe-created", Times: 1, Status: 500, CreateThenFail: true})
	e.Sandbox.AddFault(sandbox.Fault{Times: 1, Status: 503}) // the probe that follows fails
	e.Publish(servicetest.NewEvent("maybe-created").Msg())

	e.WaitFor(30*time.Second, "asset.ingested", func() bool { return len(completions(t, e, "assets.ingested.")) == 1 })
	if n := len(e.Sandbox.Assets()); n != 1 {
		t.Errorf("sandbox has %d assets, want exactly 1", n)
	}
	if n := e.Sandbox.Stats().CreateAssetCalls["maybe-created"]; n != 1 {
		t.Errorf("createAsset calls = %d, want 1: the redelivery must find the asset, not create another", n)
	}
	if n := len(e.Messages("ASSETS_DLQ")); n != 0 {
		t.Errorf("%d dead letters; the failure was the system's", n)
	}
}

// SPEC "The ledger": a live claim is one whose owner refreshed it within INGEST_ACK_WAIT. A
// call that takes a 401, a token refresh and a repeat (all within AMPLIENCE_TIMEOUT) keeps its
// claim live, so a second publication of the same event on another replica waits instead of
// calling too.
func TestClaimStaysLiveDuringARepeatedCall(t *testing.T) {
	t.Parallel()
	common := map[string]string{"INGEST_ACK_WAIT": "3s", "AMPLIENCE_TIMEOUT": "1900ms", "INGEST_CONCURRENCY": "1"}
	a := servicetest.Start(t, servicetest.Options{Env: common})
	envB := map[string]string{"AMPLIENCE_API_URL": a.SandboxURL + "/graphql", "AMPLIENCE_AUTH_URL": a.SandboxURL + "/oauth/token"}
	for k, v := range common {
		envB[k] = v
	}
	b := servicetest.Start(t, servicetest.Options{Server: a.Server, Env: envB, NoService: true})

	a.Sandbox.AddFault(sandbox.Fault{Match: "slow", Times: 1, Status: 401, Delay: 700 * time.Millisecond})
	a.Sandbox.AddFault(sandbox.Fault{Match: "slow", Times: 1, Delay: 700 * time.Millisecond})
	a.Publish(servicetest.NewEvent("slow").Msg())
	a.WaitFor(10*time.Second, "the first call", func() bool { return a.Sandbox.Stats().CreateAssetCalls["slow"] >= 1 })
	b.StartService()
	// While A's repeated call is still running.
	a.WaitFor(10*time.Second, "the repeat", func() bool { return a.Sandbox.Stats().CreateAssetCalls["slow"] >= 2 })
	a.Publish(servicetest.NewEvent("slow").Msg())

	a.WaitFor(30*time.Second, "both deliveries settled", func() bool {
		return ackPending(t, a) == 0 && numPending(t, a) == 0 && len(completions(t, a, "assets.ingested.")) >= 1
	})
	if n := len(a.Sandbox.Assets()); n != 1 {
		t.Errorf("sandbox has %d assets, want exactly 1", n)
	}
}

// SPEC "Configuration", AMPLIENCE_TIMEOUT: the timeout bounds the whole call, a repeat after a
// 401 included, so a replica cut off from NATS never calls past its claim. Replica A is cut off
// from NATS right after it claimed the event and sent its call; the API answers that call 401
// late, and A repeats it. Without the bound, the repeat outlives the claim: replica B takes the
// redelivery over, reconciles before A's asset exists, and creates a second one.
func TestReplicaCutOffFromNATSDoesNotCallPastItsClaim(t *testing.T) {
	t.Parallel()
	const ackWait, timeout = 6 * time.Second, 3900 * time.Millisecond
	common := map[string]string{"INGEST_ACK_WAIT": ackWait.String(), "AMPLIENCE_TIMEOUT": timeout.String(), "INGEST_CONCURRENCY": "1"}
	s := natstest.RunServer(t)
	proxy := natstest.NewProxy(t, s)
	envA := map[string]string{"NATS_URL": proxy.URL()}
	for k, v := range common {
		envA[k] = v
	}
	a := servicetest.Start(t, servicetest.Options{Server: s, Env: envA})
	envB := map[string]string{"AMPLIENCE_API_URL": a.SandboxURL + "/graphql", "AMPLIENCE_AUTH_URL": a.SandboxURL + "/oauth/token"}
	for k, v := range common {
		envB[k] = v
	}
	b := servicetest.Start(t, servicetest.Options{Server: s, Env: envB, NoService: true})

	// Each answer comes just within the timeout: the call and its repeat together do not.
	late := timeout - 100*time.Millisecond
	a.Sandbox.AddFault(sandbox.Fault{Match: "cut-off", Times: 1, Status: 401, Delay: late})
	a.Sandbox.AddFault(sandbox.Fault{Match: "cut-off", Times: 1, Delay: late})
	b.Publish(servicetest.NewEvent("cut-off").Msg())
	a.WaitFor(10*time.Second, "A's call", func() bool { return a.Sandbox.Stats().CreateAssetCalls["cut-off"] >= 1 })
	proxy.Cut()
	b.StartService()

	b.WaitFor(30*time.Second, "B to ingest the event", func() bool {
		return len(completions(t, b, "assets.ingested.")) == 1 && ackPending(t, b) == 0 && numPending(t, b) == 0
	})
	// A's repeat, had it been let through, would have created its asset by now.
	b.WaitFor(10*time.Second, "every call to end", func() bool {
		reqs := a.Sandbox.Requests()
		return time.Since(reqs[len(reqs)-1].Time) > late+time.Second
	})
	if n := len(a.Sandbox.Assets()); n != 1 {
		t.Errorf("sandbox has %d assets, want exactly 1", n)
	}
}
