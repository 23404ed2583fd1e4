package ratelimit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/backoff"
)

// ErrUnavailable means the shared budget could not be read or written: the
// key-value bucket failed (or kept conflicting) for Options.UnavailableAfter,
// or the key is unusable. It is a failure of the system, not of any event:
// callers should treat it as systemic (pause), never spend an attempt on it,
// and never send the request anyway.
var ErrUnavailable = errors.New("ratelimit: shared request budget unavailable")

// ErrStopped is what Wait returns once Options.Stop has ended: the request
// must not be sent. It wraps context.Canceled: the wait was cut short.
var ErrStopped = fmt.Errorf("ratelimit: the service is stopping: %w", context.Canceled)

// errConflict marks a compare-and-set that lost against another writer.
var errConflict = errors.New("compare-and-set conflict")

// state is the JSON value of the budget's key-value entry. Times are Unix
// nanoseconds of the writers' wall clocks.
type state struct {
	// Next is the earliest time the next request may be sent (GCRA's
	// theoretical arrival time): every reservation moves it forward by one
	// interval, two while penalised.
	Next int64 `json:"next"`
	// HoldUntil is the end of the latest 429's Retry-After: nobody sends
	// before it.
	HoldUntil int64 `json:"hold_until,omitempty"`
	// PenaltyUntil is when the halved rate after a 429 ends.
	PenaltyUntil int64 `json:"penalty_until,omitempty"`
	// Interval is the base spacing of the last writer, for operators
	// reading the entry; each replica applies its own configured interval.
	Interval int64 `json:"interval"`
	// Epoch counts reported 429s. A reservation made in an earlier epoch is
	// void: its holder reserves again instead of sending.
	Epoch uint64 `json:"epoch"`
}

// tryModify reads the entry, applies change to it at the current time and
// writes it back with a compare-and-set (Create when the key is absent,
// Update with the read revision otherwise). It returns errConflict when
// another writer got there first.
func (l *Limiter) tryModify(ctx context.Context, change func(s *state, now time.Time)) error {
	s, rev, err := l.read(ctx)
	if err != nil {
		return err
	}
	change(&s, l.now())
	b, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("encoding budget state: %w", err)
	}
	if rev == 0 {
		_, err = l.kv.Create(ctx, l.key, b)
	} else {
		_, err = l.kv.Update(ctx, l.key, b, rev)
	}
	switch {
	case errors.Is(err, jetstream.ErrKeyRevisionMismatch), errors.Is(err, jetstream.ErrKeyExists):
		return errConflict
	case err != nil:
		return fmt.Errorf("writing key %q of bucket %q: %w", l.key, l.kv.Bucket(), err)
	}
	return nil
}

// read returns the entry's state and revision; revision 0 means the key is
// absent (never written, deleted or purged). An undecodable value is logged
// and read as the zero state, so the next write repairs it.
func (l *Limiter) read(ctx context.Context) (state, uint64, error) {
	e, err := l.kv.Get(ctx, l.key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return state{}, 0, nil
	}
	if err != nil {
		return state{}, 0, fmt.Errorf("reading key %q of bucket %q: %w", l.key, l.kv.Bucket(), err)
	}
	var s state
	if err := json.Unmarshal(e.Value(), &s); err != nil {
		l.log.Warn("rate-limit entry is not valid JSON; overwriting it with a fresh schedule",
			"bucket", l.kv.Bucket(), "key", l.key, "revision", e.Revision(), "error", err)
		return state{}, e.Revision(), nil
	}
	return s, e.Revision(), nil
}

// retry runs op until it succeeds, retrying conflicts (the first ones at
// once, then after a short jittered pause) and store errors (with jittered
// exponential backoff) for at most l.unavailableAfter. It returns ctx.Err()
// when ctx ends first, and an error wrapping ErrUnavailable when the bound
// passes or the key is invalid.
func (l *Limiter) retry(ctx context.Context, what string, op func(ctx context.Context) error) error {
	opCtx, cancel := context.WithTimeout(ctx, l.unavailableAfter)
	defer cancel()
	var lastErr error
	conflicts, failures := 0, 0
	for {
		err := op(opCtx)
		if err == nil {
			return nil
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		var pause time.Duration
		if errors.Is(err, errConflict) {
			l.conflicts.Add(1)
			conflicts++
			pause = conflictPause(conflicts)
		} else {
			l.storeErrors.Add(1)
			failures++
			lastErr = err
			if errors.Is(err, jetstream.ErrInvalidKey) {
				return fmt.Errorf("%w: %s: %w", ErrUnavailable, what, err)
			}
			pause = errorPause(failures)
		}
		if pause > 0 {
			select {
			case <-l.after(pause):
			case <-opCtx.Done():
			}
		}
		if opCtx.Err() != nil {
			if ctxErr := ctx.Err(); ctxErr != nil {
				return ctxErr
			}
			if lastErr == nil {
				lastErr = fmt.Errorf("%d conflicting updates", conflicts)
			}
			l.log.Warn("shared rate-limit budget unavailable", "what", what,
				"bucket", l.kv.Bucket(), "key", l.key, "for", l.unavailableAfter, "error", lastErr)
			return fmt.Errorf("%w: %s failed for %v: %w", ErrUnavailable, what, l.unavailableAfter, lastErr)
		}
	}
}

// conflictPause is the pause before retrying after the n-th consecutive
// conflict: none for the first two (the other writer has just finished),
// then a random pause up to 1ms, 2ms, ... capped at 20ms ("full jitter"),
// which breaks up replicas that keep colliding.
func conflictPause(n int) time.Duration {
	if n <= 2 {
		return 0
	}
	return backoff.Policy{Base: time.Millisecond, Max: 20 * time.Millisecond}.Full(n - 2)
}

// errorPause is the pause before retrying after the n-th consecutive store
// error: 25ms doubling up to 1s, with half of it random ("equal jitter").
func errorPause(n int) time.Duration {
	return backoff.Policy{Base: 25 * time.Millisecond, Max: time.Second}.Equal(n)
}
