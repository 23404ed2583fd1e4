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

// progress reports on Err how far a long run is, at most every
// progressEvery, measured with the Tool's clock.
type progress struct {
	t     *Tool
	verb  string
	total int
	last  time.Time
}

func (t *Tool) newProgress(verb string, total int) *progress {
	return &progress{t: t, verb: verb, total: total, last: t.now()}
}

// update prints a progress line when the run is long enough to need one.
func (p *progress) update(r Report) {
	if p.total < 2 {
		return
	}
	now := p.t.now()
	if now.Sub(p.last) < progressEvery {
		return
	}
	p.last = now
	fmt.Fprintf(p.t.Err, "%s: %d/%d handled (%d done, %d refused, %d failed)\n",
		p.verb, r.handled(), p.total, r.Done, r.Refused, r.Failed)
}
