// Package ratelimit keeps all replicas of the service, together, within
// the Amplience request budget (AMPLIENCE_RATE_LIMIT; Amplience allows 60
// requests per minute per API key), and lowers that budget for everyone
// when the API answers 429.
//
// # Algorithm
//
// The budget is a schedule kept in one entry of a NATS JetStream key-value
// bucket: GCRA ("virtual scheduling") with reservations and no burst. The
// entry holds the time of the next free slot; a caller of [Limiter.Wait]
// takes slot = max(now, next), moves next to slot + interval (interval =
// Per/Requests rounded up, plus 1% [Headroom], doubled while penalised
// after a 429), writes the
// entry back with a compare-and-set (Create for the first write, Update with
// the read revision after; a lost race is retried), then sleeps until its
// slot. So:
//
//   - Consecutive slots are at least one interval apart, whichever replica
//     took them. Any window of length Per, open at one end, therefore holds
//     at most Requests slots: no fixed or sliding window exceeds the limit.
//   - There is no per-replica share: one replica alone may use the whole
//     budget, and N replicas together get it, not N times it.
//   - Slots are given in the order they were asked for, across replicas.
//   - An idle budget does not accumulate a burst: after a quiet period the
//     first request goes at once and the next one an interval later.
//
// Strictly, the limit holds for the slots, as read on the replicas' clocks.
// Three things move the moments requests reach Amplience away from their
// slots: clock skew between replicas (the entry stores wall-clock Unix
// nanoseconds), callers woken late by the scheduler or returning after a
// key-value round trip, and network jitter. The 1% headroom absorbs up to
// Per/100 of such spread across a window (0.6s at 60/m); beyond that a
// window could see one request more than the limit. Configure a lower
// limit if the hosts' clocks are not synchronised.
//
// # Cancellation
//
// A slot is reserved before its holder sleeps. If the holder's ctx ends
// first (or Options.Stop does), Wait returns and the slot is unused. Slots
// abandoned at the tail of the schedule (nothing reserved after them) are
// handed back with one compare-and-set that moves next back over them: the
// spacing before them is kept, so this never raises the rate. A slot with a
// later one already given out cannot be handed back safely; it stays unused,
// and the shared rate is briefly lower, never higher. Without the hand-back,
// a replica restarting after a stop would wait behind every slot its
// previous process had reserved.
//
// # 429s
//
// [Limiter.Report429] records a hold (nobody sends before now+Retry-After),
// a penalty (the rate is halved until now+max(Retry-After, MinPenalty)) and
// a new epoch in the entry. Waiters check the entry again when they wake
// and, if a 429 was reported meanwhile, reserve again behind the hold.
//
// # Failures
//
// Wait and Report429 retry store errors with jittered backoff, and
// conflicts at once then with jitter, for at most Options.UnavailableAfter.
// Wait then returns an error wrapping [ErrUnavailable]: it never hangs past
// that bound and never lets a request through without a written
// reservation. Callers treat ErrUnavailable as a failure of the system.
//
// # The bucket
//
// Every replica must use the same bucket and key and the same limit. The
// entry is rewritten once per request (plus once per 429), so a bucket with
// History 1 suffices; its value is small JSON, for example
//
//	{"next":1795772400000000000,"hold_until":1795772402000000000,
//	 "penalty_until":1795772460000000000,"interval":1000000000,"epoch":3}
//
// (Unix nanoseconds; hold_until and penalty_until appear after a 429).
// Deleting or purging the key resets the schedule; an entry that is not
// valid JSON is logged and overwritten.
package ratelimit
