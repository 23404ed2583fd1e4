package ingest

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Probe checks the systems the service depends on without touching any event: a token fetch
// plus a cheap authenticated query, and the ledger bucket. nil means all answered.
type Probe func(ctx context.Context) error

// PauserOptions tune a [Pauser]; zero values take the defaults in brackets.
type PauserOptions struct {
	MinProbeGap time.Duration // at most one probe per this long (5s)
	MaxProbeGap time.Duration // probes while paused back off up to this (1m)
	Suspects    int           // failures of distinct events in a row that trigger a probe (3)
	Now         func() time.Time
	Logger      *slog.Logger
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
}

// NewPauser returns a running-state pauser that probes with probe.
func NewPauser(probe Probe, o PauserOptions) *Pauser {
	if o.MinProbeGap <= 0 {
		o.MinProbeGap = 5 * time.Second
	}
	if o.MaxProbeGap < o.MinProbeGap {
		o.MaxProbeGap = max(time.Minute, o.MinProbeGap)
	}
	if o.Suspects <= 0 {
		o.Suspects = 3
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	resumed := make(chan struct{})
	close(resumed)
	return &Pauser{probe: probe, o: o, resumed: resumed, wake: make(chan struct{}, 1)}
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
// probe runs waits for its result.
func (p *Pauser) Check(ctx context.Context) error {
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
	if !p.lastProbe.IsZero() && p.o.Now().Sub(p.lastProbe) < p.o.MinProbeGap {
		err := p.lastErr
		p.mu.Unlock()
		return err
	}
	running := make(chan struct{})
	p.probing = running
	p.mu.Unlock()

	err := p.probe(ctx)

	p.mu.Lock()
	p.lastProbe, p.lastErr, p.probing = p.o.Now(), err, nil
	p.mu.Unlock()
	close(running)
	return err
}

// Run probes while the replica is paused, with backoff from the minimum to the maximum probe
// gap, and resumes it when a probe passes. It returns when ctx ends.
func (p *Pauser) Run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-p.wake:
		}
		gap := p.o.MinProbeGap
		for {
			if paused, _ := p.State(); !paused {
				break
			}
			t := time.NewTimer(gap)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil
			case <-t.C:
			}
			p.mu.Lock()
			seen := p.pauses
			p.mu.Unlock()
			if err := p.Check(ctx); err != nil {
				p.o.Logger.Warn("probe failed; staying paused", "error", err.Error(), "next_probe_in", min(2*gap, p.o.MaxProbeGap).String())
				gap = min(2*gap, p.o.MaxProbeGap)
				continue
			}
			p.resume(seen)
		}
	}
}
