package faulttest_test

import (
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/servicetest"
	"github.com/amplience-ingest/asset-ingest-consumer/test/testbin"
)

// binDir holds the consumer binary for this test run; TestMain removes it.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "faulttest-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "creating a directory for the consumer binary:", err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// buildConsumer builds ./cmd/consumer once per test run, on first use, and returns its path.
var buildConsumer = sync.OnceValues(func() (string, error) {
	return testbin.Build(binDir, "./cmd/consumer")
})

// child is one `consumer run` subprocess.
type child struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited and err is set
	err  error
}

func (c *child) hasExited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (c *child) kill() {
	_ = c.cmd.Process.Signal(syscall.SIGKILL)
	<-c.done
}

// startChild starts `consumer run` configured by the rig's variables (plus extra) through its
// environment only, and makes it the rig's current child. It is killed when the test ends.
func (r *rig) startChild(extra map[string]string) *child {
	r.t.Helper()
	bin, err := buildConsumer()
	if err != nil {
		r.t.Fatal(err)
	}
	env := map[string]string{
		"NATS_URL":                      r.Server.ClientURL(),
		"AMPLIENCE_CLIENT_ID":           servicetest.ClientID,
		"AMPLIENCE_CLIENT_SECRET":       servicetest.ClientSecret,
		"AMPLIENCE_ASSET_REPOSITORY_ID": servicetest.Repository,
		"AMPLIENCE_RATE_LIMIT":          "0",
		"AMPLIENCE_TIMEOUT":             "1s",
		"INGEST_ACK_WAIT":               "2s",
		"INGEST_BACKOFF_BASE":           "20ms",
		"INGEST_BACKOFF_MAX":            "200ms",
		"HTTP_ADDR":                     "127.0.0.1:0",
		"LOG_LEVEL":                     "warn",
		"OTEL_TRACES_EXPORTER":          "none",
	}
	// The whole suite runs with batching off too: AMPLIENCE_BATCH_SIZE=1 go test ./...
	if v, ok := os.LookupEnv("AMPLIENCE_BATCH_SIZE"); ok {
		env["AMPLIENCE_BATCH_SIZE"] = v
	}
	maps.Copy(env, r.env)
	maps.Copy(env, extra)
	r.childCount++
	fmt.Fprintf(r.childLogs, "--- consumer run #%d\n", r.childCount)
	cmd := exec.Command(bin, "run")
	// Only these variables: nothing from the test's environment (OTEL_*, NATS_*...) leaks in.
	cmd.Env = nil
	for _, k := range slices.Sorted(maps.Keys(env)) {
		cmd.Env = append(cmd.Env, k+"="+env[k])
	}
	cmd.Stdout, cmd.Stderr = r.childLogs, r.childLogs
	if err := cmd.Start(); err != nil {
		r.t.Fatalf("starting consumer run: %v", err)
	}
	c := &child{cmd: cmd, done: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	r.t.Cleanup(c.kill)
	r.child = c
	return c
}

// killChild SIGKILLs the current child; the test then starts another or settles without one.
func (r *rig) killChild() {
	r.child.kill()
	r.child = nil
}

// stopChild sends SIGTERM to the current child and fails the test unless it drains and exits 0
// within 10 seconds.
func (r *rig) stopChild() {
	r.t.Helper()
	c := r.child
	r.child = nil
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		c.kill()
		r.t.Fatalf("consumer run did not stop within 10s of SIGTERM; output:\n%s", r.childLogs.String())
	}
	if c.err != nil {
		r.t.Errorf("consumer run exited with %v after SIGTERM; output:\n%s", c.err, r.childLogs.String())
	}
}

// waitResources waits until a child has created the JetStream resources, so events can be
// published.
func (r *rig) waitResources() {
	r.t.Helper()
	r.waitFor(15*time.Second, "the JetStream resources", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		for _, s := range []string{"ASSET_RESULTS", "ASSETS_DLQ"} {
			if _, err := r.JS.Stream(ctx, s); err != nil {
				return false
			}
		}
		_, err := r.JS.Consumer(ctx, "ASSETS", "asset-ingest")
		return err == nil
	})
}
