package soak_test

import (
	"context"
	"fmt"
	"maps"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/natstest"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/sandbox"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/servicetest"
	"github.com/amplience-ingest/asset-ingest-consumer/test/testbin"
)

// connect connects to the cluster, reconnecting forever, and returns a JetStream handle.
func connect(t *testing.T, c *natstest.Cluster) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(c.URLs(), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatalf("connecting to the cluster: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("JetStream: %v", err)
	}
	return nc, js
}

// startSandbox serves the sandbox over HTTP and returns it and its base URL.
func startSandbox(t *testing.T) (*sandbox.Server, string) {
	t.Helper()
	o := sandbox.DefaultOptions()
	o.ClientID, o.ClientSecret = servicetest.ClientID, servicetest.ClientSecret
	sb, err := sandbox.New(o)
	if err != nil {
		t.Fatalf("sandbox: %v", err)
	}
	hs := httptest.NewServer(sb.Handler())
	t.Cleanup(func() { sb.Close(); hs.Close() })
	return sb, hs.URL
}

// buildConsumer builds ./cmd/consumer into dir, with the race detector when race, and returns
// its path.
func buildConsumer(t *testing.T, dir string, race bool) string {
	t.Helper()
	var flags []string
	if race {
		flags = append(flags, "-race")
	}
	bin, err := testbin.Build(dir, "./cmd/consumer", flags...)
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// replica is one `consumer run` process in one of the replica slots.
type replica struct {
	slot   int
	cmd    *exec.Cmd
	done   chan struct{} // closed once the process exited and err is set
	err    error
	killed atomic.Bool // the test killed or stopped it
}

func (r *replica) exited() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// kill sends SIGKILL and waits until the process is gone.
func (r *replica) kill() {
	r.killed.Store(true)
	_ = r.cmd.Process.Signal(syscall.SIGKILL)
	<-r.done
}

// stop sends SIGTERM and waits up to timeout for the process to exit (then kills it); it returns
// what went wrong.
func (r *replica) stop(timeout time.Duration) error {
	r.killed.Store(true)
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.done:
		if r.err != nil {
			return fmt.Errorf("replica %d exited with %v after SIGTERM", r.slot, r.err)
		}
		return nil
	case <-time.After(timeout):
		r.kill()
		return fmt.Errorf("replica %d did not stop within %v of SIGTERM", r.slot, timeout)
	}
}

// replicaSet runs `consumer run` processes, their output appended to one log file per slot.
type replicaSet struct {
	t    *testing.T
	bin  string
	env  map[string]string
	logs string // directory
	runs int
	live []*replica // by slot; nil while the slot has no process
}

func (rs *replicaSet) start(slot int) {
	rs.t.Helper()
	rs.runs++
	log, err := os.OpenFile(filepath.Join(rs.logs, fmt.Sprintf("replica-%d.log", slot)), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		rs.t.Fatalf("opening the replica log: %v", err)
	}
	fmt.Fprintf(log, "--- consumer run #%d at %s\n", rs.runs, time.Now().UTC().Format(time.RFC3339Nano))
	cmd := exec.Command(rs.bin, "run")
	// Only these variables: nothing from the test's environment leaks in.
	for _, k := range slices.Sorted(maps.Keys(rs.env)) {
		cmd.Env = append(cmd.Env, k+"="+rs.env[k])
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		rs.t.Fatalf("starting consumer run: %v", err)
	}
	r := &replica{slot: slot, cmd: cmd, done: make(chan struct{})}
	go func() {
		r.err = cmd.Wait()
		_ = log.Close()
		close(r.done)
	}()
	rs.t.Cleanup(r.kill)
	rs.live[slot] = r
}

// waitResources waits until the replicas have created the JetStream resources.
func waitResources(t *testing.T, js jetstream.JetStream) {
	t.Helper()
	servicetest.WaitFor(t, 60*time.Second, "the JetStream resources", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		for _, s := range []string{"ASSET_RESULTS", "ASSETS_DLQ"} {
			if _, err := js.Stream(ctx, s); err != nil {
				return false
			}
		}
		_, err := js.Consumer(ctx, "ASSETS", "asset-ingest")
		return err == nil
	}, nil)
}
