package broker

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/natstest"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// Test secrets. They must never show in an error or a log record.
const (
	testPassword = "pw-7f3a9c1e"
	testToken    = "tok-5b2d8e4f"
)

// userInfoURL returns the server's URL with user-info added.
func userInfoURL(s *server.Server, userInfo string) string {
	return strings.Replace(s.ClientURL(), "nats://", "nats://"+userInfo+"@", 1)
}

// assertNoSecrets fails the test if a secret shows in err or in a log record.
func assertNoSecrets(tb testing.TB, err error, rec *logRecorder) {
	tb.Helper()
	for _, secret := range []string{testPassword, testToken} {
		if err != nil && strings.Contains(err.Error(), secret) {
			tb.Errorf("error contains a secret")
		}
		if rec != nil && strings.Contains(rec.String(), secret) {
			tb.Errorf("log contains a secret")
		}
	}
}

func TestConnectAuthenticates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		setup func(t *testing.T) (serverOpt func(*server.Options), client func(s *server.Server) ConnectOptions)
	}{
		{"user and password", func(t *testing.T) (func(*server.Options), func(*server.Server) ConnectOptions) {
			return func(o *server.Options) { o.Username, o.Password = "ingest", testPassword },
				func(s *server.Server) ConnectOptions {
					return ConnectOptions{URL: s.ClientURL(), User: "ingest", Password: testPassword}
				}
		}},
		{"user and password in URL", func(t *testing.T) (func(*server.Options), func(*server.Server) ConnectOptions) {
			return func(o *server.Options) { o.Username, o.Password = "ingest", testPassword },
				func(s *server.Server) ConnectOptions {
					return ConnectOptions{URL: userInfoURL(s, "ingest:"+testPassword)}
				}
		}},
		{"token", func(t *testing.T) (func(*server.Options), func(*server.Server) ConnectOptions) {
			return func(o *server.Options) { o.Authorization = testToken },
				func(s *server.Server) ConnectOptions { return ConnectOptions{URL: s.ClientURL(), Token: testToken} }
		}},
		{"token in URL", func(t *testing.T) (func(*server.Options), func(*server.Server) ConnectOptions) {
			return func(o *server.Options) { o.Authorization = testToken },
				func(s *server.Server) ConnectOptions { return ConnectOptions{URL: userInfoURL(s, testToken)} }
		}},
		{"nkey seed file", func(t *testing.T) (func(*server.Options), func(*server.Server) ConnectOptions) {
			pub, seedFile := nkeyUser(t)
			return func(o *server.Options) { o.Nkeys = []*server.NkeyUser{{Nkey: pub}} },
				func(s *server.Server) ConnectOptions {
					return ConnectOptions{URL: s.ClientURL(), NKeySeedFile: seedFile}
				}
		}},
		{"creds file", func(t *testing.T) (func(*server.Options), func(*server.Server) ConnectOptions) {
			opt, creds := operatorSetup(t)
			return opt, func(s *server.Server) ConnectOptions { return ConnectOptions{URL: s.ClientURL(), CredsFile: creds} }
		}},
		{"mutual TLS", func(t *testing.T) (func(*server.Options), func(*server.Server) ConnectOptions) {
			f := writeTLSFiles(t)
			cfg, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: f.ServerCert, KeyFile: f.ServerKey, CaFile: f.CA, Verify: true})
			if err != nil {
				t.Fatalf("server TLS config: %v", err)
			}
			return func(o *server.Options) { o.TLS, o.TLSVerify, o.TLSConfig, o.TLSTimeout = true, true, cfg, 2 },
				func(s *server.Server) ConnectOptions {
					return ConnectOptions{URL: s.ClientURL(), TLSCA: f.CA, TLSCert: f.ClientCert, TLSKey: f.ClientKey}
				}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			serverOpt, client := tt.setup(t)
			s := natstest.RunServer(t, serverOpt)
			rec, log := newLogRecorder()
			o := client(s)
			o.Name = "asset-ingest-consumer test-host"
			o.Logger = log

			nc, err := Connect(testContext(t), o)
			if err != nil {
				t.Fatalf("Connect: %v", err)
			}
			defer nc.Close()
			if !nc.IsConnected() {
				t.Fatal("Connect returned a connection that is not connected")
			}
			if err := nc.Flush(); err != nil {
				t.Fatalf("round trip to the server: %v", err)
			}
			connz, err := s.Connz(&server.ConnzOptions{})
			if err != nil {
				t.Fatalf("connz: %v", err)
			}
			if len(connz.Conns) != 1 || connz.Conns[0].Name != o.Name {
				t.Errorf("server sees connections %+v, want one named %q", connz.Conns, o.Name)
			}
			assertNoSecrets(t, nil, rec)
		})
	}
}

