package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/events"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/gqlapi"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/ledger"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/telemetry"
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

// settler settles a delivery; jetstream.Msg is one. Deliveries recovered from a
// max-deliveries advisory have nothing to settle.
type settler interface {
	Ack() error
	NakWithDelay(delay time.Duration) error
	TermWithReason(reason string) error
}

// delivery is one message being handled, with what the pipeline learned about it so far.
type delivery struct {
	subject   string
	header    nats.Header
	data      []byte
	stream    string
	seq       uint64
	delivered uint64
	published time.Time // the inbound message's JetStream time
	settle    settler

	start  time.Time
	ev     events.Published
	replay events.ReplayContext
	span   trace.Span
}

// Handle decides what happens to msg and carries it out (ack, nak with delay, or term); see the
// package documentation for the outcomes. It returns the outcome for the caller's accounting.
func (p *Pipeline) Handle(ctx context.Context, msg jetstream.Msg) Outcome {
	meta, err := msg.Metadata()
	if err != nil {
		// Not a JetStream message: nothing to acknowledge against.
		p.o.Logger.Error("delivery without JetStream metadata", "subject", msg.Subject(), "error", err)
		return OutcomeHandedBack
	}
	d := &delivery{
		subject: msg.Subject(), header: msg.Headers(), data: msg.Data(),
		stream: meta.Stream, seq: meta.Sequence.Stream, delivered: meta.NumDelivered, published: meta.Timestamp,
		settle: msg, start: p.o.Now(),
	}
	if d.header == nil {
		d.header = nats.Header{}
	}
	return p.run(ctx, d, meta.Consumer, p.handle)
}

// run wraps one delivery's handling in its process span and records its outcome.
func (p *Pipeline) run(ctx context.Context, d *delivery, consumer string, handle func(context.Context, *delivery) Outcome) Outcome {
	d.replay = events.ReplayInfo(d.header)
	info := telemetry.ProcessInfo{
		Subject: d.subject, Stream: d.stream, Consumer: consumer,
		Sequence: d.seq, Delivered: d.delivered, Header: d.header,
	}
	if d.replay.Traceparent != "" {
		info.Link, _ = telemetry.ParseTraceparent(d.replay.Traceparent)
	}
	ctx, d.span = telemetry.StartProcess(ctx, p.o.Tracer, p.o.Propagator, info)
	defer d.span.End()

	outcome := handle(ctx, d)
	d.span.SetAttributes(attribute.String("ingest.outcome", string(outcome)))
	p.o.Metrics.outcome(ctx, outcome)
	return outcome
}

func (p *Pipeline) handle(ctx context.Context, d *delivery) Outcome {
	ev, err := events.Decode(d.subject, d.header, d.data, p.o.Rules)
	d.ev = ev
	if ev.ID != "" {
		d.span.SetAttributes(attribute.String("messaging.message.id", events.OneLine(ev.ID, events.MaxAttributeBytes)))
	}
	if err != nil {
		return p.deadLetter(ctx, d, nil, failure{class: events.ClassInvalidEvent, err: err})
	}
	if paused, reason := p.pause.State(); paused {
		return p.handBack(ctx, d, "replica paused: "+reason, p.o.Backoff.Base)
	}
	if !p.enter(ev.Key) {
		return p.handBack(ctx, d, "the same event is being handled on this replica", p.o.AckWait/2)
	}
	defer p.leave(ev.Key)

	// Each pass reads the entry and acts on it; a compare-and-set conflict means the entry
	// changed under us, so read it again and decide again. A first delivery that is not a
	// replay almost never has an entry: its first pass claims without reading, saving a round
	// trip, and reads only when the claim finds an entry.
	claimFirst := d.delivered == 1 && d.replay.Count == 0
	for range 8 {
		outcome, err := p.decide(ctx, d, claimFirst)
		if !errors.Is(err, ledger.ErrConflict) {
			return outcome
		}
		claimFirst = false
	}
	return p.handBack(ctx, d, "ledger entry kept changing", p.o.Backoff.Delay(1))
}

