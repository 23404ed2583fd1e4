package broker

import (
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Settings of the resources Ensure creates (SPEC "NATS resources").
const (
	InboundMaxAge    = 30 * 24 * time.Hour
	ResultsMaxAge    = 7 * 24 * time.Hour
	DLQMaxAge        = 90 * 24 * time.Hour
	AdvisoryMaxAge   = 90 * 24 * time.Hour // as long as the dead letters they explain
	LedgerTTL        = 120 * 24 * time.Hour
	DuplicateWindow  = 2 * time.Minute
	ackWaitDupMargin = time.Minute
)

// maxDeliveriesAdvisoryPrefix is the subject prefix on which JetStream
// announces that a consumer gave up on a message; the stream and consumer
// names follow.
const maxDeliveriesAdvisoryPrefix = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES."

// Resources names the JetStream resources of the service and the settings of
// its consumer.
type Resources struct {
	// InboundStream holds the asset.published events; InboundSubjects are
	// the subjects it captures when Ensure creates it.
	InboundStream   string
	InboundSubjects []string
	// Durable is the name of the pull consumer on InboundStream shared by
	// all replicas.
	Durable string
	// ResultsStream captures assets.ingested.> and assets.failed.>.
	ResultsStream string
	// DLQStream captures assets.dlq.>.
	DLQStream string
	// AdvisoryStream captures the MAX_DELIVERIES advisories of Durable.
	AdvisoryStream string
	// LedgerBucket is the key-value bucket of claims and results.
	LedgerBucket string
	// Replicas is the replica count of every stream and bucket Ensure
	// creates (NATS_STREAM_REPLICAS).
	Replicas int
	// AckWait, MaxDeliver and MaxAckPending are the consumer settings the
	// service needs (INGEST_ACK_WAIT, INGEST_MAX_DELIVER,
	// INGEST_MAX_ACK_PENDING); all must be positive.
	AckWait       time.Duration
	MaxDeliver    int
	MaxAckPending int
	// Create lets Ensure create missing resources and update a drifted
	// consumer (INGEST_CREATE_RESOURCES).
	Create bool
}

// MaxDeliveriesSubject is the advisory subject JetStream publishes on when
// the consumer durable of stream gives up on a message.
func MaxDeliveriesSubject(stream, durable string) string {
	return maxDeliveriesAdvisoryPrefix + stream + "." + durable
}

// Bound holds the resources Ensure found or created, ready for use.
type Bound struct {
	Inbound, Results, DLQ, Advisories jetstream.Stream
	// Consumer is the durable pull consumer on Inbound.
	Consumer jetstream.Consumer
	// AdvisoryConsumer is the durable pull consumer on Advisories that all replicas share to
	// read max-deliveries advisories; its name is the durable's with "-advisories".
	AdvisoryConsumer jetstream.Consumer
	// Ledger is the key-value bucket of claims, results and index keys.
	Ledger jetstream.KeyValue
}

// ConfigError reports JetStream resources that are missing (when Ensure may
// not create them) or a consumer whose settings differ from what the service
// needs and that Ensure cannot or may not fix. Problems lists each one as a
// sentence naming the resource. Start-up maps it to exit code 2.
type ConfigError struct {
	Problems []string
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("NATS resources are not as the service needs them: %s", strings.Join(e.Problems, "; "))
}

// validate guards Ensure against Resources that make no sense, as a *ConfigError naming the
// fields. Users' settings are checked, with their variables' names, by internal/config
// before they get here; this catches a caller that builds Resources by hand.
func (r Resources) validate() error {
	var p []string
	for _, f := range []struct{ name, value string }{
		{"inbound stream name", r.InboundStream},
		{"durable consumer name", r.Durable},
		{"results stream name", r.ResultsStream},
		{"dead-letter stream name", r.DLQStream},
		{"advisory stream name", r.AdvisoryStream},
		{"ledger bucket name", r.LedgerBucket},
	} {
		if f.value == "" {
			p = append(p, f.name+" is empty")
		} else if strings.ContainsAny(f.value, " \t\r\n.*>") {
			p = append(p, fmt.Sprintf("%s %q contains a space, '.', '*' or '>'", f.name, f.value))
		}
	}
	if len(r.InboundSubjects) == 0 {
		p = append(p, "inbound subjects are empty")
	}
	if r.Replicas < 1 || r.Replicas > 5 {
		p = append(p, fmt.Sprintf("Replicas is %d; JetStream allows 1 to 5", r.Replicas))
	}
	if r.AckWait <= 0 {
		p = append(p, fmt.Sprintf("AckWait is %v; it must be positive", r.AckWait))
	}
	if r.MaxDeliver <= 0 {
		p = append(p, fmt.Sprintf("MaxDeliver is %d; it must be positive", r.MaxDeliver))
	}
	if r.MaxAckPending <= 0 {
		p = append(p, fmt.Sprintf("MaxAckPending is %d; it must be positive", r.MaxAckPending))
	}
	if len(p) > 0 {
		return &ConfigError{Problems: p}
	}
	return nil
}
