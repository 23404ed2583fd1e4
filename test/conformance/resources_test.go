package conformance

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/broker"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/natstest"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/service"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/servicetest"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/telemetry"
)

const day = 24 * time.Hour

// SPEC "NATS resources": streams it creates use file storage, limits retention, a maximum age
// (inbound 30 days, results 7 days, dead letters 90 days), a duplicate window of 2 minutes
// (results: at least INGEST_ACK_WAIT + 1 minute), and NATS_STREAM_REPLICAS replicas; the
// advisory stream captures the max-deliveries advisories; the ledger bucket has a TTL of 120 days.
func TestSpec_NATSResources_StreamsCreatedWithTheirSettings(t *testing.T) {
	t.Parallel()
	// A long ack wait, so that "at least INGEST_ACK_WAIT + 1 minute" exceeds the 2 minutes.
	e := start(t, map[string]string{"INGEST_ACK_WAIT": "90s"}, nil)

	type settings struct {
		Subjects  []string
		Storage   jetstream.StorageType
		Retention jetstream.RetentionPolicy
		MaxAge    time.Duration
		Replicas  int
	}
	for _, tc := range []struct {
		stream  string
		want    settings
		minDups time.Duration
	}{
		{inboundStream, settings{[]string{"assets.published.>"}, jetstream.FileStorage, jetstream.LimitsPolicy, 30 * day, 1}, 2 * time.Minute},
		{resultsStream, settings{[]string{"assets.failed.>", "assets.ingested.>"}, jetstream.FileStorage, jetstream.LimitsPolicy, 7 * day, 1}, 150 * time.Second},
		{dlqStream, settings{[]string{"assets.dlq.>"}, jetstream.FileStorage, jetstream.LimitsPolicy, 90 * day, 1}, 2 * time.Minute},
		{advisoryStream, settings{[]string{"$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.ASSETS.asset-ingest"}, jetstream.FileStorage, jetstream.LimitsPolicy, 0, 1}, 0},
	} {
		t.Run(tc.stream, func(t *testing.T) {
			s, err := e.JS.Stream(t.Context(), tc.stream)
			if err != nil {
				t.Fatalf("stream %s: %v", tc.stream, err)
			}
			c := s.CachedInfo().Config
			got := settings{sortedCopy(c.Subjects), c.Storage, c.Retention, c.MaxAge, c.Replicas}
			if tc.stream == advisoryStream {
				got.MaxAge = 0 // SPEC names no maximum age for it
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("stream %s (-want +got):\n%s", tc.stream, diff)
			}
			if c.Duplicates < tc.minDups {
				t.Errorf("stream %s duplicate window %s, want at least %s", tc.stream, c.Duplicates, tc.minDups)
			}
			if tc.stream == inboundStream && c.Duplicates != 2*time.Minute {
				t.Errorf("inbound duplicate window %s, want 2m", c.Duplicates)
			}
		})
	}
	t.Run("ledger", func(t *testing.T) {
		st, err := kv(t, e).Status(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if st.TTL() != 120*day {
			t.Errorf("ledger TTL %s, want 120 days", st.TTL())
		}
	})
}

func sortedCopy(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

// SPEC "NATS resources": the durable pull consumer asset-ingest on ASSETS: explicit ack, deliver
// all, no BackOff; AckWait is INGEST_ACK_WAIT, MaxDeliver INGEST_MAX_DELIVER (default
// max(100, 4 × INGEST_MAX_ATTEMPTS)), MaxAckPending INGEST_MAX_ACK_PENDING.
func TestSpec_NATSResources_ConsumerSettings(t *testing.T) {
	t.Parallel()
	type settings struct {
		Pull          bool
		AckPolicy     jetstream.AckPolicy
		DeliverPolicy jetstream.DeliverPolicy
		BackOff       []time.Duration
		AckWait       time.Duration
		MaxDeliver    int
		MaxAckPending int
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		want settings
	}{
		{"defaults: 8 attempts give MaxDeliver 100", map[string]string{},
			settings{true, jetstream.AckExplicitPolicy, jetstream.DeliverAllPolicy, nil, 5 * time.Second, 100, 1000}},
		{"30 attempts give MaxDeliver 4 × 30", map[string]string{"INGEST_MAX_ATTEMPTS": "30", "INGEST_MAX_ACK_PENDING": "77", "INGEST_ACK_WAIT": "7s"},
			settings{true, jetstream.AckExplicitPolicy, jetstream.DeliverAllPolicy, nil, 7 * time.Second, 120, 77}},
		{"INGEST_MAX_DELIVER wins", map[string]string{"INGEST_MAX_DELIVER": "150"},
			settings{true, jetstream.AckExplicitPolicy, jetstream.DeliverAllPolicy, nil, 5 * time.Second, 150, 1000}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := start(t, tc.env, nil)
			c := consumerInfo(t, e).Config
			got := settings{c.DeliverSubject == "", c.AckPolicy, c.DeliverPolicy, c.BackOff, c.AckWait, c.MaxDeliver, c.MaxAckPending}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("consumer (-want +got):\n%s", diff)
			}
		})
	}
}

