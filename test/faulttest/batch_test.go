package faulttest_test

import (
	"log/slog"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/broker"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/sandbox"
)

// publishBacklog creates the service's JetStream resources and publishes one event per name,
// so that the service finds a backlog when it starts and sends it in batches.
func (r *rig) publishBacklog(names []string) {
	r.t.Helper()
	if _, err := broker.Ensure(r.t.Context(), r.JS, r.Config.Resources(), slog.New(slog.DiscardHandler)); err != nil {
		r.t.Fatalf("creating the resources: %v", err)
	}
	r.publish(names...)
}

// Killing `consumer run` with SIGKILL while requests carrying several events are in flight,
// several times, loses no event and creates no asset twice: every member was claimed, with its
// attempt counted, before the request, and each redelivery reconciles before calling again.
func TestSIGKILLWithBatchesInFlight(t *testing.T) {
	t.Parallel()
	r := newRig(t, rigOptions{
		Subprocess: true, MinLatency: 10 * time.Millisecond, MaxLatency: 40 * time.Millisecond,
		// Each createAsset field takes 2ms: a kill lands before, during or after a batch runs.
		Sandbox: func(o *sandbox.Options) { o.FieldTime = 2 * time.Millisecond },
		Env:     map[string]string{"AMPLIENCE_BATCH_SIZE": "25"},
	})
	all := names("batch-kill", 300)
	r.publishBacklog(all)
	r.startChild(nil)

	kills := 3 + r.rng.IntN(2)
	for i := range kills {
		total, _ := r.proxy.batchCounts()
		r.waitFor(15*time.Second, "a batch in flight before kill "+itoa(i+1), func() bool {
			n, inFlight := r.proxy.batchCounts()
			return n > total && inFlight > 0
		})
		time.Sleep(time.Duration(r.rng.IntN(60)) * time.Millisecond) // where the kill lands, not synchronisation
		r.killChild()
		r.startChild(nil)
	}
	r.waitSettled(60*time.Second, len(all), 0)
	r.stopChild()
	r.check(r.tally(), all, nil)
	stats := r.Sandbox.Stats()
	if stats.ByRootField["assetSearch"] == 0 {
		t.Errorf("no reconciliation after %d kills with batches in flight", kills)
	}
	total, _ := r.proxy.batchCounts()
	t.Logf("%d kills; %d requests carrying several events; %d createAsset fields, %d reconciliation searches",
		kills, total, stats.ByRootField["createAsset"], stats.ByRootField["assetSearch"])
}

// Requests carrying several events that fail as a whole (500s, hangs cut by AMPLIENCE_TIMEOUT)
// fail each member, as for a single call: every event is retried until it is ingested, once,
// and none is dead-lettered.
func TestWholeBatchesFailing(t *testing.T) {
	t.Parallel()
	r := newRig(t, rigOptions{
		Subprocess: true, MinLatency: 5 * time.Millisecond, MaxLatency: 20 * time.Millisecond,
		Env: map[string]string{"AMPLIENCE_BATCH_SIZE": "25", "AMPLIENCE_TIMEOUT": "1s", "INGEST_ACK_WAIT": "2s"},
	})
	r.Sandbox.AddFault(sandbox.Fault{Match: "whole", Status: http.StatusInternalServerError, Times: 3})
	r.Sandbox.AddFault(sandbox.Fault{Match: "whole", Hang: true, Times: 1})
	r.Sandbox.AddFault(sandbox.Fault{Match: "whole", Status: http.StatusBadGateway, CreateThenFail: true, Times: 2})
	all := names("whole", 80)
	r.publishBacklog(all)
	r.startChild(nil)
	r.waitSettled(60*time.Second, len(all), 0)
	r.stopChild()
	r.check(r.tally(), all, nil)

	failedBatches := 0
	for _, req := range r.Sandbox.Requests() {
		if len(req.RootFields) > 1 && slices.Contains(req.RootFields, "createAsset") && req.Status != http.StatusOK {
			failedBatches++
		}
	}
	if failedBatches == 0 {
		t.Errorf("no request carrying several events failed: the faults hit lone events only")
	}
	if st := r.Sandbox.Stats(); st.FaultsApplied != 6 {
		t.Errorf("%d faults applied, want all 6", st.FaultsApplied)
	}
}