func TestConnectTLSWithoutClientCertificateFails(t *testing.T) {
	t.Parallel()
	f := writeTLSFiles(t)
	cfg, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: f.ServerCert, KeyFile: f.ServerKey, CaFile: f.CA, Verify: true})
	if err != nil {
		t.Fatalf("server TLS config: %v", err)
	}
	s := natstest.RunServer(t, func(o *server.Options) { o.TLS, o.TLSVerify, o.TLSConfig, o.TLSTimeout = true, true, cfg, 2 })
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	nc, err := Connect(ctx, ConnectOptions{URL: s.ClientURL(), TLSCA: f.CA})
	if err == nil {
		nc.Close()
		t.Fatal("Connect succeeded without the client certificate the server requires")
	}
}

func TestConnectRefusedCredentialsFailWithoutLeaking(t *testing.T) {
	t.Parallel()
	s := natstest.RunServer(t, func(o *server.Options) { o.Username, o.Password = "ingest", "the-right-one" })
	tests := []struct {
		name string
		o    ConnectOptions
	}{
		{"password in URL", ConnectOptions{URL: userInfoURL(s, "ingest:"+testPassword)}},
		{"password option", ConnectOptions{URL: s.ClientURL(), User: "ingest", Password: testPassword}},
		{"token in URL", ConnectOptions{URL: userInfoURL(s, testToken)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec, log := newLogRecorder()
			tt.o.Logger = log
			nc, err := Connect(testContext(t), tt.o)
			if err == nil {
				nc.Close()
				t.Fatal("Connect succeeded with wrong credentials")
			}
			if !errors.Is(err, nats.ErrAuthorization) {
				t.Errorf("error = %q, want one matching nats.ErrAuthorization", err)
			}
			assertNoSecrets(t, err, rec)
		})
	}
}

func TestConnectGivesUpWhenContextEnds(t *testing.T) {
	t.Parallel()
	port := freePort(t)
	rec, log := newLogRecorder()
	ctx, cancel := context.WithTimeout(t.Context(), 700*time.Millisecond)
	defer cancel()
	nc, err := Connect(ctx, ConnectOptions{
		URL:    "nats://ingest:" + testPassword + "@127.0.0.1:" + strconv.Itoa(port),
		Logger: log,
	})
	if err == nil {
		nc.Close()
		t.Fatal("Connect succeeded with no server")
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error = %q, want one matching context.DeadlineExceeded", err)
	}
	if got := rec.Find("not reachable yet"); len(got) != 1 || !strings.Contains(got[0].Attrs["url"], "[REDACTED]@127.0.0.1") {
		t.Errorf("waiting record = %+v, want one with the redacted URL", got)
	}
	if len(rec.Find("connecting to NATS failed; retrying")) == 0 {
		t.Errorf("no failed attempt was logged; log:\n%s", rec)
	}
	assertNoSecrets(t, err, rec)
}

func TestConnectWaitsForServerToStart(t *testing.T) {
	t.Parallel()
	port := freePort(t)
	rec, log := newLogRecorder()
	type result struct {
		nc  *nats.Conn
		err error
	}
	done := make(chan result, 1)
	go func() {
		nc, err := Connect(testContext(t), ConnectOptions{URL: "nats://127.0.0.1:" + strconv.Itoa(port), Logger: log})
		done <- result{nc, err}
	}()
	rec.WaitFor(t, "not reachable yet")
	natstest.RunServer(t, func(o *server.Options) { o.Port = port })
	res := <-done
	if res.err != nil {
		t.Fatalf("Connect: %v", res.err)
	}
	defer res.nc.Close()
	if !res.nc.IsConnected() {
		t.Error("Connect returned before the connection was up")
	}
	rec.WaitFor(t, "connected to NATS")
}

func TestConnectLogsDisconnectAndReconnect(t *testing.T) {
	t.Parallel()
	port := freePort(t)
	first := natstest.RunServer(t, func(o *server.Options) { o.Port = port })
	rec, log := newLogRecorder()
	nc, err := Connect(testContext(t), ConnectOptions{URL: first.ClientURL(), Logger: log})
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	defer nc.Close()

	first.Shutdown()
	first.WaitForShutdown()
	rec.WaitFor(t, "disconnected from NATS")
	natstest.RunServer(t, func(o *server.Options) { o.Port = port })
	got := rec.WaitFor(t, "reconnected to NATS")
	if got.Attrs["server"] != "127.0.0.1:"+strconv.Itoa(port) {
		t.Errorf("reconnect record names server %q, want 127.0.0.1:%d", got.Attrs["server"], port)
	}
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("finding a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
