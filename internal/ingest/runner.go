package ingest

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/backoff"
)

// maxPulls bounds the pull requests a runner has out at once. Overlapping pulls keep slots
// from idling while one pull makes its round trip; the bound keeps a replica well within the
// consumer's MaxWaiting (512 by default) whatever its concurrency.
const maxPulls = 4

// Handler handles one delivery and settles it (ack, nak or term); [Pipeline.Handle] is one.
type Handler func(ctx context.Context, msg jetstream.Msg) Outcome

// RunnerOptions configure a [Runner]; zero values take the defaults in brackets.
type RunnerOptions struct {
	Concurrency  int           // deliveries in flight at once (required)
	AckWait      time.Duration // the consumer's AckWait; InProgress is sent every third of it (required)
	FetchWait    time.Duration // how long one pull waits for messages (5s)
	DrainTimeout time.Duration // how long in-flight deliveries may finish after shutdown begins (AckWait/2)
	Logger       *slog.Logger
	Metrics      *Metrics
	// OnBound, when set, is called with true once the first pull succeeded and with false when
	// pulls fail, for readiness.
	OnBound func(bound bool, reason string)
}

// Runner pulls deliveries from the durable consumer, never more than it has free slots, and
// hands each to one of its workers (one per slot, living as long as the runner, so that a
// delivery does not pay for a new handler goroutine and its stack growth), sending InProgress
// while the handler runs. While the pauser says paused, it pulls nothing.
type Runner struct {
	cons   jetstream.Consumer
	handle Handler
	pause  *Pauser
	o      RunnerOptions
}

// NewRunner returns a runner over cons.
func NewRunner(cons jetstream.Consumer, handle Handler, pause *Pauser, o RunnerOptions) *Runner {
	if o.FetchWait <= 0 {
		o.FetchWait = 5 * time.Second
	}
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = o.AckWait / 2
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Runner{cons: cons, handle: handle, pause: pause, o: o}
}

// Run pulls and handles deliveries until ctx ends. Then it stops pulling, hands back what was
// pulled but not started, lets in-flight deliveries finish within the drain timeout (after
// which their work is cancelled and they hand themselves back), and returns once every
// goroutine it started has returned.
//
// Each pull asks for exactly the slots that were free when it was sent, and a pull does not
// wait for the previous one to end: a slot that frees while a pull is still out is pulled for
// at once, by up to maxPulls pulls at a time (beyond that, freed slots gather for the next
// one). The slots of every outstanding pull plus the deliveries in flight never exceed the
// concurrency, so the replica never holds more messages than it can handle.
func (r *Runner) Run(ctx context.Context) error {
	w := r.startWorkers(ctx)
	for ctx.Err() == nil {
		n, ok := r.reserve(ctx, w)
		if !ok {
			continue
		}
		r.pullFor(ctx, w, n)
	}
	r.drain(w)
	return nil
}

// workers are the runner's slots, its pulls out, and the goroutines that handle deliveries.
type workers struct {
	slots chan struct{} // a token per free slot
	pulls chan struct{} // a token per pull out
	// work carries each pulled delivery to a worker; each holds a slot, so a worker is
	// always free for it or about to be, and gives the slot back once it is settled.
	work        chan jetstream.Msg
	cancel      context.CancelFunc // cancels the work in flight (after the drain timeout)
	handlers    sync.WaitGroup
	dispatchers sync.WaitGroup // one per pull out
	health      pullHealth
}

// startWorkers starts one worker per slot. Their work outlives ctx by the drain timeout, so
// that in-flight deliveries can finish.
func (r *Runner) startWorkers(ctx context.Context) *workers {
	w := &workers{
		slots: make(chan struct{}, r.o.Concurrency),
		pulls: make(chan struct{}, maxPulls),
		work:  make(chan jetstream.Msg),
	}
	for range r.o.Concurrency {
		w.slots <- struct{}{}
	}
	workCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	w.cancel = cancel
	for range r.o.Concurrency {
		w.handlers.Go(func() {
			for msg := range w.work {
				r.run(workCtx, msg)
				w.slots <- struct{}{}
			}
		})
	}
	return w
}

// reserve waits until the replica may pull (not paused, past the backoff of failed pulls),
// then takes a pull (waiting for one to end if maxPulls are out), then one free slot
// (waiting for it), then every other free one. It returns the slots taken; false when ctx
// ended first, having taken nothing.
func (r *Runner) reserve(ctx context.Context, w *workers) (int, bool) {
	select {
	case <-ctx.Done():
		return 0, false
	case <-r.pause.Resumed():
	}
	if fail := w.health.failures(); fail > 0 {
		sleep(ctx, pullRetry.Step(fail))
		if ctx.Err() != nil {
			return 0, false
		}
	}
	select {
	case <-ctx.Done():
		return 0, false
	case w.pulls <- struct{}{}:
	}
	select {
	case <-ctx.Done():
		<-w.pulls
		return 0, false
	case <-w.slots:
	}
	n := 1
	for n < r.o.Concurrency {
		select {
		case <-w.slots:
			n++
		default:
			return n, true
		}
	}
	return n, true
}

