package faulttest_test

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/sandbox"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/servicetest"
)

// rigOptions say how to set up a fault test.
type rigOptions struct {
	// Env overrides configuration variables, for the in-process service and the subprocess.
	Env map[string]string
	// Sandbox changes the sandbox's options.
	Sandbox func(*sandbox.Options)
	// Server reuses a NATS server (to restart it later).
	Server *server.Server
	// MinLatency and MaxLatency bound the random delay the proxy adds to each GraphQL request.
	MinLatency, MaxLatency time.Duration
	// Subprocess starts no in-process service: the test runs `consumer run` with [rig.startChild].
	Subprocess bool
}

// rig is one fault test's world: NATS, the sandbox behind the recording proxy, and the service
// (in-process, or subprocesses the test starts and kills).
type rig struct {
	*servicetest.Env
	t        *testing.T
	proxy    *apiProxy
	proxyURL string
	rng      *rand.Rand
	env      map[string]string // the service's configuration, as variables

	child      *child                  // the running subprocess, if any
	childLogs  *servicetest.SyncBuffer // every subprocess's output, in order
	childCount int
}

// newRig starts NATS, the sandbox and the proxy, and, unless o.Subprocess, the service.
func newRig(t *testing.T, o rigOptions) *rig {
	t.Helper()
	seed := rand.Uint64()
	t.Logf("random seed %d", seed)
	r := &rig{t: t, rng: rand.New(rand.NewPCG(seed, seed>>1)), childLogs: &servicetest.SyncBuffer{}}
	r.proxy, r.proxyURL = newAPIProxy(t, o.MinLatency, o.MaxLatency, seed)

	r.env = map[string]string{
		"AMPLIENCE_API_URL":  r.proxyURL + "/graphql",
		"AMPLIENCE_AUTH_URL": r.proxyURL + "/oauth/token",
	}
	maps.Copy(r.env, o.Env)
	r.Env = servicetest.Start(t, servicetest.Options{Env: r.env, Sandbox: o.Sandbox, Server: o.Server, NoService: true})
	r.proxy.setNext(r.Sandbox.Handler())
	if !o.Subprocess {
		r.StartService()
	}
	return r
}

// publish publishes one valid event per name and returns the names.
func (r *rig) publish(names ...string) []string {
	r.t.Helper()
	for _, n := range names {
		r.Publish(servicetest.NewEvent(n).Msg())
	}
	return names
}

// names returns n event names: prefix-000, prefix-001, ...
func names(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%03d", prefix, i)
	}
	return out
}

// waitFor polls cond every 10ms until it holds; after timeout it fails the test with what, the
// service's logs and what the streams hold. It also fails at once when a subprocess the test
// expects to be running has exited.
func (r *rig) waitFor(timeout time.Duration, what string, cond func() bool) {
	r.t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if c := r.child; c != nil && c.hasExited() {
			r.t.Fatalf("waiting for %s: consumer run exited: %v\nits output:\n%s", what, c.err, r.childLogs.String())
		}
		if time.Now().After(deadline) {
			r.t.Logf("service logs:\n%s%s", r.Logs.String(), r.childLogs.String())
			r.t.Fatalf("timed out after %s waiting for %s; %s", timeout, what, r.counts())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// streamCounts are the numbers the tests wait on, read cheaply from stream and consumer info.
type streamCounts struct {
	Results, DeadLetters      int
	NumPending, NumAckPending int
	CreateCalls               int // createAsset calls the proxy saw
}

func (s streamCounts) String() string {
	return fmt.Sprintf("results %d, dead letters %d, consumer pending %d, ack pending %d, createAsset calls %d",
		s.Results, s.DeadLetters, s.NumPending, s.NumAckPending, s.CreateCalls)
}

// counts reads the streams' and the consumer's counters; it fails the test when NATS does not
// answer.
func (r *rig) counts() streamCounts {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	msgs := func(name string) int {
		s, err := r.JS.Stream(ctx, name)
		if err != nil {
			r.t.Fatalf("stream %s: %v", name, err)
		}
		info, err := s.Info(ctx)
		if err != nil {
			r.t.Fatalf("stream %s info: %v", name, err)
		}
		return int(info.State.Msgs)
	}
	c, err := r.JS.Consumer(ctx, "ASSETS", "asset-ingest")
	if err != nil {
		r.t.Fatalf("consumer: %v", err)
	}
	ci, err := c.Info(ctx)
	if err != nil {
		r.t.Fatalf("consumer info: %v", err)
	}
	return streamCounts{
		Results: msgs("ASSET_RESULTS"), DeadLetters: msgs("ASSETS_DLQ"),
		NumPending: int(ci.NumPending), NumAckPending: ci.NumAckPending, CreateCalls: r.proxy.createCalls(),
	}
}

// waitSettled waits until every event has its completion event (ingested + dead of them), the
// dead letters are there, and the consumer holds nothing: no message left, none unacknowledged.
func (r *rig) waitSettled(timeout time.Duration, ingested, dead int) {
	r.t.Helper()
	r.waitFor(timeout, fmt.Sprintf("%d events ingested and %d dead-lettered, the consumer settled", ingested, dead), func() bool {
		c := r.counts()
		return c.Results >= ingested+dead && c.DeadLetters >= dead && c.NumPending == 0 && c.NumAckPending == 0
	})
}
