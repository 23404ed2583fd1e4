package faulttest_test

import (
	"maps"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/sandbox"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/servicetest"
)

// Killing `consumer run` with SIGKILL at random points while events flow, several times, loses
// no event and creates no asset twice: the ledger claim precedes every call, and a redelivery
// of a claimed event reconciles before it calls again.
func TestSIGKILLWhileEventsFlow(t *testing.T) {
	t.Parallel()
	r := newRig(t, rigOptions{Subprocess: true, MinLatency: 20 * time.Millisecond, MaxLatency: 50 * time.Millisecond})
	r.startChild(nil)
	r.waitResources()

	// Two seconds of events, so that every kill lands while they flow, whether they go one or
	// many per request.
	all := names("kill", 400)
	// Events keep arriving while the process is killed and restarted.
	var wg sync.WaitGroup
	publishErr := make(chan error, 1)
	wg.Go(func() {
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for _, n := range all {
			<-tick.C
			if _, err := r.JS.PublishMsg(t.Context(), servicetest.NewEvent(n).Msg()); err != nil {
				publishErr <- err
				return
			}
		}
	})

	kills := 3 + r.rng.IntN(3)
	for i := range kills {
		// Kill once a random number of further calls has started: the proxy's 20-50ms latency
		// makes most kills land while calls are in flight, the random pause varies the point.
		target := r.proxy.createCalls() + 3 + r.rng.IntN(20)
		r.waitFor(15*time.Second, "more createAsset calls before kill "+itoa(i+1), func() bool {
			return r.proxy.createCalls() >= target
		})
		time.Sleep(time.Duration(r.rng.IntN(40)) * time.Millisecond) // where the kill lands, not synchronisation
		r.killChild()
		r.startChild(nil)
	}
	wg.Wait()
	select {
	case err := <-publishErr:
		t.Fatalf("publishing: %v", err)
	default:
	}

	r.waitSettled(30*time.Second, len(all), 0)
	r.stopChild()
	r.check(r.tally(), all, nil)
	// A kill that interrupted an event between its claim and its completion makes the next
	// delivery reconcile; none at all would mean the kills missed every call.
	stats := r.Sandbox.Stats()
	if stats.ByRootField["assetSearch"] == 0 {
		t.Errorf("no reconciliation after %d kills: no kill interrupted a claimed event", kills)
	}
	t.Logf("%d kills; %d createAsset calls, %d reconciliation searches", kills, stats.ByRootField["createAsset"], stats.ByRootField["assetSearch"])
}

// A crash after Amplience created the asset and before the answer arrived: the restarted
// process finds the asset through reconciliation instead of creating a second one, even when
// that was the event's last attempt and the first lookup fails.
func TestSIGKILLAfterCreateBeforeAnswer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  map[string]string
		// lookupFails makes the first API request after the restart (the reconciliation's
		// search: nothing else is left to do) answer 503.
		lookupFails bool
	}{
		{name: "then reconciled"},
		{name: "on the last attempt, the first lookup failing", env: map[string]string{"INGEST_MAX_ATTEMPTS": "1"}, lookupFails: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// One event per request: the held answer is the target's alone, so the others
			// finish before the kill (TestSIGKILLWithBatchesInFlight holds batches).
			env := map[string]string{"AMPLIENCE_BATCH_SIZE": "1"}
			maps.Copy(env, tt.env)
			r := newRig(t, rigOptions{Subprocess: true, Env: env, MinLatency: 5 * time.Millisecond, MaxLatency: 20 * time.Millisecond})
			const target = "crash-target"
			held := r.proxy.hold(target, 1)
			r.startChild(nil)
			r.waitResources()
			others := r.publish(names("crash-other", 10)...)
			r.publish(target)

			r.waitFor(15*time.Second, "the sandbox to create "+target+" and its answer to be held, the others done", func() bool {
				select {
				case <-held:
					return r.counts().Results >= len(others)
				default:
					return false
				}
			})
			if n := len(r.tally().assets[target]); n != 1 {
				t.Fatalf("the sandbox holds %d assets named %s before the kill, want 1", n, target)
			}
			r.killChild()
			if tt.lookupFails {
				r.Sandbox.AddFault(sandbox.Fault{Status: http.StatusServiceUnavailable, Times: 1})
			}
			r.startChild(nil)

			r.waitSettled(20*time.Second, len(others)+1, 0)
			r.stopChild()
			tl := r.tally()
			r.check(tl, append(others, target), nil)
			if n := r.Sandbox.Stats().CreateAssetCalls[target]; n != 1 {
				t.Errorf("createAsset calls for %s = %d, want 1: the restart must reconcile, not call again", target, n)
			}
			if got := tl.attempts()[target]; got != 1 {
				t.Errorf("asset.ingested attempts for %s = %d, want 1 (the one call, made before the crash)", target, got)
			}
			if tt.lookupFails && r.Sandbox.Stats().FaultsApplied != 1 {
				t.Errorf("the lookup fault was not applied")
			}
		})
	}
}

// An event that always fails, with INGEST_MAX_ATTEMPTS=3 and a SIGKILL during its second call,
// still gets exactly 3 calls in total before it is dead-lettered as exhausted: the attempt is
// counted before the call, so the crashed call counts.
func TestSIGKILLDuringAttemptsCountsTheAttempt(t *testing.T) {
	t.Parallel()
	const doomed = "doomed-event"
	r := newRig(t, rigOptions{
		Subprocess: true, MinLatency: 5 * time.Millisecond, MaxLatency: 20 * time.Millisecond,
		Env: map[string]string{"INGEST_MAX_ATTEMPTS": "3"},
	})
	r.Sandbox.AddFault(sandbox.Fault{Match: doomed, Status: 500})
	held := r.proxy.hold(doomed, 2)
	r.startChild(nil)
	r.waitResources()
	others := r.publish(names("healthy", 5)...)
	r.publish(doomed)

	r.waitFor(15*time.Second, "the second call for "+doomed+" to be in flight", func() bool {
		select {
		case <-held:
			return true
		default:
			return false
		}
	})
	r.killChild()
	r.startChild(nil)

	r.waitSettled(20*time.Second, len(others), 1)
	r.stopChild()
	tl := r.tally()
	r.check(tl, others, []string{doomed})
	if n := r.Sandbox.Stats().CreateAssetCalls[doomed]; n != 3 {
		t.Errorf("createAsset calls for %s = %d, want exactly 3 (INGEST_MAX_ATTEMPTS, the crashed one included)", doomed, n)
	}
	if n := len(r.proxy.callsByName()[doomed]); n != 3 {
		t.Errorf("the proxy saw %d createAsset calls for %s, want 3", n, doomed)
	}
	for k, want := range map[string]string{"Ingest-Error-Class": "exhausted", "Ingest-Attempts": "3"} {
		if got := tl.header(doomed, k); got != want {
			t.Errorf("dead letter %s = %q, want %q", k, got, want)
		}
	}
	if fs := tl.failed[doomed]; len(fs) == 1 && (fs[0].Data.ErrorClass != "exhausted" || fs[0].Data.Attempts != 3) {
		t.Errorf("asset.ingest_failed says %q after %d attempts, want exhausted after 3", fs[0].Data.ErrorClass, fs[0].Data.Attempts)
	}
}
