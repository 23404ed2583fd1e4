package gqlapi

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// instrumentationName names this package's meter.
const instrumentationName = "github.com/amplience-ingest/asset-ingest-consumer/internal/gqlapi"

// metrics records one duration per API request (token fetch included, rate-limit wait
// excluded). Its attributes are bounded: the operation is one of this package's operations,
// the outcome "ok", "canceled" or a Kind's label.
type metrics struct {
	duration metric.Float64Histogram
	// attrs holds the attribute set of each operation and outcome met so far (a bounded
	// number), built once rather than sorted and hashed again for every request.
	attrs sync.Map // attrKey -> metric.MeasurementOption
}

type attrKey struct{ op, outcome string }

func newMetrics(mp metric.MeterProvider) (*metrics, error) {
	h, err := mp.Meter(instrumentationName).Float64Histogram(
		"amplience.client.request.duration",
		metric.WithUnit("s"),
		metric.WithDescription("Duration of Amplience GraphQL API requests, by operation and outcome."),
		metric.WithExplicitBucketBoundaries(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
	)
	if err != nil {
		return nil, fmt.Errorf("creating the request duration histogram: %w", err)
	}
	return &metrics{duration: h}, nil
}

func (m *metrics) record(ctx context.Context, op string, d time.Duration, err error) {
	m.duration.Record(context.WithoutCancel(ctx), d.Seconds(), m.attributes(op, outcome(err)))
}

// attributes returns the attributes of a request of operation op with outcome.
func (m *metrics) attributes(op, outcome string) metric.MeasurementOption {
	k := attrKey{op, outcome}
	if o, ok := m.attrs.Load(k); ok {
		return o.(metric.MeasurementOption)
	}
	o, _ := m.attrs.LoadOrStore(k, metric.WithAttributeSet(attribute.NewSet(
		attribute.String("graphql.operation.name", op),
		attribute.String("outcome", outcome),
	)))
	return o.(metric.MeasurementOption)
}

// outcome labels a request's result.
func outcome(err error) string {
	if err == nil {
		return "ok"
	}
	if _, ok := errors.AsType[*Error](err); !ok {
		return "canceled"
	}
	return KindOf(err).String()
}
