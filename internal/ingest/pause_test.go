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

	"github.com/google/go-cmp/cmp"
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

// fakeTimers is a clock whose waits return at once, moving the clock on by what was asked;
// it records every wait.
type fakeTimers struct {
	mu    sync.Mutex
	now   time.Time
	waits []time.Duration
}

func (f *fakeTimers) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeTimers) After(d time.Duration) <-chan time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.waits = append(f.waits, d)
	f.now = f.now.Add(d)
	ch := make(chan time.Time, 1)
	ch <- f.now
	return ch
}

func (f *fakeTimers) recorded() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Duration(nil), f.waits...)
}

// runUntilResumed runs p until the test ends, and waits until a probe resumed it.
func runUntilResumed(tb testing.TB, p *Pauser) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = p.Run(ctx); close(done) }()
	tb.Cleanup(func() { cancel(); <-done })
	select {
	case <-p.Resumed():
	case <-time.After(10 * time.Second):
		tb.Fatal("not resumed after the probe passed")
	}
}

// countingProbe fails its first failures calls, then passes.
type countingProbe struct {
	failures int32
	calls    atomic.Int32
}

func (c *countingProbe) probe(context.Context) error {
	if c.calls.Add(1) <= c.failures {
		return errors.New("token refused")
	}
	return nil
}

// SPEC "Paused": while paused the replica probes with backoff, at most one probe per 5 seconds,
// and resumes by itself within 10 seconds of the cause going away: no gap between probes is
// longer than 8 seconds. SPEC "Readiness": a replica starts paused until a first probe, made at
// once, passes; until then its reason says why.
func TestProbeGapsWhilePaused(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		verifyFirst bool
		failures    int32
		wantWaits   []time.Duration
	}{
		{name: "paused by a failure", failures: 5,
			wantWaits: []time.Duration{5 * time.Second, 8 * time.Second, 8 * time.Second, 8 * time.Second, 8 * time.Second}},
		{name: "first probe at start passes", verifyFirst: true, wantWaits: nil},
		{name: "first probes at start fail", verifyFirst: true, failures: 3,
			wantWaits: []time.Duration{8 * time.Second, 8 * time.Second, 8 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clock := &fakeTimers{now: time.Unix(1000, 0)}
			probe := &countingProbe{failures: tt.failures}
			var mu sync.Mutex
			var reasons []string
			p := NewPauser(probe.probe, PauserOptions{VerifyFirst: tt.verifyFirst, Now: clock.Now, After: clock.After,
				OnChange: func(paused bool, reason string) {
					mu.Lock()
					defer mu.Unlock()
					if paused {
						reasons = append(reasons, reason)
					}
				}})
			if tt.verifyFirst {
				if paused, reason := p.State(); !paused || reason != notVerified {
					t.Fatalf("State() before Run = %v, %q; want paused until a first probe passes", paused, reason)
				}
			} else {
				p.Pause("Amplience probe failed")
				// The probe that paused the replica has just run.
				if err := p.Check(t.Context()); err == nil {
					t.Fatal("the probe passed at once")
				}
			}
			runUntilResumed(t, p)
			if diff := cmp.Diff(tt.wantWaits, clock.recorded()); diff != "" {
				t.Errorf("waits between probes (-want +got):\n%s", diff)
			}
			if tt.verifyFirst && tt.failures > 0 {
				mu.Lock()
				last := reasons[len(reasons)-1]
				mu.Unlock()
				if want := "no probe has passed yet: token refused"; last != want {
					t.Errorf("reason while unverified = %q, want %q", last, want)
				}
			}
		})
	}
}

// The verification at start passed before any failure: a failure within the minimum gap after
// it is probed once the gap allows, not judged by that verdict, which would make an outage
// that begins right after start look like the event's fault.
func TestFailureRightAfterTheVerificationIsProbed(t *testing.T) {
	t.Parallel()
	clock := &fakeTimers{now: time.Unix(1000, 0)}
	probe := &fakeProbe{}
	p := NewPauser(probe.probe, PauserOptions{VerifyFirst: true, Now: clock.Now, After: clock.After})
	runUntilResumed(t, p)

	probe.set(errors.New("API down"))
	err := p.Check(t.Context())

	if err == nil {
		t.Error("Check reused the verification's pass for a later failure")
	}
	if n := probe.calls.Load(); n != 2 {
		t.Errorf("%d probes, want the verification and one for the failure", n)
	}
	if diff := cmp.Diff([]time.Duration{5 * time.Second}, clock.recorded()); diff != "" {
		t.Errorf("waits (-want +got):\n%s", diff)
	}
	// A burst of failures right after shares that probe's verdict.
	if err := p.Check(t.Context()); err == nil || probe.calls.Load() != 2 {
		t.Errorf("Check = %v after %d probes; want the cached failure without another probe", err, probe.calls.Load())
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

// The pause every replica starts in, until its first probe passes, is timed from the start
// like any other.
func TestResumeAfterTheFirstProbeLogsHowLongItTook(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	var logs lockedLog
	probed := make(chan struct{})
	p := NewPauser(func(context.Context) error {
		<-probed
		mu.Lock()
		now = now.Add(2 * time.Second)
		mu.Unlock()
		return nil
	}, PauserOptions{VerifyFirst: true, Now: clock, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = p.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	close(probed)
	select {
	case <-p.Resumed():
	case <-time.After(5 * time.Second):
		t.Fatal("not resumed after the first probe passed")
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), "replica resumed") && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if want := `msg="replica resumed" paused_for=2s`; !strings.Contains(logs.String(), want) {
		t.Errorf("logs lack %q:\n%s", want, logs.String())
	}
}
