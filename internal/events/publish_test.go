package events

import (
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// TestDropUnsendableHeadersMatchesClient checks the mirror of nats.go's
// header-name rule against the client itself: every name the client refuses
// is dropped, and what is left publishes.
func TestDropUnsendableHeadersMatchesClient(t *testing.T) {
	t.Parallel()
	nc := connect(t)
	names := []string{"", "a b", "a:b", "a/b", "é", "a\x00", "a\x7f", "Good", "Nats-Msg-Id", "x-Y_z.1~!#$%&'*+-^`|", "(", "@", "{"}
	for _, name := range names {
		h := nats.Header{name: {"v"}}
		clientErr := nc.PublishMsg(&nats.Msg{Subject: "t", Header: cloneHeader(h)})
		dropped := DropUnsendableHeaders(h)
		if refused := errors.Is(clientErr, nats.ErrBadHeaderMsg); refused != (len(dropped) == 1) {
			t.Errorf("name %q: client error %v, dropped %q", name, clientErr, dropped)
		}
		if err := nc.PublishMsg(&nats.Msg{Subject: "t", Header: h}); err != nil {
			t.Errorf("name %q: publishing after DropUnsendableHeaders: %v", name, err)
		}
	}
}

// connect starts an in-process NATS server on a random port.
func connect(tb testing.TB) *nats.Conn {
	tb.Helper()
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		tb.Fatalf("starting NATS server: %v", err)
	}
	s.Start()
	tb.Cleanup(s.Shutdown)
	if !s.ReadyForConnections(5 * time.Second) {
		tb.Fatal("NATS server not ready")
	}
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		tb.Fatalf("connecting: %v", err)
	}
	tb.Cleanup(nc.Close)
	return nc
}