// pullFor sends a pull for the n slots reserved and leaves its messages to a dispatcher,
// which gives back the slots no message took and the pull.
func (r *Runner) pullFor(ctx context.Context, w *workers, n int) {
	batch, err := r.pull(ctx, n)
	if err != nil {
		w.release(n)
		<-w.pulls
		if ctx.Err() == nil {
			r.pulled(&w.health, err)
		}
		return
	}
	// The pull request is out: the consumer is bound.
	if r.o.OnBound != nil {
		r.o.OnBound(true, "")
	}
	w.dispatchers.Go(func() {
		started, err := r.dispatch(ctx, batch, w.work)
		w.release(n - started)
		<-w.pulls
		r.pulled(&w.health, err)
	})
}

// release gives n slots back.
func (w *workers) release(n int) {
	for range n {
		w.slots <- struct{}{}
	}
}

// drain waits for the pulls out to end and the workers to settle what they hold; past the
// drain timeout, their work is cancelled (each delivery then hands itself back).
func (r *Runner) drain(w *workers) {
	defer w.cancel()
	done := make(chan struct{})
	go func() {
		w.dispatchers.Wait()
		close(w.work)
		w.handlers.Wait()
		close(done)
	}()
	t := time.NewTimer(r.o.DrainTimeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		r.o.Logger.Warn("in-flight deliveries did not finish in time; cancelling them", "drain_timeout", r.o.DrainTimeout.String())
		w.cancel()
		<-done
	}
}

// pullRetry is the wait before a pull after failed ones, by the failures in a row.
var pullRetry = backoff.Policy{Base: 500 * time.Millisecond, Max: 10 * time.Second}

// pullHealth counts the pulls that failed in a row; the loop backs off by it.
type pullHealth struct {
	mu   sync.Mutex
	fail int
}

func (h *pullHealth) failures() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.fail
}

// pulled records how a pull ended: nil resets the count, an error adds one, reports the
// consumer unbound and logs it.
func (r *Runner) pulled(h *pullHealth, err error) {
	h.mu.Lock()
	if err == nil {
		h.fail = 0
		h.mu.Unlock()
		return
	}
	h.fail++
	fail := h.fail
	h.mu.Unlock()
	if r.o.OnBound != nil {
		r.o.OnBound(false, "pulling from the consumer failed: "+err.Error())
	}
	r.o.Logger.Warn("pulling from the consumer failed", "error", err, "failures_in_a_row", fail)
}

// pulling bounds one pull request; the request ends when its n messages arrived or FetchWait
// passed.
type pulling struct {
	batch  jetstream.MessageBatch
	cancel context.CancelFunc
}

// pull sends a pull request for up to n messages.
func (r *Runner) pull(ctx context.Context, n int) (pulling, error) {
	fctx, cancel := context.WithTimeout(ctx, r.o.FetchWait)
	batch, err := r.cons.Fetch(n, jetstream.FetchContext(fctx))
	if err != nil {
		cancel()
		return pulling{}, err
	}
	return pulling{batch: batch, cancel: cancel}, nil
}

// dispatch hands each message of the pull to a worker as it arrives. Each handed-over message
// takes one of the pull's slots with it, which its worker gives back; dispatch returns how
// many it handed over and the pull's error, if it failed for another reason than ending or
// shutdown.
func (r *Runner) dispatch(ctx context.Context, p pulling, work chan<- jetstream.Msg) (int, error) {
	defer p.cancel()
	started := 0
	for msg := range p.batch.Messages() {
		if ctx.Err() != nil {
			// Pulled but not started: hand it back at once.
			_ = msg.Nak()
			continue
		}
		started++
		r.o.Metrics.received(ctx)
		work <- msg
	}
	if err := p.batch.Error(); err != nil && !errors.Is(err, context.DeadlineExceeded) &&
		!errors.Is(err, context.Canceled) && !errors.Is(err, jetstream.ErrNoMessages) && ctx.Err() == nil {
		return started, err
	}
	return started, nil
}

// run handles one delivery, keeping it alive with InProgress every third of the ack wait. The
// signal is sent from a timer, so a delivery waiting for the request budget holds no goroutine
// of its own besides its worker.
func (r *Runner) run(ctx context.Context, msg jetstream.Msg) {
	r.o.Metrics.inflight(ctx, 1)
	defer r.o.Metrics.inflight(ctx, -1)
	every := max(r.o.AckWait/3, 10*time.Millisecond)
	var mu sync.Mutex // held while a signal is sent, so none is sent once the delivery ends
	stopped := false
	var t *time.Timer
	mu.Lock()
	t = time.AfterFunc(every, func() {
		mu.Lock()
		defer mu.Unlock()
		if stopped {
			return
		}
		if err := msg.InProgress(); err != nil {
			r.o.Logger.Debug("in-progress signal failed", "error", err)
		}
		t.Reset(every)
	})
	mu.Unlock()
	defer func() {
		mu.Lock()
		stopped = true
		t.Stop()
		mu.Unlock()
	}()
	r.handle(ctx, msg)
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
