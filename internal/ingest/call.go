package ingest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/events"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/gqlapi"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/telemetry"
)

// repeatedFailures is the delivery count from which a transient failure of one event is probed
// on its own (see lastChance).
const repeatedFailures = 3

// call makes the createAsset call the delivery's entry has just counted, and acts on its
// answer. While the call runs (including its wait for the request budget) the claim's
// heartbeat is refreshed, so no other replica takes the event over.
func (p *Pipeline) call(ctx context.Context, d *delivery) verdict {
	d.span.SetAttributes(telemetry.Attempt(d.entry.Attempts))
	callCtx, cancelCall := context.WithCancel(ctx)
	defer cancelCall()
	keeper := p.keepClaim(callCtx, d, cancelCall)
	start := p.o.Now()
	asset, err := p.api.CreateAsset(gqlapi.WithStartCheck(alone(callCtx, d.entry), keeper.startCheck), toInput(d.ev.Asset))
	p.o.Metrics.call(ctx, time.Since(start), err)
	lost := keeper.stop()
	if err == nil {
		return p.created(ctx, d, asset)
	}
	// Past here the delivery is settled whatever happens to ctx: the writes that give an
	// attempt back run to the end.
	wctx := context.WithoutCancel(ctx)
	switch {
	case lost:
		return handBack("another replica took the claim over", p.o.Backoff.Base)
	case errors.Is(err, errClaimUnconfirmed):
		// Nothing was sent: the ledger could not confirm the claim (NATS is out of reach), so
		// another replica may take the event over before a call would end.
		p.unspend(wctx, d, err)
		return systemic("confirming the claim in the ledger", err)
	case errors.Is(err, gqlapi.ErrNotSent):
		// Stopped while waiting for the request budget: nothing was sent, so nothing counts.
		p.unspend(wctx, d, err)
		return handBack("stopped before the call was sent", p.o.Backoff.Base)
	case ctx.Err() != nil:
		// Shutting down mid-call spends no attempt (SPEC "attempt"), but the call stays a call
		// made that may have reached Amplience: the next delivery reconciles.
		p.unspend(wctx, d, err)
		return handBack("stopping during the call", p.o.Backoff.Base)
	}
	telemetry.Fail(d.span, gqlapi.KindOf(err).String(), "createAsset failed", err)
	return p.requestFailed(ctx, d, err, createCall)
}

// created records the asset a successful call created.
func (p *Pipeline) created(ctx context.Context, d *delivery, asset gqlapi.Asset) verdict {
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
	return p.ingested(wctx, d, asset)
}

// request is the kind of API request that failed for an event.
type request int

const (
	createCall request = iota // the createAsset call, which was charged an attempt
	lookup                    // a reconciliation search, which spends no attempt
)

// action is what follows a failed request once any probe it needs has passed.
type action int

const (
	actRetry       action = iota // back off and try again; a failed last attempt is exhausted
	actRateLimited               // hand back for at least Retry-After, the attempt given back
	actReject                    // dead-letter the event as rejected
	actSystemic                  // pause: the service's own dependency failed, not the event
)

// check is the probe a failed request needs before its action: a failing probe says the
// system is at fault, and the replica pauses instead.
type check int

const (
	checkNone       check = iota
	checkIfSuspect        // when several events failed in a row, or this one keeps failing
	checkAlways           // the credentials may be at fault
	checkRepository       // the key may have lost the permission (probe, then the repository)
)

// remedy is what a failed request calls for: a check, then an action.
type remedy struct {
	check  check
	action action
}

// judge says what a failed request of kind req calls for, from the kind of its error (a
// budget the client could not read is KindUnavailable: the service's Limiter says so). Only
// a createAsset call can be rejected: a lookup spends no attempt, and until one says whether
// the asset exists the event cannot be declared failed.
func judge(kind gqlapi.Kind, req request) remedy {
	switch kind {
	case gqlapi.KindUnavailable:
		// The shared request budget cannot be read: NATS, not the event. Nothing was sent.
		return remedy{checkNone, actSystemic}
	case gqlapi.KindRateLimited:
		return remedy{checkNone, actRateLimited}
	case gqlapi.KindRejected:
		if req == lookup {
			return remedy{checkNone, actRetry}
		}
		return remedy{checkNone, actReject}
	case gqlapi.KindPermission:
		if req == lookup {
			return remedy{checkRepository, actRetry}
		}
		return remedy{checkRepository, actReject}
	case gqlapi.KindUnauthorized:
		return remedy{checkAlways, actRetry}
	default:
		return remedy{checkIfSuspect, actRetry}
	}
}

