package bench

import (
	"context"
	"flag"
	"runtime"
	"sync"
	"testing"
	"time"
)

// sample is the process's state at one point of a run.
type sample struct {
	done       int    // events completed
	goroutines int    // runtime.NumGoroutine
	heapInuse  uint64 // after a GC; 0 when not measured
}

// sampler watches a run: every tick the goroutine count and the consumer's ack-pending count
// (messages delivered to a replica and not acked yet), and at given progress marks the heap in
// use after a GC.
type sampler struct {
	mu         sync.Mutex
	marks      []sample // one per mark reached, in order
	maxG       int
	maxPending int
	ticks      int

	stop context.CancelFunc
	done chan struct{}
}

// watch samples every interval until finish. marks are completion counts at which to measure
// the heap; tick, when set, runs at every sample (to reset the sandbox's records, so that the
// heap measures the service and not the sandbox's memory of it).
func (r *rig) watch(c *collector, interval time.Duration, marks []int, tick func()) *sampler {
	ctx, cancel := context.WithCancel(context.Background())
	s := &sampler{stop: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if tick != nil {
				tick()
			}
			g := runtime.NumGoroutine()
			pending := -1
			if info, err := r.bound.Consumer.Info(ctx); err == nil {
				pending = info.NumAckPending
			}
			done := c.count()
			var heap uint64
			s.mu.Lock()
			measure := len(marks) > len(s.marks) && done >= marks[len(s.marks)]
			s.mu.Unlock()
			if measure {
				runtime.GC()
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				heap = ms.HeapInuse
			}
			s.mu.Lock()
			s.ticks++
			s.maxG = max(s.maxG, g)
			s.maxPending = max(s.maxPending, pending)
			if measure {
				s.marks = append(s.marks, sample{done: done, goroutines: g, heapInuse: heap})
			}
			s.mu.Unlock()
		}
	}()
	return s
}

// finish stops sampling and returns the samples taken at the marks.
func (s *sampler) finish() []sample {
	s.stop()
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.marks
}

// backlogSize is how many events BenchmarkBacklog publishes before any consumer starts:
// go test -run '^$' -bench Backlog -benchtime 20000x ./test/bench/ -backlog 1000000
var backlogSize = flag.Int("backlog", 200_000, "events BenchmarkBacklog publishes before the service starts")

// BenchmarkBacklog publishes -backlog events (200,000 by default), then starts the service and lets it work through
// b.N of them (use -benchtime 20000x or so). A consumer that buffered ahead of its in-flight
// window would show it here: the heap in use (after a GC) at 10% and 50% of the run should be
// about the same, and goroutines and unacknowledged deliveries bounded by
// INGEST_CONCURRENCY. It reports heap-10%-MB, heap-50%-MB, heap-growth (their ratio),
// max-goroutines (above the count before the service started) and max-ack-pending.
func BenchmarkBacklog(b *testing.B) {
	r := newRig(b, nil, nil)
	start := time.Now()
	r.publish(0, *backlogSize)
	b.Logf("published %d events in %s", *backlogSize, time.Since(start).Round(time.Millisecond))
	b.Run("service", func(b *testing.B) {
		c := r.collect()
		runtime.GC()
		base := runtime.NumGoroutine()
		b.ReportAllocs()
		b.ResetTimer()
		from := now(b)
		r.startService("bench-1")
		marks := []int{max(b.N/10, 1), max(b.N/2, 1)}
		s := r.watch(c, 50*time.Millisecond, marks, r.sandbox.Reset)
		c.wait(b, b.N, timeout(b.N, 50))
		to := now(b)
		b.StopTimer()
		samples := s.finish()
		report(b, from, to, b.N)
		b.ReportMetric(float64(s.maxG-base), "max-goroutines")
		b.ReportMetric(float64(s.maxPending), "max-ack-pending")
		if len(samples) == 2 {
			b.ReportMetric(float64(samples[0].heapInuse)/(1<<20), "heap-10%-MB")
			b.ReportMetric(float64(samples[1].heapInuse)/(1<<20), "heap-50%-MB")
			b.ReportMetric(float64(samples[1].heapInuse)/float64(samples[0].heapInuse), "heap-growth")
		}
	})
}
