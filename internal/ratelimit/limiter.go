package ratelimit

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Defaults for the zero Options fields, and fixed bounds.
const (
	DefaultMinPenalty       = 60 * time.Second
	DefaultUnavailableAfter = 10 * time.Second
	// MaxRetryAfter caps the Retry-After a 429 can impose, so a bogus
	// header cannot stop all traffic for days (the SPEC caps a message's
	// wait at one hour too).
	MaxRetryAfter = time.Hour
	// Headroom widens the spacing between requests by 1/Headroom (1%):
	// 60/m is paced at one request every 1.01s, so jitter of up to 0.6s
	// between the moments two requests reach Amplience cannot put a 61st
	// request into any minute.
	Headroom = 100
)

// Options tunes a Limiter. The zero value is ready to use.
type Options struct {
	// Clock tells the time; nil means time.Now. Set After from the same
	// clock.
	Clock func() time.Time
	// After returns a channel that receives once d has passed on Clock;
	// nil means time.After.
	After func(d time.Duration) <-chan time.Time
	// Logger receives 429 reports and store failures; nil discards them.
	Logger *slog.Logger
	// MinPenalty is the shortest time the shared rate stays halved after a
	// 429; zero means DefaultMinPenalty (60s).
	MinPenalty time.Duration
	// UnavailableAfter bounds how long one Wait (or Report429) retries a
	// failing or conflicting bucket before giving up with ErrUnavailable;
	// zero means DefaultUnavailableAfter (10s).
	UnavailableAfter time.Duration
	// Stop, when set, closes the budget once it ends (the service is stopping):
	// every Wait then returns ErrStopped at once, including those already
	// waiting, so that requests not yet sent are handed back instead of holding
	// the shutdown until their slot comes.
	Stop context.Context
}

// Limiter paces one replica's requests within a budget shared, through one
// key-value entry, with every Limiter on the same bucket and key. It is safe
// for concurrent use. Create it with New.
type Limiter struct {
	kv               jetstream.KeyValue
	key              string
	lim              Limit
	interval         time.Duration
	invalid          error
	now              func() time.Time
	after            func(time.Duration) <-chan time.Time
	log              *slog.Logger
	minPenalty       time.Duration
	unavailableAfter time.Duration
	stop             context.Context

	// turn lets one local caller at a time reserve, so that replicas, not
	// goroutines, compete for the compare-and-set.
	turn chan struct{}

	// abandoned holds reservations given up and not yet given back;
	// abandonGen counts additions, and givingBack is set while one caller
	// gives back (see abandon).
	abandonMu  sync.Mutex
	abandoned  []reservation
	abandonGen uint64
	givingBack bool

	granted, waitedNs, conflicts, reported, voided, storeErrors, givenBack atomic.Int64
}

// Stats counts what a Limiter did since New.
type Stats struct {
	Granted     int64         // Wait calls that returned nil
	Waited      time.Duration // total time those calls spent in Wait
	Conflicts   int64         // compare-and-set conflicts retried
	Reported429 int64         // Report429 calls
	Voided      int64         // reservations made void by a 429 and made again
	StoreErrors int64         // failed bucket operations (each retried or returned)
	GivenBack   int64         // abandoned reservations given back to the schedule
}

// New returns a Limiter enforcing lim with the state held under key in kv
// (see the package documentation for the entry's format and the bucket it
// needs). New does no I/O: a missing bucket or invalid key shows up as an
// error from Wait. Every replica must use the same bucket, key and limit.
//
// With an unlimited lim, kv may be nil: Wait never blocks and Report429 only
// counts. An invalid lim (see Limit) makes every Wait fail.
func New(kv jetstream.KeyValue, key string, lim Limit, o Options) *Limiter {
	l := &Limiter{
		kv:               kv,
		key:              key,
		lim:              lim,
		interval:         lim.Interval() + lim.Interval()/Headroom,
		invalid:          lim.validate(),
		now:              o.Clock,
		after:            o.After,
		log:              o.Logger,
		minPenalty:       o.MinPenalty,
		unavailableAfter: o.UnavailableAfter,
		stop:             o.Stop,
		turn:             make(chan struct{}, 1),
	}
	if l.now == nil {
		l.now = time.Now
	}
	if l.after == nil {
		l.after = time.After
	}
	if l.log == nil {
		l.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if l.minPenalty <= 0 {
		l.minPenalty = DefaultMinPenalty
	}
	if l.unavailableAfter <= 0 {
		l.unavailableAfter = DefaultUnavailableAfter
	}
	return l
}

// Limit returns the limit l enforces.
func (l *Limiter) Limit() Limit { return l.lim }

// Stats returns l's counters.
func (l *Limiter) Stats() Stats {
	return Stats{
		Granted:     l.granted.Load(),
		Waited:      time.Duration(l.waitedNs.Load()),
		Conflicts:   l.conflicts.Load(),
		Reported429: l.reported.Load(),
		Voided:      l.voided.Load(),
		StoreErrors: l.storeErrors.Load(),
		GivenBack:   l.givenBack.Load(),
	}
}
