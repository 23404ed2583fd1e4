package ingest

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/events"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/gqlapi"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/ledger"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/natstest"
)

// gatedAPI is an API whose CreateAsset first waits as if for the request budget (until
// released), then runs the start check as the Amplience client does, and only then counts a
// call.
type gatedAPI struct {
	waiting chan struct{} // closed when the first call waits
	release chan struct{}
	calls   atomic.Int32
}

func (a *gatedAPI) CreateAsset(ctx context.Context, _ gqlapi.CreateAssetInput) (gqlapi.Asset, error) {
	close(a.waiting)
	<-a.release
	if err := gqlapi.CheckStart(ctx); err != nil {
		return gqlapi.Asset{}, err
	}
	a.calls.Add(1)
	return gqlapi.Asset{ID: "QXNzZXQ6MQ=="}, nil
}

func (*gatedAPI) FindByName(context.Context, string, string, time.Time) ([]gqlapi.Asset, error) {
	return nil, nil
}

// acceptingPublisher acknowledges every publish without sending it anywhere.
type acceptingPublisher struct{ seq atomic.Uint64 }

func (p *acceptingPublisher) PublishMsg(context.Context, *nats.Msg, ...jetstream.PublishOpt) (*jetstream.PubAck, error) {
	return &jetstream.PubAck{Stream: "ASSET_RESULTS", Sequence: p.seq.Add(1)}, nil
}

// settledMsg is a delivered message that records how it was settled.
type settledMsg struct {
	jetstream.Msg
	mu      sync.Mutex
	settled []string
}

func (m *settledMsg) Subject() string      { return "assets.published.akeneo" }
func (m *settledMsg) Headers() nats.Header { return nats.Header{} }
func (m *settledMsg) Data() []byte {
	return []byte(`{"specversion":"1.0","id":"e-1","source":"pim://akeneo/test","type":"asset.published",` +
		`"data":{"src":"https://media.example-pim.com/a/front.jpg","name":"front"}}`)
}
func (m *settledMsg) Metadata() (*jetstream.MsgMetadata, error) {
	return &jetstream.MsgMetadata{Sequence: jetstream.SequencePair{Stream: 1, Consumer: 1}, NumDelivered: 1,
		Stream: "ASSETS", Consumer: "asset-ingest", Timestamp: time.Now()}, nil
}
func (m *settledMsg) record(s string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.settled = append(m.settled, s)
	return nil
}
func (m *settledMsg) Ack() error                       { return m.record("ack") }
func (m *settledMsg) InProgress() error                { return nil }
func (m *settledMsg) NakWithDelay(time.Duration) error { return m.record("nak") }
func (m *settledMsg) TermWithReason(string) error      { return m.record("term") }

// SPEC "Configuration", AMPLIENCE_TIMEOUT: a call starts only while its claim, at its last
// confirmed refresh, stays live for longer than the timeout. A replica whose NATS connection is
// cut while its call waits for the request budget cannot confirm its claim: once the claim
// would expire within the timeout, the call is not sent, and the delivery is handed back.
func TestCallStartsOnlyWhileItsClaimIsConfirmed(t *testing.T) {
	t.Parallel()
	const ackWait, timeout = 600 * time.Millisecond, 300 * time.Millisecond
	tests := []struct {
		name        string
		cut         bool
		wantCalls   int32
		wantOutcome Outcome
		wantPaused  bool
	}{
		{name: "claim refreshed while waiting", wantCalls: 1, wantOutcome: OutcomeIngested},
		{name: "NATS cut while waiting", cut: true, wantCalls: 0, wantOutcome: OutcomeHandedBack, wantPaused: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := natstest.RunServer(t)
			_, direct := natstest.Connect(t, s)
			proxy := natstest.NewProxy(t, s)
			nc, err := nats.Connect(proxy.URL(), nats.MaxReconnects(-1), nats.ReconnectWait(20*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(nc.Close)
			js, err := jetstream.New(nc)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := direct.CreateKeyValue(t.Context(), jetstream.KeyValueConfig{Bucket: "ledger"}); err != nil {
				t.Fatal(err)
			}
			kv, err := js.KeyValue(t.Context(), "ledger")
			if err != nil {
				t.Fatal(err)
			}
			directKV, err := direct.KeyValue(t.Context(), "ledger")
			if err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			now := time.Now()
			clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
			api := &gatedAPI{waiting: make(chan struct{}), release: make(chan struct{})}
			pauser := NewPauser(func(context.Context) error { return nil }, PauserOptions{Now: clock})
			p := New(&acceptingPublisher{}, ledger.New(kv), api, pauser, Options{
				Stream: "ASSETS", Consumer: "asset-ingest", Replica: "a",
				MaxAttempts: 3, Backoff: Backoff{Base: time.Millisecond, Max: 10 * time.Millisecond},
				AckWait: ackWait, CallTimeout: timeout, Now: clock,
			})
			p.o.Rules.DefaultRepositoryID = "UmVwbzox"
			msg := &settledMsg{}
			outcome := make(chan Outcome, 1)
			go func() { outcome <- p.Handle(t.Context(), msg) }()
			<-api.waiting

			// Half the ack wait passes while the call waits for the budget: a claim confirmed
			// at its start would then expire within the timeout.
			if tt.cut {
				proxy.Cut()
			}
			mu.Lock()
			now = now.Add(ackWait / 2)
			mu.Unlock()
			if !tt.cut {
				// Wait for the claim keeper's next refresh to be confirmed.
				ev, err := events.Decode(msg.Subject(), msg.Headers(), msg.Data(), p.o.Rules)
				if err != nil {
					t.Fatal(err)
				}
				direct := ledger.New(directKV)
				deadline := time.Now().Add(10 * time.Second)
				for {
					e, _, err := direct.Get(t.Context(), ev.Key)
					if err == nil && !e.Heartbeat.Before(clock()) {
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("the claim was not refreshed: %+v, %v", e, err)
					}
					time.Sleep(10 * time.Millisecond)
				}
			}
			close(api.release)

			var got Outcome
			select {
			case got = <-outcome:
			case <-time.After(30 * time.Second):
				t.Fatal("the delivery was not settled")
			}
			if got != tt.wantOutcome {
				t.Errorf("outcome = %s, want %s", got, tt.wantOutcome)
			}
			if n := api.calls.Load(); n != tt.wantCalls {
				t.Errorf("createAsset calls = %d, want %d", n, tt.wantCalls)
			}
			if paused, _ := pauser.State(); paused != tt.wantPaused {
				t.Errorf("paused = %v, want %v", paused, tt.wantPaused)
			}
		})
	}
}
