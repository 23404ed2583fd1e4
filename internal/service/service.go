// Package service wires the consumer together: NATS and its resources, the Amplience client
// and the shared request budget, the pipeline, the pull loop, the advisory handler and the
// HTTP endpoints. `consumer run` and `consumer dev` both start it through [Run], and so do the
// integration tests.
package service

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/broker"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/config"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/gqlapi"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/ingest"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/telemetry"
)

// Name is the service's name in connection names, User-Agent and telemetry.
const Name = "asset-ingest-consumer"

// Options are what [Run] needs besides the configuration.
type Options struct {
	// Config is the configuration as config.Load returns it, checked with Validate: the values
	// with a syntax of their own (the rate limit, the sources) are parsed there, not here.
	Config  config.Config
	Version string
	Logger  *slog.Logger
	// Telemetry holds the providers; nil sets up providers that export nothing.
	Telemetry *telemetry.Telemetry

	// Listener, when set, serves the HTTP endpoints instead of listening on Config.HTTPAddr.
	Listener net.Listener
	// Replica names this replica in the ledger; empty: host name, process id and a random
	// suffix.
	Replica string
	// Transport is the base HTTP transport to Amplience; nil: a clone of the default that keeps
	// an idle connection for each slot of INGEST_CONCURRENCY.
	Transport http.RoundTripper
	// Ready, when set, is called once with the HTTP address after the consumer is bound.
	Ready func(httpAddr string)
	// Now is the clock; nil: time.Now.
	Now func() time.Time
	// BacklogMaxAge is how long the backlog gauges on /metrics reuse one reading of the
	// consumer and the dead-letter stream; 0 means 10 s. Tests shorten it.
	BacklogMaxAge time.Duration
}

// service is one run of the service: what each step of [Run] made, for the steps after it.
type service struct {
	o      Options
	cfg    config.Config
	log    *slog.Logger
	tel    *telemetry.Telemetry
	health *health

	ln    net.Listener
	nc    *nats.Conn
	js    jetstream.JetStream
	bound broker.Bound

	api        *gqlapi.Client
	batcher    *gqlapi.Batcher
	pauser     *ingest.Pauser
	runner     *ingest.Runner
	advisories *ingest.Advisories
}

// Run runs the service until ctx ends, then drains: it stops pulling, lets in-flight events
// finish within half the ack wait, and closes the NATS connection. Configuration problems
// come back as [config.Problems] and [broker.ConfigError] so that the command exits 2.
func Run(ctx context.Context, o Options) error {
	s := newService(o)
	if s.tel == nil {
		// No telemetry given: spans are made and propagated but not exported.
		tel, err := telemetry.Setup(ctx, telemetry.Options{ServiceName: Name, Version: o.Version})
		if err != nil {
			return fmt.Errorf("setting up telemetry: %w", err)
		}
		defer func() { _ = tel.Shutdown(context.WithoutCancel(ctx)) }()
		s.tel = tel
	}
	httpErr, stopHTTP, err := s.serveHTTP()
	if err != nil {
		return err
	}
	defer stopHTTP()
	if err := s.connectNATS(ctx); err != nil {
		return err
	}
	defer s.nc.Close()

	// runCtx ends when the replica stops pulling: on shutdown, or when serving HTTP fails.
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	if err := s.newAPI(runCtx); err != nil {
		return err
	}
	if err := s.newPipeline(); err != nil {
		return err
	}
	return s.run(ctx, runCtx, stopRun, httpErr)
}

// newService applies the defaults of o.
func newService(o Options) *service {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Replica == "" {
		o.Replica = replicaName()
	}
	return &service{o: o, cfg: o.Config, log: o.Logger, tel: o.Telemetry, health: newHealth()}
}

// serveHTTP serves the HTTP endpoints from the start: /healthz while NATS is still out of
// reach, and /readyz saying what the service waits for. Serving errors arrive on the channel;
// stop shuts the server down and waits for it.
func (s *service) serveHTTP() (errs <-chan error, stop func(), err error) {
	s.ln = s.o.Listener
	if s.ln == nil {
		if s.ln, err = net.Listen("tcp", s.cfg.HTTPAddr); err != nil {
			return nil, nil, fmt.Errorf("listening on HTTP_ADDR %s: %w", s.cfg.HTTPAddr, err)
		}
	}
	srv := &http.Server{Handler: s.health.handler(s.tel.Metrics), ReadHeaderTimeout: 5 * time.Second}
	httpErr := make(chan error, 1)
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := srv.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			httpErr <- err
		}
	})
	stop = func() {
		shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutCtx)
		wg.Wait()
	}
	return httpErr, stop, nil
}

// connectNATS connects to NATS, waiting for it, and checks (or creates) the JetStream
// resources. On success the caller closes s.nc; on failure it is closed already.
func (s *service) connectNATS(ctx context.Context) error {
	opts := s.cfg.NATS.Options(Name + " " + s.o.Replica)
	opts.Logger = s.log.With("component", "nats")
	nc, err := broker.Connect(ctx, opts)
	if err != nil {
		return err // broker.Connect says what it was doing
	}
	s.health.setConn(nc)
	if s.js, err = jetstream.New(nc); err != nil {
		nc.Close()
		return fmt.Errorf("opening JetStream: %w", err)
	}
	if s.bound, err = broker.Ensure(ctx, s.js, s.cfg.Resources(), s.log.With("component", "resources")); err != nil {
		nc.Close()
		return fmt.Errorf("checking JetStream resources: %w", err)
	}
	s.nc = nc
	return nil
}

// run pulls until ctx ends or serving HTTP fails, then drains: in-flight events finish, the
// background loops stop and the acks sent are flushed.
func (s *service) run(ctx, runCtx context.Context, stopRun func(), httpErr <-chan error) error {
	s.log.Info("service started", "version", s.o.Version, "replica", s.o.Replica, "http", s.ln.Addr().String(),
		"stream", s.cfg.Streams.Inbound, "consumer", s.cfg.Streams.Durable, "concurrency", s.cfg.Ingest.Concurrency,
		"batch_size", s.cfg.Amplience.BatchSize, "rate_limit", s.cfg.Amplience.RateLimit.String(), "trace_export", s.tel.TraceExport)

	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBG()
	var wg sync.WaitGroup
	wg.Go(func() { _ = s.pauser.Run(bg) })
	wg.Go(func() { _ = s.advisories.Run(bg) })
	if s.o.Ready != nil {
		wg.Go(func() {
			if s.health.waitBound(bg) {
				s.o.Ready(s.ln.Addr().String())
			}
		})
	}

	runnerDone := make(chan struct{})
	go func() {
		defer close(runnerDone)
		_ = s.runner.Run(runCtx)
	}()
	var runErr error
	select {
	case <-runnerDone:
	case err := <-httpErr:
		runErr = fmt.Errorf("serving HTTP: %w", err)
		stopRun()
		<-runnerDone
	}
	s.log.Info("service stopping: no more pulls; in-flight events finished")
	stopBG()
	wg.Wait()
	// Acks, naks and terms are sent without waiting for the server: flush them before the
	// deferred Close.
	if err := s.nc.FlushTimeout(5 * time.Second); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
		s.log.Warn("flushing the NATS connection", "error", err)
	}
	return runErr
}

func replicaName() string {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b))
}
