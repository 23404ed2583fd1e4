// Package backoff is the one exponential backoff of the service: the ingest retries, the
// deliveries handed back, the advisory retries, the pull loop, NATS reconnects and the shared
// request budget's store retries all take their delays from a [Policy].
package backoff

import (
	"math/rand/v2"
	"time"
)

// Policy is exponential backoff: Base for the first step, doubling with each one, capped at
// Max. The zero Policy waits nothing.
type Policy struct {
	Base, Max time.Duration
}

// Step is the n-th step (counting from 1; below 1 counts as 1): Base<<(n-1), capped at Max,
// without overflowing.
func (p Policy) Step(n int) time.Duration {
	if p.Base <= 0 {
		return 0
	}
	n = max(n, 1)
	if shift := n - 1; shift < 62 && p.Base <= p.Max>>shift {
		return p.Base << shift
	}
	return max(p.Max, p.Base)
}

// Full is the n-th step with full jitter: uniformly random in [0, Step(n)].
func (p Policy) Full(n int) time.Duration {
	return rand.N(p.Step(n) + 1)
}

// Equal is the n-th step with equal jitter: half of it, plus a uniformly random part up to
// the other half, so that the delay is never shorter than half the step.
func (p Policy) Equal(n int) time.Duration {
	return Halved(p.Step(n))
}

// Halved is d with its upper half randomised: uniformly random in [d/2, d].
func Halved(d time.Duration) time.Duration {
	if d <= 1 {
		return max(d, 0)
	}
	return d/2 + rand.N(d-d/2+1)
}
