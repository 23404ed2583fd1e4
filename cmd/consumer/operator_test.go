package main

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/servicetest"
)

// waitFor polls until buf contains want, failing after a deadline.
func waitFor(tb testing.TB, buf *servicetest.SyncBuffer, want string) {
	tb.Helper()
	waitUntil(tb, func() bool { return strings.Contains(buf.String(), want) })
}

// waitUntil polls cond until it holds, failing after a deadline.
func waitUntil(tb testing.TB, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatal("condition not met before the deadline")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// deadURL is a NATS URL nothing listens on.
func deadURL(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "nats://" + addr
}

func envMap(m map[string]string) lookupEnv {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// TestOperatorCommandsRefuseBadInputBeforeConnecting: flags and NATS_URL are
// checked before any connection is tried (NATS_URL points nowhere, so a
// command that connected first would wait instead of exiting 2 at once).
func TestOperatorCommandsRefuseBadInputBeforeConnecting(t *testing.T) {
	t.Parallel()
	dead := deadURL(t)
	for _, tc := range []struct {
		name string
		args []string
		url  string
		want string
	}{
		{"missing body file", []string{"publish", "--body-file", "/nope/missing.json"}, dead, "--body-file: open /nope/missing.json"},
		{"http NATS_URL", []string{"publish"}, "http://127.0.0.1:4222", `scheme "http" is not one of nats, tls, ws or wss`},
		{"NATS_URL without colon", []string{"dlq", "list"}, "nats//127.0.0.1:4222", "it has a path or query after the host"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			start := time.Now()
			err := run(context.Background(), tc.args, envMap(map[string]string{"NATS_URL": tc.url}), &stdout, &stderr)
			if code := exitCode(err, &stderr); code != 2 {
				t.Errorf("exit code %d, want 2; stderr:\n%s", code, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("stderr lacks %q:\n%s", tc.want, stderr.String())
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %s: it waited for NATS before checking its input", d)
			}
		})
	}
}

// TestPublishGivesUpOnUnreachableNATS: publish logs while it waits and gives
// up with the dlq tools' message, once.
func TestPublishGivesUpOnUnreachableNATS(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("waits for the connect limit")
	}
	var stdout bytes.Buffer
	var stderr servicetest.SyncBuffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*dlqConnectTimeout)
	defer cancel()
	err := run(ctx, []string{"publish"}, envMap(map[string]string{"NATS_URL": deadURL(t)}), &stdout, &stderr)
	if code := exitCode(err, &stderr); code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	if ctx.Err() != nil {
		t.Fatal("publish did not give up before the test's deadline")
	}
	out := stderr.String()
	for _, want := range []string{"NATS is not reachable yet; waiting for it", "is unreachable or refused the connection (waited up to 10s)"} {
		if !strings.Contains(out, want) {
			t.Errorf("stderr lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "connecting to NATS:"); n > 1 {
		t.Errorf("%q appears %d times:\n%s", "connecting to NATS:", n, out)
	}
}

// TestRunStoppedWhileWaitingForNATSExitsZero: a stop (SIGTERM) before NATS
// was reachable is a normal stop: exit 0, no ERROR record.
func TestRunStoppedWhileWaitingForNATSExitsZero(t *testing.T) {
	t.Parallel()
	env := envMap(map[string]string{
		"NATS_URL": deadURL(t), "AMPLIENCE_CLIENT_ID": "id", "AMPLIENCE_CLIENT_SECRET": "secret",
		"HTTP_ADDR": "127.0.0.1:0", "LOG_FORMAT": "text", "OTEL_SDK_DISABLED": "true",
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout bytes.Buffer
	var stderr servicetest.SyncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"run"}, env, &stdout, &stderr) }()
	waitFor(t, &stderr, "NATS is not reachable yet")
	cancel()
	err := <-done
	var exit bytes.Buffer
	if code := exitCode(err, &exit); code != 0 {
		t.Errorf("exit code %d (%s), want 0", code, exit.String())
	}
	if out := stderr.String(); strings.Contains(out, "level=ERROR") || strings.Contains(out, "context canceled") {
		t.Errorf("a normal stop reads as a failure:\n%s", out)
	}
}

func TestNumberedNames(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ prefix, want string }{
		{"rej", "rej-000003"},
		{"rej-", "rej-000003"},
	} {
		if got := numbered(tc.prefix, 3); got != tc.want {
			t.Errorf("numbered(%q, 3) = %q, want %q", tc.prefix, got, tc.want)
		}
	}
}

// TestDLQBadInputExitsTwo: a typo in a selection is refused with exit 2 and
// the valid values, not answered with an empty listing.
func TestDLQBadInputExitsTwo(t *testing.T) {
	t.Parallel()
	getenv, _ := dlqServer(t)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown class", []string{"dlq", "list", "--class", "invalid_evnt"}, "use invalid_event, rejected, exhausted"},
		{"malformed time", []string{"dlq", "replay", "--since", "yesterday", "--dry-run"}, `--since: bad usage: "yesterday" is neither an RFC 3339 time`},
		{"subject of no source", []string{"dlq", "purge", "--subject", "assets.published.akeneoo", "--yes"}, "the dead letters in ASSETS_DLQ are on assets.dlq.akeneo 2"},
		{"export without a directory", []string{"dlq", "export"}, "give the directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), tc.args, getenv, &stdout, &stderr)
			if code := exitCode(err, &stderr); code != 2 {
				t.Errorf("exit code %d, want 2; stdout:\n%s", code, stdout.String())
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("stderr lacks %q:\n%s", tc.want, stderr.String())
			}
		})
	}
}

func TestDLQExportAndErrorFilter(t *testing.T) {
	t.Parallel()
	getenv, _ := dlqServer(t)
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"dlq", "export", dir, "--error", "BAD", "--class", "invalid_event"}, getenv, &stdout, &stderr)
	if code := exitCode(err, &stderr); code != 0 {
		t.Fatalf("exit code %d; stderr:\n%s", code, stderr.String())
	}
	if want := "2: 2.body (11 bytes), 2.json\nexported 1 dead letters from ASSETS_DLQ to " + dir + " (nothing was deleted)\n"; stdout.String() != want {
		t.Errorf("stdout = %q, want %q", stdout.String(), want)
	}
}
