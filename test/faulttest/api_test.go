package faulttest_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/sandbox"
)

// The API answering 5xx for a while: every event is retried until it is ingested, once.
func TestServerErrorsForAWhile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		fault sandbox.Fault
		// probed: the fault also hits the probe, so the replica may pause (at least one probe
		// gap, 5s) before it resumes.
		probed bool
	}{
		{name: "createAsset answers 500", fault: sandbox.Fault{Match: "five", Status: 500, Times: 30}},
		{name: "every request answers 503", fault: sandbox.Fault{Status: 503, Times: 8}, probed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// More attempts than failures: however the failures fall on the events, none can
			// spend its budget, so a dead letter here is a defect, not bad luck. One event per
			// request, so that each failure is one event's (TestWholeBatchesFailing has batches).
			r := newRig(t, rigOptions{
				MinLatency: 5 * time.Millisecond, MaxLatency: 20 * time.Millisecond,
				Env: map[string]string{"INGEST_MAX_ATTEMPTS": itoa(tt.fault.Times + 1), "INGEST_CONCURRENCY": "8", "AMPLIENCE_BATCH_SIZE": "1"},
			})
			r.Sandbox.AddFault(tt.fault)
			all := r.publish(names("five", 40)...)
			r.waitSettled(30*time.Second, len(all), 0)
			tl := r.tally()
			r.check(tl, all, nil)
			stats := r.Sandbox.Stats()
			if stats.FaultsApplied != tt.fault.Times {
				t.Errorf("%d faults applied, want all %d", stats.FaultsApplied, tt.fault.Times)
			}
			if tt.probed {
				return
			}
			// Each failed call is one attempt, each event ends with the call that created its
			// asset: the calls beyond one per event are exactly the faults.
			calls := 0
			for _, n := range all {
				calls += stats.CreateAssetCalls[n]
				if got := tl.attempts()[n]; got != stats.CreateAssetCalls[n] {
					t.Errorf("%s: asset.ingested says %d attempts, the sandbox saw %d calls", n, got, stats.CreateAssetCalls[n])
				}
			}
			if calls != len(all)+tt.fault.Times {
				t.Errorf("%d createAsset calls, want %d (one per event plus one per 500)", calls, len(all)+tt.fault.Times)
			}
		})
	}
}

// A 429 storm with Retry-After: 1: no attempt is spent, and no event is called again before
// Retry-After has passed.
func TestTooManyRequestsStorm(t *testing.T) {
	t.Parallel()
	// One event per request, so that each 429 is one event's.
	r := newRig(t, rigOptions{MinLatency: 5 * time.Millisecond, MaxLatency: 20 * time.Millisecond,
		Env: map[string]string{"AMPLIENCE_BATCH_SIZE": "1"}})
	r.Sandbox.AddFault(sandbox.Fault{Match: "storm", Status: http.StatusTooManyRequests, RetryAfter: "1", Times: 25})
	all := r.publish(names("storm", 30)...)
	r.waitSettled(30*time.Second, len(all), 0)
	tl := r.tally()
	r.check(tl, all, nil)

	limited := 0
	for name, calls := range r.proxy.callsByName() {
		for i, c := range calls[:len(calls)-1] {
			if c.Status != http.StatusTooManyRequests {
				t.Errorf("%s: call %d answered %d, want only 429s before the last call", name, i+1, c.Status)
				continue
			}
			limited++
			if wait := calls[i+1].Start.Sub(c.End); wait < time.Second {
				t.Errorf("%s: called again %v after a 429 with Retry-After: 1", name, wait)
			}
		}
	}
	if limited != 25 {
		t.Errorf("%d calls were answered 429, want 25", limited)
	}
	want, got := map[string]int{}, tl.attempts()
	for _, n := range all {
		want[n] = 1
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("attempts per event (-want +got): a 429 must spend none\n%s", diff)
	}
}