// decide reads the event's ledger entry and acts on it; with claimFirst it claims the entry
// without reading it first. It returns ledger.ErrConflict when the entry changed (or, with
// claimFirst, existed) before its first write, so the caller decides again.
func (p *Pipeline) decide(ctx context.Context, d *delivery, claimFirst bool) (Outcome, error) {
	key := d.ev.Key
	now := p.o.Now().UTC()
	if claimFirst {
		return p.claim(ctx, d, now)
	}
	entry, rev, err := p.ledger.Get(ctx, key)
	switch {
	case errors.Is(err, ledger.ErrNotFound):
		return p.claim(ctx, d, now)
	case errors.Is(err, ledger.ErrCorrupt):
		// Not a failure of the system: pausing would not mend it. Hold the event (its
		// deliveries back off) until an operator repairs or removes the entry.
		p.o.Logger.ErrorContext(ctx, "the event's ledger entry is unreadable; holding the event",
			p.logAttrs(d, "ledger_key", "event."+key, "error", err)...)
		return p.handBack(ctx, d, "unreadable ledger entry", p.o.Backoff.Max), nil
	case err != nil:
		return p.systemic(ctx, d, "reading the ledger", err), nil
	}

	switch entry.State {
	case ledger.StateCreated:
		p.o.Metrics.ledger(ctx, "created")
		return p.republishIngested(ctx, d, entry), nil
	case ledger.StateDead:
		p.o.Metrics.ledger(ctx, "dead")
		if !replays(d.replay, entry) {
			// A crash between dead letter and terminate: the same decision again.
			return p.redeadLetter(ctx, d, ledgerRef{entry: entry, rev: rev}), nil
		}
		// A replay: reconcile first, then a fresh budget.
		takeReplay(d, &entry)
		entry.State = ledger.StatePending
		entry.Class, entry.Error, entry.FailedAt, entry.DLQSequence = "", "", time.Time{}, 0
		return p.retake(ctx, d, entry, rev, true)
	default:
		p.o.Metrics.ledger(ctx, "pending")
		if entry.Owner != p.o.Replica && p.claimLive(entry) {
			wait := entry.Heartbeat.Add(p.o.AckWait).Sub(now)
			return p.handBack(ctx, d, "claimed by replica "+entry.Owner, max(wait, time.Second)), nil
		}
		reconcile := entry.Attempts > 0 || entry.Calls > 0 || entry.MayExist
		if replays(d.replay, entry) {
			takeReplay(d, &entry)
			reconcile = true
		}
		return p.retake(ctx, d, entry, rev, reconcile)
	}
}

// claim creates the event's entry (atomic create-if-absent), counting the first attempt, and
// makes the call. It returns ledger.ErrConflict when an entry exists.
func (p *Pipeline) claim(ctx context.Context, d *delivery, now time.Time) (Outcome, error) {
	entry := ledger.Entry{State: ledger.StatePending, Owner: p.o.Replica, Heartbeat: now,
		Attempts: 1, Calls: 1, FirstAttempt: now, ReplayCount: d.replay.Count}
	rev, err := p.ledger.Claim(ctx, d.ev.Key, entry)
	if errors.Is(err, ledger.ErrExists) {
		return "", ledger.ErrConflict
	}
	if err != nil {
		return p.systemic(ctx, d, "claiming the event in the ledger", err), nil
	}
	p.o.Metrics.ledger(ctx, "miss")
	return p.call(ctx, d, entry, rev), nil
}

