package ratelimit

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

// twentyPerSecond is fast enough for a short test.
var twentyPerSecond = Limit{Requests: 20, Per: time.Second}

// grant is one successful Wait: the slot it was given and the real time
// it returned.
type grant struct{ slot, returned time.Time }

// load runs callers goroutines per limiter, each calling Wait in a loop
// for d, and returns the grants, per limiter.
func load(tb testing.TB, ls []*Limiter, callers int, d time.Duration) [][]grant {
	tb.Helper()
	ctx, cancel := context.WithTimeout(tb.Context(), d)
	defer cancel()
	var (
		mu     sync.Mutex
		grants = make([][]grant, len(ls))
		wg     sync.WaitGroup
	)
	for i, l := range ls {
		for range callers {
			wg.Go(func() {
				for {
					slot, err := l.wait(ctx)
					now := time.Now()
					if err != nil {
						if !errors.Is(err, context.DeadlineExceeded) {
							tb.Errorf("Wait: %v", err)
						}
						return
					}
					mu.Lock()
					grants[i] = append(grants[i], grant{slot: slot, returned: now})
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	return grants
}

// checkGrants fails unless the slots of grants fit lim in every window
// and no Wait returned before its slot. How much later Wait returned
// depends on the scheduler (under -race on a busy machine, 10ms and more),
// so the busiest window of return times is only logged.
func checkGrants(tb testing.TB, grants []grant, lim Limit) {
	tb.Helper()
	var slots, returned []time.Time
	var late time.Duration
	for _, g := range grants {
		if g.returned.UnixNano() < g.slot.UnixNano() {
			tb.Errorf("Wait returned at %v, before its slot %v", g.returned, g.slot)
		}
		late = max(late, time.Duration(g.returned.UnixNano()-g.slot.UnixNano()))
		slots = append(slots, g.slot)
		returned = append(returned, g.returned)
	}
	if most := busiestWindow(slots, lim.Per); most > lim.Requests {
		tb.Errorf("%d slots in one %v window, limit %v", most, lim.Per, lim)
	}
	tb.Logf("%d grants; busiest window of return times: %d; latest return %v after its slot",
		len(grants), busiestWindow(returned, lim.Per), late)
}

// busiestWindow returns the most grants in any window [t, t+per).
func busiestWindow(grants []time.Time, per time.Duration) int {
	sorted := slices.SortedFunc(slices.Values(grants), time.Time.Compare)
	most, j := 0, 0
	for i := range sorted {
		for j < len(sorted) && sorted[j].Sub(sorted[i]) < per {
			j++
		}
		most = max(most, j-i)
	}
	return most
}

func TestReplicasTogetherStayWithinTheLimit(t *testing.T) {
	t.Parallel()
	url := startJetStream(t)
	var ls []*Limiter
	for range 2 {
		_, kv := replica(t, url)
		ls = append(ls, New(kv, "amplience", twentyPerSecond, Options{}))
	}
	const d = 2 * time.Second
	grants := load(t, ls, 4, d)

	all := slices.Concat(grants...)
	checkGrants(t, all, twentyPerSecond)
	budget := twentyPerSecond.Requests * int(d/time.Second)
	if len(all)*100 < budget*95 {
		t.Errorf("replicas together got %d grants in %v, want >= 95%% of %d", len(all), d, budget)
	}
	for i, g := range grants {
		if len(g)*4 < len(all) {
			t.Errorf("replica %d got %d of %d grants, want a fair share", i, len(g), len(all))
		}
		if got := ls[i].Stats().Granted; got != int64(len(g)) {
			t.Errorf("replica %d Stats().Granted = %d, counted %d", i, got, len(g))
		}
	}
}

func TestOneReplicaUsesTheWholeBudget(t *testing.T) {
	t.Parallel()
	url := startJetStream(t)
	_, kv := replica(t, url)
	l := New(kv, "amplience", twentyPerSecond, Options{})
	const d = 1500 * time.Millisecond
	grants := load(t, []*Limiter{l}, 4, d)[0]

	checkGrants(t, grants, twentyPerSecond)
	budget := twentyPerSecond.Requests * int(d/time.Millisecond) / 1000
	if len(grants)*100 < budget*95 {
		t.Errorf("one replica got %d grants in %v, want >= 95%% of %d", len(grants), d, budget)
	}
}

func TestBusiestWindow(t *testing.T) {
	t.Parallel()
	t0 := time.Now()
	at := func(ms ...int) []time.Time {
		var ts []time.Time
		for _, m := range ms {
			ts = append(ts, t0.Add(time.Duration(m)*time.Millisecond))
		}
		return ts
	}
	tests := []struct {
		name   string
		grants []time.Time
		want   int
	}{
		{name: "none", want: 0},
		{name: "spaced", grants: at(0, 1000, 2000), want: 1},
		{name: "window is half open", grants: at(0, 999, 1000, 1999), want: 2},
		{name: "unsorted burst", grants: at(1500, 0, 1400, 1450, 3000), want: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := busiestWindow(tt.grants, time.Second); got != tt.want {
				t.Errorf("busiestWindow = %d, want %d", got, tt.want)
			}
		})
	}
}

// BenchmarkWaitUnlimitedBudget measures the cost of one grant (a read and a
// compare-and-set on a local JetStream server) when the limit never makes
// anyone wait.
func BenchmarkWaitUnlimitedBudget(b *testing.B) {
	_, kv := replica(b, startJetStream(b))
	l := New(kv, "amplience", Limit{Requests: 1_000_000_000, Per: time.Second}, Options{})
	ctx := b.Context()
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		if err := l.Wait(ctx); err != nil {
			b.Fatalf("Wait: %v", err)
		}
	}
	b.ReportMetric(float64(time.Since(start).Nanoseconds())/float64(b.N), "ns/grant")
}
