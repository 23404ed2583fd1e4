package ingest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/ledger"
)

// claimKeeper refreshes an event's claim while its call runs: every third of the ack wait it
// writes a new heartbeat with compare-and-set, so other replicas keep seeing the claim as live
// however long the call waits for the request budget. A conflict means the claim was taken
// over; the keeper then calls lost (which cancels the call) and stops.
type claimKeeper struct {
	done chan struct{}
	wg   sync.WaitGroup

	mu      sync.Mutex
	entry   ledger.Entry
	rev     uint64
	wasLost bool
}

// keepClaim starts refreshing the claim (entry at revision rev) until stop is called.
func (p *Pipeline) keepClaim(ctx context.Context, d *delivery, entry ledger.Entry, rev uint64, lost func()) *claimKeeper {
	k := &claimKeeper{done: make(chan struct{}), entry: entry, rev: rev}
	// Every third of the ack wait, and often enough that a confirmed heartbeat always leaves
	// more than the call timeout of the claim's life: a call may start at any moment (see
	// startCheck), also when the timeout is close to its limit of two thirds of the ack wait.
	every := max(min(p.o.AckWait/3, (p.o.AckWait-p.o.CallTimeout)/2), 10*time.Millisecond)
	k.wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-k.done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			k.mu.Lock()
			e, rev := k.entry, k.rev
			k.mu.Unlock()
			e.Heartbeat = p.o.Now().UTC()
			next, err := p.ledger.Update(ctx, d.ev.Key, e, rev)
			switch {
			case err == nil:
				k.mu.Lock()
				k.entry, k.rev = e, next
				k.mu.Unlock()
			case errors.Is(err, ledger.ErrConflict):
				k.mu.Lock()
				k.wasLost = true
				k.mu.Unlock()
				lost()
				return
			case ctx.Err() == nil:
				// The claim stays live for the rest of the ack wait; the next tick tries again.
				p.o.Logger.WarnContext(ctx, "refreshing the claim failed", p.logAttrs(d, "error", err)...)
			}
		}
	})
	return k
}

// errClaimUnconfirmed is the start check's refusal: the claim, as last confirmed, would expire
// before a call could end.
var errClaimUnconfirmed = errors.New("the claim cannot be confirmed for the call's whole timeout")

// startCheck returns the check made right before the call starts (after its wait for the
// request budget): the claim, at its last confirmed write, must stay live for longer than the
// call's timeout, so that no other replica can take the event over while the call may still
// create its asset. A replica cut off from NATS cannot confirm its claim and so stops calling.
func (k *claimKeeper) startCheck(p *Pipeline) func() error {
	return func() error {
		k.mu.Lock()
		confirmed := k.entry.Heartbeat
		k.mu.Unlock()
		left := confirmed.Add(p.o.AckWait).Sub(p.o.Now())
		if left > p.o.CallTimeout {
			return nil
		}
		return fmt.Errorf("%w: last confirmed %s ago, it stays live for %s, not more than the timeout of %s",
			errClaimUnconfirmed, p.o.Now().Sub(confirmed).Round(time.Millisecond), max(left, 0).Round(time.Millisecond), p.o.CallTimeout)
	}
}

// stop ends the refreshing and returns the entry as last written, its revision, and whether
// the claim was lost to another replica.
func (k *claimKeeper) stop() (ledger.Entry, uint64, bool) {
	close(k.done)
	k.wg.Wait()
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.entry, k.rev, k.wasLost
}
