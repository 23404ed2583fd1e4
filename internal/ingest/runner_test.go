package ingest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// fakeConsumer hands each Fetch to the test as a fakeBatch and tracks what the runner holds:
// messages requested by pulls still out plus messages delivered and not yet handled.
type fakeConsumer struct {
	jetstream.Consumer
	pulls chan *fakeBatch

	mu      sync.Mutex
	held    int
	maxHeld int
}

func (f *fakeConsumer) Fetch(n int, _ ...jetstream.FetchOpt) (jetstream.MessageBatch, error) {
	f.change(n)
	b := &fakeBatch{c: f, n: n, msgs: make(chan jetstream.Msg, n)}
	f.pulls <- b
	return b, nil
}

func (f *fakeConsumer) change(d int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.held += d
	f.maxHeld = max(f.maxHeld, f.held)
}

// fakeBatch is one pull: the test delivers messages and ends it.
type fakeBatch struct {
	c    *fakeConsumer
	n    int
	sent int
	msgs chan jetstream.Msg
}

func (b *fakeBatch) Messages() <-chan jetstream.Msg { return b.msgs }
func (b *fakeBatch) Error() error                   { return nil }

// deliver sends one message of the pull.
func (b *fakeBatch) deliver(id string) {
	b.sent++
	b.msgs <- &fakeMsg{id: id}
}

// end ends the pull; what it did not deliver is no longer held.
func (b *fakeBatch) end() {
	b.c.change(-(b.n - b.sent))
	close(b.msgs)
}

type fakeMsg struct {
	jetstream.Msg
	id string
}

func (m *fakeMsg) InProgress() error { return nil }
func (m *fakeMsg) Nak() error        { return nil }

func TestRunnerPullsForAFreedSlotWhileAPullIsOut(t *testing.T) {
	t.Parallel()
	cons := &fakeConsumer{pulls: make(chan *fakeBatch, 8)}
	release := map[string]chan struct{}{"a": make(chan struct{}), "b": make(chan struct{})}
	handle := func(_ context.Context, msg jetstream.Msg) Outcome {
		<-release[msg.(*fakeMsg).id]
		cons.change(-1) // settled
		return OutcomeIngested
	}
	r := NewRunner(cons, handle, NewPauser((&fakeProbe{}).probe, PauserOptions{}),
		RunnerOptions{Concurrency: 2, AckWait: time.Minute, FetchWait: time.Minute})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()

	next := func() *fakeBatch {
		t.Helper()
		select {
		case b := <-cons.pulls:
			return b
		case <-time.After(5 * time.Second):
			t.Fatal("no pull within 5s")
			return nil
		}
	}
	first := next()
	if first.n != 2 {
		t.Fatalf("first pull asked for %d messages, want 2 (every free slot)", first.n)
	}
	// One message arrives and is handled while the first pull is still out: its slot must be
	// pulled for at once, not when the first pull ends.
	first.deliver("a")
	close(release["a"])
	second := next()
	if second.n != 1 {
		t.Fatalf("second pull asked for %d messages, want 1 (the freed slot)", second.n)
	}
	second.deliver("b")
	close(release["b"])
	third := next()
	first.end()
	second.end()
	third.end()
	cancel()
	// The fake ignores the pull's context: end whatever the runner pulled for the freed slots.
	deadline := time.After(5 * time.Second)
	for stopped := false; !stopped; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			stopped = true
		case b := <-cons.pulls:
			b.end()
		case <-deadline:
			t.Fatal("Run did not return after ctx ended")
		}
	}
	if cons.maxHeld > 2 {
		t.Errorf("the runner held up to %d messages (requested or in flight), want at most 2", cons.maxHeld)
	}
}

// On shutdown the workers let in-flight deliveries run for the drain timeout, then cancel
// them; Run returns once every handler has returned.
func TestRunnerCancelsInFlightDeliveriesAfterTheDrainTimeout(t *testing.T) {
	t.Parallel()
	cons := &fakeConsumer{pulls: make(chan *fakeBatch, 8)}
	started := make(chan string, 3)
	var mu sync.Mutex
	cancelled := map[string]bool{}
	handle := func(ctx context.Context, msg jetstream.Msg) Outcome {
		id := msg.(*fakeMsg).id
		started <- id
		<-ctx.Done() // a call that outlives the drain
		mu.Lock()
		cancelled[id] = true
		mu.Unlock()
		cons.change(-1)
		return OutcomeHandedBack
	}
	r := NewRunner(cons, handle, NewPauser((&fakeProbe{}).probe, PauserOptions{}),
		RunnerOptions{Concurrency: 3, AckWait: time.Minute, FetchWait: time.Minute, DrainTimeout: 200 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()

	var pull *fakeBatch
	select {
	case pull = <-cons.pulls:
	case <-time.After(5 * time.Second):
		t.Fatal("no pull within 5s")
	}
	for _, id := range []string{"a", "b", "c"} {
		pull.deliver(id)
	}
	for range 3 {
		select {
		case <-started:
		case <-time.After(5 * time.Second):
			t.Fatal("the handlers did not start within 5s")
		}
	}
	pull.end()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after the drain timeout")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(cancelled) != 3 {
		t.Errorf("handlers cancelled: %v, want a, b and c", cancelled)
	}
	if cons.maxHeld > 3 {
		t.Errorf("the runner held up to %d messages, want at most 3", cons.maxHeld)
	}
}
