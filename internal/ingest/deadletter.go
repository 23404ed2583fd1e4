package ingest

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/events"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/ledger"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/redact"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/telemetry"
)

// failure is a permanent decision about an event: its class and the error behind it.
type failure struct {
	class events.Class
	err   error
}

// deadLetter records the decision in the ledger (the entry becomes dead), publishes the dead
// letter and waits for its confirmation, records its sequence, publishes asset.ingest_failed,
// and has the message terminated. A delivery without an entry (an invalid event, or one
// JetStream gave up on before it was claimed) has its dead letter recorded by inbound sequence
// instead. A redelivery finding either record publishes no second dead letter. A failure of
// any write pauses the replica and hands the message back: it is never dropped.
func (p *Pipeline) deadLetter(ctx context.Context, d *delivery, f failure) verdict {
	dl := p.deadLetterOf(d, f.class, events.OneLine(redact.Text(f.err.Error()), 1024), p.o.Now().UTC())
	if d.rev == 0 {
		return p.deadLetterUnkeyed(ctx, d, dl)
	}
	entry := d.entry
	entry.State, entry.Owner = ledger.StateDead, ""
	entry.Class, entry.Error, entry.FailedAt, entry.DLQSequence = string(dl.Class), dl.Err, dl.FailedAt, 0
	rev, err := p.ledger.Update(ctx, d.ev.Key, entry, d.rev)
	if errors.Is(err, ledger.ErrConflict) {
		// The entry changed since it was read: the next delivery reads it again.
		return handBack("ledger entry changed while dead-lettering", p.o.Backoff.Base)
	}
	if err != nil {
		return systemic("recording the dead letter in the ledger", err)
	}
	d.entry, d.rev = entry, rev
	return p.redeadLetter(ctx, d)
}

// deadLetterUnkeyed dead-letters a message that has no ledger entry, once: the ledger records
// its dead letter by inbound sequence.
func (p *Pipeline) deadLetterUnkeyed(ctx context.Context, d *delivery, dl events.DeadLetter) verdict {
	seq, err := p.ledger.DeadLetterOf(ctx, d.stream, d.seq)
	switch {
	case err == nil:
		// An earlier delivery published it; its completion or terminate did not follow.
		return p.finishDeadLetter(ctx, d, dl, seq)
	case errors.Is(err, ledger.ErrNotFound), errors.Is(err, ledger.ErrCorrupt):
	default:
		return systemic("reading the ledger's dead-letter record", err)
	}
	if seq, err = p.publishDeadLetter(ctx, d, dl); err != nil {
		return systemic("publishing the dead letter", err)
	}
	if err := p.ledger.RecordDeadLetter(ctx, d.stream, d.seq, seq); err != nil {
		return systemic("recording the dead letter's sequence", err)
	}
	return p.finishDeadLetter(ctx, d, dl, seq)
}

// redeadLetter carries out the decision the delivery's dead entry records: the dead letter,
// published only when the entry records none (a crash between the ledger write and the
// publish; a duplicate the stream drops within its window), its sequence recorded, then the
// failure event and the terminate. A dead letter whose sequence the entry records is never
// published again.
func (p *Pipeline) redeadLetter(ctx context.Context, d *delivery) verdict {
	entry := d.entry
	dl := p.deadLetterOf(d, events.Class(entry.Class), entry.Error, entry.FailedAt)
	if entry.DLQSequence != 0 {
		return p.finishDeadLetter(ctx, d, dl, entry.DLQSequence)
	}
	seq, err := p.publishDeadLetter(ctx, d, dl)
	if err != nil {
		return systemic("publishing the dead letter", err)
	}
	entry.DLQSequence = seq
	rev, err := p.ledger.Update(ctx, d.ev.Key, entry, d.rev)
	if errors.Is(err, ledger.ErrConflict) {
		return handBack("ledger entry changed while dead-lettering", p.o.Backoff.Base)
	}
	if err != nil {
		// Unrecorded, a redelivery after the stream's duplicate window would publish it again.
		return systemic("recording the dead letter's sequence in the ledger", err)
	}
	d.entry, d.rev = entry, rev
	return p.finishDeadLetter(ctx, d, dl, seq)
}

// deadLetterOf is the dead letter of the delivery; it counts the calls its entry made.
func (p *Pipeline) deadLetterOf(d *delivery, class events.Class, msg string, failedAt time.Time) events.DeadLetter {
	return events.DeadLetter{
		Stream: d.stream, Sequence: d.seq, Subject: d.subject,
		PublishedAt: d.published, FailedAt: failedAt,
		Class: class, Err: msg,
		EventID: d.ev.ID, EventSource: d.ev.Source,
		Attempts: d.entry.Calls,
	}
}

