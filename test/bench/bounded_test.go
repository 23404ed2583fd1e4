package bench

import (
	"runtime"
	"testing"
	"time"
)

// TestInFlightBounded runs the service over a backlog with a small in-flight window and
// checks that the window bounds everything that could grow with the backlog: the createAsset
// requests answered at once, the deliveries the replica holds unacknowledged, and the goroutines.
func TestInFlightBounded(t *testing.T) {
	t.Parallel()
	const (
		concurrency = 4
		events      = 300
	)
	// Two events per request: at most 4 / 2 = 2 requests in flight, so that calls overlap.
	r := newRig(t, map[string]string{"INGEST_CONCURRENCY": "4", "AMPLIENCE_BATCH_SIZE": "2"}, latency(5*time.Millisecond))
	c := r.collect()
	r.publish(0, events)
	base := runtime.NumGoroutine()
	r.startService("bounded-1")
	s := r.watch(c, 5*time.Millisecond, nil, nil)
	c.wait(t, events, 60*time.Second)
	s.finish()

	if got := r.maxCall.Load(); got > concurrency || got < 2 {
		t.Errorf("at most %d createAsset calls were answered at once, want 2..%d (INGEST_CONCURRENCY)", got, concurrency)
	}
	// The server counts a delivery as pending until it sees the ack, which the replica sends
	// without waiting: a freed slot's next pull can overtake it by one round trip.
	if s.maxPending > 4*concurrency || s.ticks < 10 {
		t.Errorf("the consumer saw up to %d deliveries unacknowledged over %d samples, want at most %d",
			s.maxPending, s.ticks, 4*concurrency)
	}
	// Fixed goroutines (connections, loops, the HTTP server) plus, per slot, the handler, its
	// heartbeat, an HTTP connection's client and server ends, and the pulls (at most 4). A
	// runner that started work per message of the backlog would far exceed it.
	if limit := 60 + 8*concurrency; s.maxG-base > limit {
		t.Errorf("goroutines grew by up to %d while handling %d events, want at most %d", s.maxG-base, events, limit)
	}
	t.Logf("max calls at once %d, max ack pending %d, goroutines +%d (samples %d)", r.maxCall.Load(), s.maxPending, s.maxG-base, s.ticks)
}
