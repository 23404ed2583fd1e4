package broker

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testTimeout bounds every call to NATS in these tests.
const testTimeout = 10 * time.Second

// testContext returns a context that ends with the test or after testTimeout.
func testContext(tb testing.TB) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	tb.Cleanup(cancel)
	return ctx
}

// loggedRecord is one record a logRecorder saw, attributes as text.
type loggedRecord struct {
	Level slog.Level
	Msg   string
	Attrs map[string]string
}

// logRecorder is a slog.Handler that keeps every record for assertions.
type logRecorder struct {
	mu      sync.Mutex
	records []loggedRecord
	changed chan struct{} // closed and replaced on every record
}

// newLogRecorder returns a recorder and a logger writing to it.
func newLogRecorder() (*logRecorder, *slog.Logger) {
	r := &logRecorder{changed: make(chan struct{})}
	return r, slog.New(r)
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *logRecorder) WithGroup(string) slog.Handler            { return r }

func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	lr := loggedRecord{Level: rec.Level, Msg: rec.Message, Attrs: map[string]string{}}
	rec.Attrs(func(a slog.Attr) bool {
		lr.Attrs[a.Key] = a.Value.Resolve().String()
		return true
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	r.records = append(r.records, lr)
	close(r.changed)
	r.changed = make(chan struct{})
	return nil
}

// Records returns a copy of what was logged so far.
func (r *logRecorder) Records() []loggedRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]loggedRecord(nil), r.records...)
}

// Find returns the records whose message contains msg.
func (r *logRecorder) Find(msg string) []loggedRecord {
	var out []loggedRecord
	for _, rec := range r.Records() {
		if strings.Contains(rec.Msg, msg) {
			out = append(out, rec)
		}
	}
	return out
}

// WaitFor waits until a record whose message contains msg was logged, failing
// the test after testTimeout.
func (r *logRecorder) WaitFor(tb testing.TB, msg string) loggedRecord {
	tb.Helper()
	deadline := time.NewTimer(testTimeout)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		changed := r.changed
		r.mu.Unlock()
		if found := r.Find(msg); len(found) > 0 {
			return found[0]
		}
		select {
		case <-changed:
		case <-deadline.C:
			tb.Fatalf("no log record %q within %v; got %v", msg, testTimeout, r.Records())
		}
	}
}

// String renders all records, for failure messages.
func (r *logRecorder) String() string {
	var b strings.Builder
	for _, rec := range r.Records() {
		fmt.Fprintf(&b, "%s %s %v\n", rec.Level, rec.Msg, rec.Attrs)
	}
	return b.String()
}
