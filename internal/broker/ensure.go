package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Bounds of the "not found right after a create" retry: in a cluster a
// resource another process just created may not be visible at once.
const (
	notFoundAttempts = 6
	notFoundDelay    = 100 * time.Millisecond
)

// Ensure makes sure the resources named by r exist and returns them bound.
//
// It looks each resource up. With r.Create it creates what is missing
// (streams: file storage, limits retention, the SPEC's maximum ages, a
// duplicate window of 2 minutes, or AckWait + 1 minute if longer for the
// results and dead-letter streams, r.Replicas replicas; the ledger bucket:
// TTL 120 days, history 1), re-reading a resource another replica created at
// the same moment and retrying, a few times, a lookup that says "not found"
// right after a create. It never changes an existing stream or bucket; it logs
// a warning for each setting that differs from what it would have created.
//
// The durable consumer must be a pull consumer with explicit ack and deliver
// policy all. Its BackOff (none), AckWait, MaxDeliver and MaxAckPending are
// updated in place, each difference logged, when r.Create is set, and are
// problems otherwise. An ack policy, deliver policy or push consumer mismatch
// cannot be updated and is always a problem.
//
// Ensure checks every resource before returning: all problems are reported
// together in one *ConfigError (also returned when r itself is invalid).
// Any other error means JetStream could not be asked or refused a request;
// it is wrapped with what was being done. On error the returned Bound is
// zero.
func Ensure(ctx context.Context, js jetstream.JetStream, r Resources, log *slog.Logger) (Bound, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := r.validate(); err != nil {
		return Bound{}, err
	}
	e := &ensurer{js: js, create: r.Create, log: log, sleep: sleepCtx}
	return e.ensure(ctx, r)
}

// ensurer carries what every step of Ensure needs.
type ensurer struct {
	js     jetstream.JetStream
	create bool
	log    *slog.Logger
	// sleep waits d or until ctx ends; tests replace it.
	sleep func(ctx context.Context, d time.Duration) error
}

func (e *ensurer) ensure(ctx context.Context, r Resources) (Bound, error) {
	var (
		b        Bound
		problems []string
	)
	note := func(p string) {
		if p != "" {
			problems = append(problems, p)
		}
	}
	inbound, results, dlq, advisories := streamSpecs(r)
	for _, step := range []struct {
		spec streamSpec
		dst  *jetstream.Stream
	}{{inbound, &b.Inbound}, {results, &b.Results}, {dlq, &b.DLQ}, {advisories, &b.Advisories}} {
		s, problem, err := e.ensureStream(ctx, step.spec)
		if err != nil {
			return Bound{}, err
		}
		note(problem)
		*step.dst = s
	}

	kv, problem, err := e.ensureLedger(ctx, r)
	if err != nil {
		return Bound{}, err
	}
	note(problem)
	b.Ledger = kv

	if b.Inbound == nil {
		note(fmt.Sprintf("durable consumer %s cannot exist: its stream %s is missing", r.Durable, r.InboundStream))
	} else {
		c, ps, err := e.ensureConsumer(ctx, b.Inbound, r)
		if err != nil {
			return Bound{}, err
		}
		problems = append(problems, ps...)
		b.Consumer = c
	}

	if b.Advisories != nil {
		c, problem, err := e.ensureAdvisoryConsumer(ctx, b.Advisories, r)
		if err != nil {
			return Bound{}, err
		}
		note(problem)
		b.AdvisoryConsumer = c
	}

	if len(problems) > 0 {
		return Bound{}, &ConfigError{Problems: problems}
	}
	return b, nil
}

// retryNotFound calls get until it returns something other than an error
// matching notFound or a request timeout (see [timedOut]), at most
// notFoundAttempts times with a growing delay.
func retryNotFound[T any](ctx context.Context, e *ensurer, notFound error, get func() (T, error)) (T, error) {
	delay := notFoundDelay
	for attempt := 1; ; attempt++ {
		v, err := get()
		if err == nil || !(errors.Is(err, notFound) || timedOut(ctx, err)) || attempt == notFoundAttempts {
			return v, err
		}
		if err := e.sleep(ctx, delay); err != nil {
			var zero T
			return zero, err
		}
		delay *= 2
	}
}

// retryTimeout calls get again, like retryNotFound, while its request times
// out; any answer, "not found" included, is returned.
func retryTimeout[T any](ctx context.Context, e *ensurer, get func() (T, error)) (T, error) {
	return retryNotFound(ctx, e, nil, get)
}

// timedOut reports whether err is a JetStream API request that got no answer
// in time while ctx is still alive. In a cluster the meta leader drops a
// lookup that arrives while another process's create of the same stream is
// in flight (it leaves the answer to a stream leader not elected yet), so
// replicas starting together on a fresh cluster see timeouts although
// JetStream is fine; asking again gets an answer.
func timedOut(ctx context.Context, err error) bool {
	return ctx.Err() == nil && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout))
}

// sleepCtx waits d, or until ctx ends and then returns ctx.Err().
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
