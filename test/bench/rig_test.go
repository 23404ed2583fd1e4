package bench

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/sethvargo/go-envconfig"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/broker"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/config"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/natstest"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/sandbox"
)

// Credentials and repository the sandbox and every configuration of this package share.
const (
	clientID     = "bench-client"
	clientSecret = "bench-secret"
	repository   = "QXNzZXRSZXBvc2l0b3J5OjAwMDAwMDAwLTAwMDAtNDAwMC04MDAwLTAwMDAwMDAwMDAwMQ=="
	// inboundSubject is where the load generator publishes; its last token is the source token.
	inboundSubject = "assets.published.akeneo"
)

// rig is one JetStream server, one sandbox over HTTP and the configuration that points at them.
type rig struct {
	tb      testing.TB
	srv     *server.Server
	nc      *nats.Conn
	js      jetstream.JetStream
	sandbox *sandbox.Server
	sbURL   string
	cfg     config.Config
	bound   broker.Bound
	conns   atomic.Int64 // HTTP connections the sandbox accepted
	calls   atomic.Int64 // GraphQL requests being answered
	maxCall atomic.Int64 // the most GraphQL requests answered at once
}

// newRig starts the server and the sandbox, loads the configuration (the defaults of the
// contract, then env) and creates the JetStream resources the service would, so that events
// can be published before any consumer starts.
func newRig(tb testing.TB, env map[string]string, sb func(*sandbox.Options)) *rig {
	tb.Helper()
	r := &rig{tb: tb}
	r.srv = natstest.RunServer(tb)
	r.nc, r.js = natstest.Connect(tb, r.srv)

	so := sandbox.DefaultOptions()
	so.ClientID, so.ClientSecret = clientID, clientSecret
	if sb != nil {
		sb(&so)
	}
	s, err := sandbox.New(so)
	if err != nil {
		tb.Fatalf("starting the sandbox: %v", err)
	}
	hs := httptest.NewUnstartedServer(r.counting(s.Handler()))
	hs.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			r.conns.Add(1)
		}
	}
	hs.Start()
	tb.Cleanup(func() { s.Close(); hs.Close() })
	r.sandbox, r.sbURL = s, hs.URL

	vars := map[string]string{
		"NATS_URL":                      r.srv.ClientURL(),
		"AMPLIENCE_API_URL":             hs.URL + "/graphql",
		"AMPLIENCE_AUTH_URL":            hs.URL + "/oauth/token",
		"AMPLIENCE_CLIENT_ID":           clientID,
		"AMPLIENCE_CLIENT_SECRET":       clientSecret,
		"AMPLIENCE_ASSET_REPOSITORY_ID": repository,
		"AMPLIENCE_RATE_LIMIT":          "0",
		"AMPLIENCE_TIMEOUT":             "10s",
		"INGEST_ACK_WAIT":               "30s",
		"INGEST_BACKOFF_BASE":           "50ms",
		"INGEST_BACKOFF_MAX":            "1s",
		"LOG_LEVEL":                     "warn",
		"HTTP_ADDR":                     "127.0.0.1:0",
	}
	for k, v := range env {
		vars[k] = v
	}
	r.cfg, err = config.Load[config.Config](context.Background(), envconfig.MapLookuper(vars), nil)
	if err != nil {
		tb.Fatalf("loading the benchmark configuration: %v", err)
	}
	if p := r.cfg.Validate(true); len(p) > 0 {
		tb.Fatalf("benchmark configuration: %v", p)
	}
	r.bound, err = broker.Ensure(context.Background(), r.js, r.cfg.Resources(), slog.New(slog.DiscardHandler))
	if err != nil {
		tb.Fatalf("creating the JetStream resources: %v", err)
	}
	return r
}

// eventBody is the structured asset.published event number i.
func eventBody(i int) []byte {
	n := strconv.Itoa(i)
	return []byte(`{"specversion":"1.0","id":"e-` + n + `","source":"pim://akeneo/bench","type":"asset.published",` +
		`"data":{"src":"https://media.example-pim.com/bench/` + n + `.jpg","name":"bench-` + n + `"}}`)
}

// publish publishes events first..first+n-1 with PublishAsync, at most 4096 unconfirmed at once,
// and waits until the stream confirmed all of them.
func (r *rig) publish(first, n int) {
	r.tb.Helper()
	js, err := jetstream.New(r.nc, jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		r.tb.Fatalf("JetStream: %v", err)
	}
	for i := first; i < first+n; i++ {
		if _, err := js.PublishAsync(inboundSubject, eventBody(i)); err != nil {
			r.tb.Fatalf("publishing event %d: %v", i, err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(5 * time.Minute):
		r.tb.Fatalf("the stream did not confirm %d events in 5 minutes", n)
	}
}

// published returns the JetStream timestamp of every inbound message by event id, read with an
// ordered consumer.
func (r *rig) published() map[string]time.Time {
	r.tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	info, err := r.bound.Inbound.Info(ctx)
	if err != nil {
		r.tb.Fatalf("inbound stream info: %v", err)
	}
	out := make(map[string]time.Time, info.State.Msgs)
	if info.State.Msgs == 0 {
		return out
	}
	c, err := r.bound.Inbound.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		r.tb.Fatalf("ordered consumer: %v", err)
	}
	it, err := c.Messages()
	if err != nil {
		r.tb.Fatalf("reading the inbound stream: %v", err)
	}
	defer it.Stop()
	var ev struct {
		ID string `json:"id"`
	}
	for uint64(len(out)) < info.State.Msgs {
		m, err := it.Next()
		if err != nil {
			r.tb.Fatalf("reading the inbound stream: %v", err)
		}
		meta, err := m.Metadata()
		if err != nil {
			r.tb.Fatalf("inbound metadata: %v", err)
		}
		if err := json.Unmarshal(m.Data(), &ev); err != nil {
			r.tb.Fatalf("inbound event %d: %v", meta.Sequence.Stream, err)
		}
		out[ev.ID] = meta.Timestamp
		if meta.NumPending == 0 {
			break
		}
	}
	return out
}

// counting wraps the sandbox's handler to record how many GraphQL requests it answers at once.
func (r *rig) counting(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path != "/graphql" {
			h.ServeHTTP(w, req)
			return
		}
		n := r.calls.Add(1)
		defer r.calls.Add(-1)
		for {
			m := r.maxCall.Load()
			if n <= m || r.maxCall.CompareAndSwap(m, n) {
				break
			}
		}
		h.ServeHTTP(w, req)
	})
}
