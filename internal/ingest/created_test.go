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

// handleNext fetches the next delivery of the inbound consumer, has the pipeline handle it,
// and returns the outcome and whether the replica is paused after it.
func (r *pipelineRig) handleNext(t *testing.T) (ingest.Outcome, bool) {
	t.Helper()
	batch, err := r.bound.Consumer.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	msg, ok := <-batch.Messages()
	if !ok {
		t.Fatalf("no delivery within 5s: %v", batch.Error())
	}
	outcome := r.pipeline.Handle(t.Context(), msg)
	paused, _ := r.pauser.State()
	return outcome, paused
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
// leaves the event's asset findable only by a search; and asset.ingested is published only
// once the ledger names the asset under the event's key, so when the write keeps failing the
// replica pauses and nothing is published.
func TestCreatedEntryPrecedesTheCompletion(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name            string
		failures        int32
		wantOutcome     ingest.Outcome
		wantPaused      bool
		wantState       ledger.State
		wantCompletions int
	}{
		{name: "two failed writes", failures: 2,
			wantOutcome: ingest.OutcomeIngested, wantState: ledger.StateCreated, wantCompletions: 1},
		{name: "the ledger refuses writes", failures: 1000,
			wantOutcome: ingest.OutcomeHandedBack, wantPaused: true, wantState: ledger.StatePending},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newPipelineRig(t)
			r.kv.failures.Store(tt.failures)
			ev := servicetest.NewEvent("created-write")
			r.env.Publish(ev.Msg())

			if got, paused := r.handleNext(t); got != tt.wantOutcome || paused != tt.wantPaused {
				t.Fatalf("outcome %s, paused %t; want %s, paused %t", got, paused, tt.wantOutcome, tt.wantPaused)
			}
			if e := r.entry(t, ev); e.State != tt.wantState || (e.State == ledger.StateCreated && e.AssetID == "") {
				t.Errorf("ledger entry %+v, want %s", e, tt.wantState)
			}
			if n := len(r.env.Subjects("ASSET_RESULTS", "assets.ingested.")); n != tt.wantCompletions {
				t.Errorf("%d asset.ingested events, want %d", n, tt.wantCompletions)
			}
		})
	}
}
