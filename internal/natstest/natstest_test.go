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

func TestReuseKeepsAddressAndStore(t *testing.T) {
	t.Parallel()
	s := natstest.RunServer(t)
	nc, js := natstest.Connect(t, s)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}, Storage: jetstream.FileStorage}); err != nil {
		t.Fatalf("creating a stream: %v", err)
	}
	if _, err := js.Publish(ctx, "t.x", []byte("kept")); err != nil {
		t.Fatalf("publishing: %v", err)
	}
	url := s.ClientURL()
	reuse := natstest.Reuse(s)
	s.Shutdown()
	s.WaitForShutdown()

	s2 := natstest.RunServer(t, reuse)
	if s2.ClientURL() != url {
		t.Fatalf("restarted server listens on %s, want %s", s2.ClientURL(), url)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !nc.IsConnected() {
		if time.Now().After(deadline) {
			t.Fatal("the client did not reconnect to the restarted server")
		}
		time.Sleep(10 * time.Millisecond)
	}
	stream, err := js.Stream(ctx, "T")
	if err != nil {
		t.Fatalf("the stream did not survive the restart: %v", err)
	}
	m, err := stream.GetMsg(ctx, 1)
	if err != nil {
		t.Fatalf("reading message 1 after the restart: %v", err)
	}
	if string(m.Data) != "kept" {
		t.Fatalf("message 1 after the restart is %q, want \"kept\"", m.Data)
	}
}

// A node of a cluster stopped and started again rejoins on its port with its store: the cluster
// is whole again and a stream with three replicas still holds what was published before.
func TestClusterNodeRestart(t *testing.T) {
	t.Parallel()
	c := natstest.RunCluster(t, 3)
	_, js := natstest.Connect(t, c.Servers[0])
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "R3", Subjects: []string{"r3"}, Replicas: 3}); err != nil {
		t.Fatalf("creating a stream with three replicas: %v", err)
	}
	if _, err := js.Publish(ctx, "r3", []byte("kept")); err != nil {
		t.Fatalf("publishing: %v", err)
	}
	port := c.Servers[2].Addr().String()
	c.Stop(2)
	if c.Whole() {
		t.Fatal("the cluster is whole with a node down")
	}
	c.Start(2)
	c.WaitWhole(time.Minute)
	if got := c.Servers[2].Addr().String(); got != port {
		t.Errorf("the restarted node listens on %s, want %s", got, port)
	}
	_, js2 := natstest.Connect(t, c.Servers[2])
	s, err := js2.Stream(ctx, "R3")
	if err != nil {
		t.Fatalf("the stream from the restarted node: %v", err)
	}
	m, err := s.GetMsg(ctx, 1)
	if err != nil {
		t.Fatalf("message 1 after the restart: %v", err)
	}
	if string(m.Data) != "kept" {
		t.Errorf("message 1 after the restart holds %q, want \"kept\"", m.Data)
	}
}
