package ingest

import (
	"math/rand/v2"
	"time"
)

// maxRetryAfter bounds how long a Retry-After may hold a message back.
const maxRetryAfter = time.Hour

// Backoff computes retry delays: exponential from Base, capped at Max, with full jitter
// (a uniformly random delay between zero and the capped exponential).
type Backoff struct {
	Base, Max time.Duration
	// Jitter picks the delay in [0, d]; nil picks uniformly at random.
	Jitter func(d time.Duration) time.Duration
}

// Delay is the delay after the attempt-th failed attempt (1 for the first).
func (b Backoff) Delay(attempt int) time.Duration {
	ceiling := b.Max
	if attempt < 1 {
		attempt = 1
	}
	// Base << (attempt-1), without overflowing.
	if shift := attempt - 1; shift < 62 && b.Base <= b.Max>>shift {
		ceiling = b.Base << shift
	}
	if b.Jitter != nil {
		return b.Jitter(ceiling)
	}
	return rand.N(ceiling + 1)
}

// RetryDelay is the delay after a failed attempt that may carry a Retry-After: the backoff
// delay, raised to Retry-After when that is longer (Retry-After overrides Max, up to an hour).
func (b Backoff) RetryDelay(attempt int, retryAfter time.Duration) time.Duration {
	d := b.Delay(attempt)
	if retryAfter > d {
		d = min(retryAfter, maxRetryAfter)
	}
	return d
}
