package bench

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/service"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/telemetry"
)

// replica is one running service.
type replica struct {
	tb       testing.TB
	httpAddr string
	logs     *logBuffer
	stop     context.CancelFunc
	done     chan error
	once     sync.Once
}

// startService runs service.Run on the rig's configuration as production does (the tracing SDK
// installed with no exporter, metrics on, the configured log level) and waits until it pulls.
// It stops when the test ends, if not before.
func (r *rig) startService(name string) *replica {
	tb := r.tb
	tb.Helper()
	logs := &logBuffer{}
	log, err := telemetry.NewLogger(logs, r.cfg.LogLevel, r.cfg.LogFormat)
	if err != nil {
		tb.Fatalf("logger: %v", err)
	}
	tel, err := telemetry.Setup(context.Background(), telemetry.Options{
		Version: "bench", Lookup: func(string) (string, bool) { return "", false },
	})
	if err != nil {
		tb.Fatalf("telemetry: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("listening: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	rep := &replica{tb: tb, httpAddr: ln.Addr().String(), logs: logs, stop: cancel, done: make(chan error, 1)}
	ready := make(chan struct{})
	var readyOnce sync.Once
	go func() {
		rep.done <- service.Run(ctx, service.Options{
			Config: r.cfg, Version: "bench", Logger: log, Telemetry: tel, Listener: ln, Replica: name,
			Ready: func(string) { readyOnce.Do(func() { close(ready) }) },
		})
	}()
	tb.Cleanup(func() {
		rep.shutdown()
		_ = tel.Shutdown(context.Background())
	})
	select {
	case <-ready:
	case err := <-rep.done:
		rep.done <- err
		tb.Fatalf("service %s stopped before it was ready: %v\n%s", name, err, logs.String())
	case <-time.After(15 * time.Second):
		tb.Fatalf("service %s not ready within 15s:\n%s", name, logs.String())
	}
	return rep
}

// shutdown stops the service, waits for it, and prints what it logged (warnings and errors at
// the benchmarks' level), if anything.
func (rep *replica) shutdown() {
	rep.once.Do(func() {
		rep.stop()
		if err := <-rep.done; err != nil {
			rep.tb.Errorf("service stopped with an error: %v", err)
		}
		if s := rep.logs.String(); s != "" {
			rep.tb.Logf("the service logged %d lines, the first ones:\n%s", strings.Count(s, "\n"), head(s, 10))
		}
	})
}

func head(s string, lines int) string {
	parts := strings.SplitN(s, "\n", lines+1)
	return strings.Join(parts[:min(len(parts), lines)], "\n")
}

// logBuffer keeps what a service logged, up to 1 MiB.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() < 1<<20 {
		l.b.Write(p)
	}
	return len(p), nil
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
