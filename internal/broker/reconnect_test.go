package broker

import (
	"testing"
	"time"
)

// TestReconnectDelayStaysInItsRange: 250ms doubling up to 10s, never less than half.
func TestReconnectDelayStaysInItsRange(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		attempts int
		top      time.Duration
	}{
		{0, 250 * time.Millisecond},
		{1, 250 * time.Millisecond},
		{3, time.Second},
		{6, 8 * time.Second},
		{7, 10 * time.Second},
		{1000, 10 * time.Second},
	} {
		seen := map[time.Duration]bool{}
		for range 500 {
			d := reconnectDelay(c.attempts)
			if d < c.top/2 || d > c.top {
				t.Fatalf("reconnectDelay(%d) = %v, outside [%v, %v]", c.attempts, d, c.top/2, c.top)
			}
			seen[d] = true
		}
		if len(seen) < 2 {
			t.Errorf("reconnectDelay(%d) took one value in 500 draws: no jitter", c.attempts)
		}
	}
}
