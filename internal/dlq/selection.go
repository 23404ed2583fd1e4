package dlq

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/events"
)

// Selection says which dead letters a command acts on: those with the
// sequences in Seqs (all dead letters when Seqs is empty) that pass every
// filter that is set, in sequence order, at most Limit of them.
type Selection struct {
	// Seqs are dead-letter sequences. A sequence that is not in the stream
	// is reported as missing.
	Seqs []uint64
	// All selects every dead letter present when the command starts; it
	// cannot be combined with Seqs. Replay and Purge need Seqs, All or a
	// filter; List treats an empty selection as All.
	All bool
	// Class matches Ingest-Error-Class, ignoring case.
	Class string
	// Subject is a NATS subject filter ("*" one token, ">" the rest)
	// matched against Ingest-Original-Subject or the dead letter's own
	// subject.
	Subject string
	// EventID matches Ingest-Event-Id exactly.
	EventID string
	// Error matches a substring of Ingest-Error, ignoring case.
	Error string
	// Since and Until bound the failure time (see Letter.FailedAt), both
	// inclusive; zero means unbounded.
	Since, Until time.Time
	// Limit caps how many dead letters are selected; 0 means no cap.
	Limit int
}

// Classes are the values of Ingest-Error-Class, which --class selects by.
var Classes = []events.Class{events.ClassInvalidEvent, events.ClassRejected, events.ClassExhausted}

// ClassNames lists Classes for a usage text: "invalid_event, rejected, exhausted".
func ClassNames() string {
	names := make([]string, len(Classes))
	for i, c := range Classes {
		names[i] = string(c)
	}
	return strings.Join(names, ", ")
}

// filtered reports whether a filter is set.
func (s Selection) filtered() bool {
	return s.Class != "" || s.Subject != "" || s.EventID != "" || s.Error != "" || !s.Since.IsZero() || !s.Until.IsZero()
}

// Check returns an error wrapping ErrUsage when s makes no sense; with
// required, s must select something explicitly.
func (s Selection) Check(required bool) error {
	switch {
	case s.All && len(s.Seqs) > 0:
		return fmt.Errorf("%w: give sequence numbers or --all, not both", ErrUsage)
	case required && !s.All && len(s.Seqs) == 0 && !s.filtered():
		return fmt.Errorf("%w: select dead letters by sequence numbers, a filter (--class, --subject, --since, --until, --event-id, --error) or --all", ErrUsage)
	case s.Class != "" && !slices.Contains(Classes, events.Class(strings.ToLower(s.Class))):
		return fmt.Errorf("%w: --class %q is not an error class; use %s", ErrUsage, Escape(s.Class), ClassNames())
	case s.Limit < 0:
		return fmt.Errorf("%w: --limit must not be negative", ErrUsage)
	case !s.Since.IsZero() && !s.Until.IsZero() && s.Until.Before(s.Since):
		return fmt.Errorf("%w: --until %s is before --since %s", ErrUsage,
			s.Until.Format(time.RFC3339), s.Since.Format(time.RFC3339))
	case s.Subject != "" && !validFilter(s.Subject):
		return fmt.Errorf("%w: --subject %q is not a NATS subject filter", ErrUsage, s.Subject)
	}
	for _, q := range s.Seqs {
		if q == 0 {
			return fmt.Errorf("%w: sequence numbers start at 1", ErrUsage)
		}
	}
	return nil
}

// seqs returns Seqs sorted, without repeats.
func (s Selection) seqs() []uint64 {
	out := slices.Clone(s.Seqs)
	slices.Sort(out)
	return slices.Compact(out)
}

// match reports whether l passes every filter of s.
func (s Selection) match(l *Letter) bool {
	r := l.Row()
	switch {
	case s.Class != "" && !strings.EqualFold(s.Class, string(r.Class)):
		return false
	case s.EventID != "" && s.EventID != r.EventID:
		return false
	case s.Error != "" && !strings.Contains(strings.ToLower(r.Error), strings.ToLower(s.Error)):
		return false
	case s.Subject != "" && !subjectMatches(s.Subject, r.Subject) && !subjectMatches(s.Subject, r.DLQSubject):
		return false
	case !s.Since.IsZero() && r.FailedAt.Before(s.Since):
		return false
	case !s.Until.IsZero() && r.FailedAt.After(s.Until):
		return false
	}
	return true
}

// validFilter reports whether f is a subject filter: non-empty tokens, ">"
// only last, no whitespace.
func validFilter(f string) bool {
	toks := strings.Split(f, ".")
	for i, t := range toks {
		if t == "" || strings.ContainsAny(t, " \t\r\n") || (t == ">" && i != len(toks)-1) {
			return false
		}
	}
	return true
}

// subjectMatches reports whether subject subj matches filter f.
func subjectMatches(f, subj string) bool {
	if subj == "" {
		return false
	}
	ft, st := strings.Split(f, "."), strings.Split(subj, ".")
	for i, t := range ft {
		if t == ">" {
			return len(st) > i
		}
		if i >= len(st) || (t != "*" && t != st[i]) {
			return false
		}
	}
	return len(ft) == len(st)
}

// ParseTime reads a --since or --until value: an RFC 3339 time, or a
// duration before now such as "24h", "90m" or "7d" (d: 24 hours).
func ParseTime(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	d, err := time.ParseDuration(s)
	if days, ok := strings.CutSuffix(s, "d"); ok && err != nil {
		n, aerr := strconv.Atoi(days)
		if aerr == nil && n >= 0 {
			d, err = time.Duration(n)*24*time.Hour, nil
		}
	}
	if err != nil || d < 0 {
		return time.Time{}, fmt.Errorf("%w: %q is neither an RFC 3339 time (2026-11-27T09:30:00Z) nor a duration ago (24h, 7d)", ErrUsage, s)
	}
	return now.Add(-d), nil
}
