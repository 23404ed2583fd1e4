// Package embedded runs a JetStream-enabled NATS server inside the process, for `consumer dev`.
// Tests use internal/natstest instead.
package embedded

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Start runs a JetStream server on host:port storing its data under dir. When port is taken it
// takes a free one instead. The caller shuts it down with Shutdown and WaitForShutdown.
func Start(dir, host string, port int) (*server.Server, error) {
	if port != server.RANDOM_PORT && !free(host, port) {
		port = server.RANDOM_PORT
	}
	s, err := server.NewServer(&server.Options{
		ServerName: "asset-ingest-dev",
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   dir,
		NoSigs:     true,
		MaxPayload: 1 << 20,
	})
	if err != nil {
		return nil, fmt.Errorf("configuring the embedded NATS server: %w", err)
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		return nil, errors.New("the embedded NATS server did not start within 10s")
	}
	return s, nil
}

func free(host string, port int) bool {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return false
	}
	_ = ln.Close()
	return true
}
