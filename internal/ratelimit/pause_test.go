package ratelimit

import (
	"testing"
	"time"
)

// TestPausesStayInTheirRanges: conflicts are retried at once twice, then after up to 1ms,
// 2ms, ... capped at 20ms; store errors after 25ms doubling up to 1s, never less than half.
func TestPausesStayInTheirRanges(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		pause    func(int) time.Duration
		n        int
		low, top time.Duration
	}{
		{"first conflict", conflictPause, 1, 0, 0},
		{"second conflict", conflictPause, 2, 0, 0},
		{"third conflict", conflictPause, 3, 0, time.Millisecond},
		{"fifth conflict", conflictPause, 5, 0, 4 * time.Millisecond},
		{"conflicts capped", conflictPause, 40, 0, 20 * time.Millisecond},
		{"first error", errorPause, 1, 12500 * time.Microsecond, 25 * time.Millisecond},
		{"third error", errorPause, 3, 50 * time.Millisecond, 100 * time.Millisecond},
		{"errors capped", errorPause, 40, 500 * time.Millisecond, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			seen := map[time.Duration]bool{}
			for range 500 {
				d := tt.pause(tt.n)
				if d < tt.low || d > tt.top {
					t.Fatalf("pause(%d) = %v, outside [%v, %v]", tt.n, d, tt.low, tt.top)
				}
				seen[d] = true
			}
			if tt.top > 0 && len(seen) < 2 {
				t.Errorf("pause(%d) took one value in 500 draws: no jitter", tt.n)
			}
		})
	}
}
