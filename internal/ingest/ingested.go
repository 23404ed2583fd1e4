package ingest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/events"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/gqlapi"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/ledger"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/telemetry"
)

// ingested records the event's asset and publishes asset.ingested: the asset index, then the
// ledger's created entry, which names the asset under the event's key, then (only once that
// is durable) the completion event, then the ack. A later delivery thus finds the asset in
// the ledger whenever its completion may have been published, without depending on a search.
func (p *Pipeline) ingested(ctx context.Context, d *delivery, asset gqlapi.Asset) verdict {
	key, entry := d.ev.Key, d.entry
	completion := events.Ingested{
		Key:     key,
		EventID: d.ev.ID, EventSource: d.ev.Source,
		AssetID: asset.ID, Name: d.ev.Asset.Name, AssetRepositoryID: d.ev.Asset.AssetRepositoryID,
		Src: d.ev.Asset.Src,
		// The calls made since the last replay; at least the one that created the asset (a
		// replay that adopts the asset an earlier call created has made none itself).
		Attempts:   max(entry.Calls, 1),
		DurationMs: p.o.Now().Sub(d.start).Milliseconds(), Time: p.o.Now(),
	}
	body, err := completion.Marshal()
	if err != nil {
		return systemic("encoding asset.ingested", err)
	}
	recorded, err := p.ledger.RecordAsset(ctx, asset.ID, key, body)
	switch {
	case errors.Is(err, ledger.ErrAssetTaken):
		// Another event's reconciliation adopted this asset first (two events with one name,
		// one of them recovering from a crash). It is that event's now; the next delivery of
		// this one reconciles, finds no asset of its own, and calls again.
		return handBack("the asset was recorded by another event", p.o.Backoff.Base)
	case err != nil:
		return systemic("recording the asset in the ledger", err)
	case recorded != nil:
		// An earlier delivery recorded the asset and may have published its completion before
		// it stopped: publish the same bytes.
		body = recorded
	}
	entry.State, entry.AssetID, entry.Completion, entry.Owner = ledger.StateCreated, asset.ID, body, ""
	err = p.recordCreated(ctx, d, entry)
	switch {
	case errors.Is(err, ledger.ErrConflict):
		// Another delivery changed the entry meanwhile; the asset index names this event, so
		// whoever continues reconciles to this asset. Hand back and let the ledger decide.
		return handBack("ledger entry changed while recording the asset", p.o.Backoff.Base)
	case err != nil:
		// Nothing was published: the next delivery reconciles.
		return systemic("recording the created asset in the ledger", err)
	}
	if _, err := p.publish(ctx, events.IngestedSubject(d.ev.SourceToken), events.CompletionHeader(), d.entry.Completion, completion.ID()); err != nil {
		// The entry is created: the next delivery republishes the same completion.
		return systemic("publishing asset.ingested", err)
	}
	return ingestedAs(asset.ID, max(d.entry.Calls, 1))
}

// createdWriteRetries are the waits before each repeat of a failed write of the created
// entry: a short outage of the ledger is ridden out before the replica pauses, since until the
// write lands only a search can find the asset again.
var createdWriteRetries = []time.Duration{50 * time.Millisecond, 200 * time.Millisecond, 500 * time.Millisecond}

// recordCreated writes the created entry over the delivery's, repeating a failed write a few
// times, and leaves the entry as stored on the delivery. A conflict means the entry changed
// since it was read: when it is already created with this asset (a repeat of a write whose
// answer was lost, or another replica that adopted the asset), the stored entry is kept;
// otherwise ledger.ErrConflict.
func (p *Pipeline) recordCreated(ctx context.Context, d *delivery, entry ledger.Entry) error {
	for i := 0; ; i++ {
		rev, err := p.ledger.Update(ctx, d.ev.Key, entry, d.rev)
		if err == nil {
			d.entry, d.rev = entry, rev
			return nil
		}
		if errors.Is(err, ledger.ErrConflict) {
			stored, rev, gerr := p.ledger.Get(ctx, d.ev.Key)
			if gerr == nil && stored.State == ledger.StateCreated && stored.AssetID == entry.AssetID {
				d.entry, d.rev = stored, rev
				return nil
			}
			return ledger.ErrConflict
		}
		if i == len(createdWriteRetries) {
			return err
		}
		p.o.Logger.WarnContext(ctx, "writing the created entry failed; trying again", p.logAttrs(d, "error", err)...)
		t := time.NewTimer(createdWriteRetries[i])
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return err
		}
	}
}

// republishIngested answers a delivery of an event the ledger has as created: the stored
// completion event again, byte for byte, and the ack, calling no API.
func (p *Pipeline) republishIngested(ctx context.Context, d *delivery) verdict {
	var c events.Ingested
	c.Key = d.ev.Key
	if _, err := p.publish(ctx, events.IngestedSubject(d.ev.SourceToken), events.CompletionHeader(), d.entry.Completion, c.ID()); err != nil {
		return systemic("republishing asset.ingested", err)
	}
	return ingestedAs(d.entry.AssetID, max(d.entry.Calls, 1))
}

// publish sends one message under a producer span whose context its headers carry, with
// Nats-Msg-Id msgID, and waits for the stream's acknowledgement.
func (p *Pipeline) publish(ctx context.Context, subject string, h nats.Header, body []byte, msgID string) (*jetstream.PubAck, error) {
	h.Set(events.HeaderMsgID, msgID) // before the span starts: it is messaging.message.id
	ctx, span := telemetry.StartPublish(ctx, p.o.Tracer, p.o.Propagator, subject, h)
	defer span.End()
	ack, err := p.js.PublishMsg(ctx, &nats.Msg{Subject: subject, Header: h, Data: body})
	if err != nil {
		telemetry.Fail(span, telemetry.ErrorType(err), "publish failed", err)
		return nil, fmt.Errorf("publishing to %s: %w", subject, err)
	}
	return ack, nil
}
