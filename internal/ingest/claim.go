package ingest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/ledger"
)

// claimKeeper refreshes an event's claim while its call runs: on a timer, every third of the
// ack wait, it writes a new heartbeat with compare-and-set, so other replicas keep seeing the
// claim as live however long the call waits for the request budget. A conflict means the
// claim was taken over; the keeper then calls lost (which cancels the call) and stops. The
// keeper holds no goroutine between refreshes: a replica with many calls waiting for the
// budget pays a timer for each, not a goroutine.
type claimKeeper struct {
	p     *Pipeline
	d     *delivery
	ctx   context.Context
	lost  func()
	every time.Duration
	timer *time.Timer

	writing sync.Mutex // held while a refresh is written

	mu      sync.Mutex
	entry   ledger.Entry
	rev     uint64
	stopped bool
	wasLost bool
}

// keepClaim starts refreshing the delivery's claim until stop is called or ctx ends.
func (p *Pipeline) keepClaim(ctx context.Context, d *delivery, lost func()) *claimKeeper {
	k := &claimKeeper{p: p, d: d, ctx: ctx, lost: lost, entry: d.entry, rev: d.rev,
		// Every third of the ack wait, and often enough that a confirmed heartbeat always
		// leaves more than the call timeout of the claim's life: a call may start at any
		// moment (see startCheck), also when the timeout is close to its limit of two thirds
		// of the ack wait.
		every: max(min(p.o.AckWait/3, (p.o.AckWait-p.o.CallTimeout)/2), 10*time.Millisecond)}
	k.mu.Lock()
	k.timer = time.AfterFunc(k.every, k.refresh)
	k.mu.Unlock()
	return k
}

// refresh writes one heartbeat and sets the timer for the next, unless the claim was lost or
// the keeper stopped.
func (k *claimKeeper) refresh() {
	k.writing.Lock()
	defer k.writing.Unlock()
	k.mu.Lock()
	if k.stopped || k.ctx.Err() != nil {
		k.mu.Unlock()
		return
	}
	e, rev := k.entry, k.rev
	k.mu.Unlock()

	e.Heartbeat = k.p.o.Now().UTC()
	next, err := k.p.ledger.Update(k.ctx, k.d.ev.Key, e, rev)
	switch {
	case err == nil:
		k.mu.Lock()
		k.entry, k.rev = e, next
		k.mu.Unlock()
	case errors.Is(err, ledger.ErrConflict):
		k.mu.Lock()
		k.wasLost = true
		k.mu.Unlock()
		k.lost()
		return
	case k.ctx.Err() == nil:
		// The claim stays live for the rest of the ack wait; the next refresh tries again.
		k.p.o.Logger.WarnContext(k.ctx, "refreshing the claim failed", k.p.logAttrs(k.d, "error", err)...)
	}
	k.mu.Lock()
	if !k.stopped {
		k.timer.Reset(k.every)
	}
	k.mu.Unlock()
}

// errClaimUnconfirmed is the start check's refusal: the claim, as last confirmed, would expire
// before a call could end.
var errClaimUnconfirmed = errors.New("the claim cannot be confirmed for the call's whole timeout")

// startCheck is the check made right before the call starts (after its wait for the request
// budget): the claim, at its last confirmed write, must stay live for longer than the call's
// timeout, so that no other replica can take the event over while the call may still create
// its asset. A replica cut off from NATS cannot confirm its claim and so stops calling.
func (k *claimKeeper) startCheck() error {
	p := k.p
	confirmed := k.confirmed()
	left := confirmed.Add(p.o.AckWait).Sub(p.o.Now())
	if left > p.o.CallTimeout {
		return nil
	}
	return fmt.Errorf("%w: last confirmed %s ago, it stays live for %s, not more than the timeout of %s",
		errClaimUnconfirmed, p.o.Now().Sub(confirmed).Round(time.Millisecond), max(left, 0).Round(time.Millisecond), p.o.CallTimeout)
}

// confirmed is the heartbeat of the claim's last confirmed write.
func (k *claimKeeper) confirmed() time.Time {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.entry.Heartbeat
}

// stop ends the refreshing, waits for a refresh being written, and leaves the entry as last
// written on the delivery; it reports whether the claim was lost to another replica.
func (k *claimKeeper) stop() (lost bool) {
	k.mu.Lock()
	k.stopped = true
	k.timer.Stop()
	k.mu.Unlock()
	k.writing.Lock()
	defer k.writing.Unlock()
	k.mu.Lock()
	defer k.mu.Unlock()
	k.d.entry, k.d.rev = k.entry, k.rev
	return k.wasLost
}
