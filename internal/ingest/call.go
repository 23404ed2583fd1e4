package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/events"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/gqlapi"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/ledger"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/telemetry"
)

// claimGrace is the clock skew allowed between a claim's first-attempt time and the creation
// time Amplience records, when reconciliation looks for an asset an earlier attempt created.
const claimGrace = 5 * time.Second

// repeatedFailures is the delivery count from which a transient failure of one event is probed
// on its own (see lastChance).
const repeatedFailures = 3

// call makes the createAsset call the ledger entry (at revision rev) has just counted, and
// acts on its answer. While the call runs (including its wait for the request budget) the
// claim's heartbeat is refreshed, so no other replica takes the event over.
func (p *Pipeline) call(ctx context.Context, d *delivery, entry ledger.Entry, rev uint64) Outcome {
	d.span.SetAttributes(telemetry.Attempt(entry.Attempts))
	callCtx, cancelCall := context.WithCancel(ctx)
	defer cancelCall()
	keep := p.keepClaim(callCtx, d, entry, rev, cancelCall)
	start := p.o.Now()
	asset, err := p.api.CreateAsset(gqlapi.WithStartCheck(alone(callCtx, entry), keep.startCheck(p)), toInput(d.ev.Asset))
	p.o.Metrics.call(ctx, time.Since(start), err)
	entry, rev, lost := keep.stop()
	if err == nil {
		p.pause.Succeeded()
		if asset.Errors != nil {
			// The asset exists: it is ingested, and what the API said besides is for operators.
			p.o.Logger.WarnContext(ctx, "createAsset answered the asset id together with errors",
				p.logAttrs(d, "asset_id", asset.ID, "error", asset.Errors.Error())...)
		}
		p.mu.Lock()
		p.usable = d.ev.Asset.AssetRepositoryID
		p.mu.Unlock()
		// Whatever happens to ctx now, the asset exists: record it.
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.o.AckWait/2)
		defer cancel()
		return p.ingested(wctx, d, entry, rev, asset)
	}
	switch {
	case errors.Is(err, errClaimUnconfirmed):
		// Nothing was sent: the ledger could not confirm the claim (NATS is out of reach), so
		// another replica may take the event over before a call would end.
		p.unspend(context.WithoutCancel(ctx), d, entry, rev, err)
		return p.systemic(context.WithoutCancel(ctx), d, "confirming the claim in the ledger", err)
	case errors.Is(err, gqlapi.ErrNotSent):
		// Stopped while waiting for the request budget: nothing was sent, so nothing counts.
		p.unspend(context.WithoutCancel(ctx), d, entry, rev, err)
		return p.handBack(context.WithoutCancel(ctx), d, "stopped before the call was sent", p.o.Backoff.Base)
	case lost:
		return p.handBack(context.WithoutCancel(ctx), d, "another replica took the claim over", p.o.Backoff.Base)
	case ctx.Err() != nil:
		// Shutting down mid-call spends no attempt (SPEC "attempt"), but the call stays a call
		// made that may have reached Amplience: the next delivery reconciles.
		p.unspend(context.WithoutCancel(ctx), d, entry, rev, err)
		return p.handBack(context.WithoutCancel(ctx), d, "stopping during the call", p.o.Backoff.Base)
	}
	telemetry.Fail(d.span, gqlapi.KindOf(err).String(), "createAsset failed", err)
	return p.failed(ctx, d, entry, rev, err, true)
}

// failed acts on a failed API request for the event. spent says whether the request counted
// as an attempt (a createAsset call) or was a lookup.
func (p *Pipeline) failed(ctx context.Context, d *delivery, entry ledger.Entry, rev uint64, err error, spent bool) Outcome {
	if gqlapi.KindOf(err) == gqlapi.KindUnavailable {
		// The shared request budget cannot be read: NATS, not the event. Nothing was sent.
		if spent {
			p.unspend(ctx, d, entry, rev, err)
		}
		return p.systemic(ctx, d, "waiting for the request budget", err)
	}
	switch gqlapi.KindOf(err) {
	case gqlapi.KindRateLimited:
		// Not the event's fault: give the attempt back and wait at least Retry-After.
		if spent {
			p.unspend(ctx, d, entry, rev, err)
		}
		return p.handBack(ctx, d, "rate limited by the API", min(gqlapi.RetryAfter(err), maxRetryAfter))
	case gqlapi.KindRejected:
		if !spent {
			return p.retryLater(ctx, d, entry, rev, err, spent)
		}
		return p.deadLetter(ctx, d, &ledgerRef{entry: entry, rev: rev}, failure{class: events.ClassRejected, err: err})
	case gqlapi.KindPermission:
		perr := p.pause.Check(ctx)
		if perr == nil {
			perr = p.checkRepository(ctx, d)
		}
		if perr != nil {
			return p.pauseFor(ctx, d, entry, rev, spent, err, perr)
		}
		if !spent {
			return p.retryLater(ctx, d, entry, rev, err, spent)
		}
		return p.deadLetter(ctx, d, &ledgerRef{entry: entry, rev: rev}, failure{class: events.ClassRejected, err: err})
	case gqlapi.KindUnauthorized:
		if perr := p.pause.Check(ctx); perr != nil {
			return p.pauseFor(ctx, d, entry, rev, spent, err, perr)
		}
		return p.retryLater(ctx, d, entry, rev, err, spent)
	default:
		if p.pause.Suspect(d.ev.Key) || p.lastChance(d, entry, spent) {
			if perr := p.pause.Check(ctx); perr != nil {
				return p.pauseFor(ctx, d, entry, rev, spent, err, perr)
			}
		}
		return p.retryLater(ctx, d, entry, rev, err, spent)
	}
}

