package dlq

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"time"
	"unicode/utf8"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/events"
)

// This file holds the --json forms of show, replay and purge: one JSON object each, with
// stable field names, for scripts. JSON escapes control characters itself.

// LetterJSON is everything about one dead letter, as ShowJSON prints it: the fields of Row and
// what Show prints besides.
type LetterJSON struct {
	Row
	Stream           string              `json:"stream"`
	StoredAt         time.Time           `json:"storedAt"`
	OriginalStream   string              `json:"originalStream"`
	OriginalSequence uint64              `json:"originalSequence"`
	TraceID          string              `json:"traceId"`
	PublisherTraceID string              `json:"publisherTraceId"`
	ReplayOf         string              `json:"replayOf,omitempty"`
	Headers          map[string][]string `json:"headers"`
	// Body is the body as text when it is UTF-8 (JSON bodies too, as a string); null when it
	// is empty, was left out of the dead letter (bodyOmitted) or is not UTF-8.
	Body *string `json:"body"`
	// BodyBase64 is the body when it is not UTF-8.
	BodyBase64 string `json:"bodyBase64,omitempty"`
}

// ShowJSON prints dead letter seq as one LetterJSON object. Errors: as for Show.
func (t *Tool) ShowJSON(ctx context.Context, seq uint64) error {
	l, err := t.letter(ctx, seq)
	if err != nil {
		return err
	}
	out := LetterJSON{
		Row: l.Row(), Stream: t.DLQStream, StoredAt: l.Stored.UTC(),
		OriginalStream:   l.Get(events.HeaderOriginalStream),
		OriginalSequence: uint64(atoi(l.Get(events.HeaderOriginalSequence))),
		TraceID:          traceID(l.Get(events.HeaderTraceparent)),
		PublisherTraceID: traceID(l.Get(events.HeaderOriginalTraceparent)),
		ReplayOf:         l.Get(events.HeaderReplayOf),
		Headers:          map[string][]string(l.Header),
	}
	switch {
	case len(l.Data) == 0:
	case utf8.Valid(l.Data):
		body := string(l.Data)
		out.Body = &body
	default:
		out.BodyBase64 = base64.StdEncoding.EncodeToString(l.Data)
	}
	return writeJSON(t.Out, out)
}

// reportJSON is the one object replay --json and purge --json print when they finish.
type reportJSON struct {
	Command    string       `json:"command"` // replay or purge
	DryRun     bool         `json:"dryRun"`
	Selected   int          `json:"selected"`
	Missing    int          `json:"missing"`
	Done       int          `json:"done"`
	Duplicates int          `json:"duplicates"`
	Refused    int          `json:"refused"`
	Failed     int          `json:"failed"`
	Gone       int          `json:"gone"`
	Results    []resultJSON `json:"results"`
}

// resultJSON is what happened to one dead letter.
type resultJSON struct {
	Sequence uint64 `json:"sequence"`
	// Outcome is done, duplicate (done by an earlier run), refused, failed, gone or missing.
	Outcome string `json:"outcome"`
	Message string `json:"message"`
}

var outcomeNames = map[outcome]string{done: "done", duplicate: "duplicate", refused: "refused", failed: "failed", gone: "gone"}

// jsonReport gathers the results of a run for its JSON report; a nil one gathers nothing.
type jsonReport struct{ results []resultJSON }

// reportIf returns a report to gather into when on, else nil.
func reportIf(on bool) *jsonReport {
	if on {
		return &jsonReport{}
	}
	return nil
}

func (j *jsonReport) add(seq uint64, outcome, message string) {
	if j != nil {
		j.results = append(j.results, resultJSON{Sequence: seq, Outcome: outcome, Message: message})
	}
}

// writeReport prints the run's JSON report.
func (t *Tool) writeReport(b batch, rep Report) {
	out := reportJSON{
		Command: b.verb, DryRun: b.dryRun, Selected: rep.Selected, Missing: rep.Missing, Done: rep.Done,
		Duplicates: rep.Duplicates, Refused: rep.Refused, Failed: rep.Failed, Gone: rep.Gone,
		Results: b.json.results,
	}
	if out.Results == nil {
		out.Results = []resultJSON{}
	}
	if err := writeJSON(t.Out, out); err != nil {
		fmt.Fprintln(t.Err, err)
	}
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("writing: %w", err)
	}
	return nil
}
