package ingest_test

import (
	"bytes"
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/broker"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/events"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/gqlapi"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/ingest"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/ledger"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/servicetest"
)

// failingCreated is the ledger bucket with writes of created entries failing while failures
// lasts; every other operation goes to the real bucket.
type failingCreated struct {
	jetstream.KeyValue
	failures atomic.Int32
}

func (f *failingCreated) Update(ctx context.Context, key string, value []byte, rev uint64) (uint64, error) {
	if bytes.Contains(value, []byte(`"state":"created"`)) && f.failures.Add(-1) >= 0 {
		return 0, errors.New("nats: timeout")
	}
	return f.KeyValue.Update(ctx, key, value, rev)
}

// pipelineRig is one pipeline over a real JetStream server and the sandbox over HTTP, with
// its ledger bucket wrapped so that the test can fail writes.
type pipelineRig struct {
	env      *servicetest.Env
	bound    broker.Bound
	kv       *failingCreated
	pipeline *ingest.Pipeline
	pauser   *ingest.Pauser
}

func newPipelineRig(t *testing.T) *pipelineRig {
	t.Helper()
	env := servicetest.Start(t, servicetest.Options{NoService: true})
	bound, err := broker.Ensure(t.Context(), env.JS, broker.Resources{
		InboundStream: "ASSETS", InboundSubjects: []string{"assets.published.>"}, Durable: "asset-ingest",
		ResultsStream: "ASSET_RESULTS", DLQStream: "ASSETS_DLQ", AdvisoryStream: "ASSETS_ADVISORIES",
		LedgerBucket: "asset_ingest_ledger", Replicas: 1,
		AckWait: 5 * time.Second, MaxDeliver: 100, MaxAckPending: 10, Create: true,
	}, nil)
	if err != nil {
		t.Fatalf("creating the NATS resources: %v", err)
	}
	api, err := gqlapi.New(gqlapi.Options{
		APIURL: env.SandboxURL + "/graphql", AuthURL: env.SandboxURL + "/oauth/token",
		ClientID: servicetest.ClientID, ClientSecret: servicetest.ClientSecret, Timeout: 2 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	r := &pipelineRig{env: env, bound: bound, kv: &failingCreated{KeyValue: bound.Ledger}}
	r.pauser = ingest.NewPauser(func(context.Context) error { return nil }, ingest.PauserOptions{})
	r.pipeline = ingest.New(env.JS, ledger.New(r.kv), api, r.pauser, ingest.Options{
		Stream: "ASSETS", Consumer: "asset-ingest", Replica: "replica-1",
		Rules:       events.Rules{AllowHTTP: true, DefaultRepositoryID: servicetest.Repository},
		MaxAttempts: 3, Backoff: ingest.Backoff{Base: 20 * time.Millisecond, Max: 200 * time.Millisecond},
		AckWait: 5 * time.Second,
	})
	return r
}

// next fetches the next delivery of the inbound consumer.
func (r *pipelineRig) next(t *testing.T) jetstream.Msg {
	t.Helper()
	batch, err := r.bound.Consumer.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	for m := range batch.Messages() {
		return m
	}
	t.Fatalf("no delivery within 5s: %v", batch.Error())
	return nil
}

func (r *pipelineRig) entry(t *testing.T, ev servicetest.Event) ledger.Entry {
	t.Helper()
	key := events.Key("akeneo", ev.Source, ev.ID)
	e, _, err := ledger.New(r.bound.Ledger).Get(t.Context(), key)
	if err != nil {
		t.Fatalf("reading the ledger entry: %v", err)
	}
	return e
}

// SPEC "The ledger": after a successful call, a failed write of the created entry is tried
// again before the replica pauses, so a short ledger outage neither pauses the replica nor
// leaves the event's asset findable only by a search.
func TestCreatedEntryWriteIsRetried(t *testing.T) {
	t.Parallel()
	r := newPipelineRig(t)
	r.kv.failures.Store(2)
	ev := servicetest.NewEvent("created-write-retried")
	r.env.Publish(ev.Msg())

	if got := r.pipeline.Handle(t.Context(), r.next(t)); got != ingest.OutcomeIngested {
		t.Fatalf("outcome %s, want %s", got, ingest.OutcomeIngested)
	}
	if paused, reason := r.pauser.State(); paused {
		t.Errorf("replica paused: %s", reason)
	}
	if e := r.entry(t, ev); e.State != ledger.StateCreated || e.AssetID == "" {
		t.Errorf("ledger entry %+v, want created with the asset id", e)
	}
	if n := len(r.env.Subjects("ASSET_RESULTS", "assets.ingested.")); n != 1 {
		t.Errorf("%d asset.ingested events, want 1", n)
	}
}

// SPEC "The ledger": the completion is published only once the ledger names the event's
// asset under the event's key: when the write keeps failing, the replica pauses and nothing is
// published.
func TestCompletionFollowsTheCreatedEntry(t *testing.T) {
	t.Parallel()
	r := newPipelineRig(t)
	r.kv.failures.Store(1000)
	ev := servicetest.NewEvent("created-write-fails")
	r.env.Publish(ev.Msg())

	if got := r.pipeline.Handle(t.Context(), r.next(t)); got != ingest.OutcomeHandedBack {
		t.Fatalf("outcome %s, want %s", got, ingest.OutcomeHandedBack)
	}
	if paused, _ := r.pauser.State(); !paused {
		t.Error("the replica did not pause on a ledger that refuses writes")
	}
	if got := r.env.Subjects("ASSET_RESULTS", "assets.ingested."); len(got) != 0 {
		t.Errorf("asset.ingested published before the ledger recorded the asset:\n%s", got[0].Data)
	}
	if e := r.entry(t, ev); e.State != ledger.StatePending {
		t.Errorf("ledger entry %+v, want still pending", e)
	}
}
