package ingest

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/events"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/gqlapi"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/ledger"
)

// API is what the pipeline needs of Amplience.
type API interface {
	CreateAsset(ctx context.Context, in gqlapi.CreateAssetInput) (gqlapi.Asset, error)
	FindByName(ctx context.Context, repositoryID, name string, createdSince time.Time) ([]gqlapi.Asset, error)
}

// Publisher publishes to JetStream and waits for the stream's acknowledgement.
type Publisher interface {
	PublishMsg(ctx context.Context, msg *nats.Msg, opts ...jetstream.PublishOpt) (*jetstream.PubAck, error)
}

// Outcome is what became of one delivery.
type Outcome string

// The outcomes of a delivery; see the package documentation.
const (
	OutcomeIngested     Outcome = "ingested"
	OutcomeRetry        Outcome = "retry"
	OutcomeDeadLettered Outcome = "dead_lettered"
	OutcomeHandedBack   Outcome = "handed_back"
)

// Options configure a [Pipeline]. Every field without a default is required.
type Options struct {
	Stream   string // inbound stream name, for dead-letter headers and spans
	Consumer string // durable consumer name, for spans
	Replica  string // this replica's ledger owner name, unique per process

	Rules       events.Rules
	MaxAttempts int
	Backoff     Backoff
	AckWait     time.Duration
	// CallTimeout bounds one API call (AMPLIENCE_TIMEOUT): a createAsset call starts only while
	// its claim, as last confirmed in the ledger, stays live for longer than this.
	CallTimeout time.Duration
	// ProbeRepository checks that the API key can still use a repository, touching no event
	// (a search in it); nil checks nothing. The probe searches the default repository, when
	// there is one, to see a lost DAM permission; without one, a permission error is checked
	// with this in the failing event's own repository.
	ProbeRepository func(ctx context.Context, repositoryID string) error
	// MaxPayload is the server's maximum message size; a dead letter that would exceed it is
	// published without its body.
	MaxPayload int64

	Now        func() time.Time // default time.Now
	Logger     *slog.Logger
	Tracer     trace.Tracer
	Propagator propagation.TextMapPropagator
	Metrics    *Metrics // nil records nothing
}

// Pipeline decides and carries out what happens to one delivery. Safe for concurrent use.
// A delivery goes through the files of this package in this order: delivery.go (decode, the
// process span), decide.go (the ledger entry says what to do), reconcile.go, call.go (the
// createAsset call and what its failure means), then ingested.go or deadletter.go, and
// settle.go, the one place that acks, naks or terminates.
type Pipeline struct {
	o      Options
	js     Publisher
	ledger *ledger.Ledger
	api    API
	pause  *Pauser

	mu       sync.Mutex
	inflight map[string]struct{} // event keys being handled by this replica
	usable   string              // the repository of this replica's last successful call
}

// New returns a pipeline.
func New(js Publisher, l *ledger.Ledger, api API, pause *Pauser, o Options) *Pipeline {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Tracer == nil {
		o.Tracer = noop.NewTracerProvider().Tracer("")
	}
	if o.Propagator == nil {
		o.Propagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	}
	return &Pipeline{o: o, js: js, ledger: l, api: api, pause: pause, inflight: make(map[string]struct{})}
}

// enter marks the delivery's event as handled by this replica until the delivery is settled;
// false when it already is.
func (p *Pipeline) enter(d *delivery) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, busy := p.inflight[d.ev.Key]; busy {
		return false
	}
	p.inflight[d.ev.Key] = struct{}{}
	d.entered = true
	return true
}

func (p *Pipeline) leave(key string) {
	p.mu.Lock()
	delete(p.inflight, key)
	p.mu.Unlock()
}
