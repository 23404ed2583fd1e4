package service_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/sandbox"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/servicetest"
)

// On SIGTERM, deliveries still waiting for the shared request budget are handed back at once,
// their attempts given back, instead of holding the shutdown until their slot comes (with a
// per-minute budget that is longer than any grace period). Only calls already sent are drained.
func TestShutdownHandsBackWhatWaitsForTheBudget(t *testing.T) {
	t.Parallel()
	// Two requests a minute, one event per request: the probe at start takes the first slot (with no default
	// repository it searches none), the first event is called 30s later, the others wait. The
	// drain timeout is AckWait/2 = 10s, so a shutdown that waited for them would show.
	a := servicetest.Start(t, servicetest.Options{Env: map[string]string{
		"AMPLIENCE_RATE_LIMIT": "2/m", "INGEST_CONCURRENCY": "8", "INGEST_ACK_WAIT": "20s", "AMPLIENCE_ASSET_REPOSITORY_ID": "", "AMPLIENCE_BATCH_SIZE": "1",
	}})
	const n = 8
	for i := range n {
		ev := servicetest.NewEvent(fmt.Sprintf("budget-%d", i))
		ev.Data["assetRepositoryId"] = servicetest.Repository
		a.Publish(ev.Msg())
	}
	a.WaitFor(45*time.Second, "one event ingested and the others waiting for the budget", func() bool {
		return a.Sandbox.Stats().ByRootField["createAsset"] == 1 && ackPending(t, a) == n-1 && numPending(t, a) == 0
	})

	start := time.Now()
	if err := a.Stop(); err != nil {
		t.Fatalf("service stopped with an error: %v", err)
	}
	took := time.Since(start)
	logs := a.Logs.String()
	if strings.Contains(logs, "did not finish in time") {
		t.Errorf("the shutdown waited out the drain timeout (%v):\n%s", took, logs)
	}
	if took > 5*time.Second {
		t.Errorf("the shutdown took %v; deliveries waiting for the budget held it", took)
	}
	if got := strings.Count(logs, "stopped before the call was sent"); got != n-1 {
		t.Errorf("%d deliveries handed back as not sent, want %d:\n%s", got, n-1, logs)
	}
	if got := a.Sandbox.Stats().ByRootField["createAsset"]; got != 1 {
		t.Errorf("%d createAsset calls before the shutdown ended, want 1", got)
	}

	// A new replica (without a budget, so as not to wait a minute per event) ingests every
	// event once, each with the one attempt it made: the handed-back deliveries gave theirs back.
	b := servicetest.Start(t, servicetest.Options{Server: a.Server, NoService: true, Env: map[string]string{
		"AMPLIENCE_API_URL": a.SandboxURL + "/graphql", "AMPLIENCE_AUTH_URL": a.SandboxURL + "/oauth/token",
	}})
	b.StartService()
	b.WaitFor(30*time.Second, "every event ingested", func() bool { return len(completions(t, b, "assets.ingested.")) == n })
	for i := range n {
		name := fmt.Sprintf("budget-%d", i)
		if calls := a.Sandbox.Stats().CreateAssetCalls[name]; calls != 1 {
			t.Errorf("%s: %d createAsset calls, want 1", name, calls)
		}
	}
	for _, c := range completions(t, b, "assets.ingested.") {
		if c.Data.Attempts != 1 {
			t.Errorf("%s: asset.ingested says %d attempts, want 1", c.Data.Name, c.Data.Attempts)
		}
	}
}

// SPEC "attempt": a redelivery caused by shutdown spends no attempt, but the call stays a call
// made that may have created the asset. The only attempt fails with a 503 after the shutdown
// began, so the probe cannot judge it: the replica does not pause, gives the attempt back, and
// the next replica reconciles, finds nothing, and calls again within INGEST_MAX_ATTEMPTS=1,
// reporting both calls.
func TestFailureDuringShutdownGivesTheAttemptBack(t *testing.T) {
	t.Parallel()
	a := servicetest.Start(t, servicetest.Options{Env: map[string]string{
		"AMPLIENCE_RATE_LIMIT": "100/s", "INGEST_MAX_ATTEMPTS": "1", "INGEST_ACK_WAIT": "20s",
	}})
	a.Sandbox.AddFault(sandbox.Fault{Match: "last-try", Times: 1, Status: 503, Delay: 1500 * time.Millisecond})
	a.Publish(servicetest.NewEvent("last-try").Msg())
	a.WaitFor(10*time.Second, "the call", func() bool { return a.Sandbox.Stats().CreateAssetCalls["last-try"] == 1 })
	if err := a.Stop(); err != nil {
		t.Fatalf("service stopped with an error: %v", err)
	}
	logs := a.Logs.String()
	if !strings.Contains(logs, "stopping before the probe was sent") {
		t.Errorf("the failed call was not handed back as unprobed:\n%s", logs)
	}
	if strings.Contains(logs, "replica paused") {
		t.Errorf("the replica paused while stopping:\n%s", logs)
	}

	b := servicetest.Start(t, servicetest.Options{Server: a.Server, NoService: true, Env: map[string]string{
		"AMPLIENCE_API_URL": a.SandboxURL + "/graphql", "AMPLIENCE_AUTH_URL": a.SandboxURL + "/oauth/token",
		"INGEST_MAX_ATTEMPTS": "1",
	}})
	b.StartService()
	b.WaitFor(30*time.Second, "the event's outcome", func() bool {
		return len(completions(t, b, "assets.failed."))+len(completions(t, b, "assets.ingested.")) == 1
	})
	if calls := a.Sandbox.Stats().CreateAssetCalls["last-try"]; calls != 2 {
		t.Errorf("%d createAsset calls, want 2 (the attempt cut short by the shutdown was given back)", calls)
	}
	ingested := completions(t, b, "assets.ingested.")
	if len(ingested) != 1 || ingested[0].Data.Attempts != 2 {
		t.Errorf("asset.ingested events %+v; want one, reporting the 2 calls made", ingested)
	}
	if n := len(a.Sandbox.Assets()); n != 1 {
		t.Errorf("%d assets, want 1", n)
	}
}
