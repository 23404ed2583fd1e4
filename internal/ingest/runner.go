package ingest

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

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
// hands each to the handler in its own goroutine, sending InProgress while it runs. While the
// pauser says paused, it pulls nothing.
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
func (r *Runner) Run(ctx context.Context) error {
	slots := make(chan struct{}, r.o.Concurrency)
	for range r.o.Concurrency {
		slots <- struct{}{}
	}
	// Work outlives ctx by the drain timeout so that in-flight deliveries can finish.
	workCtx, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	var wg sync.WaitGroup

	fail := 0
	for ctx.Err() == nil {
		select {
		case <-ctx.Done():
			continue
		case <-r.pause.Resumed():
		}
		// Take one free slot (waiting for it), then every other free one.
		select {
		case <-ctx.Done():
			continue
		case <-slots:
		}
		n := 1
	more:
		for n < r.o.Concurrency {
			select {
			case <-slots:
				n++
			default:
				break more
			}
		}

		fetched, err := r.fetch(ctx, n, slots, workCtx, &wg)
		for range n - fetched {
			slots <- struct{}{}
		}
		if err != nil {
			fail++
			if r.o.OnBound != nil {
				r.o.OnBound(false, "pulling from the consumer failed: "+err.Error())
			}
			r.o.Logger.Warn("pulling from the consumer failed", "error", err, "failures_in_a_row", fail)
			sleep(ctx, min(time.Duration(fail)*500*time.Millisecond, 10*time.Second))
			continue
		}
		fail = 0
	}

	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	t := time.NewTimer(r.o.DrainTimeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		r.o.Logger.Warn("in-flight deliveries did not finish in time; cancelling them", "drain_timeout", r.o.DrainTimeout.String())
		cancelWork()
		<-done
	}
	return nil
}

// fetch pulls up to n messages and starts a handler for each as it arrives. Each started
// handler owns one of the n slots and returns it to slots when done; fetch returns how many
// it started.
func (r *Runner) fetch(ctx context.Context, n int, slots chan struct{}, workCtx context.Context, wg *sync.WaitGroup) (int, error) {
	fctx, cancel := context.WithTimeout(ctx, r.o.FetchWait)
	defer cancel()
	batch, err := r.cons.Fetch(n, jetstream.FetchContext(fctx))
	if err != nil {
		if ctx.Err() != nil {
			return 0, nil
		}
		return 0, err
	}
	// The pull request is out: the consumer is bound.
	if r.o.OnBound != nil {
		r.o.OnBound(true, "")
	}
	started := 0
	for msg := range batch.Messages() {
		if ctx.Err() != nil {
			// Pulled but not started: hand it back at once.
			_ = msg.Nak()
			continue
		}
		started++
		r.o.Metrics.received(ctx)
		wg.Go(func() {
			defer func() { slots <- struct{}{} }()
			r.run(workCtx, msg)
		})
	}
	if err := batch.Error(); err != nil && !errors.Is(err, context.DeadlineExceeded) &&
		!errors.Is(err, context.Canceled) && !errors.Is(err, jetstream.ErrNoMessages) && ctx.Err() == nil {
		return started, err
	}
	return started, nil
}

// run handles one delivery, keeping it alive with InProgress every third of the ack wait.
func (r *Runner) run(ctx context.Context, msg jetstream.Msg) {
	r.o.Metrics.inflight(ctx, 1)
	defer r.o.Metrics.inflight(ctx, -1)
	stop := make(chan struct{})
	var hb sync.WaitGroup
	hb.Go(func() {
		t := time.NewTicker(max(r.o.AckWait/3, 10*time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				if err := msg.InProgress(); err != nil {
					r.o.Logger.Debug("in-progress signal failed", "error", err)
				}
			}
		}
	})
	defer func() { close(stop); hb.Wait() }()
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
