package ingest

import (
	"context"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/events"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/ledger"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/telemetry"
)

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
	msg       settler

	start  time.Time
	ev     events.Published
	replay events.ReplayContext
	span   trace.Span

	// entry is the event's ledger entry as last read or written, at revision rev. rev is 0
	// while the delivery holds no entry: none was read yet, none exists, or the message has
	// no usable key (an invalid event).
	entry ledger.Entry
	rev   uint64

	// entered: the event's key is marked as handled by this replica until it is settled.
	entered bool
}

// stage is a step of the pipeline that decides about a delivery.
type stage func(context.Context, *delivery) verdict

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
		msg: msg, start: p.o.Now(),
	}
	if d.header == nil {
		d.header = nats.Header{}
	}
	return p.run(ctx, d, meta.Consumer, p.handle)
}

// run starts the delivery's process span, lets the stage decide, and settles its verdict.
func (p *Pipeline) run(ctx context.Context, d *delivery, consumer string, decide stage) Outcome {
	d.replay = events.ReplayInfo(d.header)
	info := telemetry.ProcessInfo{
		Subject: d.subject, Stream: d.stream, Consumer: consumer,
		Sequence: d.seq, Delivered: d.delivered, Header: d.header,
	}
	if d.replay.Traceparent != "" {
		info.Link, _ = telemetry.ParseTraceparent(d.replay.Traceparent)
	}
	ctx, d.span = telemetry.StartProcess(ctx, p.o.Tracer, p.o.Propagator, info)
	outcome := p.settle(ctx, d, decide(ctx, d))
	if d.entered {
		p.leave(d.ev.Key)
	}
	return outcome
}

// decode decodes and validates the delivery's event, naming it on the span.
func (p *Pipeline) decode(d *delivery) error {
	ev, err := events.Decode(d.subject, d.header, d.data, p.o.Rules)
	d.ev = ev
	if ev.ID != "" {
		d.span.SetAttributes(attribute.String("messaging.message.id", events.OneLine(ev.ID, events.MaxAttributeBytes)))
	}
	return err
}

// handle is the stage of a delivery from the consumer: an invalid event is dead-lettered, a
// paused replica or one already handling the event hands it back, and otherwise the ledger
// decides.
func (p *Pipeline) handle(ctx context.Context, d *delivery) verdict {
	if err := p.decode(d); err != nil {
		return p.deadLetter(ctx, d, failure{class: events.ClassInvalidEvent, err: err})
	}
	if paused, reason := p.pause.State(); paused {
		return handBack("replica paused: "+reason, p.o.Backoff.Base)
	}
	if !p.enter(d) {
		return handBack("the same event is being handled on this replica", p.o.AckWait/2)
	}
	return p.decide(ctx, d)
}
