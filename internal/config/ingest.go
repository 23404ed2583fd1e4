package config

import (
	"strings"
	"time"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/events"
)

// Streams names the JetStream resources of the service and says how they are made.
type Streams struct {
	Inbound      string   `env:"INGEST_STREAM, default=ASSETS"`
	Subjects     []string `env:"INGEST_SUBJECTS, default=assets.published.>"`
	Durable      string   `env:"INGEST_DURABLE, default=asset-ingest"`
	Results      string   `env:"RESULTS_STREAM, default=ASSET_RESULTS"`
	DLQ          string   `env:"DLQ_STREAM, default=ASSETS_DLQ"`
	Advisory     string   `env:"ADVISORY_STREAM, default=ASSETS_ADVISORIES"`
	LedgerBucket string   `env:"LEDGER_BUCKET, default=asset_ingest_ledger"`
	Create       bool     `env:"INGEST_CREATE_RESOURCES, default=true"`
	Replicas     int      `env:"NATS_STREAM_REPLICAS, default=1"`
}

// Validate lists what is wrong with the resource names and settings.
func (s Streams) Validate() Problems {
	var p Problems
	if s.Replicas < 1 || s.Replicas > 5 {
		p = append(p, problemf("NATS_STREAM_REPLICAS is %d; JetStream allows 1 to 5", s.Replicas))
	}
	if len(s.Subjects) == 0 {
		p = append(p, "INGEST_SUBJECTS is empty; set the inbound subjects, e.g. assets.published.>")
	}
	for _, n := range []struct{ name, value string }{
		{"INGEST_STREAM", s.Inbound}, {"INGEST_DURABLE", s.Durable}, {"RESULTS_STREAM", s.Results},
		{"DLQ_STREAM", s.DLQ}, {"ADVISORY_STREAM", s.Advisory}, {"LEDGER_BUCKET", s.LedgerBucket},
	} {
		if n.value == "" || strings.ContainsAny(n.value, " .*>\t") {
			p = append(p, problemf("%s %q is not a valid JetStream name; use letters, digits, - and _", n.name, n.value))
		}
	}
	return p
}

// Ingest is the pipeline and the pull loop: how many events are in flight, how often and how
// fast an event is tried again, and which events are valid.
type Ingest struct {
	Concurrency   int           `env:"INGEST_CONCURRENCY, default=64"`
	MaxAckPending int           `env:"INGEST_MAX_ACK_PENDING, default=1000"`
	MaxAttempts   int           `env:"INGEST_MAX_ATTEMPTS, default=8"`
	BackoffBase   time.Duration `env:"INGEST_BACKOFF_BASE, default=1s"`
	BackoffMax    time.Duration `env:"INGEST_BACKOFF_MAX, default=10m"`
	MaxDeliver    int           `env:"INGEST_MAX_DELIVER"`
	AckWait       time.Duration `env:"INGEST_ACK_WAIT, default=60s"`
	AllowHTTP     bool          `env:"INGEST_ALLOW_HTTP, default=false"`
	Sources       Sources       `env:"INGEST_SOURCES"`
}

// Sources is INGEST_SOURCES, parsed when it is loaded; empty: any source.
type Sources struct{ events.Sources }

// EnvDecode parses the variable's value.
func (s *Sources) EnvDecode(v string) error {
	parsed, err := events.ParseSources(v)
	if err != nil {
		return parseProblem("INGEST_SOURCES: " + err.Error())
	}
	s.Sources = parsed
	return nil
}

// Validate lists what is wrong with the pipeline's settings.
func (in Ingest) Validate() Problems {
	var p Problems
	add := func(format string, args ...any) { p = append(p, problemf(format, args...)) }
	positive(add, "INGEST_ACK_WAIT", in.AckWait)
	positive(add, "INGEST_BACKOFF_BASE", in.BackoffBase)
	if in.BackoffMax < in.BackoffBase {
		add("INGEST_BACKOFF_MAX (%s) is below INGEST_BACKOFF_BASE (%s); raise it", in.BackoffMax, in.BackoffBase)
	}
	if in.Concurrency < 1 {
		add("INGEST_CONCURRENCY is %d; set at least 1", in.Concurrency)
	}
	if in.MaxAttempts < 1 {
		add("INGEST_MAX_ATTEMPTS is %d; set at least 1", in.MaxAttempts)
	}
	if in.MaxAckPending < in.Concurrency {
		add("INGEST_MAX_ACK_PENDING (%d) is below INGEST_CONCURRENCY (%d); set it to at least replicas × concurrency plus room for waiting retries", in.MaxAckPending, in.Concurrency)
	}
	if in.MaxDeliver != 0 && in.MaxDeliver < in.MaxAttempts {
		add("INGEST_MAX_DELIVER (%d) is below INGEST_MAX_ATTEMPTS (%d); it is only a backstop, leave it unset or raise it", in.MaxDeliver, in.MaxAttempts)
	}
	return p
}

// EffectiveMaxDeliver is INGEST_MAX_DELIVER, or max(100, 4 × INGEST_MAX_ATTEMPTS) when unset.
func (in Ingest) EffectiveMaxDeliver() int {
	if in.MaxDeliver > 0 {
		return in.MaxDeliver
	}
	return max(100, 4*in.MaxAttempts)
}

// Rules are the rules an inbound event must follow: INGEST_ALLOW_HTTP, INGEST_SOURCES and the
// default repository, AMPLIENCE_ASSET_REPOSITORY_ID.
func (c Config) Rules() events.Rules {
	return events.Rules{AllowHTTP: c.Ingest.AllowHTTP, DefaultRepositoryID: c.Amplience.RepositoryID, Sources: c.Ingest.Sources.Sources}
}
