package conformance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"
	"go.uber.org/goleak"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/config"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/natstest"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/servicetest"
	"github.com/amplience-ingest/asset-ingest-consumer/test/testbin"
)

// binary is the consumer command built once for the tests that run it as operators do.
var binary struct {
	once sync.Once
	dir  string
	path string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binary.dir != "" {
		_ = os.RemoveAll(binary.dir)
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutines left behind:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// consumerBinary builds cmd/consumer (once) and returns its path.
func consumerBinary(t *testing.T) string {
	t.Helper()
	binary.once.Do(func() {
		binary.dir, binary.err = os.MkdirTemp("", "conformance-consumer-")
		if binary.err != nil {
			return
		}
		binary.path, binary.err = testbin.Build(binary.dir, "./cmd/consumer")
	})
	if binary.err != nil {
		t.Fatalf("building the consumer: %v", binary.err)
	}
	return binary.path
}

// result is what a command did.
type result struct {
	code           int
	stdout, stderr string
}

// runConsumer runs the consumer with args and exactly the environment env, and waits at most
// timeout.
func runConsumer(t *testing.T, env map[string]string, timeout time.Duration, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, consumerBinary(t), args...)
	cmd.Env = environ(env)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	code := 0
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("running consumer %v: %v", args, err)
	}
	return result{code, stdout.String(), stderr.String()}
}

func environ(env map[string]string) []string {
	out := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir()}
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}

// secretFile writes content to a file and returns its path.
func secretFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(p, []byte(content+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// SPEC "Command line": `consumer run` refuses to start, listing every missing or bad setting,
// when its configuration is incomplete; exit code 2 for bad configuration; setting both
// AMPLIENCE_PAT and client credentials is an error; every secret can be given as a file with the
// _FILE suffix.
func TestSpec_Configuration_RunRefusesBadConfiguration(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "no-such-file")
	base := map[string]string{"NATS_URL": "nats://127.0.0.1:1", "AMPLIENCE_CLIENT_ID": "id", "AMPLIENCE_CLIENT_SECRET": "client-secret-value"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "<unset>" {
				delete(m, kv[i])
				continue
			}
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	rows := []struct {
		name  string
		env   map[string]string
		named []string // every one must appear in stderr
	}{
		{"every problem at once", map[string]string{"INGEST_CONCURRENCY": "many", "LOG_LEVEL": "loud", "AMPLIENCE_RATE_LIMIT": "fast", "INGEST_SOURCES": "akeneo"},
			[]string{"NATS_URL", "AMPLIENCE_CLIENT_ID", "AMPLIENCE_CLIENT_SECRET", "INGEST_CONCURRENCY", "LOG_LEVEL", "AMPLIENCE_RATE_LIMIT", "INGEST_SOURCES"}},
		{"PAT and client credentials", with("AMPLIENCE_PAT", "amp_pat_pat-secret-value"), []string{"AMPLIENCE_PAT", "AMPLIENCE_CLIENT_ID"}},
		{"MaxAckPending below the concurrency", with("INGEST_CONCURRENCY", "16", "INGEST_MAX_ACK_PENDING", "4"), []string{"INGEST_MAX_ACK_PENDING"}},
		{"timeout not below the ack wait", with("AMPLIENCE_TIMEOUT", "60s", "INGEST_ACK_WAIT", "60s"), []string{"AMPLIENCE_TIMEOUT", "INGEST_ACK_WAIT"}},
		{"timeout at two thirds of the ack wait", with("AMPLIENCE_TIMEOUT", "40s", "INGEST_ACK_WAIT", "60s"), []string{"AMPLIENCE_TIMEOUT", "INGEST_ACK_WAIT", "two thirds"}},
		{"plain http Amplience URLs off loopback", with("AMPLIENCE_API_URL", "http://api.example.com/graphql", "AMPLIENCE_AUTH_URL", "http://auth.example.com/oauth/token"),
			[]string{"AMPLIENCE_API_URL", "AMPLIENCE_AUTH_URL", "AMPLIENCE_ALLOW_HTTP"}},
		{"AMPLIENCE_CLIENT_SECRET_FILE unreadable", with("AMPLIENCE_CLIENT_SECRET", "<unset>", "AMPLIENCE_CLIENT_SECRET_FILE", missing), []string{"AMPLIENCE_CLIENT_SECRET_FILE"}},
		{"AMPLIENCE_PAT_FILE unreadable", with("AMPLIENCE_CLIENT_ID", "<unset>", "AMPLIENCE_CLIENT_SECRET", "<unset>", "AMPLIENCE_PAT_FILE", missing), []string{"AMPLIENCE_PAT_FILE"}},
		{"NATS_PASSWORD_FILE unreadable", with("NATS_USER", "u", "NATS_PASSWORD_FILE", missing), []string{"NATS_PASSWORD_FILE"}},
		{"NATS_TOKEN_FILE unreadable", with("NATS_TOKEN_FILE", missing), []string{"NATS_TOKEN_FILE"}},
		{"secret and its file both set", with("AMPLIENCE_CLIENT_SECRET_FILE", secretFile(t, "file-secret-value")), []string{"AMPLIENCE_CLIENT_SECRET_FILE"}},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			t.Parallel()
			res := runConsumer(t, r.env, 20*time.Second, "run")
			if res.code != 2 {
				t.Fatalf("exit code %d, want 2\nstderr:\n%s", res.code, res.stderr)
			}
			for _, n := range r.named {
				if !strings.Contains(res.stderr, n) {
					t.Errorf("stderr does not name %s:\n%s", n, res.stderr)
				}
			}
			for _, secret := range []string{"client-secret-value", "pat-secret-value", "file-secret-value"} {
				if strings.Contains(res.stderr+res.stdout, secret) {
					t.Errorf("output shows a secret (%s):\n%s", secret, res.stderr)
				}
			}
		})
	}
}

