package dlq

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
	"time"
)

// progressEvery is how often a long run reports progress on Err.
const progressEvery = 2 * time.Second

// confirm asks question on Err and reads one line from In: "y" or "yes"
// (any case) confirms. Anything else, end of input, or a nil In returns an
// error wrapping ErrNotConfirmed. When ctx ends while waiting, confirm
// returns ctx's error; the read it started is then abandoned and ends when
// In does (In is the process's standard input, which ends with the
// process).
func (t *Tool) confirm(ctx context.Context, question string) error {
	fmt.Fprintf(t.Err, "%s [y/N] ", question)
	if t.In == nil {
		fmt.Fprintln(t.Err)
		return fmt.Errorf("%w: there is no input to answer on; pass --yes to skip the question", ErrNotConfirmed)
	}
	type answer struct {
		line string
		err  error
	}
	got := make(chan answer, 1)
	go func() {
		line, err := bufio.NewReader(t.In).ReadString('\n')
		got <- answer{line, err}
	}()
	var a answer
	select {
	case <-ctx.Done():
		fmt.Fprintln(t.Err)
		return ctx.Err()
	case a = <-got:
	}
	switch strings.ToLower(strings.TrimSpace(a.line)) {
	case "y", "yes":
		return nil
	}
	if a.err == io.EOF && a.line == "" {
		fmt.Fprintln(t.Err)
		return fmt.Errorf("%w: no answer (end of input); nothing was changed; pass --yes to skip the question", ErrNotConfirmed)
	}
	return fmt.Errorf("%w: the answer was %q; nothing was changed", ErrNotConfirmed, Escape(strings.TrimSpace(a.line)))
}

// progressFrom is how many dead letters a run needs before it reports
// progress: a few are over before a line would help.
const progressFrom = 10

// progress reports on Err how far a long run is, with its rate and an
// estimate of the time left, at most every progressEvery, measured with the
// Tool's clock.
type progress struct {
	t           *Tool
	verb        string
	total       int
	start, last time.Time
}

func (t *Tool) newProgress(verb string, total int) *progress {
	now := t.now()
	return &progress{t: t, verb: verb, total: total, start: now, last: now}
}

// update prints a progress line when the run is long enough to need one.
func (p *progress) update(r Report) {
	if p.total < progressFrom {
		return
	}
	now := p.t.now()
	if now.Sub(p.last) < progressEvery {
		return
	}
	p.last = now
	n := r.handled()
	line := fmt.Sprintf("%s: %d/%d handled (%d done, %d refused, %d failed)", p.verb, n, p.total, r.Done, r.Refused, r.Failed)
	if elapsed := now.Sub(p.start); n > 0 && elapsed > 0 {
		perSec := float64(n) / elapsed.Seconds()
		left := time.Duration(float64(p.total-n) / perSec * float64(time.Second))
		line += fmt.Sprintf(", %.1f/s, about %s left", perSec, left.Round(time.Second))
	}
	fmt.Fprintln(p.t.Err, line)
}
