package broker

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// testResources are the SPEC defaults with an AckWait long enough to show
// that the results and dead-letter duplicate windows follow it.
func testResources() Resources {
	r := DefaultResources()
	r.AckWait = 90 * time.Second
	return r
}

// streamSettings are the stream settings Ensure decides.
type streamSettings struct {
	Subjects   []string
	Retention  jetstream.RetentionPolicy
	Storage    jetstream.StorageType
	Discard    jetstream.DiscardPolicy
	MaxAge     time.Duration
	Duplicates time.Duration
	Replicas   int
}

func settingsOf(c jetstream.StreamConfig) streamSettings {
	return streamSettings{c.Subjects, c.Retention, c.Storage, c.Discard, c.MaxAge, c.Duplicates, c.Replicas}
}

// consumerSettings are the consumer settings Ensure decides or checks.
type consumerSettings struct {
	Durable        string
	AckPolicy      jetstream.AckPolicy
	DeliverPolicy  jetstream.DeliverPolicy
	AckWait        time.Duration
	MaxDeliver     int
	MaxAckPending  int
	BackOff        []time.Duration
	FilterSubject  string
	FilterSubjects []string
	DeliverSubject string
}

func consumerSettingsOf(c jetstream.ConsumerConfig) consumerSettings {
	return consumerSettings{c.Durable, c.AckPolicy, c.DeliverPolicy, c.AckWait, c.MaxDeliver, c.MaxAckPending,
		c.BackOff, c.FilterSubject, c.FilterSubjects, c.DeliverSubject}
}

// fetchStream reads a stream's configuration from the server.
func fetchStream(tb testing.TB, js jetstream.JetStream, name string) jetstream.StreamConfig {
	tb.Helper()
	s, err := js.Stream(testContext(tb), name)
	if err != nil {
		tb.Fatalf("looking up stream %s: %v", name, err)
	}
	return s.CachedInfo().Config
}

// fetchConsumer reads a consumer's configuration from the server.
func fetchConsumer(tb testing.TB, js jetstream.JetStream, stream, name string) jetstream.ConsumerConfig {
	tb.Helper()
	c, err := js.Consumer(testContext(tb), stream, name)
	if err != nil {
		tb.Fatalf("looking up consumer %s: %v", name, err)
	}
	return c.CachedInfo().Config
}

// DefaultResources returns the SPEC defaults: ASSETS on assets.published.>,
// consumer asset-ingest, ASSET_RESULTS, ASSETS_DLQ, ASSETS_ADVISORIES,
// bucket asset_ingest_ledger, one replica, AckWait 60s, MaxDeliver 100
// (max(100, 4 × 8 attempts)), MaxAckPending 1000, Create true.
func DefaultResources() Resources {
	return Resources{
		InboundStream:   "ASSETS",
		InboundSubjects: []string{"assets.published.>"},
		Durable:         "asset-ingest",
		ResultsStream:   "ASSET_RESULTS",
		DLQStream:       "ASSETS_DLQ",
		AdvisoryStream:  "ASSETS_ADVISORIES",
		LedgerBucket:    "asset_ingest_ledger",
		Replicas:        1,
		AckWait:         60 * time.Second,
		MaxDeliver:      100,
		MaxAckPending:   1000,
		Create:          true,
	}
}
