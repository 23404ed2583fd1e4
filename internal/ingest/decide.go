package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/events"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/ledger"
)

// step is what an event's ledger entry says a delivery of it does next.
type step int

const (
	// stepClaim: there is no entry; claim the event, counting its first attempt, and call.
	stepClaim step = iota
	// stepRepublish: the entry is created; publish its completion again and ack.
	stepRepublish
	// stepRedeadLetter: the entry is dead and this is no replay; carry out its dead letter again.
	stepRedeadLetter
	// stepWait: another replica's claim on the entry is live; hand back until it expires.
	stepWait
	// stepRetake: continue the entry (pending, or dead and replayed): reconcile when an
	// earlier call may have created the asset, then spend an attempt and call.
	stepRetake
)

// plan is the decision of [planFor].
type plan struct {
	step step
	// state is the entry's state for the ledger-reads metric: miss, pending, created, dead.
	state string
	// replay: the delivery is a replay the entry has not taken yet, with a fresh budget.
	replay bool
	// reconcile: an earlier call may have created the asset; search before calling again.
	reconcile bool
	// wait: how long another replica's claim stays live (stepWait).
	wait time.Duration
}

// planFor decides from the event's ledger entry (found false: it has none) what a delivery
// with replay context r does. self is the replica deciding: its own claim never makes it
// wait; "" makes any live claim wait.
func planFor(e ledger.Entry, found bool, r events.ReplayContext, self string, now time.Time, ackWait time.Duration) plan {
	if !found {
		return plan{step: stepClaim, state: "miss"}
	}
	switch e.State {
	case ledger.StateCreated:
		return plan{step: stepRepublish, state: "created"}
	case ledger.StateDead:
		if !replays(r, e) {
			// A crash between dead letter and terminate: the same decision again.
			return plan{step: stepRedeadLetter, state: "dead"}
		}
		// A replay: reconcile first, then a fresh budget.
		return plan{step: stepRetake, state: "dead", replay: true, reconcile: true}
	}
	if e.Owner != self && claimLive(e, now, ackWait) {
		return plan{step: stepWait, state: "pending", wait: max(e.Heartbeat.Add(ackWait).Sub(now), time.Second)}
	}
	replay := replays(r, e)
	return plan{step: stepRetake, state: "pending", replay: replay,
		reconcile: replay || e.Attempts > 0 || e.Calls > 0 || e.MayExist}
}

// claimLive reports whether a pending entry's owner refreshed its claim within the ack wait.
func claimLive(e ledger.Entry, now time.Time, ackWait time.Duration) bool {
	return e.Owner != "" && now.Sub(e.Heartbeat) < ackWait
}

// decide reads the event's ledger entry and acts on it. Each pass reads the entry and acts
// on it; a compare-and-set conflict means the entry changed under us, so it is read and
// decided again. A first delivery that is not a replay almost never has an entry: its first
// pass claims without reading, saving a round trip, and reads only when the claim finds one.
func (p *Pipeline) decide(ctx context.Context, d *delivery) verdict {
	claimFirst := d.delivered == 1 && d.replay.Count == 0
	for range 8 {
		v, err := p.decideOnce(ctx, d, claimFirst)
		if !errors.Is(err, ledger.ErrConflict) {
			return v
		}
		claimFirst = false
	}
	return handBack("ledger entry kept changing", p.o.Backoff.Delay(1))
}

// decideOnce is one pass of decide; with claimFirst it claims without reading the entry. It
// returns ledger.ErrConflict when the entry changed (or, with claimFirst, existed) before its
// first write.
func (p *Pipeline) decideOnce(ctx context.Context, d *delivery, claimFirst bool) (verdict, error) {
	d.entry, d.rev = ledger.Entry{}, 0
	found := false
	if !claimFirst {
		entry, rev, err := p.ledger.Get(ctx, d.ev.Key)
		switch {
		case errors.Is(err, ledger.ErrNotFound):
		case errors.Is(err, ledger.ErrCorrupt):
			// Not a failure of the system: pausing would not mend it. Hold the event (its
			// deliveries back off) until an operator repairs or removes the entry.
			v := handBack("unreadable ledger entry event."+d.ev.Key, p.o.Backoff.Max)
			v.err, v.level, v.message = err, slog.LevelError, "the event's ledger entry is unreadable; holding the event"
			return v, nil
		case err != nil:
			return systemic("reading the ledger", err), nil
		default:
			d.entry, d.rev, found = entry, rev, true
		}
	}
	pl := planFor(d.entry, found, d.replay, p.o.Replica, p.o.Now(), p.o.AckWait)
	if pl.step != stepClaim {
		p.o.Metrics.ledger(ctx, pl.state)
	}
	switch pl.step {
	case stepClaim:
		return p.claim(ctx, d)
	case stepRepublish:
		return p.republishIngested(ctx, d), nil
	case stepRedeadLetter:
		return p.redeadLetter(ctx, d), nil
	case stepWait:
		return handBack("claimed by replica "+d.entry.Owner, pl.wait), nil
	}
	if pl.replay {
		takeReplay(d, &d.entry)
	}
	return p.retake(ctx, d, pl.reconcile)
}

// claim creates the event's entry (atomic create-if-absent), counting the first attempt, and
// makes the call. It returns ledger.ErrConflict when an entry exists.
func (p *Pipeline) claim(ctx context.Context, d *delivery) (verdict, error) {
	now := p.o.Now().UTC()
	entry := ledger.Entry{State: ledger.StatePending, Owner: p.o.Replica, Heartbeat: now,
		Attempts: 1, Calls: 1, FirstAttempt: now, ReplayCount: d.replay.Count}
	rev, err := p.ledger.Claim(ctx, d.ev.Key, entry)
	if errors.Is(err, ledger.ErrExists) {
		return verdict{}, ledger.ErrConflict
	}
	if err != nil {
		return systemic("claiming the event in the ledger", err), nil
	}
	p.o.Metrics.ledger(ctx, "miss")
	d.entry, d.rev = entry, rev
	return p.call(ctx, d), nil
}

// retake continues the delivery's entry: reconcile when an earlier call may have created the
// asset, then spend one attempt from the budget (or dead-letter when it is spent) and call.
// It returns ledger.ErrConflict when the entry changed since it was read.
func (p *Pipeline) retake(ctx context.Context, d *delivery, reconcile bool) (verdict, error) {
	if reconcile {
		asset, found, err := p.reconcile(ctx, d)
		if err != nil {
			return p.lookupFailed(ctx, d, err), nil
		}
		if found {
			return p.ingested(ctx, d, asset), nil
		}
	}
	entry := d.entry
	if entry.Attempts >= p.o.MaxAttempts {
		msg := fmt.Sprintf("attempt budget spent: %d attempts charged (%d createAsset calls made) and none confirmed", entry.Attempts, entry.Calls)
		return p.deadLetter(ctx, d, failure{class: events.ClassExhausted, err: errors.New(msg)}), nil
	}
	now := p.o.Now().UTC()
	entry.Attempts++
	entry.Calls++
	entry.Owner, entry.Heartbeat = p.o.Replica, now
	if entry.FirstAttempt.IsZero() {
		entry.FirstAttempt = now
	}
	rev, err := p.ledger.Update(ctx, d.ev.Key, entry, d.rev)
	if errors.Is(err, ledger.ErrConflict) {
		return verdict{}, err
	}
	if err != nil {
		return systemic("counting the attempt in the ledger", err), nil
	}
	d.entry, d.rev = entry, rev
	return p.call(ctx, d), nil
}
