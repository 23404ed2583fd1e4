package ratelimit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// reservation is a slot taken in the shared schedule.
type reservation struct {
	at    time.Time     // when it was taken
	slot  time.Time     // when its holder may send
	step  time.Duration // how far it moved the schedule
	epoch uint64        // the 429 epoch it belongs to
}

// Wait blocks until the caller may send one request and returns nil; the
// caller should then send it without delay. One Wait allows one request.
//
// Wait returns ctx.Err() (unwrapped) if ctx ends first. The slot it had
// reserved is then given back when it is the schedule's tail (together with
// any other abandoned slots just before it); otherwise it is lost to
// everyone (the shared rate is briefly lower, never higher). It returns an error wrapping ErrUnavailable when the
// bucket cannot be used for Options.UnavailableAfter: the caller must not
// send, and should treat the failure as systemic. With an unlimited Limit it
// returns at once (ctx.Err() if ctx has already ended).
//
// A caller may wait long: reservations queue in order, so with C callers
// waiting on all replicas the last one waits about C intervals (twice that
// while penalised, and at least until a reported Retry-After has passed).
//
// Once Options.Stop has ended, a limited Wait returns ErrStopped at once,
// and waits under way end with it (an unlimited one never waits, so it
// carries on).
func (l *Limiter) Wait(ctx context.Context) error {
	if l.stop == nil || l.lim.Unlimited() {
		_, err := l.wait(ctx)
		return err
	}
	if l.stop.Err() != nil {
		return ErrStopped
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	unhook := context.AfterFunc(l.stop, cancel)
	defer unhook()
	_, err := l.wait(wctx)
	if err != nil && ctx.Err() == nil && l.stop.Err() != nil {
		return ErrStopped
	}
	return err
}

// wait is Wait, also returning the granted slot (the zero time when
// unlimited).
func (l *Limiter) wait(ctx context.Context) (time.Time, error) {
	if err := ctx.Err(); err != nil {
		return time.Time{}, err
	}
	if l.invalid != nil {
		return time.Time{}, fmt.Errorf("%w: %w", ErrUnavailable, l.invalid)
	}
	start := l.now()
	if l.lim.Unlimited() {
		l.granted.Add(1)
		return time.Time{}, nil
	}
	for {
		r, err := l.reserve(ctx)
		if err != nil {
			return time.Time{}, err
		}
		if r.slot.After(r.at) {
			if err := l.sleepUntil(ctx, r.slot); err != nil {
				l.abandon(r)
				return time.Time{}, err
			}
			// A 429 reported while we slept voids the slot: check the
			// entry again before sending.
			valid, err := l.stillValid(ctx, r.epoch)
			if err != nil {
				return time.Time{}, err
			}
			if !valid {
				l.voided.Add(1)
				continue
			}
		}
		l.granted.Add(1)
		l.waitedNs.Add(int64(l.now().Sub(start)))
		return r.slot, nil
	}
}

// reserve takes the next free slot in the shared schedule. Local callers
// take turns so that they do not conflict with one another; waiting for the
// turn is bounded like the reservation itself, so callers queued behind one
// stuck on a failing bucket fail too instead of queueing for minutes.
func (l *Limiter) reserve(ctx context.Context) (reservation, error) {
	turnCtx, cancel := context.WithTimeout(ctx, l.unavailableAfter)
	defer cancel()
	select {
	case l.turn <- struct{}{}:
	case <-turnCtx.Done():
		if err := ctx.Err(); err != nil {
			return reservation{}, err
		}
		return reservation{}, fmt.Errorf("%w: another caller has been reserving a slot in bucket %q for %v",
			ErrUnavailable, l.kv.Bucket(), l.unavailableAfter)
	}
	defer func() { <-l.turn }()

	var r reservation
	err := l.retry(ctx, "reserving a request slot", func(ctx context.Context) error {
		return l.tryModify(ctx, func(s *state, now time.Time) {
			slot := max(now.UnixNano(), s.Next, s.HoldUntil)
			step := l.interval
			if slot < s.PenaltyUntil {
				step *= 2
			}
			s.Next = slot + int64(step)
			s.Interval = int64(l.interval)
			r = reservation{at: now, slot: time.Unix(0, slot), step: step, epoch: s.Epoch}
		})
	})
	return r, err
}

// stillValid reports whether no 429 was reported since a reservation of
// epoch was made. A missing or unreadable entry (deleted by an operator)
// voids it too: the holder reserves again in the fresh schedule.
func (l *Limiter) stillValid(ctx context.Context, epoch uint64) (bool, error) {
	var valid bool
	err := l.retry(ctx, "checking a reserved slot", func(ctx context.Context) error {
		s, rev, err := l.read(ctx)
		if err != nil {
			return err
		}
		valid = rev != 0 && s.Epoch == epoch
		return nil
	})
	return valid, err
}

// sleepUntil blocks until t on l's clock, or returns ctx.Err() if ctx ends
// first.
func (l *Limiter) sleepUntil(ctx context.Context, t time.Time) error {
	d := t.Sub(l.now())
	if d <= 0 {
		return nil
	}
	select {
	case <-l.after(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// abandon records a reservation its holder gave up (its context ended, or
// the budget closed) and gives back to the schedule every abandoned slot at
// its tail, so that replicas reserving next are not held back by slots
// nobody will use: a stopping replica's waiters, or the waiters a restarted
// replica left behind. A slot followed by another holder's reservation cannot
// be given back; it stays a gap in the schedule.
//
// One caller at a time gives back, for every slot abandoned until it is
// done; the others only record theirs and return, so a closing budget does
// not queue its waiters behind one another's key-value round trips.
func (l *Limiter) abandon(r reservation) {
	l.abandonMu.Lock()
	l.abandoned = append(l.abandoned, r)
	l.abandonGen++
	if l.givingBack {
		l.abandonMu.Unlock()
		return
	}
	l.givingBack = true
	l.abandonMu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), giveBackTimeout)
	defer cancel()
	for conflicts := 0; ; {
		l.abandonMu.Lock()
		pending, gen := slices.Clone(l.abandoned), l.abandonGen
		l.abandonMu.Unlock()

		forget, err := l.giveBack(ctx, pending)

		l.abandonMu.Lock()
		l.abandoned = slices.DeleteFunc(l.abandoned, func(a reservation) bool { return forget[a.id()] })
		more := l.abandonGen != gen
		if errors.Is(err, errConflict) {
			conflicts++
			more = conflicts < 5
		} else if err != nil {
			l.log.Debug("could not give abandoned request slots back", "error", err)
			more = false
		}
		if !more || ctx.Err() != nil {
			l.givingBack = false
			l.abandonMu.Unlock()
			return
		}
		l.abandonMu.Unlock()
	}
}

// giveBackTimeout bounds the giving back of abandoned slots; it runs while
// the service stops, after the callers' contexts ended.
const giveBackTimeout = 2 * time.Second

// reservationID identifies a reservation: no two of one epoch share a slot.
type reservationID struct {
	slot  int64
	epoch uint64
}

func (r reservation) id() reservationID { return reservationID{r.slot.UnixNano(), r.epoch} }

// giveBack moves the schedule's Next back over those of the abandoned
// reservations that are at its tail, with a compare-and-set. It returns the
// reservations to forget: those given back, those no longer worth keeping
// (void after a 429, or past), and, after a write whose outcome is unknown,
// those it tried to give back (were the write applied, giving them back again
// later could move Next back over a slot given out since; losing them only
// lowers the rate). It returns errConflict when another writer got there
// first.
func (l *Limiter) giveBack(ctx context.Context, pending []reservation) (map[reservationID]bool, error) {
	forget := map[reservationID]bool{}
	s, rev, err := l.read(ctx)
	if err != nil || rev == 0 {
		return forget, err
	}
	now := l.now()
	var live []reservation
	for _, a := range pending {
		if a.epoch == s.Epoch && a.slot.After(now) {
			live = append(live, a)
		} else {
			forget[a.id()] = true
		}
	}
	slices.SortFunc(live, func(a, b reservation) int { return b.slot.Compare(a.slot) })
	next, given := s.Next, 0
	for _, a := range live {
		if a.slot.UnixNano()+int64(a.step) != next {
			break
		}
		next = a.slot.UnixNano()
		given++
	}
	if given == 0 {
		return forget, nil
	}
	s.Next = next
	b, err := json.Marshal(s)
	if err != nil {
		return forget, fmt.Errorf("encoding budget state: %w", err)
	}
	_, err = l.kv.Update(ctx, l.key, b, rev)
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyExists) {
		return forget, errConflict
	}
	for _, a := range live[:given] {
		forget[a.id()] = true
	}
	if err != nil {
		return forget, fmt.Errorf("writing key %q of bucket %q: %w", l.key, l.kv.Bucket(), err)
	}
	l.givenBack.Add(int64(given))
	return forget, nil
}