// checkRepository looks, after a permission error the probe did not explain, for a lost DAM
// permission the probe cannot see: without a default repository the probe searches none, so
// the event's own repository is searched. When the key cannot use that one either, the
// repository this replica last created an asset in tells the event's fault (that one still
// works: nil) from the key's (it fails too, or there is none: the error).
func (p *Pipeline) checkRepository(ctx context.Context, d *delivery) error {
	if p.o.ProbeRepository == nil || p.o.Rules.DefaultRepositoryID != "" {
		return nil
	}
	repo := d.ev.Asset.AssetRepositoryID
	err := p.o.ProbeRepository(ctx, repo)
	if err == nil {
		return nil
	}
	err = fmt.Errorf("searching the event's repository %s: %w", repo, err)
	if gqlapi.KindOf(err) != gqlapi.KindPermission {
		return err
	}
	p.mu.Lock()
	usable := p.usable
	p.mu.Unlock()
	if usable == "" || usable == repo {
		return err
	}
	if uerr := p.o.ProbeRepository(ctx, usable); uerr != nil {
		return fmt.Errorf("%w; and repository %s: %w", err, usable, uerr)
	}
	return nil
}

// lastChance reports whether a transient failure of this event must be probed even though
// other events are not failing too (SPEC: no event is dead-lettered because the API was down):
// it spent the event's last attempt, so the next step is an exhausted dead letter, or the event
// keeps failing delivery after delivery (an outage seen by a single event in flight, whose
// lookups spend no attempt, would otherwise run into the consumer's MaxDeliver). The probe is
// shared and rate-limited by the Pauser, so this costs at most one request per probe gap.
func (p *Pipeline) lastChance(d *delivery, entry ledger.Entry, spent bool) bool {
	return (spent && entry.Attempts >= p.o.MaxAttempts) || d.delivered >= repeatedFailures
}

// retryLater handles a transient failure of the event: back off, or dead-letter it as
// exhausted when this was the last attempt of its budget. A failed lookup (spent false) never
// exhausts the budget: the last attempt may have created the asset (a crash before its answer),
// and until a lookup says it did not, the event cannot be declared failed.
func (p *Pipeline) retryLater(ctx context.Context, d *delivery, entry ledger.Entry, rev uint64, err error, spent bool) Outcome {
	if spent && entry.Attempts >= p.o.MaxAttempts {
		return p.deadLetter(ctx, d, &ledgerRef{entry: entry, rev: rev}, failure{class: events.ClassExhausted, err: err})
	}
	delay := p.o.Backoff.RetryDelay(max(entry.Attempts, 1), gqlapi.RetryAfter(err))
	if !spent {
		// A lookup spends no attempt, so its backoff grows with the deliveries instead.
		delay = max(delay, p.deliveryBackoff(d))
	}
	if p.o.Logger.Enabled(ctx, slog.LevelInfo) {
		p.o.Logger.InfoContext(ctx, "event will be retried", p.logAttrs(d,
			"outcome", OutcomeRetry, "attempts", entry.Attempts, "delay", delay.String(), "error", err.Error(),
			"duration_ms", p.o.Now().Sub(d.start).Milliseconds())...)
	}
	if nerr := d.settle.NakWithDelay(delay); nerr != nil {
		p.o.Logger.WarnContext(ctx, "nak failed; the event returns after the ack wait", p.logAttrs(d, "error", nerr)...)
	}
	return OutcomeRetry
}

