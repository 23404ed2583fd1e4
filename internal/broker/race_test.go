package broker

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/natstest"
	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"
)

// racingJS wraps a real JetStream handle and reports chosen resources as
// missing for a number of lookups, as a replica sees them when another
// replica creates them at the same moment (or when a cluster has not yet
// made a new resource visible everywhere).
type racingJS struct {
	jetstream.JetStream
	mu   sync.Mutex
	hide map[string]int // "stream:NAME", "bucket:NAME", "consumer:NAME" -> lookups left to hide
}

func (r *racingJS) hidden(key string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.hide[key] > 0 {
		r.hide[key]--
		return true
	}
	return false
}

func (r *racingJS) Stream(ctx context.Context, name string) (jetstream.Stream, error) {
	if r.hidden("stream:" + name) {
		return nil, jetstream.ErrStreamNotFound
	}
	s, err := r.JetStream.Stream(ctx, name)
	if err != nil {
		return nil, err
	}
	return &racingStream{Stream: s, js: r}, nil
}

func (r *racingJS) KeyValue(ctx context.Context, bucket string) (jetstream.KeyValue, error) {
	if r.hidden("bucket:" + bucket) {
		return nil, jetstream.ErrBucketNotFound
	}
	return r.JetStream.KeyValue(ctx, bucket)
}

// racingStream hides consumers the way racingJS hides streams.
type racingStream struct {
	jetstream.Stream
	js *racingJS
}

func (s *racingStream) Consumer(ctx context.Context, name string) (jetstream.Consumer, error) {
	if s.js.hidden("consumer:" + name) {
		return nil, jetstream.ErrConsumerNotFound
	}
	return s.Stream.Consumer(ctx, name)
}

// sleepRecorder is a sleep function that returns at once and records delays.
type sleepRecorder struct {
	mu     sync.Mutex
	delays []time.Duration
}

func (s *sleepRecorder) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delays = append(s.delays, d)
	return ctx.Err()
}

func TestEnsureRacesAnotherReplica(t *testing.T) {
	t.Parallel()
	_, js := natstest.Connect(t, natstest.RunServer(t))

	// The other replica runs with a shorter AckWait, so its results and
	// dead-letter streams and its consumer differ from ours, and an operator
	// made the ledger with a shorter TTL.
	other := testResources()
	other.AckWait = 30 * time.Second
	if _, err := Ensure(testContext(t), js, other, nil); err != nil {
		t.Fatalf("other replica's Ensure: %v", err)
	}
	if err := js.DeleteKeyValue(testContext(t), other.LedgerBucket); err != nil {
		t.Fatalf("deleting the ledger: %v", err)
	}
	if _, err := js.CreateKeyValue(testContext(t), jetstream.KeyValueConfig{Bucket: other.LedgerBucket, TTL: time.Hour}); err != nil {
		t.Fatalf("creating the operator's ledger: %v", err)
	}
	resultsBefore := fetchStream(t, js, "ASSET_RESULTS")

	// Our replica looked everything up before the other created it; the
	// results stream stays invisible for one more lookup after "already in
	// use", as in a cluster.
	racing := &racingJS{JetStream: js, hide: map[string]int{
		"stream:ASSET_RESULTS":       2,
		"stream:ASSETS_DLQ":          1,
		"bucket:asset_ingest_ledger": 1,
		"consumer:asset-ingest":      1,
		"stream:ASSETS_ADVISORIES":   1,
		"stream:ASSETS":              1,
	}}
	sleeps := &sleepRecorder{}
	rec, log := newLogRecorder()
	e := &ensurer{js: racing, create: true, log: log, sleep: sleeps.sleep}
	b, err := e.ensure(testContext(t), testResources())
	if err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	if b.Results == nil || b.DLQ == nil || b.Ledger == nil || b.Consumer == nil {
		t.Fatalf("Ensure returned an incomplete Bound: %+v", b)
	}
	if diff := cmp.Diff([]time.Duration{notFoundDelay}, sleeps.delays); diff != "" {
		t.Errorf("retry delays (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(resultsBefore, fetchStream(t, js, "ASSET_RESULTS")); diff != "" {
		t.Errorf("results stream changed (-before +after):\n%s", diff)
	}
	if got := fetchConsumer(t, js, "ASSETS", "asset-ingest").AckWait; got != 90*time.Second {
		t.Errorf("consumer AckWait = %v, want it updated to 1m30s", got)
	}
	warned := map[string]bool{}
	for _, w := range rec.Find("differs from what the service would create") {
		warned[w.Attrs["stream"]+w.Attrs["bucket"]+" "+w.Attrs["setting"]] = true
	}
	for _, want := range []string{"ASSET_RESULTS duplicate_window", "ASSETS_DLQ duplicate_window", "asset_ingest_ledger ttl"} {
		if !warned[want] {
			t.Errorf("no warning about %s; log:\n%s", want, rec)
		}
	}
}

func TestRetryNotFoundIsBounded(t *testing.T) {
	t.Parallel()
	sleeps := &sleepRecorder{}
	e := &ensurer{sleep: sleeps.sleep}
	calls := 0
	_, err := retryNotFound(context.Background(), e, jetstream.ErrStreamNotFound, func() (int, error) {
		calls++
		return 0, jetstream.ErrStreamNotFound
	})
	if !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Errorf("error = %v, want ErrStreamNotFound", err)
	}
	if calls != notFoundAttempts {
		t.Errorf("calls = %d, want %d", calls, notFoundAttempts)
	}
	want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond, 1600 * time.Millisecond}
	if diff := cmp.Diff(want, sleeps.delays); diff != "" {
		t.Errorf("delays (-want +got):\n%s", diff)
	}
}

func TestRetryNotFoundStopsOnOtherErrors(t *testing.T) {
	t.Parallel()
	e := &ensurer{sleep: (&sleepRecorder{}).sleep}
	boom := errors.New("boom")
	calls := 0
	_, err := retryNotFound(context.Background(), e, jetstream.ErrStreamNotFound, func() (int, error) {
		calls++
		return 0, boom
	})
	if !errors.Is(err, boom) || calls != 1 {
		t.Errorf("retryNotFound = %v after %d calls, want boom after 1", err, calls)
	}
}