// publishDeadLetter publishes the dead letter, made to fit what the server stores (see
// events.FitDeadLetter), and returns its sequence. A copy the server or the client still
// refuses for its size or headers is published again as the service's headers alone, without
// the body: a refusal caused by the message never pauses the replica.
func (p *Pipeline) publishDeadLetter(ctx context.Context, d *delivery, dl events.DeadLetter) (uint64, error) {
	h := events.DeadLetterHeader(d.header, dl)
	body := events.FitDeadLetter(h, d.data, p.traceHeaderRoom(ctx, h), p.o.MaxPayload)
	subject := events.DLQSubject(events.SourceToken(d.subject))
	ack, err := p.publish(ctx, subject, h, body, h.Get(events.HeaderMsgID))
	if refusedForItsContent(err) {
		p.o.Logger.WarnContext(ctx, "the dead letter was refused; publishing it without the original headers and body",
			p.logAttrs(d, "error", err)...)
		h = events.DeadLetterHeader(nil, dl)
		events.FitDeadLetter(h, nil, p.traceHeaderRoom(ctx, h), p.o.MaxPayload)
		// Every original header is left out: the list says so without naming them.
		h.Set(events.HeaderDroppedHeaders, strings.TrimPrefix(h.Get(events.HeaderDroppedHeaders)+",...", ","))
		h.Set(events.HeaderBodyOmitted, strconv.Itoa(len(d.data)))
		ack, err = p.publish(ctx, subject, h, nil, h.Get(events.HeaderMsgID))
	}
	if err != nil {
		return 0, err
	}
	return ack.Sequence, nil
}

// completionHeaderRoom is the room kept for a completion event's headers (Nats-Msg-Id and the
// trace context) below the server's maximum payload.
const completionHeaderRoom = 32 << 10

// failedBody encodes asset.ingest_failed. When the event's own attributes make it larger than
// the server accepts (an invalid event's name, src, id or source are not bounded), they are
// left empty, largest first, so that the message cannot stop the service. The same f always
// gives the same bytes.
func (p *Pipeline) failedBody(f events.Failed) ([]byte, error) {
	limit := p.o.MaxPayload - min(completionHeaderRoom, p.o.MaxPayload/2)
	for {
		body, err := f.Marshal()
		if err != nil || p.o.MaxPayload <= 0 || int64(len(body)) <= limit {
			return body, err
		}
		fields := []*string{&f.EventID, &f.EventSource, &f.Name, &f.Src}
		largest := fields[0]
		for _, s := range fields[1:] {
			if len(*s) > len(*largest) {
				largest = s
			}
		}
		if *largest == "" {
			return body, nil
		}
		*largest = ""
	}
}

// traceHeaderRoom removes from h the headers that publishing replaces with the trace context
// of ctx (traceparent, tracestate, baggage) and returns the room that context takes.
func (p *Pipeline) traceHeaderRoom(ctx context.Context, h nats.Header) int {
	tc := nats.Header{}
	telemetry.Inject(ctx, p.o.Propagator, tc)
	for name := range h {
		for k := range tc {
			if strings.EqualFold(name, k) {
				delete(h, name)
			}
		}
	}
	return events.HeaderBytes(tc)
}

// refusedForItsContent reports whether a publish failed because of the message itself: the
// client refused its size or a header name, or the stream refused its size or header size.
func refusedForItsContent(err error) bool {
	var apiErr *jetstream.APIError
	return errors.Is(err, nats.ErrMaxPayload) || errors.Is(err, nats.ErrBadHeaderMsg) ||
		errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamMessageExceedsMaximum ||
			apiErr.ErrorCode == errCodeHeaderExceedsMaximum)
}

// errCodeHeaderExceedsMaximum is nats-server's JSStreamHeaderExceedsMaximumErr: "header size
// exceeds maximum allowed of 64k".
const errCodeHeaderExceedsMaximum jetstream.ErrorCode = 10097

// finishDeadLetter publishes asset.ingest_failed; settle then terminates the message.
func (p *Pipeline) finishDeadLetter(ctx context.Context, d *delivery, dl events.DeadLetter, seq uint64) verdict {
	failed := events.Failed{
		Key: d.ev.Key, Stream: dl.Stream, Sequence: dl.Sequence, ReplayCount: d.replay.Count,
		EventID: d.ev.ID, EventSource: d.ev.Source, Name: d.ev.Asset.Name, Src: d.ev.Asset.Src,
		ErrorClass: dl.Class, Error: dl.Err, Attempts: dl.Attempts, DLQSequence: seq, Time: dl.FailedAt,
	}
	body, err := p.failedBody(failed)
	if err != nil {
		return systemic("encoding asset.ingest_failed", err)
	}
	token := events.SourceToken(d.subject)
	if _, err := p.publish(ctx, events.FailedSubject(token), events.CompletionHeader(), body, failed.ID()); err != nil {
		return systemic("publishing asset.ingest_failed", err)
	}
	return deadLettered(dl, seq)
}
