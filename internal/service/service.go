// Package service wires the consumer together: NATS and its resources, the Amplience client
// and the shared request budget, the pipeline, the pull loop, the advisory handler and the
// HTTP endpoints. `consumer run` and `consumer dev` both start it through [Run], and so do the
// integration tests.
package service

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
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
	"github.com/amplience-ingest/asset-ingest-consumer/internal/events"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/gqlapi"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/ingest"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/ledger"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/ratelimit"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/telemetry"
)

// Name is the service's name in connection names, User-Agent and telemetry.
const Name = "asset-ingest-consumer"

// Options are what [Run] needs besides the configuration.
type Options struct {
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

// Run runs the service until ctx ends, then drains: it stops pulling, lets in-flight events
// finish within half the ack wait, and closes the NATS connection. Configuration problems
// come back as [config.Problems] and [broker.ConfigError] so that the command exits 2.
func Run(ctx context.Context, o Options) error {
	cfg := o.Config
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	limit, sources, err := Parsed(cfg)
	if err != nil {
		return err
	}
	if o.Replica == "" {
		o.Replica = replicaName()
	}
	tel := o.Telemetry
	if tel == nil {
		// No telemetry given: spans are made and propagated but not exported.
		if tel, err = telemetry.Setup(ctx, telemetry.Options{ServiceName: Name, Version: o.Version}); err != nil {
			return fmt.Errorf("setting up telemetry: %w", err)
		}
		defer func() { _ = tel.Shutdown(context.WithoutCancel(ctx)) }()
	}

	// The HTTP endpoints answer from the start: /healthz while NATS is still out of reach, and
	// /readyz saying what the service waits for.
	health := newHealth()
	ln := o.Listener
	if ln == nil {
		if ln, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
			return fmt.Errorf("listening on HTTP_ADDR %s: %w", cfg.HTTPAddr, err)
		}
	}
	srv := &http.Server{Handler: health.handler(tel.Metrics), ReadHeaderTimeout: 5 * time.Second}
	httpErr := make(chan error, 1)
	var httpWG sync.WaitGroup
	httpWG.Go(func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			httpErr <- err
		}
	})
	defer func() {
		shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutCtx)
		httpWG.Wait()
	}()

	natsOpts := cfg.NATSOptions(Name + " " + o.Replica)
	natsOpts.Logger = log.With("component", "nats")
	nc, err := broker.Connect(ctx, natsOpts)
	if err != nil {
		return err // broker.Connect says what it was doing
	}
	defer nc.Close()
	health.setConn(nc)
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("opening JetStream: %w", err)
	}
	res := Resources(cfg)
	bound, err := broker.Ensure(ctx, js, res, log.With("component", "resources"))
	if err != nil {
		return fmt.Errorf("checking JetStream resources: %w", err)
	}

	// runCtx ends when the replica stops pulling: on shutdown, or when serving HTTP fails.
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()

	var limiter *ratelimit.Limiter
	if !limit.Unlimited() {
		limiter = ratelimit.New(bound.Ledger, "ratelimit."+apiKeyID(cfg), limit,
			// Once the replica stops pulling, requests still waiting for the budget are handed
			// back at once: only calls already sent are drained.
			ratelimit.Options{Logger: log.With("component", "ratelimit"), Stop: runCtx})
	}
	api, err := gqlapi.New(gqlapi.Options{
		APIURL: cfg.AmplienceAPIURL, AuthURL: cfg.AmplienceAuthURL,
		ClientID: cfg.AmplienceClientID, ClientSecret: cfg.AmplienceClientSecret, PAT: cfg.AmpliencePAT,
		Timeout: cfg.AmplienceTimeout, UserAgent: Name + "/" + o.Version,
		Transport: transport(o.Transport, cfg.Concurrency), TracerProvider: tel.TracerProvider, MeterProvider: tel.MeterProvider,
		Limiter: limiterOrNil(limiter),
	})
	if err != nil {
		return fmt.Errorf("creating the Amplience client: %w", err)
	}

	// Calls waiting for the budget or for a request in flight share one request; the
	// requests in flight are bounded so that the calls of a full replica fill them.
	batcher, err := gqlapi.NewBatcher(api, gqlapi.BatchOptions{
		Size: cfg.BatchSize, MaxInFlight: (cfg.Concurrency + cfg.BatchSize - 1) / cfg.BatchSize,
		TracerProvider: tel.TracerProvider, MeterProvider: tel.MeterProvider, Logger: log.With("component", "batch"),
	})
	if err != nil {
		return fmt.Errorf("creating the Amplience client: %w", err)
	}

	led := ledger.New(bound.Ledger)
	// The probe checks every dependency whose failure pauses the replica, touching no event:
	// a fresh token and an authenticated query (bounded by the client's own timeout per
	// request; a wait for the shared budget is not a failure), a read of the default
	// repository when there is one (so a key that lost its DAM permission fails the probe
	// instead of dead-lettering every event as rejected), and the ledger, results and
	// dead-letter streams.
	probeRepository := func(ctx context.Context, repositoryID string) error {
		// Only an answer that says the system is unwell fails the probe; a search the API
		// refuses as such (an unexpected schema) still proves it answers.
		if _, err := api.FindByName(ctx, repositoryID, probeName, o.Now()); gqlapi.KindOf(err) != gqlapi.KindRejected {
			return err
		}
		return nil
	}
	probe := func(ctx context.Context) error {
		err := api.Probe(ctx)
		if err == nil && cfg.AssetRepositoryID != "" {
			err = probeRepository(ctx, cfg.AssetRepositoryID)
		}
		nctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		return errors.Join(err, led.Check(nctx), streamCheck(nctx, bound.Results), streamCheck(nctx, bound.DLQ))
	}
	// The replica starts paused: it takes no message, and is not ready, before a first probe
	// passed (a deployment with refused credentials never becomes ready).
	pauser := ingest.NewPauser(probe, ingest.PauserOptions{
		VerifyFirst: true, Now: o.Now, Logger: log.With("component", "pause"), OnChange: health.setPaused,
	})
	meter := tel.MeterProvider.Meter(Name)
	metrics, err := ingest.NewMetrics(meter)
	if err != nil {
		return fmt.Errorf("creating metrics: %w", err)
	}
	if err := ingest.ObserveBacklog(meter, ingest.Backlog{
		Inbound: bound.Inbound, Consumer: bound.Consumer, DLQ: bound.DLQ, Paused: pauser.State,
		MaxAge: o.BacklogMaxAge,
	}); err != nil {
		return fmt.Errorf("creating backlog metrics: %w", err)
	}
	pipe := ingest.New(js, led, batcher, pauser, ingest.Options{
		Stream: cfg.IngestStream, Consumer: cfg.IngestDurable, Replica: o.Replica,
		Rules:       events.Rules{AllowHTTP: cfg.AllowHTTP, DefaultRepositoryID: cfg.AssetRepositoryID, Sources: sources},
		MaxAttempts: cfg.MaxAttempts,
		Backoff:     ingest.Backoff{Base: cfg.BackoffBase, Max: cfg.BackoffMax},
		AckWait:     cfg.AckWait, CallTimeout: cfg.AmplienceTimeout, ProbeRepository: probeRepository, MaxPayload: nc.MaxPayload(),
		Now: o.Now, Logger: log.With("component", "pipeline"),
		Tracer: tel.TracerProvider.Tracer(Name), Propagator: tel.Propagator, Metrics: metrics,
	})
	runner := ingest.NewRunner(bound.Consumer, pipe.Handle, pauser, ingest.RunnerOptions{
		Concurrency: cfg.Concurrency, AckWait: cfg.AckWait,
		Logger: log.With("component", "runner"), Metrics: metrics, OnBound: health.setBound,
	})
	advisories := ingest.NewAdvisories(pipe, bound.Inbound, bound.AdvisoryConsumer, log.With("component", "advisories"))

	log.Info("service started", "version", o.Version, "replica", o.Replica, "http", ln.Addr().String(),
		"stream", cfg.IngestStream, "consumer", cfg.IngestDurable, "concurrency", cfg.Concurrency,
		"batch_size", cfg.BatchSize, "rate_limit", limit.String(), "trace_export", tel.TraceExport)

	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBG()
	var wg sync.WaitGroup
	wg.Go(func() { _ = pauser.Run(bg) })
	wg.Go(func() { _ = advisories.Run(bg) })
	if o.Ready != nil {
		wg.Go(func() {
			if health.waitBound(bg) {
				o.Ready(ln.Addr().String())
			}
		})
	}

	runnerDone := make(chan struct{})
	go func() {
		defer close(runnerDone)
		_ = runner.Run(runCtx)
	}()
	var runErr error
	select {
	case <-runnerDone:
	case err := <-httpErr:
		runErr = fmt.Errorf("serving HTTP: %w", err)
		stopRun()
		<-runnerDone
	}
	log.Info("service stopping: no more pulls; in-flight events finished")
	stopBG()
	wg.Wait()
	// Acks, naks and terms are sent without waiting for the server: flush them before the
	// deferred Close.
	if err := nc.FlushTimeout(5 * time.Second); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
		log.Warn("flushing the NATS connection", "error", err)
	}
	return runErr
}

