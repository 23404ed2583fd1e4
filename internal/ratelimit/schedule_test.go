package ratelimit

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// 10/s: one request every iv (100ms plus 1% headroom), 2*iv while
// penalised.
var tenPerSecond = Limit{Requests: 10, Per: time.Second}

const iv = 101 * time.Millisecond

type op int

const (
	opWait    op = iota // the replica waits; the test records when Wait returns
	opReport            // the replica reports a 429 with Retry-After d
	opAdvance           // the clock moves to t0+d
)

type step struct {
	op  op
	who int // replica 0 or 1
	d   time.Duration
}

// twoReplicas returns two Limiters on one key, each on its own NATS
// connection, sharing clk.
func twoReplicas(tb testing.TB, clk *fakeClock, lim Limit) [2]*Limiter {
	tb.Helper()
	url := startJetStream(tb)
	opts := Options{Clock: clk.Now, After: clk.After, MinPenalty: 5 * time.Second}
	var ls [2]*Limiter
	for i := range ls {
		_, kv := replica(tb, url)
		ls[i] = New(kv, "amplience", lim, opts)
	}
	return ls
}

// runWait calls l.Wait and, while it blocks, moves clk to each timer it
// sets. It returns the clock's time when Wait returned.
func runWait(tb testing.TB, clk *fakeClock, l *Limiter) time.Time {
	tb.Helper()
	done := waitAsync(tb.Context(), l)
	deadline := time.Now().Add(5 * time.Second)
	for {
		select {
		case err := <-done:
			if err != nil {
				tb.Fatalf("Wait: %v", err)
			}
			return clk.Now()
		default:
		}
		if at := clk.pending(); len(at) > 0 {
			clk.AdvanceTo(at[0])
		} else {
			time.Sleep(time.Millisecond)
		}
		if time.Now().After(deadline) {
			tb.Fatal("Wait did not return within 5s")
		}
	}
}