// SPEC "Configuration": every secret (AMPLIENCE_CLIENT_SECRET, AMPLIENCE_PAT, NATS_PASSWORD,
// NATS_TOKEN) can also be given as a file with the _FILE suffix.
func TestSpec_Configuration_SecretsFromFiles(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		get  func(config.Config) string
	}{
		{"AMPLIENCE_CLIENT_SECRET", func(c config.Config) string { return c.Amplience.ClientSecret }},
		{"AMPLIENCE_PAT", func(c config.Config) string { return c.Amplience.PAT }},
		{"NATS_PASSWORD", func(c config.Config) string { return c.NATS.Password }},
		{"NATS_TOKEN", func(c config.Config) string { return c.NATS.Token }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := config.Load[config.Config](t.Context(), envconfig.MapLookuper(map[string]string{tc.name + "_FILE": secretFile(t, "from-a-file")}), nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := tc.get(cfg); got != "from-a-file" {
				t.Errorf("%s = %q, want the file's content", tc.name, got)
			}
		})
	}
}

// freeAddr returns a local address nobody listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// SPEC "Command line": `consumer run` is the service; `consumer healthcheck` exits 0 when the
// local service's /healthz answers, 1 when it does not, 2 on bad usage; `run` exits 0 when
// stopped by a signal. The secret given as AMPLIENCE_CLIENT_SECRET_FILE is the one used; no
// secret, NATS_URL user-info, OTLP header or src query string appears in the output.
func TestSpec_CommandLine_RunAndHealthcheck(t *testing.T) {
	t.Parallel()
	e := servicetest.Start(t, servicetest.Options{NoService: true})
	httpAddr := freeAddr(t)
	natsURL := strings.Replace(e.Server.ClientURL(), "nats://", "nats://operator:nats-password-value@", 1)
	env := map[string]string{
		"NATS_URL": natsURL, "AMPLIENCE_API_URL": e.SandboxURL + "/graphql", "AMPLIENCE_AUTH_URL": e.SandboxURL + "/oauth/token",
		"AMPLIENCE_CLIENT_ID": servicetest.ClientID, "AMPLIENCE_CLIENT_SECRET_FILE": secretFile(t, servicetest.ClientSecret),
		"AMPLIENCE_ASSET_REPOSITORY_ID": servicetest.Repository, "AMPLIENCE_RATE_LIMIT": "0", "AMPLIENCE_TIMEOUT": "2s",
		"INGEST_ACK_WAIT": "5s", "HTTP_ADDR": httpAddr, "LOG_LEVEL": "debug",
		"OTEL_EXPORTER_OTLP_HEADERS": "authorization=Bearer otlp-header-secret", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://" + freeAddr(t),
		"OTEL_BSP_SCHEDULE_DELAY": "100",
	}
	cmd := exec.Command(consumerBinary(t), "run")
	cmd.Env = environ(env)
	var out servicetest.SyncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	servicetest.WaitFor(t, wait, "consumer run to answer /readyz", func() bool {
		return runConsumer(t, map[string]string{"HTTP_ADDR": httpAddr}, 5*time.Second, "healthcheck").code == 0 &&
			strings.Contains(out.String(), "service started")
	}, &out)

	e.Publish(servicetest.NewEvent("from-the-binary").Msg())
	servicetest.WaitFor(t, wait, "the event ingested by consumer run (the secret file was read)", func() bool {
		return len(e.Subjects(resultsStream, "assets.ingested.")) == 1
	}, &out)

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("consumer run after SIGTERM: %v, want exit 0\n%s", err, out.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("consumer run did not stop within 20s of SIGTERM")
	}
	if res := runConsumer(t, map[string]string{"HTTP_ADDR": httpAddr}, 5*time.Second, "healthcheck"); res.code != 1 {
		t.Errorf("healthcheck with nothing listening: exit %d, want 1", res.code)
	}
	if res := runConsumer(t, map[string]string{"HTTP_ADDR": "no-port"}, 5*time.Second, "healthcheck"); res.code != 2 {
		t.Errorf("healthcheck with a bad HTTP_ADDR: exit %d, want 2", res.code)
	}
	for _, secret := range []string{servicetest.ClientSecret, "nats-password-value", "otlp-header-secret", "secret-signature"} {
		if strings.Contains(out.String(), secret) {
			t.Errorf("consumer run printed %q", secret)
		}
	}
}

