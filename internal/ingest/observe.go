package ingest

import (
	"context"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Backlog names what the backlog gauges read.
type Backlog struct {
	Inbound  jetstream.Stream
	Consumer jetstream.Consumer
	DLQ      jetstream.Stream
	Paused   func() (bool, string)
	// MaxAge is how long the gauges reuse one reading (10s).
	MaxAge time.Duration
}

// maxDepthSources bounds the series of the dead-letter depth: sources past
// this many are counted together as otherSources, so a publisher writing to
// ever new subjects cannot make the metric unbounded.
const (
	maxDepthSources = 50
	otherSources    = "_other"
)

// backlogReading is one reading of the consumer and dead-letter stream.
type backlogReading struct {
	at            time.Time
	ok            bool
	pending       int64
	ackPending    int64
	oldestAge     float64 // seconds; 0 when nothing is waiting
	dlqDepth      int64
	dlqBySource   map[string]int64 // dead letters per source (the subject's last token)
	oldestDeadAge float64
}

// ObserveBacklog registers gauges for what on-call asks first: how many events wait, how old
// the oldest unprocessed one is (an event not processed within the inbound stream's maximum
// age is lost, and this age warns first), how many dead letters there are and how old the
// oldest is, and whether the replica is paused. Readings are taken at scrape time, at most once
// per MaxAge.
func ObserveBacklog(meter metric.Meter, b Backlog) error {
	if b.MaxAge <= 0 {
		b.MaxAge = 10 * time.Second
	}
	g, err := newBacklogGauges(meter)
	if err != nil {
		return err
	}
	read := cachedBacklog(b)
	_, err = meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		if b.Paused != nil {
			p, _ := b.Paused()
			o.ObserveInt64(g.paused, boolInt(p))
		}
		r := read(ctx)
		if !r.ok {
			return nil
		}
		o.ObserveInt64(g.pending, r.pending)
		o.ObserveInt64(g.ackPending, r.ackPending)
		o.ObserveFloat64(g.oldest, r.oldestAge)
		if len(r.dlqBySource) == 0 {
			o.ObserveInt64(g.dlqDepth, r.dlqDepth)
		}
		for src, n := range r.dlqBySource {
			o.ObserveInt64(g.dlqDepth, n, metric.WithAttributes(attribute.String("source", src)))
		}
		o.ObserveFloat64(g.dlqAge, r.oldestDeadAge)
		return nil
	}, g.pending, g.ackPending, g.oldest, g.dlqDepth, g.dlqAge, g.paused)
	return err
}

// cachedBacklog returns a reader of the backlog that reuses a reading for b.MaxAge. Every
// source of dead letters seen keeps its series, at 0 once its dead letters are gone.
func cachedBacklog(b Backlog) func(context.Context) backlogReading {
	var mu sync.Mutex
	var last backlogReading
	seen := map[string]bool{}
	return func(ctx context.Context) backlogReading {
		mu.Lock()
		defer mu.Unlock()
		if time.Since(last.at) < b.MaxAge {
			return last
		}
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		last = readBacklog(ctx, b)
		for src := range last.dlqBySource {
			if len(seen) <= maxDepthSources {
				seen[src] = true
			}
		}
		for src := range seen {
			if _, ok := last.dlqBySource[src]; !ok && last.ok {
				last.dlqBySource[src] = 0
			}
		}
		return last
	}
}

// backlogGauges are the instruments ObserveBacklog reports on.
type backlogGauges struct {
	pending, ackPending, dlqDepth, paused metric.Int64ObservableGauge
	oldest, dlqAge                        metric.Float64ObservableGauge
}

func newBacklogGauges(meter metric.Meter) (g backlogGauges, err error) {
	if g.pending, err = meter.Int64ObservableGauge("ingest.consumer.pending", metric.WithUnit("{event}"),
		metric.WithDescription("Events in the inbound stream not yet delivered to the consumer.")); err != nil {
		return g, err
	}
	if g.ackPending, err = meter.Int64ObservableGauge("ingest.consumer.ack_pending", metric.WithUnit("{event}"),
		metric.WithDescription("Events delivered and not yet acked (in flight or waiting for a retry).")); err != nil {
		return g, err
	}
	if g.oldest, err = meter.Float64ObservableGauge("ingest.oldest_unprocessed.age", metric.WithUnit("s"),
		metric.WithDescription("Age of the oldest event the consumer has not finished; it must stay well below the inbound stream's maximum age.")); err != nil {
		return g, err
	}
	if g.dlqDepth, err = meter.Int64ObservableGauge("ingest.dead_letters.depth", metric.WithUnit("{event}"),
		metric.WithDescription("Dead letters in the dead-letter stream, by source (the last token of their subject).")); err != nil {
		return g, err
	}
	if g.dlqAge, err = meter.Float64ObservableGauge("ingest.dead_letters.oldest.age", metric.WithUnit("s"),
		metric.WithDescription("Age of the oldest dead letter.")); err != nil {
		return g, err
	}
	// No unit: the Prometheus exporter turns unit "1" into a _ratio suffix, and a 0/1 state
	// is not a ratio.
	g.paused, err = meter.Int64ObservableGauge("ingest.paused",
		metric.WithDescription("1 while this replica is paused (the reason is on /readyz and in the logs)."))
	return g, err
}

func readBacklog(ctx context.Context, b Backlog) backlogReading {
	r := backlogReading{at: time.Now()}
	ci, err := b.Consumer.Info(ctx)
	if err != nil {
		return r
	}
	r.pending, r.ackPending = int64(ci.NumPending), int64(ci.NumAckPending)
	if ci.NumPending+uint64(ci.NumAckPending) > 0 {
		// The oldest unfinished event is the first one after the ack floor.
		// (by definition not acked, or the floor would be past it).
		m, err := b.Inbound.GetMsg(ctx, ci.AckFloor.Stream+1, jetstream.WithGetMsgSubject(">"))
		if err == nil {
			r.oldestAge = time.Since(m.Time).Seconds()
		}
	}
	si, err := b.DLQ.Info(ctx, jetstream.WithSubjectFilter(">"))
	if err != nil {
		return r
	}
	r.dlqDepth = int64(si.State.Msgs)
	r.dlqBySource = make(map[string]int64, len(si.State.Subjects))
	// In subject order, so that the same sources keep their own series.
	for _, subj := range slices.Sorted(maps.Keys(si.State.Subjects)) {
		n := si.State.Subjects[subj]
		src := subj[strings.LastIndexByte(subj, '.')+1:]
		if _, ok := r.dlqBySource[src]; !ok && len(r.dlqBySource) >= maxDepthSources {
			src = otherSources
		}
		r.dlqBySource[src] += int64(n)
	}
	if si.State.Msgs > 0 {
		r.oldestDeadAge = time.Since(si.State.FirstTime).Seconds()
	}
	r.ok = true
	return r
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
