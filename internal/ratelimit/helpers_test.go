package ratelimit

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const testBucket = "ratelimit_test"

// startJetStream runs an embedded JetStream server on a random port with a
// temporary store and returns its client URL.
func startJetStream(tb testing.TB) string {
	tb.Helper()
	srv, err := server.NewServer(&server.Options{
		Host:      "127.0.0.1",
		Port:      -1,
		JetStream: true,
		StoreDir:  tb.TempDir(),
		NoLog:     true,
		NoSigs:    true,
	})
	if err != nil {
		tb.Fatalf("creating NATS server: %v", err)
	}
	srv.Start()
	tb.Cleanup(func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	})
	if !srv.ReadyForConnections(10 * time.Second) {
		tb.Fatal("NATS server not ready within 10s")
	}
	return srv.ClientURL()
}

// replica connects to url as one replica would (its own connection) and
// returns the JetStream handle and the test bucket, created if missing.
func replica(tb testing.TB, url string) (jetstream.JetStream, jetstream.KeyValue) {
	tb.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		tb.Fatalf("connecting to NATS: %v", err)
	}
	tb.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatalf("creating JetStream handle: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: testBucket, History: 1})
	if err != nil {
		tb.Fatalf("creating bucket: %v", err)
	}
	return js, kv
}

// fakeClock is a manual clock: time moves only in Advance, and After
// channels fire when it passes their deadline.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []fakeTimer
}

type fakeTimer struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.timers = append(c.timers, fakeTimer{at: c.now.Add(d), ch: ch})
	return ch
}

// AdvanceTo moves the clock to t and fires the timers due by then.
func (c *fakeClock) AdvanceTo(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.After(c.now) {
		c.now = t
	}
	c.timers = slices.DeleteFunc(c.timers, func(tm fakeTimer) bool {
		if tm.at.After(c.now) {
			return false
		}
		tm.ch <- c.now
		return true
	})
}

// pending returns the deadlines of the timers not yet fired, in order.
func (c *fakeClock) pending() []time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	var at []time.Time
	for _, tm := range c.timers {
		at = append(at, tm.at)
	}
	slices.SortFunc(at, time.Time.Compare)
	return at
}

// awaitTimers polls until exactly n timers are pending and returns their
// deadlines.
func (c *fakeClock) awaitTimers(tb testing.TB, n int) []time.Time {
	tb.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		at := c.pending()
		if len(at) == n {
			return at
		}
		if time.Now().After(deadline) {
			tb.Fatalf("want %d pending timers, have %d: %v", n, len(at), at)
		}
		time.Sleep(time.Millisecond)
	}
}

// waitAsync runs l.Wait(ctx) in a goroutine and returns the channel its
// result arrives on. The test must receive from it.
func waitAsync(ctx context.Context, l *Limiter) <-chan error {
	done := make(chan error, 1)
	go func() { done <- l.Wait(ctx) }()
	return done
}

// receive returns the result of a waitAsync within 5s, failing otherwise.
func receive(tb testing.TB, done <-chan error) error {
	tb.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(5 * time.Second):
		tb.Fatal("Wait did not return within 5s")
		return nil
	}
}

// notReturned fails if done already holds a result.
func notReturned(tb testing.TB, done <-chan error) {
	tb.Helper()
	select {
	case err := <-done:
		tb.Fatalf("Wait returned early: %v", err)
	default:
	}
}