// SPEC "NATS resources": with INGEST_CREATE_RESOURCES=false, a missing resource makes run exit 2.
func TestSpec_NATSResources_MissingResourceExits2(t *testing.T) {
	t.Parallel()
	s := natstest.RunServer(t)
	res := runConsumer(t, map[string]string{
		"NATS_URL": s.ClientURL(), "AMPLIENCE_CLIENT_ID": "id", "AMPLIENCE_CLIENT_SECRET": "client-secret-value",
		"INGEST_CREATE_RESOURCES": "false", "HTTP_ADDR": freeAddr(t),
	}, 30*time.Second, "run")
	if res.code != 2 || !strings.Contains(res.stderr, "ASSETS") {
		t.Errorf("exit %d, want 2 naming the missing stream:\n%s", res.code, res.stderr)
	}
}

// SPEC "HTTP": /healthz says the process is alive and /readyz whether it is connected. While
// NATS is out of reach, `consumer healthcheck` (liveness) exits 0 and `consumer healthcheck
// --ready` (readiness) exits 1 saying what the service waits for.
func TestSpec_HTTP_AliveButNotReadyWhileNATSIsUnreachable(t *testing.T) {
	t.Parallel()
	httpAddr := freeAddr(t)
	cmd := exec.Command(consumerBinary(t), "run")
	cmd.Env = environ(map[string]string{
		"NATS_URL": "nats://" + freeAddr(t), "AMPLIENCE_API_URL": "http://127.0.0.1:1/graphql",
		"AMPLIENCE_AUTH_URL": "http://127.0.0.1:1/oauth/token", "AMPLIENCE_CLIENT_ID": "id",
		"AMPLIENCE_CLIENT_SECRET": "client-secret-value", "HTTP_ADDR": httpAddr,
	})
	var out servicetest.SyncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	check := map[string]string{"HTTP_ADDR": httpAddr}
	servicetest.WaitFor(t, wait, "`consumer healthcheck` to pass while NATS is unreachable", func() bool {
		return runConsumer(t, check, 5*time.Second, "healthcheck").code == 0
	}, &out)
	res := runConsumer(t, check, 5*time.Second, "healthcheck", "--ready")
	if res.code != 1 || !strings.Contains(res.stderr, "connecting to NATS") {
		t.Errorf("healthcheck --ready while NATS is unreachable: exit %d, stderr %q; want 1 naming the reason", res.code, res.stderr)
	}
}
