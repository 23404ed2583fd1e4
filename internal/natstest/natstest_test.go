package natstest_test

import (
	"context"
	"testing"
	"time"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/natstest"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
)

func TestRunServerAndConnect(t *testing.T) {
	t.Parallel()
	s := natstest.RunServer(t)
	nc, js := natstest.Connect(t, s)
	if !nc.IsConnected() {
		t.Fatal("connection is not connected")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}}); err != nil {
		t.Fatalf("JetStream is not usable: %v", err)
	}
	if _, err := js.Publish(ctx, "t.x", []byte("hi")); err != nil {
		t.Fatalf("publishing: %v", err)
	}
}

func TestRunServerAppliesOptions(t *testing.T) {
	t.Parallel()
	s := natstest.RunServer(t, func(o *server.Options) { o.JetStream = false })
	if s.JetStreamEnabled() {
		t.Fatal("JetStream is enabled although the option turned it off")
	}
}
