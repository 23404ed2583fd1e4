package ingest

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/events"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/gqlapi"
)

// Metrics are the pipeline's instruments. Attributes are bounded sets (outcome, class, kind,
// state); no event ids or names. A nil *Metrics records nothing.
type Metrics struct {
	receivedCount   metric.Int64Counter
	outcomes        metric.Int64Counter
	deadLetters     metric.Int64Counter
	calls           metric.Float64Histogram
	callResults     metric.Int64Counter
	inFlight        metric.Int64UpDownCounter
	ledgerReads     metric.Int64Counter
	reconciliations metric.Int64Counter

	// The attribute set of every value the instruments are recorded with, built once:
	// building a set per measurement sorts and allocates on every event.
	outcomeAttrs, classAttrs, resultAttrs, stateAttrs attrSets
	foundAttrs                                        [2]metric.MeasurementOption
}

// attrSets holds the measurement option for each known value of one attribute key; it is
// read-only once built.
type attrSets struct {
	key  string
	sets map[string]metric.MeasurementOption
}

func newAttrSets(key string, values ...string) attrSets {
	a := attrSets{key: key, sets: make(map[string]metric.MeasurementOption, len(values))}
	for _, v := range values {
		a.sets[v] = metric.WithAttributeSet(attribute.NewSet(attribute.String(key, v)))
	}
	return a
}

// with returns the option recording value; a value not known in advance gets its own set.
func (a attrSets) with(value string) metric.MeasurementOption {
	if o, ok := a.sets[value]; ok {
		return o
	}
	return metric.WithAttributes(attribute.String(a.key, value))
}

// NewMetrics creates the pipeline's instruments on meter.
func NewMetrics(meter metric.Meter) (*Metrics, error) {
	m := &Metrics{
		outcomeAttrs: newAttrSets("outcome", string(OutcomeIngested), string(OutcomeRetry),
			string(OutcomeDeadLettered), string(OutcomeHandedBack)),
		classAttrs: newAttrSets("error_class", string(events.ClassInvalidEvent), string(events.ClassRejected), string(events.ClassExhausted)),
		resultAttrs: newAttrSets("result", "ok", gqlapi.KindTransient.String(), gqlapi.KindRateLimited.String(),
			gqlapi.KindRejected.String(), gqlapi.KindPermission.String(), gqlapi.KindUnauthorized.String(),
			gqlapi.KindUnavailable.String()),
		stateAttrs: newAttrSets("state", "miss", "pending", "created", "dead"),
		foundAttrs: [2]metric.MeasurementOption{
			metric.WithAttributeSet(attribute.NewSet(attribute.Bool("found", false))),
			metric.WithAttributeSet(attribute.NewSet(attribute.Bool("found", true))),
		},
	}
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
	if m.callResults, err = meter.Int64Counter("ingest.create_asset.calls", metric.WithUnit("{call}"),
		metric.WithDescription("createAsset calls by result: ok or the error kind.")); err != nil {
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
	m.zero(context.Background())
	return m, nil
}

// zero adds 0 to every counter for each of its known attribute values, so that every series
// is exported from the start and an alert on a rate sees the first increase.
func (m *Metrics) zero(ctx context.Context) {
	m.receivedCount.Add(ctx, 0)
	m.inFlight.Add(ctx, 0)
	for _, z := range []struct {
		counter metric.Int64Counter
		sets    attrSets
	}{
		{m.outcomes, m.outcomeAttrs}, {m.deadLetters, m.classAttrs},
		{m.callResults, m.resultAttrs}, {m.ledgerReads, m.stateAttrs},
	} {
		for _, o := range z.sets.sets {
			z.counter.Add(ctx, 0, o)
		}
	}
	for _, o := range m.foundAttrs {
		m.reconciliations.Add(ctx, 0, o)
	}
}

func (m *Metrics) received(ctx context.Context) {
	if m != nil {
		m.receivedCount.Add(ctx, 1)
	}
}

func (m *Metrics) outcome(ctx context.Context, o Outcome) {
	if m != nil {
		m.outcomes.Add(ctx, 1, m.outcomeAttrs.with(string(o)))
	}
}

func (m *Metrics) deadLettered(ctx context.Context, class string) {
	if m != nil {
		m.deadLetters.Add(ctx, 1, m.classAttrs.with(class))
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
	o := m.resultAttrs.with(result)
	m.calls.Record(ctx, d.Seconds(), o)
	m.callResults.Add(ctx, 1, o)
}

func (m *Metrics) inflight(ctx context.Context, delta int64) {
	if m != nil {
		m.inFlight.Add(ctx, delta)
	}
}

func (m *Metrics) ledger(ctx context.Context, state string) {
	if m != nil {
		m.ledgerReads.Add(ctx, 1, m.stateAttrs.with(state))
	}
}

func (m *Metrics) reconciled(ctx context.Context, found bool) {
	if m != nil {
		m.reconciliations.Add(ctx, 1, m.foundAttrs[b2i(found)])
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
