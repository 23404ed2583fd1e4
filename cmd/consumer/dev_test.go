package main

import (
	"context"
	"encoding/json"
	"net"
	"strings"
	"testing"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/natstest"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/servicetest"
)

func TestPortNote(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		port int
		want string
	}{
		{"got 4222", 4222, ""},
		{"moved", 43117, "NATS: port 4222 is busy (another NATS server?), so the embedded server listens on 43117 instead;\n" +
			"      the tools and nats commands need NATS_URL=nats://127.0.0.1:43117 (or -s nats://127.0.0.1:43117)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := portNote(&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: tc.port})
			if got != tc.want {
				t.Errorf("portNote = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestDevOutcomeLines: dev prints a repeated completion as "already
// ingested", and text from events with control characters escaped but
// quotes as they are.
func TestDevOutcomeLines(t *testing.T) {
	t.Parallel()
	s := natstest.RunServer(t)
	nc, _ := natstest.Connect(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out servicetest.SyncBuffer
	if err := watchOutcomes(ctx, s.ClientURL(), &out); err != nil {
		t.Fatal(err)
	}
	publish := func(subject string, ev map[string]any) {
		t.Helper()
		b, _ := json.Marshal(ev)
		if err := nc.Publish(subject, b); err != nil {
			t.Fatal(err)
		}
	}
	ingested := map[string]any{"id": "k:ingested", "type": "asset.ingested", "data": map[string]any{"name": "sku-1", "assetId": "A1", "attempts": 1}}
	publish("assets.ingested.akeneo", ingested)
	publish("assets.ingested.akeneo", ingested)
	publish("assets.failed.akeneo", map[string]any{"id": "k2:failed:0", "type": "asset.ingest_failed", "data": map[string]any{
		"name": "sku-2", "eventId": "e2", "errorClass": "invalid_event", "error": "data.src: host \"localhost\" is not public\x1b[2J", "dlqSequence": 7}})
	waitUntil(t, func() bool {
		return strings.Contains(out.String(), "dead-lettered") && strings.Contains(out.String(), "already")
	})
	text := out.String()
	for _, want := range []string{
		"ingested       sku-1                        asset A1 (1 attempt(s), 0 ms)\n",
		"already ingested sku-1                      asset A1 (no second asset)\n",
		`data.src: host "localhost" is not public\x1b[2J (dead letter #7)`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
}
