package bench

import (
	"testing"
	"time"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/sandbox"
)

// BenchmarkZeroLatency drains events through the service and the minimal loop with a sandbox
// that answers at once: what each costs per event, and whether the service keeps up with the
// loop that does only the necessary.
func BenchmarkZeroLatency(b *testing.B) {
	for _, a := range arms {
		b.Run(a.name, func(b *testing.B) {
			drain(b, newRig(b, nil, nil), a)
		})
	}
}

// BenchmarkLatency50ms is BenchmarkZeroLatency with 50 ms added to every GraphQL answer: with
// the default INGEST_CONCURRENCY of 64, one event per request is bound to 64 / 50 ms = 1,280
// events/s; the service, sharing requests, is not.
func BenchmarkLatency50ms(b *testing.B) {
	for _, a := range arms {
		b.Run(a.name, func(b *testing.B) {
			drain(b, newRig(b, nil, latency(50*time.Millisecond)), a)
		})
	}
}

// BenchmarkEndToEnd measures publish-to-completion latency under a steady load below
// capacity: 500 events/s with an instant sandbox, one event at a time (20 events/s) with an
// instant sandbox, 200 events/s with a 50 ms one.
func BenchmarkEndToEnd(b *testing.B) {
	cases := []struct {
		name    string
		latency time.Duration
		rate    float64
	}{
		{"zero-latency-500ps", 0, 500},
		// One event at a time: each is done long before the next is published.
		{"trickle-20ps", 0, 20},
		{"latency-50ms-200ps", 50 * time.Millisecond, 200},
	}
	for _, tc := range cases {
		for _, a := range arms {
			b.Run(tc.name+"/"+a.name, func(b *testing.B) {
				paced(b, newRig(b, nil, latency(tc.latency)), a, tc.rate)
			})
		}
	}
}

func latency(d time.Duration) func(*sandbox.Options) {
	return func(o *sandbox.Options) { o.Latency = d }
}
