// Package servicetest runs the whole service in-process for tests: an embedded JetStream server
// on a random port, the Amplience sandbox over real HTTP, and service.Run with its
// configuration read from a map through go-envconfig, spans going to an in-memory exporter.
// Integration, conformance and fault tests all start the service the same way through [Start].
package servicetest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/sethvargo/go-envconfig"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/config"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/natstest"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/sandbox"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/service"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/telemetry"
)

// Credentials the sandbox accepts in every environment.
const (
	ClientID     = "test-client"
	ClientSecret = "test-secret-do-not-log"
	// Repository is the default asset repository id of the test configuration.
	Repository = "QXNzZXRSZXBvc2l0b3J5OjAwMDAwMDAwLTAwMDAtNDAwMC04MDAwLTAwMDAwMDAwMDAwMQ=="
)

// Env is one running service with its NATS server and sandbox.
type Env struct {
	TB      testing.TB
	Server  *server.Server
	NC      *nats.Conn
	JS      jetstream.JetStream
	Sandbox *sandbox.Server
	// SandboxURL is the sandbox's base URL (no trailing slash).
	SandboxURL string
	// HTTPAddr is where /healthz, /readyz and /metrics answer.
	HTTPAddr string
	Spans    *tracetest.InMemoryExporter
	Config   config.Config
	// Logs holds everything the service logged (JSON lines).
	Logs *SyncBuffer

	backlogMaxAge time.Duration
	stop          context.CancelFunc
	done          chan error
}

// Options change how [Start] sets things up.
type Options struct {
	// Env overrides or adds configuration variables.
	Env map[string]string
	// Sandbox changes the sandbox options before it starts.
	Sandbox func(*sandbox.Options)
	// Server reuses a NATS server instead of starting one.
	Server *server.Server
	// NoService starts NATS and the sandbox only; call [Env.StartService] later.
	NoService bool
	// BacklogMaxAge is passed to service.Options: how long the backlog gauges reuse one
	// reading; 0 keeps the service's default (10 s).
	BacklogMaxAge time.Duration
}

// Start starts NATS, the sandbox and the service, and waits until the service pulls. Everything
// stops when the test ends.
func Start(tb testing.TB, o Options) *Env {
	tb.Helper()
	e := &Env{TB: tb, Spans: tracetest.NewInMemoryExporter(), Logs: &SyncBuffer{}, backlogMaxAge: o.BacklogMaxAge}
	e.Server = o.Server
	if e.Server == nil {
		e.Server = natstest.RunServer(tb)
	}
	e.NC, e.JS = natstest.Connect(tb, e.Server)

	so := sandbox.DefaultOptions()
	so.ClientID, so.ClientSecret = ClientID, ClientSecret
	if o.Sandbox != nil {
		o.Sandbox(&so)
	}
	sb, err := sandbox.New(so)
	if err != nil {
		tb.Fatalf("starting the sandbox: %v", err)
	}
	hs := httptest.NewServer(sb.Handler())
	tb.Cleanup(func() { sb.Close(); hs.Close() })
	e.Sandbox, e.SandboxURL = sb, hs.URL

	env := map[string]string{
		"NATS_URL":                      e.Server.ClientURL(),
		"AMPLIENCE_API_URL":             hs.URL + "/graphql",
		"AMPLIENCE_AUTH_URL":            hs.URL + "/oauth/token",
		"AMPLIENCE_CLIENT_ID":           ClientID,
		"AMPLIENCE_CLIENT_SECRET":       ClientSecret,
		"AMPLIENCE_ASSET_REPOSITORY_ID": Repository,
		"AMPLIENCE_RATE_LIMIT":          "0",
		"AMPLIENCE_TIMEOUT":             "2s",
		"INGEST_ACK_WAIT":               "5s",
		"INGEST_BACKOFF_BASE":           "20ms",
		"INGEST_BACKOFF_MAX":            "200ms",
		"INGEST_ALLOW_HTTP":             "true",
		"LOG_LEVEL":                     "debug",
	}
	// The whole suite runs with batching off too: AMPLIENCE_BATCH_SIZE=1 go test ./...
	if v, ok := os.LookupEnv("AMPLIENCE_BATCH_SIZE"); ok {
		env["AMPLIENCE_BATCH_SIZE"] = v
	}
	for k, v := range o.Env {
		env[k] = v
	}
	cfg, err := config.Load[config.Config](context.Background(), envconfig.MapLookuper(env), nil)
	if err != nil {
		tb.Fatalf("loading the test configuration: %v", err)
	}
	if p := cfg.Validate(true); len(p) > 0 {
		tb.Fatalf("test configuration: %v", p)
	}
	e.Config = cfg
	if !o.NoService {
		e.StartService()
	}
	return e
}

// StartService starts the service (once) and waits until it pulls; it stops when the test ends.
func (e *Env) StartService() {
	e.TB.Helper()
	e.startService(true)
}

// StartServiceUnready starts the service (once) and waits only until its HTTP endpoints
// answer, for tests of a service that does not become ready; it stops when the test ends.
func (e *Env) StartServiceUnready() {
	e.TB.Helper()
	e.startService(false)
}

