package broker

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/natstest"
	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"
)

// wantedConsumer is the consumer the test resources need.
func wantedConsumer() consumerSettings {
	r := testResources()
	return consumerSettings{
		Durable: r.Durable, AckPolicy: jetstream.AckExplicitPolicy, DeliverPolicy: jetstream.DeliverAllPolicy,
		AckWait: r.AckWait, MaxDeliver: r.MaxDeliver, MaxAckPending: r.MaxAckPending,
	}
}

// replaceConsumer creates every resource with Ensure, then replaces the
// consumer by one with cfg, as an operator or an older version of the service
// would have left it.
func replaceConsumer(tb testing.TB, js jetstream.JetStream, cfg jetstream.ConsumerConfig) {
	tb.Helper()
	r := testResources()
	if _, err := Ensure(testContext(tb), js, r, nil); err != nil {
		tb.Fatalf("creating the resources: %v", err)
	}
	if err := js.DeleteConsumer(testContext(tb), r.InboundStream, r.Durable); err != nil {
		tb.Fatalf("deleting the consumer: %v", err)
	}
	if _, err := js.CreateOrUpdateConsumer(testContext(tb), r.InboundStream, cfg); err != nil {
		tb.Fatalf("creating the existing consumer: %v", err)
	}
}

func TestEnsureDriftedConsumer(t *testing.T) {
	t.Parallel()
	base := func(change func(*jetstream.ConsumerConfig)) jetstream.ConsumerConfig {
		c := consumerConfig(testResources())
		c.Description = "set by an operator"
		change(&c)
		return c
	}
	tests := []struct {
		name     string
		existing jetstream.ConsumerConfig
		settings []string // the settings that differ
	}{
		{"AckWait", base(func(c *jetstream.ConsumerConfig) { c.AckWait = 30 * time.Second }), []string{"AckWait"}},
		{"MaxDeliver", base(func(c *jetstream.ConsumerConfig) { c.MaxDeliver = 5 }), []string{"MaxDeliver"}},
		{"MaxAckPending", base(func(c *jetstream.ConsumerConfig) { c.MaxAckPending = 20 }), []string{"MaxAckPending"}},
		// JetStream sets AckWait to the first BackOff step.
		{"BackOff", base(func(c *jetstream.ConsumerConfig) { c.BackOff = []time.Duration{time.Second, time.Minute} }), []string{"BackOff", "AckWait"}},
		{"all four", base(func(c *jetstream.ConsumerConfig) {
			c.AckWait, c.MaxDeliver, c.MaxAckPending = 30*time.Second, 5, 20
			c.BackOff = []time.Duration{time.Second}
		}), []string{"BackOff", "AckWait", "MaxDeliver", "MaxAckPending"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, js := natstest.Connect(t, natstest.RunServer(t))
			replaceConsumer(t, js, tt.existing)
			before := fetchConsumer(t, js, "ASSETS", "asset-ingest")
			r := testResources()

			// Without Create: every mismatch listed, nothing changed.
			r.Create = false
			_, err := Ensure(testContext(t), js, r, nil)
			var cfgErr *ConfigError
			if !errors.As(err, &cfgErr) {
				t.Fatalf("Ensure without Create: error = %v, want a *ConfigError", err)
			}
			var mismatched []string
			const prefix = "consumer asset-ingest on stream ASSETS has "
			for _, p := range cfgErr.Problems {
				if !strings.HasPrefix(p, prefix) || !strings.Contains(p, "INGEST_CREATE_RESOURCES=false") {
					t.Errorf("problem %q does not name the consumer and the setting that forbids the update", p)
					continue
				}
				mismatched = append(mismatched, strings.Fields(strings.TrimPrefix(p, prefix))[0])
			}
			if diff := cmp.Diff(tt.settings, mismatched); diff != "" {
				t.Errorf("mismatches listed (-want +got):\n%s\nproblems: %q", diff, cfgErr.Problems)
			}
			if diff := cmp.Diff(before, fetchConsumer(t, js, "ASSETS", "asset-ingest")); diff != "" {
				t.Errorf("consumer changed without Create (-before +after):\n%s", diff)
			}

			// With Create: updated in place, each difference logged.
			r.Create = true
			rec, log := newLogRecorder()
			if _, err := Ensure(testContext(t), js, r, log); err != nil {
				t.Fatalf("Ensure with Create: %v", err)
			}
			after := fetchConsumer(t, js, "ASSETS", "asset-ingest")
			if diff := cmp.Diff(wantedConsumer(), consumerSettingsOf(after)); diff != "" {
				t.Errorf("consumer after update (-want +got):\n%s", diff)
			}
			if after.Description != "set by an operator" {
				t.Errorf("update changed the description to %q; it must only change the drifted settings", after.Description)
			}
			var logged []string
			for _, rec := range rec.Find("updating consumer setting") {
				logged = append(logged, rec.Attrs["setting"])
				if a := rec.Attrs["action"]; rec.Attrs["setting"] != "BackOff" && !strings.Contains(a, "give them all the same INGEST_") {
					t.Errorf("the update of %s does not say what to do: action %q", rec.Attrs["setting"], a)
				}
			}
			if diff := cmp.Diff(tt.settings, logged); diff != "" {
				t.Errorf("logged differences (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEnsureConsumerThatCannotBeUpdated(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		existing jetstream.ConsumerConfig
		problem  string
	}{
		{
			name: "push consumer",
			existing: jetstream.ConsumerConfig{Durable: "asset-ingest", DeliverSubject: "deliver.here",
				AckPolicy: jetstream.AckExplicitPolicy},
			problem: "consumer asset-ingest on stream ASSETS is a push consumer and the service needs a pull consumer",
		},
		{
			name:     "ack none",
			existing: jetstream.ConsumerConfig{Durable: "asset-ingest", AckPolicy: jetstream.AckNonePolicy},
			problem:  "consumer asset-ingest on stream ASSETS has ack policy AckNone but the service needs AckExplicit; this cannot be changed in place",
		},
		{
			name: "deliver new",
			existing: jetstream.ConsumerConfig{Durable: "asset-ingest", AckPolicy: jetstream.AckExplicitPolicy,
				DeliverPolicy: jetstream.DeliverNewPolicy, AckWait: 90 * time.Second, MaxDeliver: 100, MaxAckPending: 1000},
			problem: "consumer asset-ingest on stream ASSETS has deliver policy new but the service needs all; this cannot be changed in place",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, js := natstest.Connect(t, natstest.RunServer(t))
			replaceConsumer(t, js, tt.existing)
			before := fetchConsumerInfo(t, js)

			_, err := Ensure(testContext(t), js, testResources(), nil) // Create is true
			var cfgErr *ConfigError
			if !errors.As(err, &cfgErr) {
				t.Fatalf("Ensure error = %v, want a *ConfigError", err)
			}
			found := false
			for _, p := range cfgErr.Problems {
				found = found || strings.HasPrefix(p, tt.problem)
			}
			if !found {
				t.Errorf("problems = %q, want one starting %q", cfgErr.Problems, tt.problem)
			}
			if diff := cmp.Diff(before, fetchConsumerInfo(t, js)); diff != "" {
				t.Errorf("consumer changed (-before +after):\n%s", diff)
			}
		})
	}
}

// fetchConsumerInfo reads the consumer's configuration whatever its kind.
func fetchConsumerInfo(tb testing.TB, js jetstream.JetStream) jetstream.ConsumerConfig {
	tb.Helper()
	s, err := js.Stream(testContext(tb), "ASSETS")
	if err != nil {
		tb.Fatalf("looking up the stream: %v", err)
	}
	for info := range s.ListConsumers(testContext(tb)).Info() {
		if info.Name == "asset-ingest" {
			return info.Config
		}
	}
	tb.Fatal("consumer asset-ingest not found")
	return jetstream.ConsumerConfig{}
}

func TestConsumerMismatches(t *testing.T) {
	t.Parallel()
	want := consumerConfig(testResources())
	tests := []struct {
		name string
		have jetstream.ConsumerConfig
		want []consumerMismatch
	}{
		{"same", want, nil},
		{"push", func() jetstream.ConsumerConfig { c := want; c.DeliverSubject = "x"; return c }(),
			[]consumerMismatch{{difference{"type", "push (deliver subject x)", "pull"}, false}}},
		{"backoff", func() jetstream.ConsumerConfig { c := want; c.BackOff = []time.Duration{time.Second}; return c }(),
			[]consumerMismatch{{difference{"BackOff", "[1s]", "none"}, true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := consumerMismatches(want, tt.have)
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(consumerMismatch{}, difference{})); diff != "" {
				t.Errorf("mismatches (-want +got):\n%s", diff)
			}
		})
	}
}
