package broker

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/backoff"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/redact"
)

// Connection tuning. Reconnects never stop: a replica that lost NATS reports
// not-ready and keeps trying rather than exiting.
const (
	reconnectBase = 250 * time.Millisecond
	reconnectMax  = 10 * time.Second
	pingInterval  = 20 * time.Second
	maxPingsOut   = 3
)

// ConnectOptions says how to reach and authenticate to NATS. The fields
// mirror the NATS_* environment variables of the SPEC, and error messages name
// those variables.
type ConnectOptions struct {
	// URL is one server URL or a comma-separated list. It may carry
	// user-info (user:password@ or token@); that is never logged nor returned
	// in an error.
	URL string
	// Name is the connection name shown by the server's monitoring, such as
	// "asset-ingest-consumer <hostname>".
	Name string
	// CredsFile is a JWT user credentials file (NATS_CREDS).
	CredsFile string
	// NKeySeedFile is a file holding an nkey user seed (NATS_NKEY).
	NKeySeedFile string
	// User and Password authenticate with a user name and password; both or
	// neither must be set.
	User, Password string
	// Token authenticates with a token (NATS_TOKEN).
	Token string
	// TLSCA is a PEM file of CA certificates to trust instead of the system
	// pool; TLSCert and TLSKey are a client certificate and its key (both or
	// neither). Setting any of them makes the connection use TLS.
	TLSCA, TLSCert, TLSKey string
	// Logger receives connection events: failed attempts, disconnects,
	// reconnects, closure and asynchronous errors. Nil discards them.
	Logger *slog.Logger
	// ConnectTimeout bounds each dial and handshake; zero means nats.go's
	// default (2s). It does not bound the wait for a server to come up:
	// the context of Connect does.
	ConnectTimeout time.Duration
}

// Connect validates o and connects to NATS.
//
// When no server can be reached, Connect keeps trying with exponential backoff
// and jitter, logging each failed attempt, until a server answers or ctx ends:
// a NATS that is down while the service starts is waited for, not a reason to
// exit. Once connected, the connection reconnects forever after any loss,
// logging each disconnect and reconnect; callers watch nc.IsConnected() for
// readiness.
//
// Connect returns an error, without waiting, when o is invalid (empty URL,
// user without password, certificate without key, unreadable file, more than
// one authentication method); when the server refuses the credentials twice
// in a row (nats.ErrAuthorization and similar match with errors.Is); and when
// ctx ends before a connection is made (the error matches ctx.Err() and says
// what the last attempt failed with). No returned error contains the URL's
// user-info, the password or the token. The caller owns the returned
// connection and must Close or Drain it.
func Connect(ctx context.Context, o ConnectOptions) (*nats.Conn, error) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	red := connectSecrets(o)
	authOpts, err := authOptions(o)
	if err != nil {
		return nil, red.Err(fmt.Errorf("invalid NATS connection settings: %w", err))
	}

	w := newConnWaiter()
	opts := append([]nats.Option{
		nats.Name(o.Name),
		nats.MaxReconnects(-1),
		nats.RetryOnFailedConnect(true),
		nats.CustomReconnectDelay(reconnectDelay),
		nats.PingInterval(pingInterval),
		nats.MaxPingsOutstanding(maxPingsOut),
		nats.NoCallbacksAfterClientClose(),
		nats.ConnectHandler(func(nc *nats.Conn) {
			log.Info("connected to NATS", "server", nc.ConnectedAddr(), "server_id", nc.ConnectedServerId())
			w.connected()
		}),
		nats.ReconnectErrHandler(func(_ *nats.Conn, err error) {
			w.attemptFailed(err)
			log.Warn("connecting to NATS failed; retrying", "error", red.Replace(errString(err)))
		}),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			log.Warn("disconnected from NATS", "error", red.Replace(errString(err)))
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("reconnected to NATS", "server", nc.ConnectedAddr(), "server_id", nc.ConnectedServerId())
			w.connected()
		}),
		nats.ClosedHandler(func(nc *nats.Conn) {
			log.Warn("NATS connection closed", "error", red.Replace(errString(nc.LastError())))
			w.closed()
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			attrs := []any{"error", red.Replace(errString(err))}
			if sub != nil {
				attrs = append(attrs, "subject", sub.Subject)
			}
			log.Error("NATS asynchronous error", attrs...)
		}),
		nats.LameDuckModeHandler(func(nc *nats.Conn) {
			log.Warn("NATS server is entering lame duck mode; will reconnect elsewhere", "server", nc.ConnectedAddr())
		}),
	}, authOpts...)
	if o.ConnectTimeout > 0 {
		opts = append(opts, nats.Timeout(o.ConnectTimeout))
	}

	nc, err := nats.Connect(o.URL, opts...)
	if err != nil {
		return nil, red.Err(fmt.Errorf("connecting to NATS: %w", err))
	}
	if nc.IsConnected() {
		return nc, nil
	}
	log.Warn("NATS is not reachable yet; waiting for it", "url", redact.URLList(o.URL))
	select {
	case <-w.up:
		// Even if the connection dropped again since, the reconnect loop
		// carries on from here like after any later loss.
		return nc, nil
	case <-w.down:
		return nil, red.Err(fmt.Errorf("connecting to NATS: %w", closedErr(nc)))
	case <-ctx.Done():
		nc.Close()
		if last := w.lastErr(); last != nil {
			return nil, red.Err(fmt.Errorf("connecting to NATS: gave up waiting (%w); last attempt: %w", ctx.Err(), last))
		}
		return nil, red.Err(fmt.Errorf("connecting to NATS: gave up waiting: %w", ctx.Err()))
	}
}

// closedErr says why nc closed before it ever connected.
func closedErr(nc *nats.Conn) error {
	if err := nc.LastError(); err != nil {
		return err
	}
	return nats.ErrConnectionClosed
}

// reconnectDelay is the wait before reconnect attempt n (counting passes over
// the server list from 1): exponential from reconnectBase up to reconnectMax,
// the upper half of it randomised so replicas do not reconnect in step.
func reconnectDelay(attempts int) time.Duration {
	return backoff.Policy{Base: reconnectBase, Max: reconnectMax}.Equal(attempts)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// connWaiter lets Connect wait for nats.go's callbacks: the first successful
// connection or the connection closing for good.
type connWaiter struct {
	up, down       chan struct{}
	upOnce, dnOnce sync.Once
	mu             sync.Mutex
	last           error
}

func newConnWaiter() *connWaiter {
	return &connWaiter{up: make(chan struct{}), down: make(chan struct{})}
}

func (w *connWaiter) connected() { w.upOnce.Do(func() { close(w.up) }) }
func (w *connWaiter) closed()    { w.dnOnce.Do(func() { close(w.down) }) }

func (w *connWaiter) attemptFailed(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.last = err
}

func (w *connWaiter) lastErr() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last
}