func (e *Env) startService(waitReady bool) {
	tb := e.TB
	tb.Helper()
	tel, err := telemetry.Setup(context.Background(), telemetry.Options{
		Version: "test", SpanExporter: e.Spans, Lookup: func(string) (string, bool) { return "", false },
	})
	if err != nil {
		tb.Fatalf("telemetry: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("listening: %v", err)
	}
	e.HTTPAddr = ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	e.stop = cancel
	e.done = make(chan error, 1)
	ready := make(chan struct{})
	var once sync.Once
	log := slog.New(telemetry.NewTraceHandler(slog.NewJSONHandler(e.Logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	go func() {
		e.done <- service.Run(ctx, service.Options{
			Config: e.Config, Version: "test", Logger: log, Telemetry: tel, Listener: ln,
			Ready:         func(string) { once.Do(func() { close(ready) }) },
			BacklogMaxAge: e.backlogMaxAge,
		})
	}()
	tb.Cleanup(func() {
		e.Stop()
		_ = tel.Shutdown(context.Background())
	})
	if !waitReady {
		e.WaitFor(15*time.Second, "the HTTP endpoints", func() bool { code, _ := e.Get("/healthz"); return code == http.StatusOK })
		return
	}
	select {
	case <-ready:
	case err := <-e.done:
		e.done <- err
		tb.Fatalf("service stopped before it was ready: %v\nlogs:\n%s", err, e.Logs.String())
	case <-time.After(15 * time.Second):
		tb.Fatalf("service not ready within 15s; logs:\n%s", e.Logs.String())
	}
}

// Stop stops the service and waits for it to return; it returns the service's error.
func (e *Env) Stop() error {
	if e.stop == nil {
		return nil
	}
	e.stop()
	err := <-e.done
	e.done <- err
	return err
}

// Event is an asset.published event for publishing in either content mode.
type Event struct {
	ID, Source, Type string
	Subject          string // NATS subject; default assets.published.akeneo
	Data             map[string]any
	Header           nats.Header // extra headers
	Binary           bool
}

// NewEvent returns a valid event named name with a unique id.
func NewEvent(name string) Event {
	return Event{
		ID: "id-" + name, Source: "pim://akeneo/test", Type: "asset.published",
		Data: map[string]any{"src": "https://media.example-pim.com/exports/" + name + ".jpg?sig=secret-signature", "name": name},
	}
}

// Msg builds the NATS message of ev.
func (ev Event) Msg() *nats.Msg {
	subj := ev.Subject
	if subj == "" {
		subj = "assets.published.akeneo"
	}
	m := nats.NewMsg(subj)
	for k, vs := range ev.Header {
		m.Header[k] = append([]string(nil), vs...)
	}
	if ev.Binary {
		m.Header.Set("ce-specversion", "1.0")
		m.Header.Set("ce-id", ev.ID)
		m.Header.Set("ce-source", ev.Source)
		m.Header.Set("ce-type", ev.Type)
		m.Header.Set("content-type", "application/json")
		m.Data, _ = json.Marshal(ev.Data)
		return m
	}
	m.Data, _ = json.Marshal(map[string]any{
		"specversion": "1.0", "id": ev.ID, "source": ev.Source, "type": ev.Type, "data": ev.Data,
	})
	return m
}

// Publish publishes msg to JetStream and returns its inbound sequence.
func (e *Env) Publish(msg *nats.Msg) uint64 {
	e.TB.Helper()
	ack, err := e.JS.PublishMsg(context.Background(), msg)
	if err != nil {
		e.TB.Fatalf("publishing to %s: %v", msg.Subject, err)
	}
	return ack.Sequence
}

// Messages returns every message currently in stream, in order.
func (e *Env) Messages(stream string) []*jetstream.RawStreamMsg {
	e.TB.Helper()
	ctx := context.Background()
	s, err := e.JS.Stream(ctx, stream)
	if err != nil {
		e.TB.Fatalf("stream %s: %v", stream, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		e.TB.Fatalf("stream %s info: %v", stream, err)
	}
	var out []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			continue // deleted
		}
		out = append(out, m)
	}
	return out
}

// Subjects returns the messages of stream whose subject starts with prefix.
func (e *Env) Subjects(stream, prefix string) []*jetstream.RawStreamMsg {
	var out []*jetstream.RawStreamMsg
	for _, m := range e.Messages(stream) {
		if strings.HasPrefix(m.Subject, prefix) {
			out = append(out, m)
		}
	}
	return out
}

// WaitFor polls cond until it holds or timeout passes, then fails the test with what.
func (e *Env) WaitFor(timeout time.Duration, what string, cond func() bool) {
	e.TB.Helper()
	WaitFor(e.TB, timeout, what, cond, e.Logs)
}

// WaitFor polls cond every 10ms until it holds or timeout passes; then it fails the test,
// printing logs when given.
func WaitFor(tb testing.TB, timeout time.Duration, what string, cond func() bool, logs fmt.Stringer) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			if logs != nil {
				tb.Logf("service logs:\n%s", logs.String())
			}
			tb.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// EventRequests counts the GraphQL requests the sandbox received for events: all but the
// probe's (its query, and its search for a name no asset has), which the service makes at start
// and while paused.
func (e *Env) EventRequests() int {
	n := 0
	for _, r := range e.Sandbox.Requests() {
		if !IsProbe(r) {
			n++
		}
	}
	return n
}

// IsProbe reports whether the sandbox received r from the service's probe: its query, or its
// search for a name no asset has.
func IsProbe(r sandbox.Request) bool {
	return r.OperationName == "Probe" ||
		r.OperationName == "FindAssetsByName" && r.Variables["name"] == "asset-ingest-consumer-probe"
}

// Get fetches path from the service's HTTP endpoints and returns the status and body.
func (e *Env) Get(path string) (int, string) {
	e.TB.Helper()
	resp, err := http.Get("http://" + e.HTTPAddr + path)
	if err != nil {
		e.TB.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// SyncBuffer is a bytes buffer safe for concurrent writes.
type SyncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