// prepared starts a bare JetStream server holding the inbound stream and a consumer as an
// operator left them, and returns the service's environment on it (not started).
func prepared(t *testing.T, stream jetstream.StreamConfig, cons *jetstream.ConsumerConfig) *servicetest.Env {
	t.Helper()
	s := natstest.RunServer(t)
	_, js := natstest.Connect(t, s)
	st, err := js.CreateStream(t.Context(), stream)
	if err != nil {
		t.Fatalf("creating the operator's stream: %v", err)
	}
	if cons != nil {
		if _, err := st.CreateConsumer(t.Context(), *cons); err != nil {
			t.Fatalf("creating the operator's consumer: %v", err)
		}
	}
	return servicetest.Start(t, servicetest.Options{Server: s, NoService: true})
}

// runService runs service.Run on e's configuration and returns its error, or nil when it became
// ready (it is then stopped).
func runService(t *testing.T, e *servicetest.Env) error {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tel, err := telemetry.Setup(t.Context(), telemetry.Options{
		Version: "test", SpanExporter: tracetest.NewInMemoryExporter(), Lookup: func(string) (string, bool) { return "", false },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tel.Shutdown(context.Background()) }()
	ctx, cancel := context.WithTimeout(t.Context(), wait)
	defer cancel()
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- service.Run(ctx, service.Options{Config: e.Config, Telemetry: tel, Listener: ln, Ready: func(string) { close(ready) }})
	}()
	select {
	case err := <-done:
		return err
	case <-ready:
		cancel()
		<-done
		return nil
	}
}

func inboundConfig() jetstream.StreamConfig {
	return jetstream.StreamConfig{Name: inboundStream, Subjects: []string{"assets.published.>"}, MaxAge: time.Hour}
}

// SPEC "NATS resources": an existing consumer whose BackOff, AckWait, MaxDeliver or MaxAckPending
// differ is updated in place with the difference logged when INGEST_CREATE_RESOURCES=true; the
// service never changes an existing stream.
func TestSpec_NATSResources_DriftedConsumerUpdatedInPlace(t *testing.T) {
	t.Parallel()
	e := prepared(t, inboundConfig(), &jetstream.ConsumerConfig{
		Durable: durable, AckPolicy: jetstream.AckExplicitPolicy, DeliverPolicy: jetstream.DeliverAllPolicy,
		AckWait: 30 * time.Second, MaxDeliver: 5, MaxAckPending: 10, BackOff: []time.Duration{time.Second, 2 * time.Second},
	})
	e.StartService()
	c := consumerInfo(t, e).Config
	if diff := cmp.Diff([]any{[]time.Duration(nil), 5 * time.Second, 100, 1000},
		[]any{c.BackOff, c.AckWait, c.MaxDeliver, c.MaxAckPending}); diff != "" {
		t.Errorf("consumer after start (-want +got):\n%s", diff)
	}
	for _, setting := range []string{"BackOff", "AckWait", "MaxDeliver", "MaxAckPending"} {
		if !strings.Contains(e.Logs.String(), `"setting":"`+setting+`"`) {
			t.Errorf("the update of %s was not logged", setting)
		}
	}
	s, err := e.JS.Stream(t.Context(), inboundStream)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.CachedInfo().Config.MaxAge; got != time.Hour {
		t.Errorf("the service changed the existing stream's max age to %s", got)
	}
}

// SPEC "NATS resources": with INGEST_CREATE_RESOURCES=false a drifted consumer makes run exit 2
// listing each mismatch; an ack-policy, deliver-policy or push/pull mismatch cannot be updated and
// always exits 2; a missing resource makes run exit 2.
func TestSpec_NATSResources_MismatchesRefused(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		create string
		cons   *jetstream.ConsumerConfig
		want   []string // each must appear in the error
	}{
		{"fixable settings without INGEST_CREATE_RESOURCES", "false", &jetstream.ConsumerConfig{
			Durable: durable, AckPolicy: jetstream.AckExplicitPolicy, AckWait: 30 * time.Second, MaxDeliver: 5, MaxAckPending: 10,
			BackOff: []time.Duration{time.Second, 2 * time.Second},
		}, []string{"BackOff", "AckWait", "MaxDeliver", "MaxAckPending"}},
		{"ack policy", "true", &jetstream.ConsumerConfig{Durable: durable, AckPolicy: jetstream.AckAllPolicy}, []string{"ack policy"}},
		{"deliver policy", "true", &jetstream.ConsumerConfig{Durable: durable, AckPolicy: jetstream.AckExplicitPolicy, DeliverPolicy: jetstream.DeliverNewPolicy}, []string{"deliver policy"}},
		{"push consumer", "true", &jetstream.ConsumerConfig{Durable: durable, AckPolicy: jetstream.AckExplicitPolicy, DeliverSubject: "push.here"}, []string{"push"}},
		{"missing consumer without INGEST_CREATE_RESOURCES", "false", nil, []string{durable}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := prepared(t, inboundConfig(), tc.cons)
			e.Config.Streams.Create = tc.create == "true"
			err := runService(t, e)
			var ce *broker.ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("run returned %v, want a *broker.ConfigError (exit 2)", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not name %q:\n%v", w, err)
				}
			}
		})
	}
}
