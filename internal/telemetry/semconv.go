package telemetry

import (
	"context"
	"errors"
	"math"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope for the service's own tracers and
// meters: tp.Tracer(telemetry.ScopeName).
const ScopeName = "github.com/amplience-ingest/asset-ingest-consumer"

// Attributes the messaging semantic conventions do not define. The NATS ones
// follow the messaging.<system>.* pattern the conventions use for other
// systems.
const (
	// AttrNATSStream is the JetStream stream a message was read from.
	AttrNATSStream = attribute.Key("messaging.nats.stream")
	// AttrNATSStreamSequence is the message's sequence in that stream.
	AttrNATSStreamSequence = attribute.Key("messaging.nats.stream_sequence")
	// AttrNATSDeliveryCount is JetStream's delivery count (1 on the first).
	AttrNATSDeliveryCount = attribute.Key("messaging.nats.delivery_count")
	// AttrIngestAttempt is the ledger's createAsset attempt number.
	AttrIngestAttempt = attribute.Key("ingest.attempt")
)

// messagingSystem is messaging.system for NATS (not an enum value in the
// conventions, which allow custom values).
var messagingSystem = semconv.MessagingSystemKey.String("nats")

// Attempt returns the ingest.attempt attribute, for the process span once
// the ledger has counted the attempt.
func Attempt(n int) attribute.KeyValue {
	return AttrIngestAttempt.Int(n)
}

// ProcessInfo describes one JetStream delivery for [StartProcess].
type ProcessInfo struct {
	Subject   string      // the message's subject, e.g. "assets.published.akeneo"
	Stream    string      // the stream it was read from
	Consumer  string      // the durable consumer that delivered it
	Sequence  uint64      // its stream sequence
	Delivered uint64      // JetStream's delivery count
	MessageID string      // messaging.message.id (e.g. the CloudEvents id); empty leaves it out
	Header    nats.Header // the inbound headers, searched for trace context in any case; nil is empty
	// Link, when valid, is linked from the span, e.g. a replayed event's
	// original processing parsed from Ingest-Replay-Traceparent with
	// [ParseTraceparent].
	Link trace.SpanContext
}

// SubjectPattern returns subject with its last token replaced by "*"
// ("assets.ingested.akeneo" becomes "assets.ingested.*"); a subject of one
// token is returned as is. Every subject family of the service ends with the
// token naming the publishing system, so the pattern keeps span names low in
// cardinality while the full subject stays in messaging.destination.name.
func SubjectPattern(subject string) string {
	i := strings.LastIndexByte(subject, '.')
	if i < 0 {
		return subject
	}
	return subject[:i+1] + "*"
}

// spanName is "<operation> <subject pattern>", or the operation alone when
// there is no subject.
func spanName(operation, subject string) string {
	if subject == "" {
		return operation
	}
	return operation + " " + SubjectPattern(subject)
}

// maxProcessAttributes is the most attributes ProcessAttributes returns: one allocation holds
// them all.
const maxProcessAttributes = 10

// ProcessAttributes returns the messaging attributes of a process span for
// msg: system, operation, destination name and template, consumer group,
// message id, stream, stream sequence and delivery count. Empty strings and
// zero numbers are left out.
func ProcessAttributes(msg ProcessInfo) []attribute.KeyValue {
	attrs := make([]attribute.KeyValue, 0, maxProcessAttributes)
	attrs = append(attrs,
		messagingSystem,
		semconv.MessagingOperationTypeProcess,
		semconv.MessagingOperationName("process"))
	if msg.Subject != "" {
		attrs = append(attrs,
			semconv.MessagingDestinationName(msg.Subject),
			semconv.MessagingDestinationTemplate(SubjectPattern(msg.Subject)))
	}
	if msg.Consumer != "" {
		attrs = append(attrs, semconv.MessagingConsumerGroupName(msg.Consumer))
	}
	if msg.MessageID != "" {
		attrs = append(attrs, semconv.MessagingMessageID(msg.MessageID))
	}
	if msg.Stream != "" {
		attrs = append(attrs, AttrNATSStream.String(msg.Stream))
	}
	if msg.Sequence != 0 {
		attrs = append(attrs, AttrNATSStreamSequence.Int64(clampInt64(msg.Sequence)))
	}
	if msg.Delivered != 0 {
		attrs = append(attrs, AttrNATSDeliveryCount.Int64(clampInt64(msg.Delivered)))
	}
	return attrs
}

// StartProcess starts the consumer span "process <subject pattern>" for one
// delivery and returns it with a context holding it and any inbound baggage.
//
// Its parent is the publisher's context extracted through p from msg.Header
// (header names in any case), and the span also links to that context, the
// message's creation context, as the messaging conventions ask. When the
// headers carry no valid trace context the span is a new root, whatever span
// ctx already holds. When msg.Link is valid the span links to it as well,
// with or without a parent. The caller ends the
// span, adds [Attempt] when known and records the outcome.
//
// With a noop tracer (OTEL_SDK_DISABLED=true) the returned context carries
// the inbound span context unchanged, so what the service publishes under it
// continues the publisher's trace.
func StartProcess(ctx context.Context, tr trace.Tracer, p propagation.TextMapPropagator, msg ProcessInfo) (context.Context, trace.Span) {
	opts := []trace.SpanStartOption{
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(ProcessAttributes(msg)...),
	}
	// The headers are read once; what they carry then goes onto ctx.
	extracted := Extract(context.Background(), p, msg.Header)
	parent := ctx
	if inbound := trace.SpanContextFromContext(extracted); inbound.IsValid() {
		parent = trace.ContextWithRemoteSpanContext(parent, inbound)
		opts = append(opts, trace.WithLinks(trace.Link{SpanContext: inbound}))
	} else {
		opts = append(opts, trace.WithNewRoot())
	}
	if b := baggage.FromContext(extracted); b.Len() > 0 {
		parent = baggage.ContextWithBaggage(parent, b)
	}
	if msg.Link.IsValid() {
		opts = append(opts, trace.WithLinks(trace.Link{SpanContext: msg.Link}))
	}
	return tr.Start(parent, spanName("process", msg.Subject), opts...)
}

// StartPublish starts the producer span "send <subject pattern>" for a
// message about to be published on subject, as a child of the span in ctx,
// and injects its context into h through p (see [Inject]: any trace headers
// already in h, whatever their case, are replaced). A Nats-Msg-Id header in h
// becomes messaging.message.id. h must be non-nil for the context to be
// written. The caller ends the span once the server acknowledged the publish
// and records any error on it.
func StartPublish(ctx context.Context, tr trace.Tracer, p propagation.TextMapPropagator, subject string, h nats.Header) (context.Context, trace.Span) {
	attrs := make([]attribute.KeyValue, 0, 6)
	attrs = append(attrs,
		messagingSystem,
		semconv.MessagingOperationTypeSend,
		semconv.MessagingOperationName("send"))
	if subject != "" {
		attrs = append(attrs,
			semconv.MessagingDestinationName(subject),
			semconv.MessagingDestinationTemplate(SubjectPattern(subject)))
	}
	if id := HeaderCarrier(h).Get(nats.MsgIdHdr); id != "" {
		attrs = append(attrs, semconv.MessagingMessageID(id))
	}
	ctx, span := tr.Start(ctx, spanName("send", subject),
		trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(attrs...))
	Inject(ctx, p, h)
	return ctx, span
}

// Fail marks span as failed: status Error with description, error.type set
// to errorType (a low-cardinality identifier such as an error class or
// [ErrorType]'s answer), and err, when not nil, recorded as an exception.
func Fail(span trace.Span, errorType, description string, err error) {
	if err != nil {
		span.RecordError(err)
	}
	span.SetStatus(codes.Error, description)
	span.SetAttributes(semconv.ErrorTypeKey.String(errorType))
}

// ErrorType names err for error.type on a failed NATS operation: "timeout",
// "canceled", "no_stream_response", "no_responders", "connection_closed",
// "jetstream_api_error", or else the error's type
// as the conventions' [semconv.ErrorType] names it (a bounded set).
func ErrorType(err error) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, jetstream.ErrNoStreamResponse):
		return "no_stream_response"
	case errors.Is(err, nats.ErrNoResponders):
		return "no_responders"
	case errors.Is(err, nats.ErrConnectionClosed), errors.Is(err, nats.ErrConnectionDraining):
		return "connection_closed"
	}
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		return "jetstream_api_error"
	}
	return semconv.ErrorType(err).Value.AsString()
}

func clampInt64(v uint64) int64 {
	if v > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(v)
}
