package config

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sethvargo/go-envconfig"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/broker"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/events"
)

func TestEffectiveMaxDeliver(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		attempts int
		set      int
		want     int
	}{
		{"floor of 100", 8, 0, 100},
		{"four times the attempts", 40, 0, 160},
		{"explicit", 8, 50, 50},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := Ingest{MaxAttempts: tc.attempts, MaxDeliver: tc.set}
			if got := c.EffectiveMaxDeliver(); got != tc.want {
				t.Errorf("EffectiveMaxDeliver() = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestIngestValidate(t *testing.T) {
	t.Parallel()
	ok := Ingest{Concurrency: 4, MaxAckPending: 10, MaxAttempts: 3, BackoffBase: time.Second, BackoffMax: time.Minute, AckWait: time.Minute}
	tests := []struct {
		name   string
		change func(*Ingest)
		want   Problems
	}{
		{name: "complete", change: func(*Ingest) {}},
		{name: "no ack wait", change: func(in *Ingest) { in.AckWait = 0 },
			want: Problems{"INGEST_ACK_WAIT is 0s; set a positive duration such as 30s"}},
		{name: "backoff max below base", change: func(in *Ingest) { in.BackoffMax = time.Millisecond },
			want: Problems{"INGEST_BACKOFF_MAX (1ms) is below INGEST_BACKOFF_BASE (1s); raise it"}},
		{name: "no concurrency", change: func(in *Ingest) { in.Concurrency = 0 },
			want: Problems{"INGEST_CONCURRENCY is 0; set at least 1"}},
		{name: "no attempt", change: func(in *Ingest) { in.MaxAttempts = 0 },
			want: Problems{"INGEST_MAX_ATTEMPTS is 0; set at least 1"}},
		{name: "ack pending below concurrency", change: func(in *Ingest) { in.MaxAckPending = 2 },
			want: Problems{"INGEST_MAX_ACK_PENDING (2) is below INGEST_CONCURRENCY (4); set it to at least replicas × concurrency plus room for waiting retries"}},
		{name: "max deliver below attempts", change: func(in *Ingest) { in.MaxDeliver = 2 },
			want: Problems{"INGEST_MAX_DELIVER (2) is below INGEST_MAX_ATTEMPTS (3); it is only a backstop, leave it unset or raise it"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := ok
			tt.change(&in)
			if diff := cmp.Diff(tt.want, in.Validate()); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStreamsValidate(t *testing.T) {
	t.Parallel()
	s, err := Load[Streams](t.Context(), envconfig.MapLookuper(map[string]string{
		"DLQ_STREAM": "dead.letters", "LEDGER_BUCKET": "", "NATS_STREAM_REPLICAS": "7", "INGEST_SUBJECTS": "",
	}), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := Problems{
		"NATS_STREAM_REPLICAS is 7; JetStream allows 1 to 5",
		"INGEST_SUBJECTS is empty; set the inbound subjects, e.g. assets.published.>",
		`DLQ_STREAM "dead.letters" is not a valid JetStream name; use letters, digits, - and _`,
		`LEDGER_BUCKET "" is not a valid JetStream name; use letters, digits, - and _`,
	}
	if diff := cmp.Diff(want, s.Validate()); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}

func TestSourcesAreParsedOnLoad(t *testing.T) {
	t.Parallel()
	in, err := Load[Ingest](t.Context(), envconfig.MapLookuper(map[string]string{"INGEST_SOURCES": "akeneo=pim://akeneo/*"}), nil)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := events.ParseSources("akeneo=pim://akeneo/*")
	if diff := cmp.Diff(want, in.Sources.Sources); diff != "" {
		t.Errorf("sources (-want +got):\n%s", diff)
	}

	_, err = Load[Ingest](t.Context(), envconfig.MapLookuper(map[string]string{"INGEST_SOURCES": "akeneo"}), nil)
	got := fmt.Sprint(err)
	if !strings.Contains(got, `INGEST_SOURCES: INGEST_SOURCES entry 1 ("akeneo"): want token=source-pattern`) {
		t.Errorf("error %q does not name the bad entry", got)
	}
}

func TestResourcesAndRules(t *testing.T) {
	t.Parallel()
	cfg, err := load(t, map[string]string{"INGEST_MAX_ATTEMPTS": "30", "INGEST_ALLOW_HTTP": "true", "AMPLIENCE_ASSET_REPOSITORY_ID": "repo"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := broker.Resources{
		InboundStream: "ASSETS", InboundSubjects: []string{"assets.published.>"}, Durable: "asset-ingest",
		ResultsStream: "ASSET_RESULTS", DLQStream: "ASSETS_DLQ", AdvisoryStream: "ASSETS_ADVISORIES",
		LedgerBucket: "asset_ingest_ledger", Replicas: 1, AckWait: time.Minute, MaxDeliver: 120, MaxAckPending: 1000, Create: true,
	}
	if diff := cmp.Diff(want, cfg.Resources()); diff != "" {
		t.Errorf("resources (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(events.Rules{AllowHTTP: true, DefaultRepositoryID: "repo"}, cfg.Rules()); diff != "" {
		t.Errorf("rules (-want +got):\n%s", diff)
	}
}
