package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/backoff"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/events"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/ledger"
)

// outcomeSuperseded is the outcome of an advisory about a message that a newer replay of its
// event superseded: nothing is done.
const outcomeSuperseded Outcome = "superseded"

// advisoryRetry is the backoff of an advisory whose handling failed, by its delivery count.
var advisoryRetry = backoff.Policy{Base: 5 * time.Second, Max: 10 * time.Minute}

// maxDeliveriesType is the CloudEvents-like type of JetStream's max-deliveries advisory.
const maxDeliveriesType = "io.nats.jetstream.advisory.v1.max_deliver"

// maxDeliveriesAdvisory is the part of JetStream's io.nats.jetstream.advisory.v1.max_deliver
// advisory the service reads.
type maxDeliveriesAdvisory struct {
	Type       string `json:"type"`
	Stream     string `json:"stream"`
	Consumer   string `json:"consumer"`
	StreamSeq  uint64 `json:"stream_seq"`
	Deliveries uint64 `json:"deliveries"`
}

// Advisories handles the deliveries JetStream gave up on (the consumer's MaxDeliver backstop):
// for each max-deliveries advisory captured in the advisory stream it fetches the message by
// sequence and reads the ledger. An entry that is created republishes asset.ingested; any
// other message is dead-lettered as exhausted with the ledger's attempt count (0 without an
// entry); a message that aged out of the inbound stream is reported as lost. Only advisories
// for this service's stream and durable count, and only for the delivery the ledger still
// follows: a message whose event a newer replay has claimed since is left to that replay.
type Advisories struct {
	p       *Pipeline
	inbound jetstream.Stream
	cons    jetstream.Consumer
	log     *slog.Logger
}

// NewAdvisories returns a handler that reads advisories from cons (a durable pull consumer on
// the advisory stream, shared by all replicas) and inbound messages from inbound.
func NewAdvisories(p *Pipeline, inbound jetstream.Stream, cons jetstream.Consumer, log *slog.Logger) *Advisories {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Advisories{p: p, inbound: inbound, cons: cons, log: log}
}

// Run handles advisories until ctx ends. An advisory is acked only after its message was
// settled; one whose handling failed is handed back and tried again.
func (a *Advisories) Run(ctx context.Context) error {
	for ctx.Err() == nil {
		fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		batch, err := a.cons.Fetch(16, jetstream.FetchContext(fctx))
		if err != nil {
			cancel()
			if ctx.Err() == nil {
				a.log.Warn("pulling max-deliveries advisories failed", "error", err)
				sleep(ctx, 2*time.Second)
			}
			continue
		}
		for msg := range batch.Messages() {
			if err := a.handle(ctx, msg.Data()); err != nil {
				delay := advisoryRetry.Step(1)
				if meta, merr := msg.Metadata(); merr == nil {
					delay = advisoryRetry.Step(int(min(meta.NumDelivered, 64)))
				}
				a.log.Error("handling a max-deliveries advisory failed; it will be retried", "error", err, "retry_in", delay.String())
				_ = msg.NakWithDelay(delay)
				continue
			}
			_ = msg.Ack()
		}
		cancel()
	}
	return nil
}

func (a *Advisories) handle(ctx context.Context, body []byte) error {
	var adv maxDeliveriesAdvisory
	if err := json.Unmarshal(body, &adv); err != nil {
		a.log.Error("unreadable max-deliveries advisory; skipped", "error", err)
		return nil
	}
	if adv.Type != maxDeliveriesType || adv.Stream != a.p.o.Stream || adv.Consumer != a.p.o.Consumer {
		// The advisory stream may capture more than this service's consumer (an operator's
		// audit consumer on the same stream): what JetStream gave up on for another consumer
		// is not this service's to dead-letter.
		a.log.Debug("advisory for another consumer; skipped",
			"type", adv.Type, "stream", adv.Stream, "consumer", adv.Consumer, "stream_sequence", adv.StreamSeq)
		return nil
	}
	raw, err := a.inbound.GetMsg(ctx, adv.StreamSeq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		a.log.Error("event lost: JetStream gave up on it and it is no longer in the inbound stream",
			"stream", adv.Stream, "stream_sequence", adv.StreamSeq, "deliveries", adv.Deliveries)
		a.p.o.Metrics.outcome(ctx, "lost")
		return nil
	}
	if err != nil {
		return fmt.Errorf("fetching %s:%d: %w", adv.Stream, adv.StreamSeq, err)
	}
	d := &delivery{
		subject: raw.Subject, header: raw.Header, data: raw.Data,
		stream: adv.Stream, seq: raw.Sequence, delivered: adv.Deliveries, published: raw.Time,
		msg: noSettle{}, start: a.p.o.Now(),
	}
	if d.header == nil {
		d.header = nats.Header{}
	}
	if a.p.run(ctx, d, adv.Consumer, a.p.handleGivenUp) == OutcomeHandedBack {
		return errors.New("the replica could not settle it now")
	}
	return nil
}

// handleGivenUp is the stage of a message JetStream stopped delivering, per [Advisories]: the
// ledger entry is read and planned for as a delivery's would be, with any live claim waited
// for, and what would be a further attempt is an exhausted dead letter instead.
func (p *Pipeline) handleGivenUp(ctx context.Context, d *delivery) verdict {
	why := fmt.Errorf("JetStream stopped delivering the event after %d deliveries", d.delivered)
	if err := p.decode(d); err != nil || d.ev.Key == "" {
		return p.deadLetter(ctx, d, failure{class: events.ClassExhausted, err: why})
	}
	entry, rev, err := p.ledger.Get(ctx, d.ev.Key)
	switch {
	case errors.Is(err, ledger.ErrNotFound):
		return p.deadLetter(ctx, d, failure{class: events.ClassExhausted, err: why})
	case errors.Is(err, ledger.ErrCorrupt):
		// Pausing would not mend the entry, and the event was held until JetStream gave up on
		// it: hand it to the operators with what is known.
		return p.deadLetter(ctx, d, failure{class: events.ClassExhausted,
			err: fmt.Errorf("%w; its ledger entry is unreadable (%w)", why, err)})
	case err != nil:
		return systemic("reading the ledger", err)
	}
	d.entry, d.rev = entry, rev
	if entry.State != ledger.StateCreated && superseded(d.replay, entry) {
		// A newer replay of the event has claimed it since: the message JetStream gave up on
		// was dead-lettered and replayed, and the replay's own deliveries decide now. An old
		// advisory read again must not end the replay's retries.
		return verdict{outcome: outcomeSuperseded}
	}
	switch pl := planFor(entry, true, d.replay, "", p.o.Now(), p.o.AckWait); pl.step {
	case stepRepublish:
		return p.republishIngested(ctx, d)
	case stepRedeadLetter:
		return p.redeadLetter(ctx, d)
	case stepWait:
		// The last delivery may still be running somewhere: decide once it has settled.
		return handBack("the event's last delivery may still be running", 0)
	}
	if !p.enter(d) {
		return handBack("the same event is being handled on this replica", 0)
	}
	if entry.State == ledger.StateDead {
		// A replay JetStream gave up on: none of its budget was spent.
		takeReplay(d, &d.entry)
	}
	return p.deadLetter(ctx, d, failure{class: events.ClassExhausted, err: why})
}

// noSettle settles nothing: JetStream already gave up on the message.
type noSettle struct{}

func (noSettle) Ack() error                       { return nil }
func (noSettle) NakWithDelay(time.Duration) error { return nil }
func (noSettle) TermWithReason(string) error      { return nil }
