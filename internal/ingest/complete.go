package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/events"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/gqlapi"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/ledger"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/telemetry"
)

// ingested records the event's asset and publishes asset.ingested: the asset index, then the
// ledger's created entry and the completion event in flight together, then the ack once both
// are confirmed.
func (p *Pipeline) ingested(ctx context.Context, d *delivery, entry ledger.Entry, rev uint64, asset gqlapi.Asset) Outcome {
	key := d.ev.Key
	completion := events.Ingested{
		Key:     key,
		EventID: d.ev.ID, EventSource: d.ev.Source,
		AssetID: asset.ID, Name: d.ev.Asset.Name, AssetRepositoryID: d.ev.Asset.AssetRepositoryID,
		Src: d.ev.Asset.Src, Attempts: entry.Attempts,
		DurationMs: p.o.Now().Sub(d.start).Milliseconds(), Time: p.o.Now(),
	}
	body, err := completion.Marshal()
	if err != nil {
		return p.systemic(ctx, d, "encoding asset.ingested", err)
	}
	recorded, err := p.ledger.RecordAsset(ctx, asset.ID, key, body)
	switch {
	case errors.Is(err, ledger.ErrAssetTaken):
		// Another event's reconciliation adopted this asset first (two events with one name,
		// one of them recovering from a crash). It is that event's now; the next delivery of
		// this one reconciles, finds no asset of its own, and calls again.
		return p.handBack(ctx, d, "the asset was recorded by another event", p.o.Backoff.Base)
	case err != nil:
		return p.systemic(ctx, d, "recording the asset in the ledger", err)
	case recorded != nil:
		// An earlier delivery recorded the asset and may have published its completion before
		// it stopped: publish the same bytes.
		body = recorded
	}
	entry.State, entry.AssetID, entry.Completion, entry.Owner = ledger.StateCreated, asset.ID, body, ""

	var wg sync.WaitGroup
	var ledgerErr error
	wg.Go(func() { _, ledgerErr = p.ledger.Update(ctx, key, entry, rev) })
	_, pubErr := p.publish(ctx, events.IngestedSubject(d.ev.SourceToken), events.CompletionHeader(), body, completion.ID())
	wg.Wait()
	if errors.Is(ledgerErr, ledger.ErrConflict) {
		// Another delivery changed the entry meanwhile; the asset index names this event, so
		// whoever continues reconciles to this asset. Hand back and let the ledger decide.
		return p.handBack(ctx, d, "ledger entry changed while recording the asset", p.o.Backoff.Base)
	}
	if err := errors.Join(ledgerErr, pubErr); err != nil {
		return p.systemic(ctx, d, "recording the created asset", err)
	}
	return p.ack(ctx, d, entry, asset.ID)
}

// republishIngested answers a delivery of an event the ledger has as created: the stored
// completion event again, byte for byte, and the ack, calling no API.
func (p *Pipeline) republishIngested(ctx context.Context, d *delivery, entry ledger.Entry) Outcome {
	var c events.Ingested
	c.Key = d.ev.Key
	if _, err := p.publish(ctx, events.IngestedSubject(d.ev.SourceToken), events.CompletionHeader(), entry.Completion, c.ID()); err != nil {
		return p.systemic(ctx, d, "republishing asset.ingested", err)
	}
	return p.ack(ctx, d, entry, entry.AssetID)
}

func (p *Pipeline) ack(ctx context.Context, d *delivery, entry ledger.Entry, assetID string) Outcome {
	// The ledger makes a lost ack harmless: a redelivery republishes the same completion.
	if err := d.settle.Ack(); err != nil {
		p.o.Logger.WarnContext(ctx, "ack failed; a redelivery will republish the completion", p.logAttrs(d, "error", err)...)
	}
	// Guarded: the attributes cost allocations even when the level is off.
	if p.o.Logger.Enabled(ctx, slog.LevelInfo) {
		p.o.Logger.InfoContext(ctx, "event ingested", p.logAttrs(d,
			"outcome", OutcomeIngested, "asset_id", assetID, "attempts", entry.Attempts,
			"duration_ms", p.o.Now().Sub(d.start).Milliseconds())...)
	}
	return OutcomeIngested
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
