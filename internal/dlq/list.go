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
	"unicode/utf8"

	"github.com/nats-io/nats.go/jetstream"
)

// errorWidth is how many characters of Ingest-Error a list row shows.
const errorWidth = 60

// ListOptions are the settings of List.
type ListOptions struct {
	// JSON prints one JSON object per dead letter and line (see Row) and
	// nothing else.
	JSON bool
	// Follow keeps printing the dead letters sel selects as they are
	// written, after those present, until ctx ends (which is then no
	// error). It cannot be combined with sequence numbers or a limit.
	Follow bool
	// SummaryOnly prints the server's count of dead letters per source and
	// the first and last storage times, without reading any dead letter. It
	// takes no selection.
	SummaryOnly bool
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
	switch {
	case o.Follow && (len(sel.Seqs) > 0 || sel.Limit > 0):
		return fmt.Errorf("%w: --follow takes filters, not sequence numbers or --limit", ErrUsage)
	case o.SummaryOnly && (len(sel.Seqs) > 0 || sel.All || sel.filtered() || sel.Limit > 0 || o.Follow):
		return fmt.Errorf("%w: --summary counts the whole stream; it takes no selection and no --follow", ErrUsage)
	}
	s, err := t.dlq(ctx)
	if err != nil {
		return err
	}
	if o.SummaryOnly {
		return t.printCounts(ctx, s)
	}
	var missing []uint64
	listed := false // a table with its header was printed
	noteMissing := func(seq uint64) {
		missing = append(missing, seq)
		fmt.Fprintf(t.Err, "no dead letter %d in %s\n", seq, t.DLQStream)
	}
	if o.JSON {
		enc := json.NewEncoder(t.Out)
		enc.SetEscapeHTML(false)
		n := 0
		err = t.each(ctx, s, sel, func(l *Letter) error {
			n++
			if err := enc.Encode(l.Row()); err != nil {
				return fmt.Errorf("writing: %w", err)
			}
			return nil
		}, noteMissing)
		if err == nil && n == 0 && len(missing) == 0 {
			err = t.typo(ctx, s, sel)
		}
	} else {
		var sum summary
		err = t.each(ctx, s, sel, func(l *Letter) error {
			sum.add(l.Row())
			return nil
		}, noteMissing)
		if err == nil && len(sum.rows) == 0 && len(missing) == 0 {
			err = t.typo(ctx, s, sel)
		}
		if err == nil {
			err = sum.print(t.Out, t.DLQStream)
		}
		listed = len(sum.rows) > 0
		if err == nil && len(sum.rows) > 0 && !sel.filtered() && len(sel.Seqs) == 0 {
			err = t.printSources(ctx, s)
		}
	}
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s holds no sequence %s", ErrNotFound, t.DLQStream, joinSeqs(missing))
	}
	if o.Follow {
		return t.follow(ctx, s, sel, o.JSON, listed)
	}
	return nil
}

// typo returns an error wrapping ErrUsage when sel, which selected nothing,
// has a --subject filter that can match no dead letter of the stream (no
// subject of the stream, and its last token is no source of one): that is
// more likely a typo than an empty result. The error lists the subjects the
// dead letters are on.
func (t *Tool) typo(ctx context.Context, s jetstream.Stream, sel Selection) error {
	if sel.Subject == "" {
		return nil
	}
	bySubject, err := t.subjectCounts(ctx, s)
	if err != nil || len(bySubject) == 0 {
		return err
	}
	for subj := range bySubject {
		if subjectMatches(sel.Subject, subj) {
			return nil
		}
	}
	// A filter ending in a wildcard or in a source that has dead letters
	// may match their original subjects (assets.published.<source>).
	last := sel.Subject[strings.LastIndexByte(sel.Subject, '.')+1:]
	if _, ok := bySource(bySubject)[last]; ok || last == "*" || last == ">" {
		return nil
	}
	return fmt.Errorf("%w: --subject %q matches no dead letter; the dead letters in %s are on %s (and --subject also matches their original subjects, such as assets.published.<source>)",
		ErrUsage, Escape(sel.Subject), t.DLQStream, counts(toInt(bySubject)))
}

