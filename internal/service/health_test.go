package service_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/config"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/service"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/servicetest"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/telemetry"
)

// While NATS is out of reach the process is alive (/healthz 200) and not ready (/readyz 503
// saying why), so an orchestrator neither kills it nor sends it traffic.
func TestHealthEndpointsAnswerBeforeNATSIsReachable(t *testing.T) {
	t.Parallel()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	natsURL := "nats://" + closed.Addr().String()
	closed.Close() // nothing listens there now

	cfg, err := config.Load(context.Background(), envconfig.MapLookuper(map[string]string{
		"NATS_URL": natsURL, "AMPLIENCE_CLIENT_ID": "id", "AMPLIENCE_CLIENT_SECRET": "secret",
	}), nil)
	if err != nil {
		t.Fatal(err)
	}
	tel, err := telemetry.Setup(context.Background(), telemetry.Options{Lookup: func(string) (string, bool) { return "", false }})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- service.Run(ctx, service.Options{Config: cfg, Telemetry: tel, Listener: ln}) }()

	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + ln.Addr().String() + path)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	servicetest.WaitFor(t, 5*time.Second, "/healthz to answer 200", func() bool { code, _ := get("/healthz"); return code == 200 }, nil)
	if code, body := get("/readyz"); code != 503 || !strings.Contains(body, "connecting to NATS") {
		t.Errorf("/readyz = %d %s, want 503 naming the NATS connection", code, body)
	}
	cancel()
	select {
	case err := <-done:
		if err == nil || strings.Count(err.Error(), "connecting to NATS") != 1 {
			t.Errorf("Run returned %v, want one error naming the NATS connection once", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}
