package ingest

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/events"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/ledger"
)

// failure is a permanent decision about an event: its class and the error behind it.
type failure struct {
	class string
	err   error
}

// ledgerRef is the event's ledger entry as last read or written; nil when the event has no
// usable key (an invalid event).
type ledgerRef struct {
	entry ledger.Entry
	rev   uint64
}

// deadLetter records the decision in the ledger (the entry becomes dead), publishes the dead
// letter and waits for its confirmation, publishes asset.ingest_failed, and terminates the
// message. A crash after the ledger write repeats the same dead letter on the next delivery (a
// duplicate within the stream's window). A failure of any write pauses the replica and hands
// the message back: it is never dropped.
func (p *Pipeline) deadLetter(ctx context.Context, d *delivery, ref *ledgerRef, f failure) Outcome {
	dl := p.deadLetterOf(d, f.class, events.OneLine(events.RedactText(f.err.Error()), 1024), p.o.Now().UTC())
	var entry ledger.Entry
	var rev uint64
	if ref != nil {
		entry = ref.entry
		dl.Attempts = entry.Calls
		entry.State, entry.Owner = ledger.StateDead, ""
		entry.Class, entry.Error, entry.FailedAt, entry.DLQSequence = dl.Class, dl.Err, dl.FailedAt, 0
		next, err := p.ledger.Update(ctx, d.ev.Key, entry, ref.rev)
		if errors.Is(err, ledger.ErrConflict) {
			// The entry changed since it was read: the next delivery reads it again.
			return p.handBack(ctx, d, "ledger entry changed while dead-lettering", p.o.Backoff.Base)
		}
		if err != nil {
			return p.systemic(ctx, d, "recording the dead letter in the ledger", err)
		}
		rev = next
	}
	seq, err := p.publishDeadLetter(ctx, d, dl)
	if err != nil {
		return p.systemic(ctx, d, "publishing the dead letter", err)
	}
	if ref != nil {
		// The sequence is for operators; a failure to record it loses nothing.
		entry.DLQSequence = seq
		if _, err := p.ledger.Update(ctx, d.ev.Key, entry, rev); err != nil {
			p.o.Logger.WarnContext(ctx, "recording the dead letter's sequence in the ledger failed", p.logAttrs(d, "error", err)...)
		}
	}
	return p.finishDeadLetter(ctx, d, dl, seq)
}

// redeadLetter repeats the decision an entry records as dead for a delivery with the same
// replay count (a crash between dead letter and terminate): the same dead letter, a duplicate
// the stream drops within its window, then the failure event and the terminate.
func (p *Pipeline) redeadLetter(ctx context.Context, d *delivery, entry ledger.Entry) Outcome {
	dl := p.deadLetterOf(d, entry.Class, entry.Error, entry.FailedAt)
	dl.Attempts = entry.Calls
	seq, err := p.publishDeadLetter(ctx, d, dl)
	if err != nil {
		return p.systemic(ctx, d, "republishing the dead letter", err)
	}
	if entry.DLQSequence != 0 {
		seq = entry.DLQSequence
	}
	return p.finishDeadLetter(ctx, d, dl, seq)
}

func (p *Pipeline) deadLetterOf(d *delivery, class, msg string, failedAt time.Time) events.DeadLetter {
	return events.DeadLetter{
		Stream: d.stream, Sequence: d.seq, Subject: d.subject,
		PublishedAt: d.published, FailedAt: failedAt,
		Class: class, Err: msg,
		EventID: d.ev.ID, EventSource: d.ev.Source,
	}
}

// publishDeadLetter publishes the dead letter, falling back per SPEC when the copy cannot be
// published as it is: header names the client refuses are dropped, and a body over the
// server's maximum payload is left out. It returns the dead letter's sequence.
func (p *Pipeline) publishDeadLetter(ctx context.Context, d *delivery, dl events.DeadLetter) (uint64, error) {
	h := events.DeadLetterHeader(d.header, dl)
	events.DropUnsendableHeaders(h)
	body := d.data
	if p.o.MaxPayload > 0 && int64(len(body)+headerSize(h)+512) > p.o.MaxPayload {
		h.Set(events.HeaderBodyOmitted, strconv.Itoa(len(body)))
		body = nil
	}
	ack, err := p.publish(ctx, events.DLQSubject(events.SourceToken(d.subject)), h, body, h.Get(events.HeaderMsgID))
	if err != nil {
		return 0, err
	}
	return ack.Sequence, nil
}

// finishDeadLetter publishes asset.ingest_failed, then terminates the message.
func (p *Pipeline) finishDeadLetter(ctx context.Context, d *delivery, dl events.DeadLetter, seq uint64) Outcome {
	failed := events.Failed{
		Key: d.ev.Key, Stream: dl.Stream, Sequence: dl.Sequence, ReplayCount: d.replay.Count,
		EventID: d.ev.ID, EventSource: d.ev.Source, Name: d.ev.Asset.Name, Src: d.ev.Asset.Src,
		ErrorClass: dl.Class, Error: dl.Err, Attempts: dl.Attempts, DLQSequence: seq, Time: dl.FailedAt,
	}
	body, err := failed.Marshal()
	if err != nil {
		return p.systemic(ctx, d, "encoding asset.ingest_failed", err)
	}
	token := events.SourceToken(d.subject)
	if _, err := p.publish(ctx, events.FailedSubject(token), events.CompletionHeader(), body, failed.ID()); err != nil {
		return p.systemic(ctx, d, "publishing asset.ingest_failed", err)
	}
	if err := d.settle.TermWithReason(dl.Class); err != nil {
		p.o.Logger.WarnContext(ctx, "terminate failed; a redelivery repeats the dead letter as a duplicate", p.logAttrs(d, "error", err)...)
	}
	d.span.SetStatus(codes.Error, dl.Class)
	d.span.SetAttributes(attribute.String("error.type", dl.Class), attribute.String("ingest.error_class", dl.Class), attribute.Int64("ingest.dlq_sequence", int64(seq)))
	p.o.Metrics.deadLettered(ctx, dl.Class)
	p.o.Logger.WarnContext(ctx, "event dead-lettered", p.logAttrs(d,
		"outcome", OutcomeDeadLettered, "class", dl.Class, "error", dl.Err, "attempts", dl.Attempts, "dlq_sequence", seq,
		"duration_ms", p.o.Now().Sub(d.start).Milliseconds())...)
	return OutcomeDeadLettered
}

// headerSize approximates the encoded size of h.
func headerSize(h nats.Header) int {
	n := len("NATS/1.0\r\n\r\n")
	for k, vs := range h {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	return n
}
