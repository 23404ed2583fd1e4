package ratelimit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// logBuffer is a concurrency-safe log sink.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func TestDeletedBucketFailsWaitInsteadOfHanging(t *testing.T) {
	t.Parallel()
	url := startJetStream(t)
	js, kv := replica(t, url)
	var logs logBuffer
	l := New(kv, "amplience", tenPerSecond, Options{Logger: logs.logger(), UnavailableAfter: 300 * time.Millisecond})
	if err := l.Wait(t.Context()); err != nil {
		t.Fatalf("Wait before the failure: %v", err)
	}
	if err := js.DeleteKeyValue(t.Context(), testBucket); err != nil {
		t.Fatalf("deleting the bucket: %v", err)
	}

	start := time.Now()
	err := l.Wait(t.Context())
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Wait on a deleted bucket = %v, want ErrUnavailable", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("Wait took %v to fail, want about UnavailableAfter (300ms)", took)
	}
	if !strings.Contains(err.Error(), testBucket) {
		t.Errorf("error %q does not name the bucket", err)
	}

	start = time.Now()
	l.Report429(time.Second)
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("Report429 took %v on a deleted bucket, want about UnavailableAfter", took)
	}
	if !strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("lost 429 report not logged at error level; logs:\n%s", logs.String())
	}
	if st := l.Stats(); st.StoreErrors < 2 || st.Granted != 1 {
		t.Errorf("Stats = %+v, want >= 2 store errors and 1 grant", st)
	}
}

func TestCallersQueuedBehindAFailingBucketFailToo(t *testing.T) {
	t.Parallel()
	url := startJetStream(t)
	js, kv := replica(t, url)
	l := New(kv, "amplience", tenPerSecond, Options{UnavailableAfter: 250 * time.Millisecond})
	if err := js.DeleteKeyValue(t.Context(), testBucket); err != nil {
		t.Fatalf("deleting the bucket: %v", err)
	}
	// One after the other, 8 callers would take 8 x 250ms = 2s.
	start := time.Now()
	var dones []<-chan error
	for range 8 {
		dones = append(dones, waitAsync(t.Context(), l))
	}
	for _, done := range dones {
		if err := receive(t, done); !errors.Is(err, ErrUnavailable) {
			t.Errorf("Wait = %v, want ErrUnavailable", err)
		}
	}
	if took := time.Since(start); took > 1500*time.Millisecond {
		t.Errorf("8 queued callers took %v to fail, want about 2 x UnavailableAfter (500ms)", took)
	}
}

func TestWaitFailsAtOnceOnAnInvalidKey(t *testing.T) {
	t.Parallel()
	_, kv := replica(t, startJetStream(t))
	l := New(kv, "not a valid key", tenPerSecond, Options{})
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	if err := l.Wait(ctx); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Wait = %v, want ErrUnavailable before the test's 3s deadline", err)
	}
}

func TestWaitRepairsAnUndecodableEntry(t *testing.T) {
	t.Parallel()
	_, kv := replica(t, startJetStream(t))
	if _, err := kv.Put(t.Context(), "amplience", []byte("not json")); err != nil {
		t.Fatalf("writing garbage: %v", err)
	}
	var logs logBuffer
	clk := newFakeClock()
	l := New(kv, "amplience", tenPerSecond, Options{Clock: clk.Now, After: clk.After, Logger: logs.logger()})
	if err := l.Wait(t.Context()); err != nil {
		t.Fatalf("Wait: %v", err)
	}
	e, err := kv.Get(t.Context(), "amplience")
	if err != nil {
		t.Fatalf("reading the entry: %v", err)
	}
	var s state
	if err := json.Unmarshal(e.Value(), &s); err != nil {
		t.Fatalf("entry after Wait is not JSON: %v: %q", err, e.Value())
	}
	want := state{Next: clk.Now().Add(iv).UnixNano(), Interval: int64(iv)}
	if s != want {
		t.Errorf("entry = %+v, want %+v", s, want)
	}
	if !strings.Contains(logs.String(), "not valid JSON") {
		t.Errorf("repair not logged; logs:\n%s", logs.String())
	}
}

func TestDeletedKeyStartsAFreshSchedule(t *testing.T) {
	t.Parallel()
	_, kv := replica(t, startJetStream(t))
	clk := newFakeClock()
	t0 := clk.Now()
	l := New(kv, "amplience", tenPerSecond, Options{Clock: clk.Now, After: clk.After})
	l.Report429(time.Minute)
	if err := kv.Delete(t.Context(), "amplience"); err != nil {
		t.Fatalf("deleting the key: %v", err)
	}
	if got := runWait(t, clk, l); !got.Equal(t0) {
		t.Errorf("first grant after the key was deleted at t0%+v, want at once", got.Sub(t0))
	}
}

func TestReport429LogsTheLoweredRate(t *testing.T) {
	t.Parallel()
	_, kv := replica(t, startJetStream(t))
	for _, tc := range []struct {
		name string
		lim  Limit
		want string
	}{
		{"per second", tenPerSecond, "rate=5/s limit=10/s"},
		{"odd per minute", Limit{Requests: 45, Per: time.Minute}, "rate=22.5/m limit=45/m"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs logBuffer
			clk := newFakeClock()
			l := New(kv, "amplience-"+strings.ReplaceAll(tc.name, " ", "-"), tc.lim, Options{Clock: clk.Now, After: clk.After, Logger: logs.logger()})
			l.Report429(time.Second)
			if !strings.Contains(logs.String(), tc.want) {
				t.Errorf("429 log lacks %q:\n%s", tc.want, logs.String())
			}
		})
	}
}