// requestFailed carries out what a failed request of the event calls for (see judge).
func (p *Pipeline) requestFailed(ctx context.Context, d *delivery, err error, req request) verdict {
	r := judge(gqlapi.KindOf(err), req)
	if p.mustCheck(r.check, d, req) {
		if perr := p.check(ctx, d, r.check); perr != nil {
			return p.pauseFor(ctx, d, req, err, perr)
		}
	}
	switch r.action {
	case actSystemic:
		p.giveBack(ctx, d, req, err)
		return systemic("waiting for the request budget", err)
	case actRateLimited:
		// Not the event's fault: give the attempt back and wait at least Retry-After.
		p.giveBack(ctx, d, req, err)
		return handBack("rate limited by the API", min(gqlapi.RetryAfter(err), maxRetryAfter))
	case actReject:
		return p.deadLetter(ctx, d, failure{class: events.ClassRejected, err: err})
	}
	return p.retryLater(ctx, d, err, req)
}

// mustCheck reports whether the check runs. A suspect failure is probed when enough distinct
// events failed in a row, or when lastChance says this event cannot wait for that.
func (p *Pipeline) mustCheck(c check, d *delivery, req request) bool {
	switch c {
	case checkNone:
		return false
	case checkIfSuspect:
		return p.pause.Suspect(d.ev.Key) || p.lastChance(d, req)
	}
	return true
}

// check runs the probe the check names.
func (p *Pipeline) check(ctx context.Context, d *delivery, c check) error {
	err := p.pause.Check(ctx)
	if err == nil && c == checkRepository {
		err = p.checkRepository(ctx, d)
	}
	return err
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
func (p *Pipeline) lastChance(d *delivery, req request) bool {
	return (req == createCall && d.entry.Attempts >= p.o.MaxAttempts) || d.delivered >= repeatedFailures
}

// retryLater handles a transient failure of the event: back off, or dead-letter it as
// exhausted when this was the last attempt of its budget. A failed lookup never exhausts the
// budget: the last attempt may have created the asset (a crash before its answer), and until a
// lookup says it did not, the event cannot be declared failed.
func (p *Pipeline) retryLater(ctx context.Context, d *delivery, err error, req request) verdict {
	attempts := d.entry.Attempts
	if req == createCall && attempts >= p.o.MaxAttempts {
		return p.deadLetter(ctx, d, failure{class: events.ClassExhausted, err: err})
	}
	delay := p.o.Backoff.RetryDelay(max(attempts, 1), gqlapi.RetryAfter(err))
	if req == lookup {
		// A lookup spends no attempt, so its backoff grows with the deliveries instead.
		delay = max(delay, p.deliveryBackoff(d))
	}
	return retry(err, attempts, delay)
}

// pauseFor pauses the replica after a failed probe and hands the message back, giving back the
// attempt: no event pays for the API, its credentials or NATS being down.
func (p *Pipeline) pauseFor(ctx context.Context, d *delivery, req request, err, probeErr error) verdict {
	if errors.Is(probeErr, gqlapi.ErrNotSent) || ctx.Err() != nil {
		// The probe was never sent, or was cut short: the replica is stopping (its request
		// budget closed, or the drain timed out). That says nothing of the API, so no pause;
		// a redelivery caused by shutdown spends no attempt (SPEC "attempt"), and the call
		// stays a call made, so the next delivery reconciles before it calls again.
		p.giveBack(context.WithoutCancel(ctx), d, req, err)
		return handBack("stopping before the probe was sent", p.o.Backoff.Base)
	}
	p.giveBack(ctx, d, req, err)
	v := handBack("Amplience probe failed: "+probeErr.Error(), p.o.Backoff.Base)
	v.pause = v.reason
	return v
}

// giveBack gives back the attempt a failed createAsset call was charged; a lookup was
// charged none.
func (p *Pipeline) giveBack(ctx context.Context, d *delivery, req request, cause error) {
	if req == createCall {
		p.unspend(ctx, d, cause)
	}
}

// unspend gives back the attempt the entry counted for a call that did not count: a 429, a
// call never sent, or a failure the probe showed to be the system's. When the failed call may
// still have created the asset (a timeout, a 5xx, a transport error), it stays a call made
// and the entry keeps MayExist, so the next delivery reconciles before calling again. A
// failure to write only costs the event one attempt of its budget.
func (p *Pipeline) unspend(ctx context.Context, d *delivery, cause error) {
	entry := d.entry
	if entry.Attempts == 0 {
		return
	}
	entry.Attempts--
	if mayHaveCreated(cause) {
		entry.MayExist = true
	} else if entry.Calls > 0 {
		entry.Calls--
	}
	rev, err := p.ledger.Update(ctx, d.ev.Key, entry, d.rev)
	if err != nil {
		p.o.Logger.WarnContext(ctx, "could not give the attempt back", p.logAttrs(d, "error", err)...)
		return
	}
	d.entry, d.rev = entry, rev
}

// mayHaveCreated reports whether a failed createAsset may have created the asset anyway. Only
// answers that prove the request was refused before it did anything say no.
func mayHaveCreated(err error) bool {
	if errors.Is(err, gqlapi.ErrNotSent) {
		return false
	}
	switch gqlapi.KindOf(err) {
	case gqlapi.KindUnavailable, gqlapi.KindRateLimited, gqlapi.KindUnauthorized, gqlapi.KindPermission, gqlapi.KindRejected:
		return false
	}
	return true
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
