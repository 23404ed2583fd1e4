package events

import (
	"sort"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"
)

// Header names the service reads or writes. Reads match them
// case-insensitively; writes use these spellings.
const (
	HeaderErrorClass          = "Ingest-Error-Class"
	HeaderError               = "Ingest-Error"
	HeaderAttempts            = "Ingest-Attempts"
	HeaderOriginalSubject     = "Ingest-Original-Subject"
	HeaderOriginalStream      = "Ingest-Original-Stream"
	HeaderOriginalSequence    = "Ingest-Original-Sequence"
	HeaderEventID             = "Ingest-Event-Id"
	HeaderEventSource         = "Ingest-Event-Source"
	HeaderEventKey            = "Ingest-Event-Key"
	HeaderPublishedAt         = "Ingest-Published-At"
	HeaderFailedAt            = "Ingest-Failed-At"
	HeaderReplayCount         = "Ingest-Replay-Count"
	HeaderReplayOf            = "Ingest-Replay-Of"
	HeaderReplayTraceparent   = "Ingest-Replay-Traceparent"
	HeaderOriginalTraceparent = "Ingest-Original-Traceparent"
	HeaderOriginalTracestate  = "Ingest-Original-Tracestate"
	HeaderDroppedHeaders      = "Ingest-Dropped-Headers"
	HeaderBodyOmitted         = "Ingest-Body-Omitted"

	// HeaderOriginalPrefix prefixes a publisher's Nats-* header kept in a
	// dead letter: Nats-TTL becomes Ingest-Original-Nats-TTL.
	HeaderOriginalPrefix = "Ingest-Original-"

	HeaderMsgID       = "Nats-Msg-Id"
	HeaderTraceparent = "traceparent"
	HeaderTracestate  = "tracestate"
)

// Class is why an event was given up on: the value of Ingest-Error-Class and of an
// asset.ingest_failed event's errorClass.
type Class string

// The error classes.
const (
	// ClassInvalidEvent: the event failed to decode or validate; never retried.
	ClassInvalidEvent Class = "invalid_event"
	// ClassRejected: the API refused the input.
	ClassRejected Class = "rejected"
	// ClassExhausted: INGEST_MAX_ATTEMPTS calls failed.
	ClassExhausted Class = "exhausted"
)

const (
	ingestPrefix = "ingest-"
	natsPrefix   = "nats-"
)

// headerValues returns every value of every key of h equal to name under
// Unicode case folding, keys visited in sorted order so the result is
// deterministic. It returns nil when there is none.
func headerValues(h nats.Header, name string) []string {
	var out []string
	for _, k := range sortedKeys(h) {
		if strings.EqualFold(k, name) {
			out = append(out, h[k]...)
		}
	}
	return out
}

// HeaderValue returns the first value of the header name, matched case-insensitively
// (spellings visited in sorted order), or "" when there is none.
func HeaderValue(h nats.Header, name string) string {
	if vs := headerValues(h, name); len(vs) > 0 {
		return vs[0]
	}
	return ""
}

// singleHeader returns the value of name when h holds exactly one value for
// it across all spellings of the name.
func singleHeader(h nats.Header, name string) (string, bool) {
	vs := headerValues(h, name)
	if len(vs) != 1 {
		return "", false
	}
	return vs[0], true
}

func sortedKeys(h nats.Header) []string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// ReplayContext is what a replayed event says about the replay that produced
// it. The zero value means an original delivery (or replay headers that were
// missing or malformed, which are then ignored).
type ReplayContext struct {
	// Count is Ingest-Replay-Count: 0 for an original delivery.
	Count int
	// Of is Ingest-Replay-Of, "<dlq stream>:<dlq sequence>"; empty when absent.
	Of string
	// Traceparent is Ingest-Replay-Traceparent, the W3C trace context of the
	// processing that dead-lettered the event; empty when absent.
	Traceparent string
}

// ReplayInfo reads the Ingest-Replay-* headers of an inbound message. Each is
// kept only when it has exactly one value (across all spellings of its name)
// and is well-formed: the count a decimal integer >= 0, Of
// "<stream>:<sequence>" with a sequence >= 1, the traceparent a valid W3C
// version-00 traceparent. Anything else reads as absent.
func ReplayInfo(h nats.Header) ReplayContext {
	var rc ReplayContext
	if v, ok := singleHeader(h, HeaderReplayCount); ok {
		if n, ok := parseReplayCount(v); ok {
			rc.Count = n
		}
	}
	if v, ok := singleHeader(h, HeaderReplayOf); ok && validReplayOf(v) {
		rc.Of = v
	}
	if v, ok := singleHeader(h, HeaderReplayTraceparent); ok && ValidTraceparent(v) {
		rc.Traceparent = v
	}
	return rc
}

// parseReplayCount accepts plain decimal digits only (no sign, no spaces)
// that fit an int.
func parseReplayCount(s string) (int, bool) {
	if s == "" || len(s) > 9 || strings.TrimLeft(s, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, false
	}
	return n, true
}

// validReplayOf reports whether s is "<stream>:<sequence>": a JetStream
// stream name and a decimal sequence >= 1.
func validReplayOf(s string) bool {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return false
	}
	stream, seq := s[:i], s[i+1:]
	if !validStreamName(stream) || seq == "" || strings.TrimLeft(seq, "0123456789") != "" {
		return false
	}
	n, err := strconv.ParseUint(seq, 10, 64)
	return err == nil && n >= 1
}

// validStreamName follows JetStream's rules: printable ASCII, no whitespace,
// no '.', '*', '>', path separators or ':' (our own separator).
func validStreamName(s string) bool {
	if s == "" || len(s) > 255 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(".*>/\\:", c) >= 0 {
			return false
		}
	}
	return true
}

// ValidTraceparent reports whether s is a W3C Trace Context traceparent of
// version 00: "00-<32 lowercase hex, not all zero>-<16 lowercase hex, not
// all zero>-<2 lowercase hex>".
func ValidTraceparent(s string) bool {
	if len(s) != 55 || s[0] != '0' || s[1] != '0' || s[2] != '-' || s[35] != '-' || s[52] != '-' {
		return false
	}
	traceID, spanID, flags := s[3:35], s[36:52], s[53:55]
	return lowerHex(traceID) && lowerHex(spanID) && lowerHex(flags) &&
		strings.Trim(traceID, "0") != "" && strings.Trim(spanID, "0") != ""
}

func lowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