// retake continues an existing entry: reconcile when an earlier call may have created the
// asset, then spend one attempt from the budget (or dead-letter when it is spent) and call.
func (p *Pipeline) retake(ctx context.Context, d *delivery, entry ledger.Entry, rev uint64, reconcile bool) (Outcome, error) {
	if reconcile {
		asset, found, err := p.reconcile(ctx, d, entry)
		if err != nil {
			return p.lookupFailed(ctx, d, entry, rev, err), nil
		}
		if found {
			return p.ingested(ctx, d, entry, rev, asset), nil
		}
	}
	if entry.Attempts >= p.o.MaxAttempts {
		msg := fmt.Sprintf("attempt budget spent: %d attempts charged (%d createAsset calls made) and none confirmed", entry.Attempts, entry.Calls)
		return p.deadLetter(ctx, d, &ledgerRef{entry: entry, rev: rev}, failure{class: events.ClassExhausted, err: errors.New(msg)}), nil
	}
	now := p.o.Now().UTC()
	entry.Attempts++
	entry.Calls++
	entry.Owner, entry.Heartbeat = p.o.Replica, now
	if entry.FirstAttempt.IsZero() {
		entry.FirstAttempt = now
	}
	next, err := p.ledger.Update(ctx, d.ev.Key, entry, rev)
	if errors.Is(err, ledger.ErrConflict) {
		return "", err
	}
	if err != nil {
		return p.systemic(ctx, d, "counting the attempt in the ledger", err), nil
	}
	return p.call(ctx, d, entry, next), nil
}

func (p *Pipeline) enter(key string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, busy := p.inflight[key]; busy {
		return false
	}
	p.inflight[key] = struct{}{}
	return true
}

func (p *Pipeline) leave(key string) {
	p.mu.Lock()
	delete(p.inflight, key)
	p.mu.Unlock()
}

// handBack returns the message for later without deciding anything about the event. The delay
// is at least delay, and grows with the delivery count (see deliveryBackoff), so deliveries
// that spend no attempt cannot run through the consumer's MaxDeliver in minutes.
func (p *Pipeline) handBack(ctx context.Context, d *delivery, why string, delay time.Duration) Outcome {
	delay = max(delay, p.deliveryBackoff(d))
	if p.o.Logger.Enabled(ctx, slog.LevelInfo) {
		p.o.Logger.InfoContext(ctx, "delivery handed back", p.logAttrs(d,
			"outcome", OutcomeHandedBack, "reason", why, "delay", delay.String(),
			"duration_ms", p.o.Now().Sub(d.start).Milliseconds())...)
	}
	if err := d.settle.NakWithDelay(delay); err != nil {
		p.o.Logger.WarnContext(ctx, "handing the delivery back failed; it returns after the ack wait", p.logAttrs(d, "error", err)...)
	}
	return OutcomeHandedBack
}

// systemic handles a failure of the service's own dependencies (ledger, results, dead letters):
// the replica pauses and the message is handed back without spending an attempt.
func (p *Pipeline) systemic(ctx context.Context, d *delivery, doing string, err error) Outcome {
	reason := fmt.Sprintf("%s failed: %v", doing, err)
	telemetry.Fail(d.span, "systemic", reason, err)
	p.o.Logger.ErrorContext(ctx, "systemic failure", p.logAttrs(d, "doing", doing, "error", err)...)
	p.pause.Pause(reason)
	return p.handBack(ctx, d, reason, p.o.Backoff.Base)
}

func (p *Pipeline) logAttrs(d *delivery, kv ...any) []any {
	attrs := []any{"subject", d.subject, "stream_sequence", d.seq, "delivered", d.delivered}
	if d.ev.ID != "" {
		// An invalid event's attributes may be as long as its body: logged cut.
		attrs = append(attrs, "event_id", events.OneLine(d.ev.ID, events.MaxAttributeBytes),
			"event_source", events.OneLine(d.ev.Source, events.MaxAttributeBytes))
	}
	return append(attrs, kv...)
}

// deliveryBackoff is the delay for a delivery that spends no attempt: exponential in the
// delivery count from the backoff base up to its maximum, with half jitter (never shorter than
// half the step).
func (p *Pipeline) deliveryBackoff(d *delivery) time.Duration {
	step := p.o.Backoff.Max
	if n := d.delivered; n >= 1 && n < 62 && p.o.Backoff.Base <= p.o.Backoff.Max>>(n-1) {
		step = p.o.Backoff.Base << (n - 1)
	}
	if step <= 1 {
		return step
	}
	return step/2 + rand.N(step/2)
}

// claimLive reports whether a pending entry's owner refreshed its claim within the ack wait.
func (p *Pipeline) claimLive(e ledger.Entry) bool {
	return e.Owner != "" && p.o.Now().Sub(e.Heartbeat) < p.o.AckWait
}