// subjectCounts asks the server how many dead letters each subject of s
// holds, without reading them.
func (t *Tool) subjectCounts(ctx context.Context, s jetstream.Stream) (map[string]uint64, error) {
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(">"))
	if err != nil {
		return nil, t.explain("reading the subjects of "+t.DLQStream, err, t.noDLQ())
	}
	return info.State.Subjects, nil
}

// printCounts prints the server's summary of the whole stream: no dead
// letter is read.
func (t *Tool) printCounts(ctx context.Context, s jetstream.Stream) error {
	bySubject, err := t.subjectCounts(ctx, s)
	if err != nil {
		return err
	}
	st := s.CachedInfo().State
	if st.Msgs == 0 {
		_, err := fmt.Fprintf(t.Out, "no dead letters in %s\n", t.DLQStream)
		return err
	}
	tw := tabwriter.NewWriter(t.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "%d dead letters in %s\n", st.Msgs, t.DLQStream)
	fmt.Fprintf(tw, "stored between %s and %s\n", st.FirstTime.UTC().Format(time.RFC3339), st.LastTime.UTC().Format(time.RFC3339))
	fmt.Fprintf(tw, "by source:\t%s\n", counts(bySource(bySubject)))
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("writing: %w", err)
	}
	return nil
}

// printSources prints the server's count per source after a full listing.
func (t *Tool) printSources(ctx context.Context, s jetstream.Stream) error {
	bySubject, err := t.subjectCounts(ctx, s)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(t.Out, "\nin %s now, by source (counted by the server): %s\n", t.DLQStream, counts(bySource(bySubject)))
	return err
}

// bySource sums per-subject counts by the subject's last token, the
// publishing system.
func bySource(bySubject map[string]uint64) map[string]int {
	out := make(map[string]int, len(bySubject))
	for subj, n := range bySubject {
		out[subj[strings.LastIndexByte(subj, '.')+1:]] += int(n)
	}
	return out
}

func toInt(m map[string]uint64) map[string]int {
	out := make(map[string]int, len(m))
	for k, n := range m {
		out[k] = int(n)
	}
	return out
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
	s.byClass[string(r.Class)]++
	s.bySubj[r.Subject]++
	if s.oldest.IsZero() || r.FailedAt.Before(s.oldest) {
		s.oldest = r.FailedAt
	}
	if r.FailedAt.After(s.youngest) {
		s.youngest = r.FailedAt
	}
	s.rows = append(s.rows, r)
}

// rowHeader names the columns of textRow.
const rowHeader = "SEQ\tFAILED AT\tCLASS\tSUBJECT\tNAME\tEVENT ID\tATTEMPTS\tREPLAYS\tERROR"

// textRow is r as one tab-separated line of a text listing, every field
// escaped and shortened, the error with Amplience's message first.
func textRow(r Row) string {
	return strings.Join(rowFields(r), "\t")
}

func rowFields(r Row) []string {
	return []string{strconv.FormatUint(r.Sequence, 10), r.FailedAt.Format(time.RFC3339),
		orDash(shorten(string(r.Class), 20)), orDash(shorten(r.Subject, 60)), orDash(shorten(r.Name, 40)),
		orDash(shorten(r.EventID, 40)), strconv.Itoa(r.Attempts), strconv.Itoa(r.ReplayCount),
		orDash(shorten(messageFirst(r.Error), errorWidth))}
}

// followWidths are the column widths of rows printed one at a time by
// --follow, where no table can align them: wide enough for usual values.
var followWidths = []int{5, 20, 13, 24, 20, 36, 8, 7, 0}

// alignedRow pads the fields of a row (or of the header, split at tabs) to
// followWidths, two spaces apart.
func alignedRow(fields []string) string {
	var b strings.Builder
	for i, f := range fields {
		if i > 0 {
			b.WriteString("  ")
		}
		b.WriteString(f)
		if i < len(fields)-1 {
			b.WriteString(strings.Repeat(" ", max(0, followWidths[i]-utf8.RuneCountInString(f))))
		}
	}
	return b.String()
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
	fmt.Fprintln(tw, rowHeader)
	for _, r := range s.rows {
		fmt.Fprintln(tw, textRow(r))
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
