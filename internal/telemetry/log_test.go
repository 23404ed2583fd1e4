package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"testing/slogtest"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/trace"
)

// spanContext returns a context holding the inbound test span context.
func spanContext(tb testing.TB) context.Context {
	tb.Helper()
	sc, ok := ParseTraceparent(inboundTraceparent)
	if !ok {
		tb.Fatal("ParseTraceparent rejected a valid traceparent")
	}
	return trace.ContextWithSpanContext(context.Background(), sc)
}

// decodeJSON decodes one JSON object per line.
func decodeJSON(tb testing.TB, b []byte) []map[string]any {
	tb.Helper()
	var out []map[string]any
	for line := range bytes.Lines(b) {
		m := map[string]any{}
		if err := json.Unmarshal(line, &m); err != nil {
			tb.Fatalf("decoding log line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// jsonLines decodes one JSON object per line, dropping "time".
func jsonLines(tb testing.TB, b []byte) []map[string]any {
	tb.Helper()
	out := decodeJSON(tb, b)
	for _, m := range out {
		delete(m, slog.TimeKey)
	}
	return out
}

func TestNewLoggerRejectsBadValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, level, format, wantText string
	}{
		{name: "level", level: "verbose", format: "json", wantText: `log level "verbose" is not valid; set LOG_LEVEL to debug, info, warn or error`},
		{name: "format", level: "info", format: "xml", wantText: `log format "xml" is not valid; set LOG_FORMAT to json or text`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := NewLogger(&bytes.Buffer{}, tt.level, tt.format)
			if err == nil {
				t.Fatal("NewLogger succeeded, want an error")
			}
			if diff := cmp.Diff(tt.wantText, err.Error()); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNewLoggerLevels(t *testing.T) {
	t.Parallel()
	tests := []struct {
		level string
		want  []string
	}{
		{level: "debug", want: []string{"d", "i", "w", "e"}},
		{level: "", want: []string{"i", "w", "e"}},
		{level: "INFO", want: []string{"i", "w", "e"}},
		{level: "warn", want: []string{"w", "e"}},
		{level: "error", want: []string{"e"}},
	}
	for _, tt := range tests {
		t.Run(tt.level, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			l, err := NewLogger(&buf, tt.level, "")
			if err != nil {
				t.Fatalf("NewLogger: %v", err)
			}
			l.Debug("d")
			l.Info("i")
			l.Warn("w")
			l.Error("e")
			var got []string
			for _, m := range jsonLines(t, buf.Bytes()) {
				got = append(got, m[slog.MessageKey].(string))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("messages logged (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoggerAddsTraceIDs(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	l, err := NewLogger(&buf, "info", "json")
	if err != nil {
		t.Fatalf("NewLogger: %v", err)
	}
	ctx := spanContext(t)
	l.InfoContext(ctx, "in span", "k", "v")
	l.InfoContext(context.Background(), "outside", "k", "v")
	g := l.With("component", "ingest").WithGroup("event").With("id", "e1")
	g.InfoContext(ctx, "grouped", "k", "v")
	g.InfoContext(context.Background(), "grouped outside", "k", "v")

	want := []map[string]any{
		{"level": "INFO", "msg": "in span", "k": "v", "trace_id": inboundTraceID, "span_id": inboundSpanID},
		{"level": "INFO", "msg": "outside", "k": "v"},
		{
			"level": "INFO", "msg": "grouped", "component": "ingest", "trace_id": inboundTraceID, "span_id": inboundSpanID,
			"event": map[string]any{"id": "e1", "k": "v"},
		},
		{"level": "INFO", "msg": "grouped outside", "component": "ingest", "event": map[string]any{"id": "e1", "k": "v"}},
	}
	if diff := cmp.Diff(want, jsonLines(t, buf.Bytes())); diff != "" {
		t.Errorf("log records (-want +got):\n%s", diff)
	}
}

func TestLoggerTextFormat(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	l, err := NewLogger(&buf, "info", "text")
	if err != nil {
		t.Fatalf("NewLogger: %v", err)
	}
	l.InfoContext(spanContext(t), "hello")
	want := "trace_id=" + inboundTraceID + " span_id=" + inboundSpanID
	if !strings.Contains(buf.String(), want) {
		t.Errorf("text record %q does not contain %q", buf.String(), want)
	}
}

// fixedContext handles every record with ctx, so slogtest's records, which
// are logged without a context, can be logged "inside a span".
type fixedContext struct {
	slog.Handler
	ctx context.Context
}

func (f fixedContext) Handle(_ context.Context, r slog.Record) error {
	return f.Handler.Handle(f.ctx, r)
}

func (f fixedContext) WithAttrs(as []slog.Attr) slog.Handler {
	return fixedContext{f.Handler.WithAttrs(as), f.ctx}
}

func (f fixedContext) WithGroup(name string) slog.Handler {
	return fixedContext{f.Handler.WithGroup(name), f.ctx}
}

// TestTraceHandlerConformance runs the standard library's handler test suite
// on the wrapper, inside and outside a span, and checks the ids are added at
// the top level exactly when inside one.
func TestTraceHandlerConformance(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		ctx    context.Context
		inSpan bool
	}{
		{name: "outside span", ctx: context.Background(), inSpan: false},
		{name: "inside span", ctx: spanContext(t), inSpan: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			slogtest.Run(t, func(*testing.T) slog.Handler {
				buf.Reset()
				return fixedContext{NewTraceHandler(slog.NewJSONHandler(&buf, nil)), tt.ctx}
			}, func(t *testing.T) map[string]any {
				lines := decodeJSON(t, buf.Bytes())
				if len(lines) != 1 {
					t.Fatalf("got %d records, want 1", len(lines))
				}
				m := lines[0]
				ids := []any{m[LogKeyTraceID], m[LogKeySpanID]}
				want := []any{nil, nil}
				if tt.inSpan {
					want = []any{inboundTraceID, inboundSpanID}
				}
				if diff := cmp.Diff(want, ids); diff != "" {
					t.Errorf("top-level trace_id, span_id (-want +got):\n%s", diff)
				}
				delete(m, LogKeyTraceID)
				delete(m, LogKeySpanID)
				return m
			})
		})
	}
}

func TestErrorHandler(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	l, err := NewLogger(&buf, "info", "json")
	if err != nil {
		t.Fatalf("NewLogger: %v", err)
	}
	ErrorHandler(l).Handle(errors.New("export failed"))
	want := []map[string]any{{"level": "WARN", "msg": "OpenTelemetry error", "err": "export failed"}}
	if diff := cmp.Diff(want, jsonLines(t, buf.Bytes())); diff != "" {
		t.Errorf("log records (-want +got):\n%s", diff)
	}
}
