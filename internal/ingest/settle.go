package ingest

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/backoff"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/events"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/telemetry"
)

// verdict is what the stages of the pipeline decided about one delivery, and all that settle
// needs to carry it out. Stages do the work their decision depends on (ledger writes, the
// dead letter, the completion event) and return a verdict; only settle acks, naks or
// terminates the message.
type verdict struct {
	outcome Outcome
	// delay is how long the message waits before its next delivery (retry, handed back).
	delay time.Duration
	// reason says why the delivery was handed back, or what failed (retry, dead letter).
	reason string
	err    error
	// pause, when set, pauses the replica for this reason before the message is handed back.
	pause string
	// systemic marks a failure of the service's own dependencies (ledger, results, dead
	// letters, the shared budget): the span and the log line say so at error level.
	systemic bool
	// level is the log level of a hand-back (info when zero), and message its log message
	// ("delivery handed back" when empty).
	level   slog.Level
	message string

	assetID     string       // ingested
	attempts    int          // retry: attempts charged; ingested, dead-lettered: calls made
	class       events.Class // dead-lettered
	dlqSequence uint64       // dead-lettered
}

// handBack returns the message for later without deciding anything about the event. The delay
// is at least delay, and grows with the delivery count (see deliveryBackoff), so deliveries
// that spend no attempt cannot run through the consumer's MaxDeliver in minutes.
func handBack(why string, delay time.Duration) verdict {
	return verdict{outcome: OutcomeHandedBack, reason: why, delay: delay}
}

// systemic is a failure of the service's own dependencies while doing something: the replica
// pauses and the message is handed back without spending an attempt.
func systemic(doing string, err error) verdict {
	reason := fmt.Sprintf("%s failed: %v", doing, err)
	return verdict{outcome: OutcomeHandedBack, reason: reason, err: err, pause: reason, systemic: true,
		level: slog.LevelError}
}

// retry hands a transient failure of the event's request back with the backoff delay; the
// event has attempts charged so far.
func retry(err error, attempts int, delay time.Duration) verdict {
	return verdict{outcome: OutcomeRetry, err: err, reason: err.Error(), attempts: attempts, delay: delay}
}

// ingested is the verdict of an event whose asset is recorded and whose completion is
// published: the message is acked.
func ingestedAs(assetID string, calls int) verdict {
	return verdict{outcome: OutcomeIngested, assetID: assetID, attempts: calls}
}

// deadLettered is the verdict of an event whose dead letter (at sequence seq) and failure
// event are published: the message is terminated.
func deadLettered(dl events.DeadLetter, seq uint64) verdict {
	return verdict{outcome: OutcomeDeadLettered, class: dl.Class, reason: dl.Err, attempts: dl.Attempts, dlqSequence: seq}
}

// settle carries out the verdict on the delivery: pauses the replica when the verdict says
// so, acks, naks or terminates the message, records the outcome on the process span (and ends
// it) and in the metrics, and writes the delivery's one outcome log line. It runs however
// the delivery's context ended: settling is how a stopping replica hands its work back.
func (p *Pipeline) settle(ctx context.Context, d *delivery, v verdict) Outcome {
	ctx = context.WithoutCancel(ctx)
	defer d.span.End()
	elapsed := p.o.Now().Sub(d.start).Milliseconds()
	log := p.o.Logger
	switch v.outcome {
	case OutcomeIngested:
		// The ledger makes a lost ack harmless: a redelivery republishes the same completion.
		if err := d.msg.Ack(); err != nil {
			log.WarnContext(ctx, "ack failed; a redelivery will republish the completion", p.logAttrs(d, "error", err)...)
		}
		// Guarded: the attributes cost allocations even when the level is off.
		if log.Enabled(ctx, slog.LevelInfo) {
			log.InfoContext(ctx, "event ingested", p.logAttrs(d, "outcome", v.outcome, "asset_id", v.assetID,
				"attempts", max(v.attempts, 1), "duration_ms", elapsed)...)
		}
	case OutcomeRetry:
		if err := d.msg.NakWithDelay(v.delay); err != nil {
			log.WarnContext(ctx, "nak failed; the event returns after the ack wait", p.logAttrs(d, "error", err)...)
		}
		if log.Enabled(ctx, slog.LevelInfo) {
			log.InfoContext(ctx, "event will be retried", p.logAttrs(d, "outcome", v.outcome, "attempts", v.attempts,
				"delay", v.delay.String(), "error", v.reason, "duration_ms", elapsed)...)
		}
	case OutcomeHandedBack:
		p.handedBack(ctx, d, v, elapsed)
	case OutcomeDeadLettered:
		class := string(v.class)
		if err := d.msg.TermWithReason(class); err != nil {
			log.WarnContext(ctx, "terminate failed; a redelivery repeats the dead letter as a duplicate", p.logAttrs(d, "error", err)...)
		}
		d.span.SetStatus(codes.Error, class)
		d.span.SetAttributes(attribute.String("error.type", class), attribute.String("ingest.error_class", class),
			attribute.Int64("ingest.dlq_sequence", int64(v.dlqSequence)))
		p.o.Metrics.deadLettered(ctx, class)
		log.WarnContext(ctx, "event dead-lettered", p.logAttrs(d, "outcome", v.outcome, "class", class, "error", v.reason,
			"attempts", v.attempts, "dlq_sequence", v.dlqSequence, "duration_ms", elapsed)...)
	case outcomeSuperseded:
		log.InfoContext(ctx, "max-deliveries advisory for a message a newer replay supersedes; nothing to do",
			p.logAttrs(d, "outcome", v.outcome, "replay_count", d.replay.Count, "ledger_replay_count", d.entry.ReplayCount)...)
	}
	d.span.SetAttributes(attribute.String("ingest.outcome", string(v.outcome)))
	p.o.Metrics.outcome(ctx, v.outcome)
	return v.outcome
}

// handedBack settles a hand-back: the pause first (so that the replica pulls nothing more),
// then the nak with its delay, at least the delivery backoff.
func (p *Pipeline) handedBack(ctx context.Context, d *delivery, v verdict, elapsed int64) {
	if v.systemic {
		telemetry.Fail(d.span, "systemic", v.reason, v.err)
	}
	if v.pause != "" {
		p.pause.Pause(v.pause)
	}
	if _, gaveUp := d.msg.(noSettle); gaveUp && !v.systemic {
		// JetStream gave up on the message: nothing to hand back, and the advisory's own
		// retry says when it is tried again.
		return
	}
	delay := max(v.delay, p.deliveryBackoff(d))
	if err := d.msg.NakWithDelay(delay); err != nil {
		p.o.Logger.WarnContext(ctx, "handing the delivery back failed; it returns after the ack wait", p.logAttrs(d, "error", err)...)
	}
	msg := "delivery handed back"
	switch {
	case v.message != "":
		msg = v.message
	case v.systemic:
		msg = "systemic failure"
	}
	if p.o.Logger.Enabled(ctx, v.level) {
		attrs := p.logAttrs(d, "outcome", v.outcome, "reason", v.reason, "delay", delay.String(), "duration_ms", elapsed)
		if v.err != nil {
			attrs = append(attrs, "error", v.err)
		}
		p.o.Logger.Log(ctx, v.level, msg, attrs...)
	}
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
// delivery count from the backoff base up to its maximum, with equal jitter (never shorter
// than half the step).
func (p *Pipeline) deliveryBackoff(d *delivery) time.Duration {
	return backoff.Policy{Base: p.o.Backoff.Base, Max: p.o.Backoff.Max}.Equal(int(min(d.delivered, 1<<20)))
}
