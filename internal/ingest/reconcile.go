package ingest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/events"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/gqlapi"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/ledger"
)

// claimGrace is the clock skew allowed between a claim's first-attempt time and the creation
// time Amplience records, when reconciliation looks for an asset an earlier attempt created.
const claimGrace = 5 * time.Second

// reconcile looks for an asset an earlier attempt for this event created: same repository,
// exactly the event's name, created at or after the claim's first attempt (less clock skew),
// and not recorded by another event. One the index already records for this event comes first
// (its completion may have been published); otherwise, of several, the oldest.
func (p *Pipeline) reconcile(ctx context.Context, d *delivery) (gqlapi.Asset, bool, error) {
	since := d.entry.FirstAttempt.Add(-claimGrace)
	found, err := p.api.FindByName(ctx, d.ev.Asset.AssetRepositoryID, d.ev.Asset.Name, since)
	if err != nil {
		return gqlapi.Asset{}, false, fmt.Errorf("reconciling: %w", err)
	}
	var unrecorded *gqlapi.Asset
	for i, a := range found {
		owner, err := p.ledger.AssetOwner(ctx, a.ID)
		switch {
		case err == nil && owner == d.ev.Key:
			p.o.Metrics.reconciled(ctx, true)
			return a, true, nil
		case errors.Is(err, ledger.ErrNotFound):
			if unrecorded == nil {
				unrecorded = &found[i]
			}
		case err != nil:
			return gqlapi.Asset{}, false, err
		}
	}
	if unrecorded != nil {
		p.o.Metrics.reconciled(ctx, true)
		return *unrecorded, true, nil
	}
	p.o.Metrics.reconciled(ctx, false)
	return gqlapi.Asset{}, false, nil
}

// lookupFailed handles a reconciliation that could not finish: the event may not be called
// again before it is known whether its asset exists.
func (p *Pipeline) lookupFailed(ctx context.Context, d *delivery, err error) verdict {
	if ctx.Err() != nil || errors.Is(err, gqlapi.ErrNotSent) {
		return handBack("stopping during reconciliation", p.o.Backoff.Base)
	}
	if errors.Is(err, gqlapi.ErrSearchTooBroad) {
		// Searching again finds as many or more: calling again might create a second asset,
		// and waiting would only run the event into MaxDeliver. Hand it to the operators.
		return p.deadLetter(ctx, d, failure{class: events.ClassRejected,
			err: fmt.Errorf("%w; an earlier createAsset call may have created the asset, so it is not called again: "+
				"look for the asset in the repository before replaying", err)})
	}
	var gerr *gqlapi.Error
	if !errors.As(err, &gerr) {
		return systemic("reading the ledger asset index", err)
	}
	return p.requestFailed(ctx, d, err, lookup)
}
