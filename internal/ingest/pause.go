package ingest

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/backoff"
)

// Probe checks the systems the service depends on without touching any event: a token fetch
// plus a cheap authenticated query, and the ledger bucket. nil means all answered.
type Probe func(ctx context.Context) error

// PauserOptions tune a [Pauser]; zero values take the defaults in brackets.
type PauserOptions struct {
	MinProbeGap time.Duration // at most one probe per this long (5s)
	// MaxProbeGap caps the backoff of probes while paused (8s), so that a paused replica
	// resumes within 10 seconds of the cause going away.
	MaxProbeGap time.Duration
	Suspects    int // failures of distinct events in a row that trigger a probe (3)
	// VerifyFirst starts the pauser paused until a first probe passes, which Run makes at
	// once: a replica is not ready before its credentials and the API are verified.
	VerifyFirst bool
	Now         func() time.Time
	// After waits as time.After does; probe gaps use it. Default time.After.
	After  func(time.Duration) <-chan time.Time
	Logger *slog.Logger
	// OnChange, when set, is called with the new state after every pause and resume.
	OnChange func(paused bool, reason string)
}

// Pauser decides when a failure is the system's rather than the event's, and holds the
// replica's pause: while paused the replica takes no messages and probes with backoff until a
// probe passes, then resumes by itself. Pausing is per replica. Safe for concurrent use.
type Pauser struct {
	probe Probe
	o     PauserOptions

	mu        sync.Mutex
	paused    bool
	reason    string
	since     time.Time     // when the pause began
	pauses    uint64        // counts Pause calls, so a probe that began before one cannot undo it
	resumed   chan struct{} // closed while not paused
	wake      chan struct{} // signals Run that a pause began
	lastProbe time.Time
	lastErr   error
	probing   chan struct{} // closed when the running probe ends; nil when none runs
	suspects  []string
	verified  bool // a probe has passed
	// stale: the last probe was the verification at start. Its pass answers no failure, so
	// Check does not reuse it: it probes once the minimum gap allows.
	stale bool
}

// notVerified is the pause reason until a first probe passed.
const notVerified = "waiting for a first probe of the Amplience credentials and API"

