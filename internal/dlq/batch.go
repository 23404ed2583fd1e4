package dlq

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/time/rate"
)

// Report counts what a Replay or Purge did (with DryRun: would do).
type Report struct {
	// Selected is how many dead letters the selection found.
	Selected int
	// Missing is how many sequences given by number the stream did not
	// hold; each is a failure.
	Missing int
	// Done is how many were replayed (and deleted) or purged.
	Done int
	// Duplicates is how many of Done the inbound stream had already stored
	// from an earlier, interrupted replay and dropped as duplicates.
	Duplicates int
	// Refused is how many could not be replayed as they are (a subject the
	// inbound stream does not take, a body left out); they were kept.
	Refused int
	// Failed is how many a NATS error stopped; they were kept unless the
	// message says otherwise.
	Failed int
	// Gone is how many had been deleted by someone else (another replay or
	// purge) between the selection and their turn.
	Gone int
}

func (r Report) handled() int { return r.Done + r.Refused + r.Failed + r.Gone }

// outcome is what happened to one dead letter.
type outcome int

const (
	done outcome = iota
	duplicate
	refused
	failed
	gone
)

// batch is one Replay or Purge run.
type batch struct {
	verb     string // "replay" or "purge"
	question string // what confirm asks, with %d for the count
	dryRun   bool
	yes      bool
	rate     float64     // per second; 0: no limit
	json     *jsonReport // non-nil: print one JSON report instead of text on Out
	// one handles dead letter seq and returns what happened and a line
	// saying so (without the sequence).
	one func(ctx context.Context, s jetstream.Stream, seq uint64) (outcome, string)
}

// run selects, confirms and then hands each selected dead letter to b.one,
// at b.rate, printing one line per dead letter (done ones on Out, the
// others on Err), progress on Err and a closing summary on Out.
func (t *Tool) run(ctx context.Context, sel Selection, b batch) (Report, error) {
	var rep Report
	if err := sel.Check(true); err != nil {
		return rep, err
	}
	if b.rate < 0 {
		return rep, fmt.Errorf("%w: --rate must not be negative", ErrUsage)
	}
	s, err := t.dlq(ctx)
	if err != nil {
		return rep, err
	}
	var seqs []uint64
	err = t.each(ctx, s, sel, func(l *Letter) error {
		seqs = append(seqs, l.Sequence)
		return nil
	}, func(seq uint64) {
		rep.Missing++
		fmt.Fprintf(t.Err, "%d: no such sequence in %s\n", seq, t.DLQStream)
		b.json.add(seq, "missing", "no such sequence in "+t.DLQStream)
	})
	if err != nil {
		return rep, fmt.Errorf("selecting dead letters: %w", err)
	}
	rep.Selected = len(seqs)
	if len(seqs) == 0 && rep.Missing == 0 {
		if err := t.typo(ctx, s, sel); err != nil {
			return rep, err
		}
	}
	if len(seqs) == 0 {
		if b.json != nil {
			t.writeReport(b, rep)
		} else {
			fmt.Fprintf(t.Out, "no dead letters selected in %s; nothing to %s\n", t.DLQStream, b.verb)
		}
		return rep, rep.err(b.verb)
	}
	if len(seqs) > 1 && !b.yes && !b.dryRun {
		if err := t.confirm(ctx, fmt.Sprintf(b.question, len(seqs))); err != nil {
			return rep, err
		}
	}
	var lim *rate.Limiter
	if b.rate > 0 {
		lim = rate.NewLimiter(rate.Limit(b.rate), 1)
	}
	prog := t.newProgress(b.verb, len(seqs))
	for _, seq := range seqs {
		if lim != nil {
			err = lim.Wait(ctx)
		} else {
			err = ctx.Err()
		}
		if err != nil {
			return rep, t.interrupted(ctx, b.verb, rep)
		}
		what, line := b.one(ctx, s, seq)
		if what == failed && ctx.Err() != nil {
			return rep, t.interrupted(ctx, b.verb, rep)
		}
		w := t.Err // what did not go as asked is reported on Err
		switch what {
		case done, duplicate:
			rep.Done++
			if what == duplicate {
				rep.Duplicates++
			}
			w = t.Out
		case refused:
			rep.Refused++
		case failed:
			rep.Failed++
		case gone:
			rep.Gone++
		}
		b.json.add(seq, outcomeNames[what], line)
		if b.json == nil || w == t.Err {
			fmt.Fprintf(w, "%d: %s\n", seq, line)
		}
		prog.update(rep)
	}
	t.summarise(b, rep)
	return rep, rep.err(b.verb)
}

// summarise prints the closing line of a run, or its JSON report.
func (t *Tool) summarise(b batch, rep Report) {
	if b.json != nil {
		t.writeReport(b, rep)
		return
	}
	did := map[string]string{"replay": "replayed", "purge": "purged"}[b.verb]
	// Sequences asked for by number and not found count in the total, as
	// they do in the error.
	total := rep.Selected + rep.Missing
	if b.dryRun {
		fmt.Fprintf(t.Out, "dry run, nothing changed: would have %s %d of %d dead letters; %d refused, %d failed, %d gone, %d missing\n",
			did, rep.Done, total, rep.Refused, rep.Failed, rep.Gone, rep.Missing)
		return
	}
	fmt.Fprintf(t.Out, "%s %d of %d dead letters", did, rep.Done, total)
	if rep.Duplicates > 0 {
		fmt.Fprintf(t.Out, " (%d already stored by an earlier run)", rep.Duplicates)
	}
	fmt.Fprintf(t.Out, "; %d refused, %d failed, %d gone, %d missing\n", rep.Refused, rep.Failed, rep.Gone, rep.Missing)
}

// err is the error of a finished run: nil, or ErrIncomplete when any dead
// letter was refused, failed or missing.
func (r Report) err(verb string) error {
	if bad := r.Refused + r.Failed + r.Missing; bad > 0 {
		return fmt.Errorf("%s: %d of %d dead letters refused, failed or missing (listed above): %w",
			verb, bad, r.Selected+r.Missing, ErrIncomplete)
	}
	return nil
}

// interrupted is the error of a run ctx stopped.
func (t *Tool) interrupted(ctx context.Context, verb string, rep Report) error {
	err := ctx.Err()
	if err == nil {
		err = errors.New("stopped")
	}
	fmt.Fprintf(t.Err, "%s interrupted after %d of %d dead letters (%d done); running it again continues safely\n",
		verb, rep.handled(), rep.Selected, rep.Done)
	return fmt.Errorf("%s interrupted after %d of %d dead letters: %w", verb, rep.handled(), rep.Selected, err)
}
