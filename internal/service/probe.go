package service

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/gqlapi"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/ingest"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/ledger"
)

// probeName is the asset name the probe searches for: no asset is expected to have it.
const probeName = "asset-ingest-consumer-probe"

// probe checks every dependency whose failure pauses the replica, touching no event: a fresh
// token and an authenticated query (bounded by the client's own timeout per request; a wait
// for the shared budget is not a failure), a read of the default repository when there is one
// (so a key that lost its DAM permission fails the probe instead of dead-lettering every event
// as rejected), and the ledger, results and dead-letter streams.
func (s *service) probe(led *ledger.Ledger) ingest.Probe {
	return func(ctx context.Context) error {
		err := s.api.Probe(ctx)
		if err == nil && s.cfg.Amplience.RepositoryID != "" {
			err = s.probeRepository(ctx, s.cfg.Amplience.RepositoryID)
		}
		nctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		return errors.Join(err, led.Check(nctx), streamCheck(nctx, s.bound.Results), streamCheck(nctx, s.bound.DLQ))
	}
}

// probeRepository reads repository repositoryID. Only an answer that says the system is unwell
// fails the probe; a search the API refuses as such (an unexpected schema) still proves it
// answers.
func (s *service) probeRepository(ctx context.Context, repositoryID string) error {
	if _, err := s.api.FindByName(ctx, repositoryID, probeName, s.o.Now()); gqlapi.KindOf(err) != gqlapi.KindRejected {
		return err
	}
	return nil
}

// streamCheck reports whether a stream answers and accepts messages (not full with DiscardNew).
func streamCheck(ctx context.Context, s jetstream.Stream) error {
	info, err := s.Info(ctx)
	if err != nil {
		return fmt.Errorf("reading stream info: %w", err)
	}
	c := info.Config
	full := (c.MaxMsgs > 0 && info.State.Msgs >= uint64(c.MaxMsgs)) ||
		(c.MaxBytes > 0 && info.State.Bytes >= uint64(c.MaxBytes))
	if c.Discard == jetstream.DiscardNew && full {
		return fmt.Errorf("stream %s is full and refuses new messages", c.Name)
	}
	return nil
}
