package faulttest_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/natstest"
)

// The NATS server stopped mid-flow and started again on the same port with the same store: the
// service reports not-ready while it is gone, dead-letters nothing, and afterwards every event,
// those in flight during the outage included, ends with exactly one asset.
func TestNATSRestartMidFlow(t *testing.T) {
	t.Parallel()
	s := natstest.RunServer(t)
	r := newRig(t, rigOptions{
		Server: s, MinLatency: 20 * time.Millisecond, MaxLatency: 50 * time.Millisecond,
		Env: map[string]string{"INGEST_CONCURRENCY": "4", "INGEST_ACK_WAIT": "2s", "AMPLIENCE_TIMEOUT": "1s"},
	})
	before := r.publish(names("outage-before", 60)...)
	r.waitFor(10*time.Second, "the first events ingested", func() bool { return r.counts().Results >= 5 })

	if c := r.counts(); c.Results >= len(before) {
		t.Fatalf("every event was done before the outage began (%s): nothing was in flight", c)
	}
	reuse := natstest.Reuse(s)
	s.Shutdown()
	s.WaitForShutdown()
	r.waitFor(10*time.Second, "/readyz to report NATS gone", func() bool {
		code, _ := r.Get("/readyz")
		return code == http.StatusServiceUnavailable
	})
	_, body := r.Get("/readyz")
	t.Logf("/readyz during the outage: %s", strings.TrimSpace(body))
	r.Server = natstest.RunServer(t, reuse)

	r.waitFor(15*time.Second, "the test's connection back", r.NC.IsConnected)
	after := r.publish(names("outage-after", 20)...)
	all := append(before, after...)
	r.waitSettled(30*time.Second, len(all), 0)
	r.waitFor(10*time.Second, "/readyz ready again", func() bool {
		code, _ := r.Get("/readyz")
		return code == http.StatusOK
	})
	r.check(r.tally(), all, nil)
}