// NewPauser returns a running-state pauser that probes with probe.
func NewPauser(probe Probe, o PauserOptions) *Pauser {
	if o.MinProbeGap <= 0 {
		o.MinProbeGap = 5 * time.Second
	}
	if o.MaxProbeGap < o.MinProbeGap {
		o.MaxProbeGap = max(8*time.Second, o.MinProbeGap)
	}
	if o.Suspects <= 0 {
		o.Suspects = 3
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.After == nil {
		o.After = time.After
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	p := &Pauser{probe: probe, o: o, resumed: make(chan struct{}), wake: make(chan struct{}, 1)}
	if o.VerifyFirst {
		p.paused, p.reason, p.since = true, notVerified, o.Now()
		p.wake <- struct{}{}
		if o.OnChange != nil {
			o.OnChange(true, notVerified)
		}
	} else {
		close(p.resumed)
	}
	return p
}

// State reports whether the replica is paused and why.
func (p *Pauser) State() (paused bool, reason string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.paused, p.reason
}

// Resumed returns a channel that is closed while the replica is not paused.
func (p *Pauser) Resumed() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.resumed
}

// Pause pauses the replica for reason (kept for /readyz) until a probe passes.
func (p *Pauser) Pause(reason string) {
	p.mu.Lock()
	p.pauses++
	if p.paused {
		p.mu.Unlock()
		return
	}
	p.paused, p.reason, p.since = true, reason, p.o.Now()
	p.resumed = make(chan struct{})
	p.suspects = nil
	p.mu.Unlock()
	p.o.Logger.Warn("replica paused", "reason", reason)
	if p.o.OnChange != nil {
		p.o.OnChange(true, reason)
	}
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// resume lifts the pause unless Pause was called again since the probe that passed began
// (pauses differs from seen): a fresh systemic failure then waits for the next probe.
func (p *Pauser) resume(seen uint64) {
	p.mu.Lock()
	if !p.paused || p.pauses != seen {
		p.mu.Unlock()
		return
	}
	reason, pausedFor := p.reason, p.o.Now().Sub(p.since)
	p.paused, p.reason = false, ""
	close(p.resumed)
	p.mu.Unlock()
	p.o.Logger.Info("replica resumed", "paused_for", pausedFor, "reason", reason)
	if p.o.OnChange != nil {
		p.o.OnChange(false, "")
	}
}

// Succeeded records a call that worked: failures in a row start again from zero.
func (p *Pauser) Succeeded() {
	p.mu.Lock()
	p.suspects = p.suspects[:0]
	p.mu.Unlock()
}

// Suspect records a transport error or 5xx on the event with key eventKey and reports whether
// enough distinct events failed in a row that the system itself should be probed.
func (p *Pauser) Suspect(eventKey string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, k := range p.suspects {
		if k == eventKey {
			return len(p.suspects) >= p.o.Suspects
		}
	}
	p.suspects = append(p.suspects, eventKey)
	if len(p.suspects) > p.o.Suspects {
		// Only the latest failures in a row matter.
		p.suspects = p.suspects[len(p.suspects)-p.o.Suspects:]
	}
	return len(p.suspects) >= p.o.Suspects
}

// Check probes, or returns the result of a probe that ran within the minimum probe gap, so a
// burst of suspicious failures costs at most one probe per gap. A caller that arrives while a
// probe runs waits for its result. The verification at start passed before any failure: a
// failure within the gap after it waits for the gap to end and probes.
func (p *Pauser) Check(ctx context.Context) error {
	return p.check(ctx, false)
}

// check is Check; verifying marks the verification probe at start.
func (p *Pauser) check(ctx context.Context, verifying bool) error {
	p.mu.Lock()
	if running := p.probing; running != nil {
		p.mu.Unlock()
		select {
		case <-running:
		case <-ctx.Done():
			return ctx.Err()
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.lastErr
	}
	if since := p.o.Now().Sub(p.lastProbe); !p.lastProbe.IsZero() && since < p.o.MinProbeGap {
		err, stale := p.lastErr, p.stale && p.lastErr == nil
		p.mu.Unlock()
		if !stale {
			return err
		}
		select {
		case <-p.o.After(p.o.MinProbeGap - since):
		case <-ctx.Done():
			return ctx.Err()
		}
		return p.check(ctx, verifying)
	}
	running := make(chan struct{})
	p.probing = running
	p.mu.Unlock()

	err := p.probe(ctx)

	p.mu.Lock()
	p.lastProbe, p.lastErr, p.probing, p.stale = p.o.Now(), err, nil, verifying
	p.verified = p.verified || err == nil
	p.mu.Unlock()
	close(running)
	return err
}

// Run probes while the replica is paused, with backoff from the minimum to the maximum probe
// gap, and resumes it when a probe passes; before any probe ran (VerifyFirst), it probes at
// once. It returns when ctx ends.
func (p *Pauser) Run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-p.wake:
		}
		gaps := backoff.Policy{Base: p.o.MinProbeGap, Max: p.o.MaxProbeGap}
		failed := 0
		gap := gaps.Step(1)
		for {
			if paused, _ := p.State(); !paused {
				break
			}
			p.mu.Lock()
			neverProbed := p.lastProbe.IsZero() && p.probing == nil
			p.mu.Unlock()
			if !neverProbed {
				select {
				case <-ctx.Done():
					return nil
				case <-p.o.After(gap):
				}
			}
			p.mu.Lock()
			seen := p.pauses
			verifying := p.o.VerifyFirst && !p.verified
			p.mu.Unlock()
			if err := p.check(ctx, verifying); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				failed++
				gap = gaps.Step(failed + 1)
				p.o.Logger.Warn("probe failed; staying paused", "error", err.Error(), "next_probe_in", gap.String())
				p.unverified(err)
				continue
			}
			p.resume(seen)
		}
	}
}

// unverified makes the pause reason say why, while no probe has passed yet.
func (p *Pauser) unverified(err error) {
	p.mu.Lock()
	if !p.o.VerifyFirst || p.verified || !p.paused {
		p.mu.Unlock()
		return
	}
	p.reason = "no probe has passed yet: " + err.Error()
	reason := p.reason
	p.mu.Unlock()
	if p.o.OnChange != nil {
		p.o.OnChange(true, reason)
	}
}
