package bench

import (
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// collector records the first arrival of each asset.ingested event, by the event id it names.
type collector struct {
	sub *nats.Subscription

	mu      sync.Mutex
	arrived map[string]time.Time
	want    int
	done    chan struct{}
}

// collect subscribes to every asset.ingested event (core NATS, so it sees each publish as it
// happens) until the test ends.
func (r *rig) collect() *collector {
	r.tb.Helper()
	return collectOn(r.tb, r.nc)
}

// collectOn is collect on any connection.
func collectOn(tb testing.TB, nc *nats.Conn) *collector {
	tb.Helper()
	c := &collector{arrived: make(map[string]time.Time), want: -1, done: make(chan struct{})}
	sub, err := nc.Subscribe("assets.ingested.>", c.receive)
	if err != nil {
		tb.Fatalf("subscribing to completions: %v", err)
	}
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		tb.Fatalf("subscription limits: %v", err)
	}
	c.sub = sub
	tb.Cleanup(func() { _ = sub.Unsubscribe() })
	if err := nc.Flush(); err != nil {
		tb.Fatalf("flushing the subscription: %v", err)
	}
	return c
}

func (c *collector) receive(m *nats.Msg) {
	now := time.Now()
	var ev struct {
		Data struct {
			EventID string `json:"eventId"`
		} `json:"data"`
	}
	if json.Unmarshal(m.Data, &ev) != nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, seen := c.arrived[ev.Data.EventID]; seen {
		return
	}
	c.arrived[ev.Data.EventID] = now
	if len(c.arrived) == c.want {
		close(c.done)
	}
}

// count returns how many distinct events completed.
func (c *collector) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.arrived)
}

// wait blocks until n distinct events completed, failing tb after timeout.
func (c *collector) wait(tb testing.TB, n int, timeout time.Duration) {
	tb.Helper()
	c.mu.Lock()
	if len(c.arrived) >= n {
		c.mu.Unlock()
		return
	}
	c.want = n
	c.mu.Unlock()
	select {
	case <-c.done:
	case <-time.After(timeout):
		tb.Fatalf("%d of %d events completed within %s", c.count(), n, timeout)
	}
}

// latencies returns, for every completed event, the time from its inbound JetStream timestamp
// to the arrival of its completion, in order.
func (c *collector) latencies(published map[string]time.Time) []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]time.Duration, 0, len(c.arrived))
	for id, at := range c.arrived {
		if p, ok := published[id]; ok {
			out = append(out, at.Sub(p))
		}
	}
	slices.Sort(out)
	return out
}

// quantile returns the q-quantile (0..1) of sorted durations, 0 for none.
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q * float64(len(sorted)-1))
	return sorted[i]
}
