package bench

import (
	"runtime"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// arm starts the consumer under test on a rig: the service (one or more replicas) or the
// minimal loop.
type arm struct {
	name  string
	start func(r *rig)
}

// arms are the service and its baselines, all with the rig's INGEST_CONCURRENCY: the minimal
// loop, and the minimal loop with the ledger writes the contract requires.
var arms = []arm{
	{"service", func(r *rig) { r.startService("bench-1") }},
	{"minimal", func(r *rig) { r.startMinimal(r.cfg.Concurrency, false) }},
	{"minimal-ledger", func(r *rig) { r.startMinimal(r.cfg.Concurrency, true) }},
}

// drain measures b.N events through the consumer started by a: the consumer is started first,
// then the events are published as fast as the stream confirms them, and the clock stops when
// the last completion arrives. It reports events/s, cpu-ms/event, allocations, peak RSS, and
// the createAsset fields per createAsset request (1 for the minimal loops).
func drain(b *testing.B, r *rig, a arm) {
	c := r.collect()
	a.start(r)
	runtime.GC()
	resetPeakRSS()
	b.ReportAllocs()
	b.ResetTimer()
	from := now(b)
	r.publish(0, b.N)
	c.wait(b, b.N, timeout(b.N, 50))
	to := now(b)
	b.StopTimer()
	report(b, from, to, b.N)
	reportPeakRSS(b)
	b.ReportMetric(float64(r.conns.Load()), "http-conns")
	st := r.sandbox.Stats()
	requests := st.ByOperation["CreateAsset"] + st.ByOperation["CreateAssets"]
	b.ReportMetric(float64(st.ByRootField["createAsset"])/float64(max(requests, 1)), "events/request")
}

// paced measures latency: b.N events published at rate per second (each at its own time, not
// in bursts), the clock stopping when the last completion arrives. It reports p50-ms and
// p99-ms from each inbound message's JetStream timestamp to its completion's arrival, besides
// events/s and cpu-ms/event.
func paced(b *testing.B, r *rig, a arm, rate float64) {
	c := r.collect()
	a.start(r)
	js, err := jetstream.New(r.nc, jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		b.Fatalf("JetStream: %v", err)
	}
	runtime.GC()
	resetPeakRSS()
	b.ReportAllocs()
	b.ResetTimer()
	from := now(b)
	interval := time.Duration(float64(time.Second) / rate)
	for i := range b.N {
		if d := time.Until(from.wall.Add(time.Duration(i) * interval)); d > 0 {
			time.Sleep(d) // pacing the load, not synchronisation
		}
		if _, err := js.PublishAsync(inboundSubject, eventBody(i)); err != nil {
			b.Fatalf("publishing event %d: %v", i, err)
		}
	}
	c.wait(b, b.N, timeout(b.N, rate/2))
	to := now(b)
	b.StopTimer()
	report(b, from, to, b.N)
	reportPeakRSS(b)
	lat := c.latencies(r.published())
	b.ReportMetric(ms(quantile(lat, 0.5)), "p50-ms")
	b.ReportMetric(ms(quantile(lat, 0.99)), "p99-ms")
}

// timeout is how long n events may take at no less than rate per second, plus a margin.
func timeout(n int, rate float64) time.Duration {
	return 30*time.Second + time.Duration(float64(n)/rate*float64(time.Second))
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
