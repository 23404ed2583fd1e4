// Package natstest runs an in-process NATS server with JetStream for tests.
//
// It exists so that every package's integration tests start the same kind of
// server the same way: bound to 127.0.0.1 on a random port, storing JetStream
// data in a temporary directory, shut down when the test ends.
package natstest

import (
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// readyTimeout bounds how long RunServer waits for the server to accept
// connections.
const readyTimeout = 10 * time.Second

// RunServer starts an embedded NATS server with JetStream enabled, listening
// on 127.0.0.1 at a random port, with its store in tb.TempDir(). Each opt may
// change the options before the server starts (auth, TLS, JetStream off, ...).
// The server is shut down, and waited for, when the test ends. RunServer fails
// the test if the server cannot start.
func RunServer(tb testing.TB, opts ...func(*server.Options)) *server.Server {
	tb.Helper()
	o := &server.Options{
		Host:      "127.0.0.1",
		Port:      -1,
		JetStream: true,
		StoreDir:  tb.TempDir(),
		NoLog:     true,
		NoSigs:    true,
	}
	for _, opt := range opts {
		opt(o)
	}
	s, err := server.NewServer(o)
	if err != nil {
		tb.Fatalf("creating embedded NATS server: %v", err)
	}
	s.Start()
	tb.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	if !s.ReadyForConnections(readyTimeout) {
		tb.Fatalf("embedded NATS server not ready for connections after %v", readyTimeout)
	}
	return s
}

// Reuse returns an option for [RunServer] that makes the new server take s's place: it listens
// on s's port and keeps its JetStream data in s's store directory, so that clients of s reconnect
// to it and find their streams, consumers and key-value buckets as s left them. Call Reuse while
// s runs, then shut s down (s.Shutdown and s.WaitForShutdown) before starting the new server.
// Options given to RunServer for s (authentication, ...) are not carried over: pass them again.
func Reuse(s *server.Server) func(*server.Options) {
	port := -1
	if addr, ok := s.Addr().(*net.TCPAddr); ok {
		port = addr.Port
	}
	// StoreDir names the "jetstream" directory the server made inside Options.StoreDir.
	dir := s.StoreDir()
	if filepath.Base(dir) == server.JetStreamStoreDir {
		dir = filepath.Dir(dir)
	}
	return func(o *server.Options) {
		o.Port = port
		if dir != "" {
			o.StoreDir = dir
		}
	}
}

// Connect connects to s with the given extra options and returns the
// connection and a JetStream handle on it. The connection is closed when the
// test ends. Connect fails the test if the connection cannot be made.
func Connect(tb testing.TB, s *server.Server, opts ...nats.Option) (*nats.Conn, jetstream.JetStream) {
	tb.Helper()
	nc, err := nats.Connect(s.ClientURL(), opts...)
	if err != nil {
		tb.Fatalf("connecting to embedded NATS server: %v", err)
	}
	tb.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatalf("creating JetStream handle: %v", err)
	}
	return nc, js
}
