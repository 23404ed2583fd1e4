package service

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/config"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/gqlapi"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/ratelimit"
)

// newAPI creates the Amplience client, with the budget the replicas share, and the batcher
// that carries its createAsset calls. Once stop ends (the replica stops pulling), requests
// still waiting for the budget are handed back at once: only calls already sent are drained.
func (s *service) newAPI(stop context.Context) error {
	var limiter gqlapi.Limiter
	if limit := s.cfg.Amplience.RateLimit.Limit; !limit.Unlimited() {
		limiter = budget{ratelimit.New(s.bound.Ledger, "ratelimit."+apiKeyID(s.cfg.Amplience), limit,
			ratelimit.Options{Logger: s.log.With("component", "ratelimit"), Stop: stop})}
	}
	api, err := gqlapi.New(s.cfg.Amplience.ClientOptions(gqlapi.Options{
		UserAgent: Name + "/" + s.o.Version, Transport: transport(s.o.Transport, s.cfg.Ingest.Concurrency),
		TracerProvider: s.tel.TracerProvider, MeterProvider: s.tel.MeterProvider, Limiter: limiter,
	}))
	if err != nil {
		return fmt.Errorf("creating the Amplience client: %w", err)
	}
	// Calls waiting for the budget or for a request in flight share one request; the
	// requests in flight are bounded so that the calls of a full replica fill them.
	size := s.cfg.Amplience.BatchSize
	batcher, err := gqlapi.NewBatcher(api, gqlapi.BatchOptions{
		Size: size, MaxInFlight: (s.cfg.Ingest.Concurrency + size - 1) / size,
		TracerProvider: s.tel.TracerProvider, MeterProvider: s.tel.MeterProvider, Logger: s.log.With("component", "batch"),
	})
	if err != nil {
		return fmt.Errorf("creating the Amplience client: %w", err)
	}
	s.api, s.batcher = api, batcher
	return nil
}

// apiKeyID names the API key the request budget belongs to, without revealing it.
func apiKeyID(a config.Amplience) string {
	key := a.ClientID
	if a.PAT != "" {
		key = a.PAT
	}
	sum := sha256.Sum256([]byte(a.AuthURL + "\x00" + key))
	return hex.EncodeToString(sum[:8])
}

// transport returns base, or when nil a clone of the default transport that keeps an idle
// connection per event in flight (plus one for the probe): the default keeps two per host, so
// every call beyond the second would open a new connection and close it after.
func transport(base http.RoundTripper, concurrency int) http.RoundTripper {
	if base != nil {
		return base
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = concurrency + 1
	return t
}

// budget is the shared limiter as the client sees it: a budget closed because the replica
// stopped pulling refuses requests that were never sent, and a budget that cannot be read
// (NATS, not the API) fails with [gqlapi.KindUnavailable].
type budget struct{ *ratelimit.Limiter }

func (b budget) Wait(ctx context.Context) error {
	err := b.Limiter.Wait(ctx)
	switch {
	case errors.Is(err, ratelimit.ErrStopped):
		return fmt.Errorf("%w: %w", gqlapi.ErrNotSent, err)
	case errors.Is(err, ratelimit.ErrUnavailable):
		return &gqlapi.Error{Kind: gqlapi.KindUnavailable, Message: "the shared request budget cannot be read", Err: err}
	}
	return err
}
