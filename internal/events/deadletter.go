package events

import (
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/redact"
)

// MaxErrorBytes bounds Ingest-Error and the error of asset.ingest_failed.
const MaxErrorBytes = 1024

// DeadLetter is what a dead letter records about the inbound message and the
// decision to give up on it.
type DeadLetter struct {
	// Stream, Sequence and Subject locate the inbound message.
	Stream   string
	Sequence uint64
	Subject  string
	// PublishedAt is the inbound message's JetStream time; FailedAt the
	// decision time. Zero: the header is not written.
	PublishedAt, FailedAt time.Time
	// Class is ClassInvalidEvent, ClassRejected or ClassExhausted.
	Class Class
	// Err is the error text; it is redacted and cut to one line of at most
	// MaxErrorBytes bytes.
	Err string
	// Attempts is the number of createAsset calls since the last replay.
	Attempts int
	// EventID and EventSource are the CloudEvents attributes as read. When
	// empty or containing a NUL byte they are not written, nor is the key.
	EventID, EventSource string
	// Traceparent and Tracestate are the trace context of the failed
	// processing; empty means none.
	Traceparent, Tracestate string
}

// DeadLetterHeader returns the headers of the dead letter of a message that
// had headers orig (not modified). Header names in orig are matched
// case-insensitively:
//
//   - Ingest-* headers are dropped, except Ingest-Replay-Count,
//     Ingest-Replay-Of and Ingest-Replay-Traceparent when single-valued and
//     well-formed (see ReplayInfo), which are kept under these spellings;
//   - Nats-* headers are renamed Ingest-Original-<name as spelled>, except
//     those that reading a message by sequence adds (see AddedByGet);
//   - traceparent and tracestate move to Ingest-Original-Traceparent and
//     Ingest-Original-Tracestate, replaced by d's when d has them;
//   - Nats-Msg-Id "<stream>:<sequence>" and every Ingest-* header of SPEC's
//     table are then set from d.
//
// Every value is a single line (CR and LF become spaces). Header names the
// NATS client refuses are left in; see DropUnsendableHeaders.
func DeadLetterHeader(orig nats.Header, d DeadLetter) nats.Header {
	out := nats.Header{}
	for _, k := range sortedKeys(orig) {
		vs := orig[k]
		switch {
		case foldPrefix(k, ingestPrefix):
			// Forgeable service context: dropped; replay headers re-added below.
		case foldPrefix(k, natsPrefix):
			if !AddedByGet(k) {
				addValues(out, HeaderOriginalPrefix+k, vs)
			}
		case strings.EqualFold(k, HeaderTraceparent):
			addValues(out, HeaderOriginalTraceparent, vs)
		case strings.EqualFold(k, HeaderTracestate):
			addValues(out, HeaderOriginalTracestate, vs)
		default:
			addValues(out, k, vs)
		}
	}
	if v, ok := singleHeader(orig, HeaderReplayCount); ok {
		if _, ok := parseReplayCount(v); ok {
			out.Set(HeaderReplayCount, v)
		}
	}
	if v, ok := singleHeader(orig, HeaderReplayOf); ok && validReplayOf(v) {
		out.Set(HeaderReplayOf, v)
	}
	if v, ok := singleHeader(orig, HeaderReplayTraceparent); ok && ValidTraceparent(v) {
		out.Set(HeaderReplayTraceparent, v)
	}

	set := func(k, v string) { out.Set(k, OneLine(v, 0)) }
	set(HeaderMsgID, d.Stream+":"+strconv.FormatUint(d.Sequence, 10))
	set(HeaderErrorClass, string(d.Class))
	set(HeaderError, OneLine(redact.Text(d.Err), MaxErrorBytes))
	set(HeaderAttempts, strconv.Itoa(d.Attempts))
	set(HeaderOriginalSubject, d.Subject)
	set(HeaderOriginalStream, d.Stream)
	set(HeaderOriginalSequence, strconv.FormatUint(d.Sequence, 10))
	if usableAttribute(d.EventID) {
		set(HeaderEventID, d.EventID)
	}
	if usableAttribute(d.EventSource) {
		set(HeaderEventSource, d.EventSource)
	}
	if usableAttribute(d.EventID) && usableAttribute(d.EventSource) {
		set(HeaderEventKey, Key(SourceToken(d.Subject), d.EventSource, d.EventID))
	}
	if !d.PublishedAt.IsZero() {
		set(HeaderPublishedAt, d.PublishedAt.UTC().Format(time.RFC3339Nano))
	}
	if !d.FailedAt.IsZero() {
		set(HeaderFailedAt, d.FailedAt.UTC().Format(time.RFC3339Nano))
	}
	if d.Traceparent != "" {
		set(HeaderTraceparent, d.Traceparent)
	}
	if d.Tracestate != "" {
		set(HeaderTracestate, d.Tracestate)
	}
	return out
}

// AddedByGet reports whether name is a header nats-server adds when a
// message is read by sequence (direct get, batched get) or republished, and
// so not the publisher's: Nats-Stream, Nats-Subject, Nats-Sequence,
// Nats-Time-Stamp, Nats-Num-Pending, Nats-Last-Sequence, Nats-UpTo-Sequence
// (nats-server v2.15 server/stream.go).
func AddedByGet(name string) bool {
	for _, n := range []string{
		"Nats-Stream", "Nats-Subject", "Nats-Sequence", "Nats-Time-Stamp",
		"Nats-Num-Pending", "Nats-Last-Sequence", "Nats-UpTo-Sequence",
	} {
		if strings.EqualFold(name, n) {
			return true
		}
	}
	return false
}

func addValues(h nats.Header, k string, vs []string) {
	for _, v := range vs {
		h[k] = append(h[k], OneLine(v, 0))
	}
}

// foldPrefix reports whether s starts with prefix under Unicode case
// folding, as strings.EqualFold compares, so that no spelling of a reserved
// prefix slips through.
func foldPrefix(s, prefix string) bool {
	for _, pr := range prefix {
		if s == "" {
			return false
		}
		r, size := utf8.DecodeRuneInString(s)
		if !strings.EqualFold(string(r), string(pr)) {
			return false
		}
		s = s[size:]
	}
	return true
}

// DropUnsendableHeaders removes from h every header name the NATS client
// refuses to send (nats.go accepts only non-empty names of printable ASCII
// other than the separators "()/,:;<=>?@[\]{} and '"'), records them in
// Ingest-Dropped-Headers (each Go-quoted in ASCII, comma-separated, sorted)
// and returns them sorted. It returns nil and leaves h alone when every name
// is sendable.
func DropUnsendableHeaders(h nats.Header) []string {
	dropped := dropUnsendable(h)
	if len(dropped) > 0 {
		h.Set(HeaderDroppedHeaders, droppedList(dropped))
	}
	return dropped
}

// dropUnsendable removes from h the names the NATS client refuses and returns them sorted.
func dropUnsendable(h nats.Header) []string {
	var dropped []string
	for k := range h {
		if !sendableHeaderName(k) {
			dropped = append(dropped, k)
		}
	}
	sort.Strings(dropped)
	for _, k := range dropped {
		delete(h, k)
	}
	return dropped
}

// sendableHeaderName mirrors nats.go's isHeaderKeyValid.
func sendableHeaderName(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c < 33 || c > 126 || strings.IndexByte(`"()/,:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}