func TestSchedule(t *testing.T) {
	t.Parallel()
	ms := time.Millisecond
	tests := []struct {
		name  string
		steps []step
		want  []time.Duration // when each opWait returned, after t0
	}{
		{
			name:  "one replica alone is spaced by the interval",
			steps: []step{{op: opWait}, {op: opWait}, {op: opWait}},
			want:  []time.Duration{0, iv, 2 * iv},
		},
		{
			name:  "two replicas share one schedule",
			steps: []step{{op: opWait, who: 0}, {op: opWait, who: 1}, {op: opWait, who: 0}, {op: opWait, who: 1}},
			want:  []time.Duration{0, iv, 2 * iv, 3 * iv},
		},
		{
			name:  "an idle budget does not burst",
			steps: []step{{op: opWait}, {op: opAdvance, d: 10 * time.Second}, {op: opWait, who: 1}, {op: opWait}},
			want:  []time.Duration{0, 10 * time.Second, 10*time.Second + iv},
		},
		{
			name: "a 429 holds and halves the rate for the other replica too",
			steps: []step{
				{op: opWait, who: 1},
				{op: opReport, who: 0, d: 2 * time.Second},
				{op: opWait, who: 1}, {op: opWait, who: 1}, {op: opWait, who: 0},
				{op: opAdvance, d: 6 * time.Second},
				{op: opWait, who: 0}, {op: opWait, who: 1},
			},
			want: []time.Duration{0, 2 * time.Second, 2*time.Second + 2*iv, 2*time.Second + 4*iv, 6 * time.Second, 6*time.Second + iv},
		},
		{
			name: "the penalty lasts MinPenalty after the 429",
			steps: []step{
				{op: opReport, d: 2 * time.Second},
				{op: opAdvance, d: 4900 * ms},
				{op: opWait, who: 1}, {op: opWait, who: 0}, {op: opWait, who: 1},
			},
			want: []time.Duration{4900 * ms, 4900*ms + 2*iv, 4900*ms + 3*iv},
		},
		{
			// The penalty lasts max(Retry-After, MinPenalty) from the 429,
			// so here it ends with the hold.
			name:  "a Retry-After longer than MinPenalty ends the penalty with the hold",
			steps: []step{{op: opReport, d: 7 * time.Second}, {op: opWait}, {op: opWait, who: 1}},
			want:  []time.Duration{7 * time.Second, 7*time.Second + iv},
		},
		{
			name:  "a 429 without Retry-After still spaces the next request two intervals",
			steps: []step{{op: opWait}, {op: opReport, who: 1}, {op: opWait, who: 1}, {op: opWait}},
			want:  []time.Duration{0, 2 * iv, 4 * iv},
		},
		{
			name:  "a later 429 never shortens the hold",
			steps: []step{{op: opReport, d: 3 * time.Second}, {op: opReport, who: 1, d: time.Second}, {op: opWait}},
			want:  []time.Duration{3 * time.Second},
		},
		{
			name:  "Retry-After is capped at MaxRetryAfter",
			steps: []step{{op: opReport, d: 5 * time.Hour}, {op: opWait, who: 1}},
			want:  []time.Duration{MaxRetryAfter},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clk := newFakeClock()
			t0 := clk.Now()
			ls := twoReplicas(t, clk, tenPerSecond)
			var got []time.Duration
			for _, s := range tt.steps {
				switch s.op {
				case opWait:
					got = append(got, runWait(t, clk, ls[s.who]).Sub(t0))
				case opReport:
					ls[s.who].Report429(s.d)
				case opAdvance:
					clk.AdvanceTo(t0.Add(s.d))
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("grant times after t0 (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReport429VoidsReservedSlots(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	t0 := clk.Now()
	ls := twoReplicas(t, clk, tenPerSecond)

	runWait(t, clk, ls[0])
	done := waitAsync(t.Context(), ls[0])
	if diff := cmp.Diff([]time.Time{t0.Add(iv)}, clk.awaitTimers(t, 1)); diff != "" {
		t.Fatalf("reserved slot (-want +got):\n%s", diff)
	}
	ls[1].Report429(time.Second)

	// The waiter wakes at its old slot, sees the 429 and reserves again
	// behind the hold.
	clk.AdvanceTo(t0.Add(iv))
	if diff := cmp.Diff([]time.Time{t0.Add(time.Second)}, clk.awaitTimers(t, 1)); diff != "" {
		t.Fatalf("slot after the 429 (-want +got):\n%s", diff)
	}
	notReturned(t, done)
	clk.AdvanceTo(t0.Add(time.Second))
	if err := receive(t, done); err != nil {
		t.Fatalf("Wait: %v", err)
	}
	st := ls[0].Stats()
	if st.Granted != 2 || st.Voided != 1 || st.Waited != time.Second {
		t.Errorf("waiter stats = %+v, want 2 granted, 1 voided, waited 1s", st)
	}
	if got := ls[1].Stats().Reported429; got != 1 {
		t.Errorf("reporter's Reported429 = %d, want 1", got)
	}
}

func TestWaitReturnsWhenContextEnds(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	t0 := clk.Now()
	ls := twoReplicas(t, clk, tenPerSecond)

	runWait(t, clk, ls[0])
	ctx, cancel := context.WithCancel(t.Context())
	done := waitAsync(ctx, ls[0])
	clk.awaitTimers(t, 1)
	cancel()
	if err := receive(t, done); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait after cancel = %v, want context.Canceled", err)
	}
	// The cancelled caller's slot (t0+iv) was the schedule's tail: it is given back, and the
	// other replica gets it.
	if got, want := runWait(t, clk, ls[1]), t0.Add(iv); !got.Equal(want) {
		t.Errorf("next grant at %v, want %v", got.Sub(t0), want.Sub(t0))
	}
	if got := ls[0].Stats().GivenBack; got != 1 {
		t.Errorf("GivenBack = %d, want 1", got)
	}
	if err := ls[1].Wait(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Wait with an ended context = %v, want context.Canceled", err)
	}
	if got := ls[0].Stats().Granted; got != 1 {
		t.Errorf("Granted = %d, want 1", got)
	}
}

func TestStopClosesTheBudget(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	url := startJetStream(t)
	_, kv := replica(t, url)
	stop, stopping := context.WithCancel(t.Context())
	l := New(kv, "amplience", tenPerSecond, Options{Clock: clk.Now, After: clk.After, Stop: stop})

	runWait(t, clk, l) // the first slot is now
	done := waitAsync(t.Context(), l)
	clk.awaitTimers(t, 1) // the second waits for its slot
	notReturned(t, done)
	stopping()
	err := receive(t, done)
	if !errors.Is(err, ErrStopped) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait under way when the budget closed = %v, want ErrStopped wrapping context.Canceled", err)
	}
	if err := l.Wait(t.Context()); !errors.Is(err, ErrStopped) {
		t.Errorf("Wait after the budget closed = %v, want ErrStopped", err)
	}
	if got := l.Stats().Granted; got != 1 {
		t.Errorf("Granted = %d, want 1", got)
	}

	// An unlimited budget never waits, so stopping does not refuse its requests.
	u := New(nil, "amplience", Limit{}, Options{Stop: stop})
	if err := u.Wait(t.Context()); err != nil {
		t.Errorf("unlimited Wait after stop = %v, want nil", err)
	}
}

// Slots abandoned at the tail of the schedule are given back, however many; one followed by
// another replica's reservation cannot be, and stays a gap.
func TestAbandonedSlotsAtTheTailAreGivenBack(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	t0 := clk.Now()
	ls := twoReplicas(t, clk, tenPerSecond)

	runWait(t, clk, ls[0]) // t0
	ctx, cancel := context.WithCancel(t.Context())
	a1 := waitAsync(ctx, ls[0]) // t0+iv
	clk.awaitTimers(t, 1)
	b1 := waitAsync(t.Context(), ls[1]) // t0+2iv
	clk.awaitTimers(t, 2)
	a2 := waitAsync(ctx, ls[0]) // t0+3iv
	clk.awaitTimers(t, 3)
	a3 := waitAsync(ctx, ls[0]) // t0+4iv
	clk.awaitTimers(t, 4)
	cancel()
	for _, done := range []<-chan error{a1, a2, a3} {
		if err := receive(t, done); !errors.Is(err, context.Canceled) {
			t.Fatalf("Wait after cancel = %v, want context.Canceled", err)
		}
	}
	notReturned(t, b1)
	// t0+3iv and t0+4iv are given back; t0+iv is behind the other replica's t0+2iv.
	if got := ls[0].Stats().GivenBack; got != 2 {
		t.Errorf("GivenBack = %d, want 2", got)
	}
	st, _, err := ls[1].read(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := time.Unix(0, st.Next), t0.Add(3*iv); !got.Equal(want) {
		t.Errorf("the next free slot is at %v, want %v", got.Sub(t0), want.Sub(t0))
	}
	clk.AdvanceTo(t0.Add(2 * iv))
	if err := receive(t, b1); err != nil {
		t.Fatalf("the other replica's Wait: %v", err)
	}
}

func TestUnlimited(t *testing.T) {
	t.Parallel()
	l := New(nil, "amplience", Limit{}, Options{})
	for range 1000 {
		if err := l.Wait(t.Context()); err != nil {
			t.Fatalf("Wait: %v", err)
		}
	}
	l.Report429(time.Minute)
	if err := l.Wait(t.Context()); err != nil {
		t.Fatalf("Wait after a 429: %v", err)
	}
	want := Stats{Granted: 1001, Reported429: 1}
	if diff := cmp.Diff(want, l.Stats()); diff != "" {
		t.Errorf("Stats (-want +got):\n%s", diff)
	}
}

func TestInvalidLimitFailsWait(t *testing.T) {
	t.Parallel()
	l := New(nil, "amplience", Limit{Requests: 5}, Options{})
	err := l.Wait(t.Context())
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Wait = %v, want ErrUnavailable", err)
	}
	l.Report429(time.Second) // must not touch the nil bucket
}
