package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/sethvargo/go-envconfig"
	"go.opentelemetry.io/otel"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/config"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/service"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/telemetry"
)

const runSynopsis = `Runs the service: consumes asset.published events from NATS JetStream, creates each asset
in Amplience, publishes completion events and dead-letters what cannot succeed. Every setting
comes from the environment (see the README's configuration reference); the command refuses to
start, listing every missing or bad setting, when the configuration is incomplete.`

func cmdRun(ctx context.Context, args []string, getenv lookupEnv, stdout, stderr io.Writer) error {
	fs := newFlags("run", runSynopsis,
		"NATS_URL=nats://nats:4222 AMPLIENCE_CLIENT_ID=... AMPLIENCE_CLIENT_SECRET_FILE=/run/secrets/amp consumer run", stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(ctx, getenv, true)
	if err != nil {
		return err
	}
	return serve(ctx, cfg, getenv, stderr, nil)
}

// loadPart reads part T of the configuration (or the whole of it) from getenv, secrets given
// as NAME_FILE included: every command reads its settings through it.
func loadPart[T config.Part](ctx context.Context, getenv lookupEnv) (T, error) {
	return config.Load[T](ctx, envconfig.LookuperFunc(getenv), nil)
}

// loadConfig reads and validates the whole configuration, returning every problem at once.
func loadConfig(ctx context.Context, getenv lookupEnv, needNATSURL bool) (config.Config, error) {
	cfg, err := loadPart[config.Config](ctx, getenv)
	var problems config.Problems
	if err != nil && !errors.As(err, &problems) {
		return cfg, err
	}
	if problems = config.Combine(problems, cfg.Validate(needNATSURL)); len(problems) > 0 {
		return cfg, problems
	}
	return cfg, nil
}

// serve sets up logging and telemetry and runs the service until ctx ends.
func serve(ctx context.Context, cfg config.Config, getenv lookupEnv, logOut io.Writer, ready func(string)) error {
	log, err := telemetry.NewLogger(logOut, cfg.Telemetry.LogLevel, cfg.Telemetry.LogFormat)
	if err != nil {
		return config.Problems{err.Error()}
	}
	tel, err := telemetry.Setup(ctx, telemetry.Options{ServiceName: service.Name, Version: buildVersion(), Lookup: getenv})
	if err != nil {
		return config.Problems{err.Error()}
	}
	otel.SetTracerProvider(tel.TracerProvider)
	otel.SetMeterProvider(tel.MeterProvider)
	otel.SetTextMapPropagator(tel.Propagator)
	otel.SetErrorHandler(telemetry.ErrorHandler(log))
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownFlush)
		defer cancel()
		if err := tel.Shutdown(sctx); err != nil {
			log.Warn("flushing telemetry", "error", err)
		}
	}()
	err = service.Run(ctx, service.Options{
		Config: cfg, Version: buildVersion(), Logger: log, Telemetry: tel, Ready: ready,
	})
	if err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		// Stopped (SIGTERM, Ctrl-C) before it was running, such as while
		// waiting for NATS: a normal stop, not a failure.
		log.Info("stopped before the service was running", "reason", "interrupted")
		return nil
	}
	if err != nil {
		log.Error("service stopped with an error", "error", err)
		return fmt.Errorf("running the service: %w", err)
	}
	return nil
}
