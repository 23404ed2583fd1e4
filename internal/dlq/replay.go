package dlq

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/events"
)

// ReplayOptions are the settings of Replay.
type ReplayOptions struct {
	// DryRun reads and checks the selection and prints what would be
	// replayed or refused, changing nothing.
	DryRun bool
	// Yes skips the confirmation asked when more than one dead letter is
	// selected.
	Yes bool
	// Rate caps replays per second; 0 means no cap.
	Rate float64
	// JSON prints, instead of the text report on Out, one JSON object when the run finishes:
	// the counts of the Report and one result per dead letter.
	JSON bool
}

// Replay republishes each dead letter sel selects to its original subject
// in the inbound stream and, once the inbound stream acknowledged it,
// deletes it from the dead-letter stream.
//
// The subject is [events.ReplayTarget] of the dead letter against the
// inbound stream's configured subjects; the body is the dead letter's,
// unchanged; the headers are [events.ReplayHeader], whose Nats-Msg-Id
// "replay:<dlq stream>:<seq>" makes the inbound stream drop a repeat within
// its duplicate window, so a run that was interrupted (ctx) can simply be
// run again. The dead letter is kept when the acknowledgement comes from
// another stream than the inbound one.
// A dead letter whose target is refused, or whose body was left out
// (Ingest-Body-Omitted), is reported and kept.
//
// Sequences come from sel (at least one of Seqs, All or a filter, else an
// error wrapping ErrUsage); without Seqs only the dead letters present when
// Replay starts are visited. When more than one is selected and neither
// o.Yes nor o.DryRun is set, Replay asks on Err and reads the answer from
// In; a declined question returns an error wrapping ErrNotConfirmed and
// changes nothing.
//
// The Report counts what happened. The error is nil when every selected
// dead letter was replayed (or would be, with DryRun); it wraps
// ErrIncomplete when any was refused, failed or missing, ctx's error when
// interrupted, or one of the other errors of Tool when nothing could start.
func (t *Tool) Replay(ctx context.Context, sel Selection, o ReplayOptions) (Report, error) {
	if err := sel.Check(true); err != nil {
		return Report{}, err
	}
	subjects, err := t.inbound(ctx)
	if err != nil {
		return Report{}, err
	}
	return t.run(ctx, sel, batch{
		verb:     "replay",
		question: "Replay %d dead letters from " + t.DLQStream + " to " + t.InboundStream + "?",
		dryRun:   o.DryRun,
		yes:      o.Yes,
		rate:     o.Rate,
		json:     reportIf(o.JSON),
		one: func(ctx context.Context, s jetstream.Stream, seq uint64) (outcome, string) {
			return t.replayOne(ctx, s, seq, subjects, o.DryRun)
		},
	})
}

// replayOne replays dead letter seq of s and deletes it.
func (t *Tool) replayOne(ctx context.Context, s jetstream.Stream, seq uint64, subjects []string, dry bool) (outcome, string) {
	l, err := t.get(ctx, s, seq)
	if errors.Is(err, ErrNotFound) {
		return gone, "no longer in " + t.DLQStream + " (replayed or purged meanwhile); skipped"
	}
	if err != nil {
		return failed, err.Error()
	}
	if n := l.Get(events.HeaderBodyOmitted); n != "" {
		return refused, fmt.Sprintf("refused: its body (%s bytes) was left out of the dead letter; the original is in %s at sequence %s",
			Escape(n), orDash(Escape(l.Get(events.HeaderOriginalStream))), orDash(Escape(l.Get(events.HeaderOriginalSequence))))
	}
	target, err := events.ReplayTarget(l.Header, subjects)
	if err != nil {
		return refused, "refused (kept): " + Escape(err.Error())
	}
	if dry {
		return done, "would replay to " + Escape(target) + " and delete it"
	}
	msg := nats.NewMsg(target)
	msg.Header = events.ReplayHeader(l.Header, t.DLQStream, seq)
	msg.Data = l.Data
	ack, err := t.JS.PublishMsg(ctx, msg)
	if err != nil {
		return failed, "not replayed (kept): " + t.explain("publishing to "+Escape(target), err, t.noInbound()).Error()
	}
	if ack.Stream != t.InboundStream {
		return failed, fmt.Sprintf("not deleted: the replay to %s was stored by stream %s, not %s",
			Escape(target), ack.Stream, t.InboundStream)
	}
	if err := t.delete(ctx, s, seq); err != nil && !errors.Is(err, ErrNotFound) {
		return failed, fmt.Sprintf("replayed to %s (%s sequence %d) but not deleted: %v; replaying it again within the inbound stream's duplicate window is safe",
			Escape(target), ack.Stream, ack.Sequence, err)
	}
	if ack.Duplicate {
		return duplicate, fmt.Sprintf("already replayed to %s by an earlier run (the repeat was dropped as a duplicate); deleted", Escape(target))
	}
	return done, fmt.Sprintf("replayed to %s (%s sequence %d); deleted", Escape(target), ack.Stream, ack.Sequence)
}

// delete removes dead letter seq from s. The error wraps ErrNotFound when
// it was already gone.
func (t *Tool) delete(ctx context.Context, s jetstream.Stream, seq uint64) error {
	err := s.DeleteMsg(ctx, seq)
	if err == nil {
		return nil
	}
	if errors.Is(err, jetstream.ErrMsgDeleteUnsuccessful) {
		// The server's reason comes as text only: look again instead.
		if _, gerr := t.get(ctx, s, seq); errors.Is(gerr, ErrNotFound) {
			return gerr
		}
	}
	return t.explain(fmt.Sprintf("deleting dead letter %d from %s", seq, t.DLQStream), err, t.noDLQ())
}
