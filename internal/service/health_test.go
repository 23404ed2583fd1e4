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

	cfg, err := config.Load[config.Config](context.Background(), envconfig.MapLookuper(map[string]string{
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

// SPEC "Readiness": a replica reports ready only after a first probe passed; until then
// /readyz says why not, and it takes no message. A deployment with refused credentials never
// becomes ready; once they are accepted it becomes ready by itself.
func TestNotReadyUntilAFirstProbePasses(t *testing.T) {
	t.Parallel()
	e := servicetest.Start(t, servicetest.Options{NoService: true})
	e.Sandbox.SetCredentialsValid(false)
	e.StartServiceUnready()
	e.Publish(servicetest.NewEvent("before-verified").Msg())

	e.WaitFor(10*time.Second, "/readyz to say that no probe has passed", func() bool {
		code, body := e.Get("/readyz")
		return code == http.StatusServiceUnavailable && strings.Contains(body, "no probe has passed yet") &&
			strings.Contains(body, "client credentials")
	})
	// Past a few probe gaps, still not ready, and the event untouched.
	probes := e.Sandbox.Stats().TokenRequests
	e.WaitFor(30*time.Second, "two more probes", func() bool { return e.Sandbox.Stats().TokenRequests >= probes+2 })
	if code, body := e.Get("/readyz"); code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz = %d %s with refused credentials, want 503", code, body)
	}
	if n := e.Sandbox.Stats().CreateAssetCalls["before-verified"]; n != 0 {
		t.Errorf("%d createAsset calls before the credentials were verified", n)
	}
	_, body := e.Get("/readyz")
	if strings.Contains(body, servicetest.ClientSecret) {
		t.Errorf("/readyz shows the client secret: %s", body)
	}

	e.Sandbox.SetCredentialsValid(true)
	e.WaitFor(15*time.Second, "ready once a probe passes", func() bool { code, _ := e.Get("/readyz"); return code == http.StatusOK })
	e.WaitFor(15*time.Second, "the event ingested", func() bool { return len(completions(t, e, "assets.ingested.")) == 1 })
}
