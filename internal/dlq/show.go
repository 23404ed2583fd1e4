package dlq

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/events"
)

// Show prints everything about dead letter seq: where it is, its failure
// (class, error, attempts, replay count, original subject and sequence), the
// trace ids of the failed processing (from traceparent) and of the
// publisher (from Ingest-Original-Traceparent), every header, and the body,
// indented when it is JSON. Header values and the body are printed with
// control characters escaped. The error wraps ErrNotFound when the stream
// holds no such sequence; other errors: see Tool.
func (t *Tool) Show(ctx context.Context, seq uint64) error {
	l, err := t.letter(ctx, seq)
	if err != nil {
		return err
	}
	r := l.Row()
	var b strings.Builder
	fmt.Fprintf(&b, "Dead letter %d of %s\n", l.Sequence, t.DLQStream)
	field := func(name, value string) {
		fmt.Fprintf(&b, "  %-20s %s\n", name+":", orDash(Escape(value)))
	}
	field("subject", l.Subject)
	field("stored at", l.Stored.UTC().Format(time.RFC3339Nano))
	field("failed at", r.FailedAt.Format(time.RFC3339Nano))
	field("error class", string(r.Class))
	field("error", r.Error)
	field("attempts", l.Get(events.HeaderAttempts))
	field("replay count", fmt.Sprint(r.ReplayCount))
	field("original subject", r.Subject)
	field("original message", l.Get(events.HeaderOriginalStream)+" "+l.Get(events.HeaderOriginalSequence))
	field("event id", r.EventID)
	field("event source", r.EventSource)
	field("trace id", traceID(l.Get(events.HeaderTraceparent)))
	field("publisher trace id", traceID(l.Get(events.HeaderOriginalTraceparent)))
	if of := l.Get(events.HeaderReplayOf); of != "" {
		field("replay of", of)
	}
	b.WriteString("Headers:\n")
	keys := make([]string, 0, len(l.Header))
	for k := range l.Header {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) })
	for _, k := range keys {
		for _, v := range l.Header[k] {
			fmt.Fprintf(&b, "  %s: %s\n", Escape(k), Escape(v))
		}
	}
	writeBody(&b, l)
	if _, err := fmt.Fprint(t.Out, b.String()); err != nil {
		return fmt.Errorf("writing: %w", err)
	}
	return nil
}

// writeBody writes the body section: JSON indented, other text escaped,
// binary as a Go-quoted string.
func writeBody(b *strings.Builder, l *Letter) {
	if n := l.Get(events.HeaderBodyOmitted); n != "" {
		fmt.Fprintf(b, "Body: omitted from the dead letter (%s bytes); the inbound stream %s holds it at sequence %s\n",
			Escape(n), orDash(Escape(l.Get(events.HeaderOriginalStream))), orDash(Escape(l.Get(events.HeaderOriginalSequence))))
		return
	}
	if len(l.Data) == 0 {
		b.WriteString("Body: empty\n")
		return
	}
	var pretty bytes.Buffer
	if json.Valid(l.Data) && json.Indent(&pretty, l.Data, "", "  ") == nil {
		fmt.Fprintf(b, "Body (%d bytes, JSON):\n%s\n", len(l.Data), escapeBody(pretty.String()))
		return
	}
	if utf8.Valid(l.Data) {
		fmt.Fprintf(b, "Body (%d bytes, text):\n%s\n", len(l.Data), escapeBody(string(l.Data)))
		return
	}
	fmt.Fprintf(b, "Body (%d bytes, binary):\n%q\n", len(l.Data), l.Data)
}

// traceID returns the trace id of a W3C traceparent, or "" when tp is not a
// valid one.
func traceID(tp string) string {
	if !events.ValidTraceparent(tp) {
		return ""
	}
	return tp[3:35]
}
