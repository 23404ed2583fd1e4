package telemetry

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"
)

// Log attribute keys added to records logged inside a span.
const (
	LogKeyTraceID = "trace_id"
	LogKeySpanID  = "span_id"
)

// NewLogger returns a logger writing to w at level ("debug", "info", "warn"
// or "error") in format ("json" or "text"), both case-insensitive; an empty
// string means the default ("info", "json"). An error names the bad value
// and the accepted ones.
//
// Every record logged with a context holding a valid span gets top-level
// trace_id and span_id attributes (hex, as in traceparent), whatever groups
// the logger has opened.
func NewLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lvl slog.Level
	switch strings.ToLower(strings.TrimSpace(level)) {
	case "debug":
		lvl = slog.LevelDebug
	case "", "info":
		lvl = slog.LevelInfo
	case "warn", "warning":
		lvl = slog.LevelWarn
	case "error":
		lvl = slog.LevelError
	default:
		return nil, fmt.Errorf("log level %q is not valid; set LOG_LEVEL to debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	var h slog.Handler
	switch strings.ToLower(strings.TrimSpace(format)) {
	case "", "json":
		h = slog.NewJSONHandler(w, opts)
	case "text":
		h = slog.NewTextHandler(w, opts)
	default:
		return nil, fmt.Errorf("log format %q is not valid; set LOG_FORMAT to json or text", format)
	}
	return slog.New(NewTraceHandler(h)), nil
}

// NewTraceHandler wraps h so that every record handled with a context
// holding a valid span gets top-level trace_id and span_id attributes.
// Records without one pass through unchanged.
func NewTraceHandler(h slog.Handler) slog.Handler {
	return &traceHandler{base: h, current: h}
}

// traceHandler keeps the handler it wraps (base) and the attributes and
// groups added since (ops), so the trace ids can be added outside any group:
// base.WithAttrs(ids) with ops replayed on top. current is base with ops
// applied, used for records outside a span and while no group is open.
type traceHandler struct {
	base    slog.Handler
	ops     []handlerOp
	current slog.Handler
	grouped bool
}

// handlerOp is one WithGroup (group != "") or WithAttrs call.
type handlerOp struct {
	group string
	attrs []slog.Attr
}

func (h *traceHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.current.Enabled(ctx, l)
}

func (h *traceHandler) Handle(ctx context.Context, r slog.Record) error {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return h.current.Handle(ctx, r)
	}
	ids := []slog.Attr{
		slog.String(LogKeyTraceID, sc.TraceID().String()),
		slog.String(LogKeySpanID, sc.SpanID().String()),
	}
	if !h.grouped {
		r = r.Clone()
		r.AddAttrs(ids...)
		return h.current.Handle(ctx, r)
	}
	inner := h.base.WithAttrs(ids)
	for _, op := range h.ops {
		if op.group != "" {
			inner = inner.WithGroup(op.group)
		} else {
			inner = inner.WithAttrs(op.attrs)
		}
	}
	return inner.Handle(ctx, r)
}

func (h *traceHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	return h.with(handlerOp{attrs: attrs}, h.current.WithAttrs(attrs))
}

func (h *traceHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	c := h.with(handlerOp{group: name}, h.current.WithGroup(name))
	c.grouped = true
	return c
}

func (h *traceHandler) with(op handlerOp, current slog.Handler) *traceHandler {
	return &traceHandler{
		base:    h.base,
		ops:     append(h.ops[:len(h.ops):len(h.ops)], op),
		current: current,
		grouped: h.grouped,
	}
}

// ErrorHandler returns an [otel.ErrorHandler] that logs OpenTelemetry's
// internal errors (failed exports, dropped spans) on l at warn level, for cmd
// to install with otel.SetErrorHandler.
func ErrorHandler(l *slog.Logger) otel.ErrorHandler {
	return otel.ErrorHandlerFunc(func(err error) {
		l.Warn("OpenTelemetry error", "err", err)
	})
}
