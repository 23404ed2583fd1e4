package cluster_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/sethvargo/go-envconfig"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/config"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/natstest"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/sandbox"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/service"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/servicetest"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/telemetry"
)

// startCluster starts n nats-server instances with JetStream (see [natstest.RunCluster]) and
// returns them once the cluster is whole. A server may be shut down before the test ends.
func startCluster(tb testing.TB, n int) []*server.Server {
	tb.Helper()
	return natstest.RunCluster(tb, n).Servers
}

// startSandbox serves an Amplience sandbox over HTTP; opt may change its options. It returns
// the sandbox and its base URL.
func startSandbox(tb testing.TB, opt func(*sandbox.Options)) (*sandbox.Server, string) {
	tb.Helper()
	so := sandbox.DefaultOptions()
	so.ClientID, so.ClientSecret = servicetest.ClientID, servicetest.ClientSecret
	if opt != nil {
		opt(&so)
	}
	sb, err := sandbox.New(so)
	if err != nil {
		tb.Fatalf("starting the sandbox: %v", err)
	}
	hs := httptest.NewServer(sb.Handler())
	tb.Cleanup(func() { sb.Close(); hs.Close() })
	return sb, hs.URL
}

// replica is one service instance running in-process.
type replica struct {
	name  string
	logs  *servicetest.SyncBuffer
	ready chan struct{}
	stop  context.CancelFunc
	done  chan error
}

// replicaEnv is the configuration of a replica connected to natsURL and using the sandbox at
// sandboxURL, with overrides applied.
func replicaEnv(natsURL, sandboxURL string, overrides map[string]string) map[string]string {
	env := map[string]string{
		"NATS_URL":                      natsURL,
		"AMPLIENCE_API_URL":             sandboxURL + "/graphql",
		"AMPLIENCE_AUTH_URL":            sandboxURL + "/oauth/token",
		"AMPLIENCE_CLIENT_ID":           servicetest.ClientID,
		"AMPLIENCE_CLIENT_SECRET":       servicetest.ClientSecret,
		"AMPLIENCE_ASSET_REPOSITORY_ID": servicetest.Repository,
		"AMPLIENCE_TIMEOUT":             "2s",
		"INGEST_ACK_WAIT":               "5s",
		"INGEST_BACKOFF_BASE":           "20ms",
		"INGEST_BACKOFF_MAX":            "200ms",
		"INGEST_ALLOW_HTTP":             "true",
		"LOG_LEVEL":                     "info",
	}
	for k, v := range overrides {
		env[k] = v
	}
	return env
}

// startReplica starts service.Run in-process with the configuration env, its own telemetry
// and logs, named name in the ledger. It does not wait; see [replica.waitReady]. The replica
// stops when the test ends, if it has not been stopped before.
func startReplica(tb testing.TB, name string, env map[string]string) *replica {
	tb.Helper()
	cfg, err := config.Load[config.Config](context.Background(), envconfig.MapLookuper(env), nil)
	if err != nil {
		tb.Fatalf("loading the configuration of %s: %v", name, err)
	}
	if p := cfg.Validate(true); len(p) > 0 {
		tb.Fatalf("configuration of %s: %v", name, p)
	}
	tel, err := telemetry.Setup(context.Background(), telemetry.Options{
		Version: "test", SpanExporter: tracetest.NewInMemoryExporter(),
		Lookup: func(string) (string, bool) { return "", false },
	})
	if err != nil {
		tb.Fatalf("telemetry of %s: %v", name, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("listening for %s: %v", name, err)
	}
	r := &replica{name: name, logs: &servicetest.SyncBuffer{}, ready: make(chan struct{}), done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	r.stop = cancel
	log := newLogger(r.logs)
	go func() {
		r.done <- service.Run(ctx, service.Options{
			Config: cfg, Version: "test", Logger: log, Telemetry: tel, Listener: ln, Replica: name,
			Ready: func(string) { close(r.ready) },
		})
	}()
	tb.Cleanup(func() {
		if err := r.Stop(); err != nil {
			tb.Errorf("replica %s: %v", name, err)
		}
		_ = tel.Shutdown(context.Background())
	})
	return r
}

// waitReady waits until the replica's consumer is bound, failing the test with its logs when
// it stops or timeout passes first.
func (r *replica) waitReady(tb testing.TB, timeout time.Duration) {
	tb.Helper()
	select {
	case <-r.ready:
	case err := <-r.done:
		r.done <- err
		tb.Fatalf("replica %s stopped before it was ready: %v\nlogs:\n%s", r.name, err, r.logs.String())
	case <-time.After(timeout):
		tb.Fatalf("replica %s not ready within %s; logs:\n%s", r.name, timeout, r.logs.String())
	}
}

// Stop stops the replica, waits for it to drain and return, and returns its error. It may be
// called more than once.
func (r *replica) Stop() error {
	r.stop()
	err := <-r.done
	r.done <- err
	return err
}

// newLogger logs JSON lines at info level to w, with trace and span ids inside spans, as the
// service does in production.
func newLogger(w io.Writer) *slog.Logger {
	return slog.New(telemetry.NewTraceHandler(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo})))
}
