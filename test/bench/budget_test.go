package bench

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/sandbox"
)

// BenchmarkSharedBudget runs three service replicas sharing one request budget of 20 calls per
// second (AMPLIENCE_RATE_LIMIT=20/s) against a sandbox that allows 25 per 1 s window, over a
// backlog of b.N events. It reports how much of the budget the replicas used together
// (createAsset calls per second over 20) and the 429 answers they caused. Use
// -benchtime 200x or so: b.N events take about b.N/20 seconds.
func BenchmarkSharedBudget(b *testing.B) {
	const (
		replicas = 3
		budget   = 20.0 // per second
	)
	r := newRig(b, map[string]string{"AMPLIENCE_RATE_LIMIT": fmt.Sprintf("%d/s", int(budget))}, func(o *sandbox.Options) {
		o.RateLimit, o.RateWindow = 25, time.Second
	})
	c := r.collect()
	r.publish(0, b.N)
	runtime.GC()
	resetPeakRSS()
	b.ReportAllocs()
	b.ResetTimer()
	from := now(b)
	for i := range replicas {
		r.startService(fmt.Sprintf("bench-%d", i+1))
	}
	c.wait(b, b.N, timeout(b.N, budget/2))
	to := now(b)
	b.StopTimer()
	report(b, from, to, b.N)
	reportPeakRSS(b)
	stats := r.sandbox.Stats()
	calls := stats.ByRootField["createAsset"]
	b.ReportMetric(float64(calls)/to.wall.Sub(from.wall).Seconds()/budget, "budget-used")
	b.ReportMetric(float64(stats.TooManyRequests), "429s")
	b.ReportMetric(float64(stats.MaxPerWindow), "max-per-window")
}