// pauseFor pauses the replica after a failed probe and hands the message back, giving back the
// attempt: no event pays for the API, its credentials or NATS being down.
func (p *Pipeline) pauseFor(ctx context.Context, d *delivery, entry ledger.Entry, rev uint64, spent bool, err, probeErr error) Outcome {
	if errors.Is(probeErr, gqlapi.ErrNotSent) || ctx.Err() != nil {
		// The probe was never sent, or was cut short: the replica is stopping (its request
		// budget closed, or the drain timed out). That says nothing of the API, so no pause;
		// a redelivery caused by shutdown spends no attempt (SPEC "attempt"), and the call
		// stays a call made, so the next delivery reconciles before it calls again.
		if spent {
			p.unspend(context.WithoutCancel(ctx), d, entry, rev, err)
		}
		return p.handBack(context.WithoutCancel(ctx), d, "stopping before the probe was sent", p.o.Backoff.Base)
	}
	if spent {
		p.unspend(ctx, d, entry, rev, err)
	}
	reason := "Amplience probe failed: " + probeErr.Error()
	p.pause.Pause(reason)
	return p.handBack(ctx, d, reason, p.o.Backoff.Base)
}

// unspend gives back the attempt the entry counted for a call that did not count: a 429, a
// call never sent, or a failure the probe showed to be the system's. When the failed call may
// still have created the asset (a timeout, a 5xx, a transport error), it stays a call made
// and the entry keeps MayExist, so the next delivery reconciles before calling again. A
// failure to write only costs the event one attempt of its budget.
func (p *Pipeline) unspend(ctx context.Context, d *delivery, entry ledger.Entry, rev uint64, cause error) {
	if entry.Attempts == 0 {
		return
	}
	entry.Attempts--
	if mayHaveCreated(cause) {
		entry.MayExist = true
	} else if entry.Calls > 0 {
		entry.Calls--
	}
	if _, err := p.ledger.Update(ctx, d.ev.Key, entry, rev); err != nil {
		p.o.Logger.WarnContext(ctx, "could not give the attempt back", p.logAttrs(d, "error", err)...)
	}
}

// mayHaveCreated reports whether a failed createAsset may have created the asset anyway. Only
// answers that prove the request was refused before it did anything say no.
func mayHaveCreated(err error) bool {
	if errors.Is(err, gqlapi.ErrNotSent) || gqlapi.KindOf(err) == gqlapi.KindUnavailable {
		return false
	}
	switch gqlapi.KindOf(err) {
	case gqlapi.KindRateLimited, gqlapi.KindUnauthorized, gqlapi.KindPermission, gqlapi.KindRejected:
		return false
	}
	return true
}

// reconcile looks for an asset an earlier attempt for this event created: same repository,
// exactly the event's name, created at or after the claim's first attempt (less clock skew),
// and not recorded by another event. One the index already records for this event comes first
// (its completion may have been published); otherwise, of several, the oldest.
func (p *Pipeline) reconcile(ctx context.Context, d *delivery, entry ledger.Entry) (gqlapi.Asset, bool, error) {
	since := entry.FirstAttempt.Add(-claimGrace)
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
func (p *Pipeline) lookupFailed(ctx context.Context, d *delivery, entry ledger.Entry, rev uint64, err error) Outcome {
	if ctx.Err() != nil || errors.Is(err, gqlapi.ErrNotSent) {
		return p.handBack(context.WithoutCancel(ctx), d, "stopping during reconciliation", p.o.Backoff.Base)
	}
	if errors.Is(err, gqlapi.ErrSearchTooBroad) {
		// Searching again finds as many or more: calling again might create a second asset,
		// and waiting would only run the event into MaxDeliver. Hand it to the operators.
		return p.deadLetter(ctx, d, &ledgerRef{entry: entry, rev: rev}, failure{class: events.ClassRejected,
			err: fmt.Errorf("%w; an earlier createAsset call may have created the asset, so it is not called again: "+
				"look for the asset in the repository before replaying", err)})
	}
	var gerr *gqlapi.Error
	if !errors.As(err, &gerr) && gqlapi.KindOf(err) != gqlapi.KindUnavailable {
		return p.systemic(ctx, d, "reading the ledger asset index", err)
	}
	return p.failed(ctx, d, entry, rev, err, false)
}

// toInput maps the event's validated fields onto Amplience's CreateAssetInput.
func toInput(a events.CreateAsset) gqlapi.CreateAssetInput {
	return gqlapi.CreateAssetInput{
		Src:               a.Src,
		Type:              a.Type,
		Name:              a.Name,
		Filename:          a.Filename,
		AssetRepositoryID: a.AssetRepositoryID,
		AssetFolderID:     deref(a.AssetFolderID),
		Label:             deref(a.Label),
		Locale:            deref(a.Locale),
		LocaleGroup:       deref(a.LocaleGroup),
		Tags:              a.Tags,
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
