package ingest

import (
	"time"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/backoff"
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
	policy := backoff.Policy{Base: b.Base, Max: b.Max}
	if b.Jitter != nil {
		return b.Jitter(policy.Step(attempt))
	}
	return policy.Full(attempt)
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
