package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/events"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/natstest"
)

// dlqServer starts an embedded server with ASSETS and ASSETS_DLQ holding two
// dead letters, and returns the environment that reaches it.
func dlqServer(t *testing.T) (lookupEnv, jetstream.JetStream) {
	t.Helper()
	s := natstest.RunServer(t)
	_, js := natstest.Connect(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, c := range []jetstream.StreamConfig{
		{Name: "ASSETS", Subjects: []string{"assets.published.>"}},
		{Name: "ASSETS_DLQ", Subjects: []string{"assets.dlq.>"}},
	} {
		if _, err := js.CreateStream(ctx, c); err != nil {
			t.Fatalf("creating %s: %v", c.Name, err)
		}
	}
	for i, class := range []events.Class{events.ClassRejected, events.ClassInvalidEvent} {
		m := nats.NewMsg("assets.dlq.akeneo")
		m.Header = events.DeadLetterHeader(nil, events.DeadLetter{
			Stream: "ASSETS", Sequence: uint64(i + 1), Subject: "assets.published.akeneo",
			FailedAt: time.Date(2026, 11, 27, 9, 0, i, 0, time.UTC), Class: class, Err: "bad",
			EventID: "ev-" + string(class), EventSource: "pim://akeneo",
		})
		m.Data = []byte(`{"id":"ev"}`)
		if _, err := js.PublishMsg(ctx, m); err != nil {
			t.Fatalf("publishing a dead letter: %v", err)
		}
	}
	env := map[string]string{"NATS_URL": s.ClientURL()}
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }, js
}

func TestDLQListJSON(t *testing.T) {
	t.Parallel()
	getenv, _ := dlqServer(t)
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"dlq", "list", "--json"}, getenv, &stdout, &stderr)
	if code := exitCode(err, &stderr); code != 0 {
		t.Fatalf("exit code %d (%v); stderr:\n%s", code, err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %d lines, want 2:\n%s", len(lines), stdout.String())
	}
	var classes []string
	for _, l := range lines {
		var row struct {
			Sequence uint64 `json:"sequence"`
			Class    string `json:"class"`
			Subject  string `json:"subject"`
			EventID  string `json:"eventId"`
		}
		if err := json.Unmarshal([]byte(l), &row); err != nil {
			t.Fatalf("line %q is not JSON: %v", l, err)
		}
		if row.Subject != "assets.published.akeneo" || row.EventID != "ev-"+row.Class || row.Sequence == 0 {
			t.Errorf("row %+v does not describe its dead letter", row)
		}
		classes = append(classes, row.Class)
	}
	if got := strings.Join(classes, ","); got != "rejected,invalid_event" {
		t.Errorf("classes in order = %s, want rejected,invalid_event", got)
	}
}

func TestDLQExitCodes(t *testing.T) {
	t.Parallel()
	getenv, js := dlqServer(t)
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"list filtered", []string{"dlq", "list", "--class", "rejected", "--since", "2026-11-27T00:00:00Z"}, 0, ""},
		{"help", []string{"dlq", "replay", "--help"}, 0, ""}, // on stdout: TestEveryCommandHasHelp
		{"no subcommand", []string{"dlq"}, 2, "Usage: consumer dlq"},
		{"unknown subcommand", []string{"dlq", "frobnicate"}, 2, "unknown subcommand"},
		{"replay without selection", []string{"dlq", "replay", "--yes"}, 2, "select dead letters"},
		{"purge without selection", []string{"dlq", "purge"}, 2, "select dead letters"},
		{"bad since", []string{"dlq", "list", "--since", "yesterday"}, 2, "--since"},
		{"bad sequence", []string{"dlq", "show", "x1"}, 2, "not a sequence number"},
		{"show missing", []string{"dlq", "show", "99"}, 1, "sequence 99 is not in ASSETS_DLQ"},
		{"replay dry run of one", []string{"dlq", "replay", "1", "--dry-run"}, 0, ""},
		{"no dead-letter stream", []string{"dlq", "list"}, 1, "there is no dead-letter stream NOPE"},
		{"empty dead-letter stream name", []string{"dlq", "list"}, 2, `DLQ_STREAM "" is not a valid JetStream name`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := getenv
			for prefix, dlqStream := range map[string]string{"no dead-letter": "NOPE", "empty dead-letter": ""} {
				if strings.HasPrefix(tt.name, prefix) {
					env = func(k string) (string, bool) {
						if k == "DLQ_STREAM" {
							return dlqStream, true
						}
						return getenv(k)
					}
				}
			}
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), tt.args, env, &stdout, &stderr)
			if code := exitCode(err, &stderr); code != tt.code {
				t.Errorf("exit code %d, want %d (error %v); stderr:\n%s", code, tt.code, err, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.stderr) {
				t.Errorf("stderr lacks %q:\n%s", tt.stderr, stderr.String())
			}
		})
	}
	// The dry run changed nothing.
	s, err := js.Stream(context.Background(), "ASSETS_DLQ")
	if err != nil {
		t.Fatal(err)
	}
	if n := s.CachedInfo().State.Msgs; n != 2 {
		t.Errorf("ASSETS_DLQ holds %d, want 2", n)
	}
}

func TestDLQReplayRefusalExitsOne(t *testing.T) {
	t.Parallel()
	getenv, js := dlqServer(t)
	m := nats.NewMsg("assets.dlq.x")
	m.Header = events.DeadLetterHeader(nil, events.DeadLetter{Stream: "ASSETS", Sequence: 9, Subject: "other.subject", Class: "rejected"})
	ack, err := js.PublishMsg(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	err = run(context.Background(), []string{"dlq", "replay", "--all", "--yes", "--rate", "0"}, getenv, &stdout, &stderr)
	if code := exitCode(err, &stderr); code != 1 {
		t.Errorf("exit code %d, want 1; stderr:\n%s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "refused") || !strings.Contains(stdout.String(), "replayed 2 of 3") {
		t.Errorf("output does not report the refusal and the replays:\nstdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	}
	s, err := js.Stream(context.Background(), "ASSETS_DLQ")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetMsg(context.Background(), ack.Sequence); err != nil {
		t.Errorf("the refused dead letter is gone: %v", err)
	}
}
