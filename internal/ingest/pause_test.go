package ingest

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeProbe answers with err and counts its calls; block, when set, holds each call.
type fakeProbe struct {
	mu    sync.Mutex
	err   error
	calls atomic.Int32
	block chan struct{}
}

func (f *fakeProbe) probe(ctx context.Context) error {
	f.calls.Add(1)
	if f.block != nil {
		<-f.block
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

func (f *fakeProbe) set(err error) {
	f.mu.Lock()
	f.err = err
	f.mu.Unlock()
}

func TestSuspectsCountDistinctEventsInARow(t *testing.T) {
	t.Parallel()
	p := NewPauser((&fakeProbe{}).probe, PauserOptions{Suspects: 3})
	for _, key := range []string{"a", "a", "b"} {
		if p.Suspect(key) {
			t.Fatalf("Suspect(%q): two distinct events should not trigger a probe", key)
		}
	}
	if !p.Suspect("c") {
		t.Fatal("three distinct events in a row should trigger a probe")
	}
	p.Succeeded()
	if p.Suspect("d") {
		t.Error("a success should start the count again")
	}
}

func TestCheckProbesAtMostOncePerGap(t *testing.T) {
	t.Parallel()
	now := time.Unix(0, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	f := &fakeProbe{err: errors.New("token refused")}
	p := NewPauser(f.probe, PauserOptions{MinProbeGap: 5 * time.Second, Now: clock})
	for range 5 {
		if err := p.Check(context.Background()); err == nil {
			t.Fatal("Check passed while the probe fails")
		}
	}
	if n := f.calls.Load(); n != 1 {
		t.Errorf("%d probes within one gap, want 1", n)
	}
	mu.Lock()
	now = now.Add(5 * time.Second)
	mu.Unlock()
	f.set(nil)
	if err := p.Check(context.Background()); err != nil {
		t.Errorf("Check after the gap: %v, want the new probe's pass", err)
	}
	if n := f.calls.Load(); n != 2 {
		t.Errorf("%d probes, want 2", n)
	}
}

func TestCheckWaitsForTheProbeInFlight(t *testing.T) {
	t.Parallel()
	f := &fakeProbe{err: errors.New("down"), block: make(chan struct{})}
	p := NewPauser(f.probe, PauserOptions{})
	results := make(chan error, 3)
	for range 3 {
		go func() { results <- p.Check(context.Background()) }()
	}
	deadline := time.Now().Add(5 * time.Second)
	for f.calls.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	close(f.block)
	for range 3 {
		if err := <-results; err == nil {
			t.Error("a caller that arrived during a failing probe was told the system is fine")
		}
	}
	if n := f.calls.Load(); n != 1 {
		t.Errorf("%d probes for three concurrent checks, want 1", n)
	}
}

func TestPauseResumesWhenAProbePasses(t *testing.T) {
	t.Parallel()
	f := &fakeProbe{err: errors.New("down")}
	var changes []bool
	var mu sync.Mutex
	p := NewPauser(f.probe, PauserOptions{MinProbeGap: 5 * time.Millisecond, MaxProbeGap: 20 * time.Millisecond,
		OnChange: func(paused bool, _ string) { mu.Lock(); changes = append(changes, paused); mu.Unlock() }})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = p.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	p.Pause("Amplience probe failed")
	if paused, reason := p.State(); !paused || reason != "Amplience probe failed" {
		t.Fatalf("State() = %v, %q", paused, reason)
	}
	select {
	case <-p.Resumed():
		t.Fatal("Resumed() is closed while paused")
	default:
	}
	deadline := time.Now().Add(5 * time.Second)
	for f.calls.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	f.set(nil)
	select {
	case <-p.Resumed():
	case <-time.After(5 * time.Second):
		t.Fatal("not resumed after the probe passed")
	}
	// OnChange runs after Resumed() is closed: wait for it.
	deadline = time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := len(changes)
		mu.Unlock()
		if n >= 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(changes) != 2 || !changes[0] || changes[1] {
		t.Errorf("state changes %v, want [true false]", changes)
	}
}

func TestResumeLogsHowLongThePauseLasted(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	var logs lockedLog
	p := NewPauser(func(context.Context) error { return nil }, PauserOptions{
		MinProbeGap: time.Millisecond, MaxProbeGap: time.Millisecond, Now: clock,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	p.Pause("Amplience probe failed")
	mu.Lock()
	now = now.Add(90 * time.Second)
	mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = p.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	select {
	case <-p.Resumed():
	case <-time.After(5 * time.Second):
		t.Fatal("not resumed after the probe passed")
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), "replica resumed") && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if want := `msg="replica resumed" paused_for=1m30s reason="Amplience probe failed"`; !strings.Contains(logs.String(), want) {
		t.Errorf("logs lack %q:\n%s", want, logs.String())
	}
}

// lockedLog is a log destination safe for concurrent writes and reads.
type lockedLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
