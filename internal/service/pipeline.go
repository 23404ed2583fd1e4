package service

import (
	"fmt"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/ingest"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/ledger"
)

// newPipeline creates what handles deliveries: the pauser and its probe, the pipeline and its
// metrics, the pull loop and the advisory handler.
func (s *service) newPipeline() error {
	cfg, log := s.cfg, s.log
	led := ledger.New(s.bound.Ledger)
	// The replica starts paused: it takes no message, and is not ready, before a first probe
	// passed (a deployment with refused credentials never becomes ready).
	s.pauser = ingest.NewPauser(s.probe(led), ingest.PauserOptions{
		VerifyFirst: true, Now: s.o.Now, Logger: log.With("component", "pause"), OnChange: s.health.setPaused,
	})
	meter := s.tel.MeterProvider.Meter(Name)
	metrics, err := ingest.NewMetrics(meter)
	if err != nil {
		return fmt.Errorf("creating metrics: %w", err)
	}
	if err := ingest.ObserveBacklog(meter, ingest.Backlog{
		Inbound: s.bound.Inbound, Consumer: s.bound.Consumer, DLQ: s.bound.DLQ, Paused: s.pauser.State,
		MaxAge: s.o.BacklogMaxAge,
	}); err != nil {
		return fmt.Errorf("creating backlog metrics: %w", err)
	}
	pipe := ingest.New(s.js, led, s.batcher, s.pauser, ingest.Options{
		Stream: cfg.Streams.Inbound, Consumer: cfg.Streams.Durable, Replica: s.o.Replica,
		Rules:       cfg.Rules(),
		MaxAttempts: cfg.Ingest.MaxAttempts,
		Backoff:     ingest.Backoff{Base: cfg.Ingest.BackoffBase, Max: cfg.Ingest.BackoffMax},
		AckWait:     cfg.Ingest.AckWait, CallTimeout: cfg.Amplience.Timeout, ProbeRepository: s.probeRepository,
		MaxPayload: s.nc.MaxPayload(), Now: s.o.Now, Logger: log.With("component", "pipeline"),
		Tracer: s.tel.TracerProvider.Tracer(Name), Propagator: s.tel.Propagator, Metrics: metrics,
	})
	s.runner = ingest.NewRunner(s.bound.Consumer, pipe.Handle, s.pauser, ingest.RunnerOptions{
		Concurrency: cfg.Ingest.Concurrency, AckWait: cfg.Ingest.AckWait,
		Logger: log.With("component", "runner"), Metrics: metrics, OnBound: s.health.setBound,
	})
	s.advisories = ingest.NewAdvisories(pipe, s.bound.Inbound, s.bound.AdvisoryConsumer, log.With("component", "advisories"))
	return nil
}
