package ingest

import (
	"testing"
	"time"
)

func TestBackoffCeiling(t *testing.T) {
	t.Parallel()
	// With the jitter returning its argument, Delay shows the ceiling it draws from.
	b := Backoff{Base: time.Second, Max: 10 * time.Minute, Jitter: func(d time.Duration) time.Duration { return d }}
	for _, tc := range []struct {
		attempt int
		want    time.Duration
	}{
		{0, time.Second}, {1, time.Second}, {2, 2 * time.Second}, {3, 4 * time.Second},
		{10, 512 * time.Second}, {11, 10 * time.Minute}, {200, 10 * time.Minute},
	} {
		if got := b.Delay(tc.attempt); got != tc.want {
			t.Errorf("Delay(%d) ceiling = %s, want %s", tc.attempt, got, tc.want)
		}
	}
}

func TestBackoffFullJitterStaysInRange(t *testing.T) {
	t.Parallel()
	b := Backoff{Base: 100 * time.Millisecond, Max: time.Second}
	seenLow := false
	for range 2000 {
		d := b.Delay(3)
		if d < 0 || d > 400*time.Millisecond {
			t.Fatalf("Delay(3) = %s, outside [0, 400ms]", d)
		}
		if d < 100*time.Millisecond {
			seenLow = true
		}
	}
	if !seenLow {
		t.Errorf("full jitter never drew below a quarter of the ceiling in 2000 draws")
	}
}

func TestRetryAfterOverridesMaxUpToAnHour(t *testing.T) {
	t.Parallel()
	b := Backoff{Base: time.Second, Max: 10 * time.Second, Jitter: func(d time.Duration) time.Duration { return d / 2 }}
	for _, tc := range []struct {
		name       string
		retryAfter time.Duration
		want       time.Duration
	}{
		{"no Retry-After", 0, 500 * time.Millisecond},
		{"shorter than the backoff", 100 * time.Millisecond, 500 * time.Millisecond},
		{"longer than Max", 30 * time.Second, 30 * time.Second},
		{"capped at an hour", 3 * time.Hour, time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := b.RetryDelay(1, tc.retryAfter); got != tc.want {
				t.Errorf("RetryDelay(1, %s) = %s, want %s", tc.retryAfter, got, tc.want)
			}
		})
	}
}

// Deliveries that spend no attempt (429s, pauses, live claims) back off by delivery count, so
// the consumer's MaxDeliver backstop takes hours, not seconds, to reach.
func TestDeliveryBackoffGrowsWithDeliveries(t *testing.T) {
	t.Parallel()
	p := &Pipeline{o: Options{Backoff: Backoff{Base: time.Second, Max: 10 * time.Minute}}}
	var total time.Duration
	for n := uint64(1); n <= 100; n++ {
		d := p.deliveryBackoff(&delivery{delivered: n})
		step := min(time.Second<<min(n-1, 20), 10*time.Minute)
		if d < step/2 || d > step {
			t.Fatalf("delivery %d: delay %s outside [%s, %s]", n, d, step/2, step)
		}
		total += d
	}
	if total < 5*time.Hour {
		t.Errorf("100 deliveries back off %s in all, want hours", total)
	}
}