// Calls that hang past INGEST_ACK_WAIT are cut by AMPLIENCE_TIMEOUT and retried; no event ever
// has two calls in flight at once.
func TestHangingCallsAreCutAndNeverOverlap(t *testing.T) {
	t.Parallel()
	const ackWait, timeout = 2 * time.Second, time.Second
	r := newRig(t, rigOptions{
		MinLatency: 5 * time.Millisecond, MaxLatency: 20 * time.Millisecond,
		// One event per request, so that each hang is one event's.
		Env: map[string]string{"INGEST_ACK_WAIT": ackWait.String(), "AMPLIENCE_TIMEOUT": timeout.String(), "AMPLIENCE_BATCH_SIZE": "1"},
	})
	all := names("hang", 20)
	hung := map[string]bool{}
	for _, n := range all[:5] {
		hung[n] = true
		r.Sandbox.AddFault(sandbox.Fault{Match: n, Hang: true, Times: 1})
	}
	r.publish(all...)
	r.waitSettled(30*time.Second, len(all), 0)
	tl := r.tally()
	r.check(tl, all, nil)

	calls := r.proxy.callsByName()
	for _, n := range all {
		cs := calls[n]
		for i := 1; i < len(cs); i++ {
			if cs[i].Start.Before(cs[i-1].End) {
				t.Errorf("%s: call %d began %v before call %d ended", n, i+1, cs[i-1].End.Sub(cs[i].Start), i)
			}
		}
		want := 1
		if hung[n] {
			want = 2
			if d := cs[0].End.Sub(cs[0].Start); d < timeout/2 || d >= ackWait {
				t.Errorf("%s: the hanging call lasted %v; AMPLIENCE_TIMEOUT=%v must cut it before INGEST_ACK_WAIT=%v", n, d, timeout, ackWait)
			}
		}
		if len(cs) != want || tl.attempts()[n] != want {
			t.Errorf("%s: %d calls, %d attempts; want %d", n, len(cs), tl.attempts()[n], want)
		}
	}
}

// Access tokens that expire every second or so during a run: the client replaces them, a 401
// from a token that died early is answered by one refresh and one repeat, nothing is
// dead-lettered and no attempt is spent.
func TestTokensExpiringDuringARun(t *testing.T) {
	t.Parallel()
	// The sandbox's clock runs 2.5 times as fast as the client's: a 2s token (which the client
	// replaces after half its lifetime, 1s) dies after 0.8s, so requests in between get a 401.
	start := time.Now()
	fast := func() time.Time { return start.Add(time.Since(start) * 5 / 2) }
	r := newRig(t, rigOptions{
		MinLatency: 20 * time.Millisecond, MaxLatency: 50 * time.Millisecond,
		Env:     map[string]string{"INGEST_CONCURRENCY": "4"},
		Sandbox: func(o *sandbox.Options) { o.TokenTTL, o.Clock = 2*time.Second, fast },
	})
	all := names("token", 50)
	// Spread over about 2.5 seconds, so that several tokens expire during the run.
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for _, n := range all {
		<-tick.C
		r.publish(n)
	}
	r.waitSettled(30*time.Second, len(all), 0)
	tl := r.tally()
	r.check(tl, all, nil)
	stats := r.Sandbox.Stats()
	t.Logf("%d tokens issued, %d requests answered 401", stats.TokensIssued, stats.Unauthorized)
	if stats.TokensIssued < 3 || stats.Unauthorized == 0 {
		t.Errorf("%d tokens issued and %d requests answered 401 over a 2.5s run; want at least 3 tokens and some 401s", stats.TokensIssued, stats.Unauthorized)
	}
	for n, a := range tl.attempts() {
		if a != 1 {
			t.Errorf("%s: %d attempts; a 401 answered by a refresh spends none", n, a)
		}
	}
}

// Credentials refused in the middle of a run, then restored: the replica pauses and reports
// not-ready, nothing is dead-lettered and no attempt is spent, and afterwards every event is
// ingested once.
func TestCredentialsRefusedThenRestored(t *testing.T) {
	t.Parallel()
	r := newRig(t, rigOptions{
		MinLatency: 20 * time.Millisecond, MaxLatency: 50 * time.Millisecond,
		Env: map[string]string{"INGEST_CONCURRENCY": "4"},
	})
	all := r.publish(names("creds", 60)...)
	r.waitFor(10*time.Second, "the first events ingested", func() bool { return r.counts().Results >= 5 })
	r.Sandbox.SetCredentialsValid(false)
	r.waitFor(15*time.Second, "/readyz to report the pause", func() bool {
		code, body := r.Get("/readyz")
		return code == http.StatusServiceUnavailable && strings.Contains(body, "paused")
	})
	c := r.counts()
	if c.Results >= len(all) {
		t.Fatalf("every event was done before the credentials were refused (%s)", c)
	}
	if c.DeadLetters != 0 {
		t.Fatalf("%d events dead-lettered while the credentials were refused", c.DeadLetters)
	}
	r.Sandbox.SetCredentialsValid(true)
	r.waitSettled(30*time.Second, len(all), 0)
	if code, body := r.Get("/readyz"); code != http.StatusOK {
		t.Errorf("/readyz = %d %s after the credentials came back, want 200", code, body)
	}
	tl := r.tally()
	r.check(tl, all, nil)
	for n, a := range tl.attempts() {
		if a != 1 {
			t.Errorf("%s: %d attempts; a pause must spend none", n, a)
		}
	}
	t.Logf("%s", fmt.Sprint(r.Sandbox.Stats().TokensRefused, " token requests refused"))
}