// probeName is the asset name the probe searches for: no asset is expected to have it.
const probeName = "asset-ingest-consumer-probe"

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

// Parsed parses the settings that have a syntax of their own; the errors are [config.Problems].
func Parsed(cfg config.Config) (ratelimit.Limit, events.Sources, error) {
	var p config.Problems
	limit, err := ratelimit.ParseLimit(cfg.RateLimit)
	if err != nil {
		p = append(p, err.Error())
	}
	sources, err := events.ParseSources(cfg.Sources)
	if err != nil {
		p = append(p, "INGEST_SOURCES: "+err.Error())
	}
	if len(p) > 0 {
		return limit, sources, p
	}
	return limit, sources, nil
}

// Resources are the JetStream resources the configuration names.
func Resources(cfg config.Config) broker.Resources {
	return broker.Resources{
		InboundStream: cfg.IngestStream, InboundSubjects: cfg.IngestSubjects, Durable: cfg.IngestDurable,
		ResultsStream: cfg.ResultsStream, DLQStream: cfg.DLQStream, AdvisoryStream: cfg.AdvisoryStream,
		LedgerBucket: cfg.LedgerBucket, Replicas: cfg.StreamReplicas,
		AckWait: cfg.AckWait, MaxDeliver: cfg.EffectiveMaxDeliver(), MaxAckPending: cfg.MaxAckPending,
		Create: cfg.CreateResources,
	}
}

// apiKeyID names the API key the request budget belongs to, without revealing it.
func apiKeyID(cfg config.Config) string {
	key := cfg.AmplienceClientID
	if cfg.AmpliencePAT != "" {
		key = cfg.AmpliencePAT
	}
	sum := sha256.Sum256([]byte(cfg.AmplienceAuthURL + "\x00" + key))
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

func limiterOrNil(l *ratelimit.Limiter) gqlapi.Limiter {
	if l == nil {
		return nil
	}
	return budget{l}
}

// budget is the shared limiter as the client sees it: a budget closed because the replica
// stopped pulling refuses requests that were never sent.
type budget struct{ *ratelimit.Limiter }

func (b budget) Wait(ctx context.Context) error {
	err := b.Limiter.Wait(ctx)
	if errors.Is(err, ratelimit.ErrStopped) {
		return fmt.Errorf("%w: %w", gqlapi.ErrNotSent, err)
	}
	return err
}

func replicaName() string {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b))
}
