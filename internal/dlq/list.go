package dlq

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// errorWidth is how many characters of Ingest-Error a list row shows.
const errorWidth = 60

// ListOptions are the settings of List.
type ListOptions struct {
	// JSON prints one JSON object per dead letter and line (see Row) and
	// nothing else.
	JSON bool
}

// List prints the dead letters sel selects (all of them when sel selects
// nothing explicitly): in text, a summary first (how many, per error class,
// per original subject, oldest and newest failure time), then one row per
// dead letter; with o.JSON, one Row per line. A sequence of sel.Seqs that
// is not in the stream is reported on Err and makes List return an error
// wrapping ErrNotFound after printing the others. Other errors: see Tool.
func (t *Tool) List(ctx context.Context, sel Selection, o ListOptions) error {
	if err := sel.Check(false); err != nil {
		return err
	}
	s, err := t.dlq(ctx)
	if err != nil {
		return err
	}
	var missing []uint64
	noteMissing := func(seq uint64) {
		missing = append(missing, seq)
		fmt.Fprintf(t.Err, "no dead letter %d in %s\n", seq, t.DLQStream)
	}
	if o.JSON {
		enc := json.NewEncoder(t.Out)
		enc.SetEscapeHTML(false)
		err = t.each(ctx, s, sel, func(l *Letter) error {
			if err := enc.Encode(l.Row()); err != nil {
				return fmt.Errorf("writing: %w", err)
			}
			return nil
		}, noteMissing)
	} else {
		var sum summary
		err = t.each(ctx, s, sel, func(l *Letter) error {
			sum.add(l.Row())
			return nil
		}, noteMissing)
		if err == nil {
			err = sum.print(t.Out, t.DLQStream)
		}
	}
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s holds no sequence %s", ErrNotFound, t.DLQStream, joinSeqs(missing))
	}
	return nil
}

// summary gathers the rows of a text listing. Rows keep only their short
// error text, never a body.
type summary struct {
	rows             []Row
	byClass, bySubj  map[string]int
	oldest, youngest time.Time
}

func (s *summary) add(r Row) {
	if s.byClass == nil {
		s.byClass, s.bySubj = map[string]int{}, map[string]int{}
	}
	s.byClass[r.Class]++
	s.bySubj[r.Subject]++
	if s.oldest.IsZero() || r.FailedAt.Before(s.oldest) {
		s.oldest = r.FailedAt
	}
	if r.FailedAt.After(s.youngest) {
		s.youngest = r.FailedAt
	}
	r.Error = shorten(r.Error, errorWidth)
	s.rows = append(s.rows, r)
}

func (s *summary) print(w io.Writer, stream string) error {
	if len(s.rows) == 0 {
		_, err := fmt.Fprintf(w, "no dead letters selected in %s\n", stream)
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "%d dead letters in %s\n", len(s.rows), stream)
	fmt.Fprintf(tw, "failed between %s and %s\n", s.oldest.Format(time.RFC3339), s.youngest.Format(time.RFC3339))
	fmt.Fprintf(tw, "by class:\t%s\n", counts(s.byClass))
	fmt.Fprintf(tw, "by subject:\t%s\n\n", counts(s.bySubj))
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("writing: %w", err)
	}
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tFAILED AT\tCLASS\tSUBJECT\tEVENT ID\tATTEMPTS\tREPLAYS\tERROR")
	for _, r := range s.rows {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%d\t%d\t%s\n", r.Sequence, r.FailedAt.Format(time.RFC3339),
			orDash(shorten(r.Class, 20)), orDash(shorten(r.Subject, 60)), orDash(shorten(r.EventID, 40)),
			r.Attempts, r.ReplayCount, orDash(r.Error))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("writing: %w", err)
	}
	return nil
}

// counts renders "name n, name n" by descending count, then name.
func counts(m map[string]int) string {
	keys := slices.Collect(maps.Keys(m))
	slices.SortFunc(keys, func(a, b string) int {
		if m[a] != m[b] {
			return m[b] - m[a]
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = orDash(shorten(k, 60)) + " " + strconv.Itoa(m[k])
	}
	return strings.Join(parts, ", ")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func joinSeqs(seqs []uint64) string {
	parts := make([]string, len(seqs))
	for i, q := range seqs {
		parts[i] = strconv.FormatUint(q, 10)
	}
	return strings.Join(parts, ", ")
}
