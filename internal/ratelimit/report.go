package ratelimit

import (
	"context"
	"strconv"
	"strings"
	"time"
)

// Report429 tells every replica that the API answered 429 Too Many Requests
// with the given Retry-After (zero or negative when the answer had none;
// capped at MaxRetryAfter). In the shared entry it
//
//   - holds everyone: no Wait returns before now+retryAfter;
//   - halves the shared rate (doubles the interval) until
//     now+max(retryAfter, Options.MinPenalty);
//   - voids every slot reserved before it that has not come yet: their
//     holders reserve again behind the hold, so they cannot send together
//     when it ends; the first new slot is also at least two intervals
//     after the last slot that may have been used.
//
// Later reports extend, never shorten, the hold and the penalty. Report429
// does not retry the request or touch the message: the caller hands the
// message back (no attempt spent) with a delay of at least retryAfter.
//
// With an unlimited Limit it only counts (the SPEC: with
// AMPLIENCE_RATE_LIMIT=0 a 429 only delays its own event). It blocks while
// it writes the entry, at most about Options.UnavailableAfter; if the
// bucket cannot be written by then, the report is logged at error level and
// lost (Wait will be failing with ErrUnavailable anyway).
func (l *Limiter) Report429(retryAfter time.Duration) {
	l.reported.Add(1)
	if l.lim.Unlimited() || l.invalid != nil {
		return
	}
	retryAfter = min(max(retryAfter, 0), MaxRetryAfter)
	penalty := max(retryAfter, l.minPenalty)

	var s state
	err := l.retry(context.Background(), "reporting a 429", func(ctx context.Context) error {
		return l.tryModify(ctx, func(st *state, now time.Time) {
			st.HoldUntil = max(st.HoldUntil, now.Add(retryAfter).UnixNano())
			st.PenaltyUntil = max(st.PenaltyUntil, now.Add(penalty).UnixNano())
			// Slots up to now may have been used; later ones are void.
			st.Next = max(st.HoldUntil, min(st.Next, now.UnixNano())+2*int64(l.interval))
			st.Interval = int64(l.interval)
			st.Epoch++
			s = *st
		})
	})
	if err != nil {
		l.log.Error("could not share a 429 with the other replicas; the rate is not lowered",
			"bucket", l.kv.Bucket(), "key", l.key, "retry_after", retryAfter, "error", err)
		return
	}
	l.log.Warn("Amplience answered 429; holding and halving the shared request rate",
		"retry_after", retryAfter,
		"hold_until", time.Unix(0, s.HoldUntil).UTC(),
		"penalty_until", time.Unix(0, s.PenaltyUntil).UTC(),
		"rate", halved(l.lim),
		"limit", l.lim.String())
}

// halved is the rate of lim while a 429's penalty lasts, written as lim is
// ("30/m" for 60/m, "2.5/s" for 5/s). lim is not unlimited.
func halved(lim Limit) string {
	full := lim.String()
	return strconv.FormatFloat(float64(lim.Requests)/2, 'f', -1, 64) + full[strings.IndexByte(full, '/'):]
}
