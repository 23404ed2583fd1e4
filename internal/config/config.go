// Package config holds the service's configuration: each part of the service owns a struct of
// the environment variables it reads (NATS, Amplience, Streams, Ingest, Telemetry), with one
// Validate listing what is wrong with it; [Config] embeds them all. Every command reads what
// it needs through [Load], once, at start, and passes the values down.
//
// Every variable of the contract (SPEC "Configuration") is a field of a part, with its env tag
// and default; the README's configuration reference and the compose file are checked against
// [Variables] by tests, so none of them can drift from these structs.
package config

import (
	"strings"
	"time"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/broker"
)

// Config is the whole configuration: the service's parts, embedded. Field tags name the
// environment variables; secrets marked `secret:"true"` may also be given as a file through
// NAME_FILE.
type Config struct {
	NATS
	Amplience
	Streams
	Ingest
	Telemetry
}

// Problems lists everything wrong with a configuration, one line per problem, each naming the
// variable, what is wrong and how to fix it.
type Problems []string

func (p Problems) Error() string {
	return "configuration is incomplete or invalid:\n  - " + strings.Join(p, "\n  - ")
}

// Concerning returns the problems about the variables whose names start with prefix (every
// problem names its variable first): a command that needs only some variables reports only
// theirs.
func (p Problems) Concerning(prefix string) Problems {
	var out Problems
	for _, s := range p {
		if strings.HasPrefix(s, prefix) {
			out = append(out, s)
		}
	}
	return out
}

// Validate lists what keeps the configuration from running the service: the problems of
// every part, then those of settings of two parts together. needNATSURL is false for
// `consumer dev`, which starts its own server when NATS_URL is empty. The list is empty when
// the configuration is complete.
func (c Config) Validate(needNATSURL bool) Problems {
	var p Problems
	if c.NATS.URL == "" && needNATSURL {
		p = append(p, "NATS_URL is empty; set it to the NATS server, e.g. nats://nats:4222 (or use `consumer dev` for an embedded server)")
	}
	p = append(p, c.NATS.Validate()...)
	p = append(p, c.Amplience.Validate()...)
	p = append(p, c.Streams.Validate()...)
	p = append(p, c.Ingest.Validate()...)
	p = append(p, c.Telemetry.Validate()...)
	if t, w := c.Amplience.Timeout, c.Ingest.AckWait; t > 0 && w > 0 && 3*t >= 2*w {
		// A claim is refreshed every third of the ack wait and stays live for the whole ack
		// wait; a call starts only while the claim stays live for longer than the timeout.
		// Below two thirds, a claim refreshed on time always leaves room for a call.
		p = append(p, problemf("AMPLIENCE_TIMEOUT (%s) must be below two thirds of INGEST_ACK_WAIT (%s), so that a call always ends before its claim can expire; set AMPLIENCE_TIMEOUT to at most %s or INGEST_ACK_WAIT to more than %s",
			t, w, maxTimeout(w), t*3/2))
	}
	return p
}

// Resources are the JetStream resources the configuration names, with the settings of the
// consumer the replicas share.
func (c Config) Resources() broker.Resources {
	s, in := c.Streams, c.Ingest
	return broker.Resources{
		InboundStream: s.Inbound, InboundSubjects: s.Subjects, Durable: s.Durable,
		ResultsStream: s.Results, DLQStream: s.DLQ, AdvisoryStream: s.Advisory,
		LedgerBucket: s.LedgerBucket, Replicas: s.Replicas, Create: s.Create,
		AckWait: in.AckWait, MaxDeliver: in.EffectiveMaxDeliver(), MaxAckPending: in.MaxAckPending,
	}
}

// DefaultTimeout is AMPLIENCE_TIMEOUT when it is unset: 30s, or half of INGEST_ACK_WAIT when
// that is shorter, so that a call always ends well within two thirds of the ack wait.
func DefaultTimeout(ackWait time.Duration) time.Duration {
	return min(30*time.Second, ackWait/2)
}

// maxTimeout is the largest AMPLIENCE_TIMEOUT, in whole milliseconds, below two thirds of
// ackWait.
func maxTimeout(ackWait time.Duration) time.Duration {
	return ((2*ackWait - 1) / 3).Truncate(time.Millisecond)
}
