package ingest

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/gqlapi"
)

// Metrics are the pipeline's instruments. Attributes are bounded sets (outcome, class, kind,
// state); no event ids or names. A nil *Metrics records nothing.
type Metrics struct {
	receivedCount   metric.Int64Counter
	outcomes        metric.Int64Counter
	deadLetters     metric.Int64Counter
	calls           metric.Float64Histogram
	inFlight        metric.Int64UpDownCounter
	ledgerReads     metric.Int64Counter
	reconciliations metric.Int64Counter
}

// NewMetrics creates the pipeline's instruments on meter.
func NewMetrics(meter metric.Meter) (*Metrics, error) {
	var m Metrics
	var err error
	if m.receivedCount, err = meter.Int64Counter("ingest.events.received", metric.WithUnit("{event}"),
		metric.WithDescription("Deliveries pulled from the inbound consumer.")); err != nil {
		return nil, err
	}
	if m.outcomes, err = meter.Int64Counter("ingest.events.outcomes", metric.WithUnit("{event}"),
		metric.WithDescription("Deliveries by outcome: ingested, retry, dead_lettered, handed_back.")); err != nil {
		return nil, err
	}
	if m.deadLetters, err = meter.Int64Counter("ingest.dead_letters", metric.WithUnit("{event}"),
		metric.WithDescription("Dead letters published, by error class.")); err != nil {
		return nil, err
	}
	if m.calls, err = meter.Float64Histogram("ingest.create_asset.duration", metric.WithUnit("s"),
		metric.WithDescription("createAsset calls by result (ok or the error kind), including rate-limit waits."),
		metric.WithExplicitBucketBoundaries(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)); err != nil {
		return nil, err
	}
	if m.inFlight, err = meter.Int64UpDownCounter("ingest.events.in_flight", metric.WithUnit("{event}"),
		metric.WithDescription("Deliveries being handled by this replica.")); err != nil {
		return nil, err
	}
	if m.ledgerReads, err = meter.Int64Counter("ingest.ledger.reads", metric.WithUnit("{read}"),
		metric.WithDescription("Ledger reads by the state found: miss, pending, created, dead.")); err != nil {
		return nil, err
	}
	if m.reconciliations, err = meter.Int64Counter("ingest.reconciliations", metric.WithUnit("{lookup}"),
		metric.WithDescription("Reconciliation lookups by whether an earlier attempt's asset was found.")); err != nil {
		return nil, err
	}
	return &m, nil
}

func (m *Metrics) received(ctx context.Context) {
	if m != nil {
		m.receivedCount.Add(ctx, 1)
	}
}

func (m *Metrics) outcome(ctx context.Context, o Outcome) {
	if m != nil {
		m.outcomes.Add(ctx, 1, metric.WithAttributes(attribute.String("outcome", string(o))))
	}
}

func (m *Metrics) deadLettered(ctx context.Context, class string) {
	if m != nil {
		m.deadLetters.Add(ctx, 1, metric.WithAttributes(attribute.String("error_class", class)))
	}
}

func (m *Metrics) call(ctx context.Context, d time.Duration, err error) {
	if m == nil {
		return
	}
	result := "ok"
	if err != nil {
		result = gqlapi.KindOf(err).String()
	}
	m.calls.Record(ctx, d.Seconds(), metric.WithAttributes(attribute.String("result", result)))
}

func (m *Metrics) inflight(ctx context.Context, delta int64) {
	if m != nil {
		m.inFlight.Add(ctx, delta)
	}
}

func (m *Metrics) ledger(ctx context.Context, state string) {
	if m != nil {
		m.ledgerReads.Add(ctx, 1, metric.WithAttributes(attribute.String("state", state)))
	}
}

func (m *Metrics) reconciled(ctx context.Context, found bool) {
	if m != nil {
		m.reconciliations.Add(ctx, 1, metric.WithAttributes(attribute.Bool("found", found)))
	}
}
