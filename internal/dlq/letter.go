package dlq

import (
	"regexp"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/events"
)

// Letter is one dead letter as stored in the dead-letter stream.
type Letter struct {
	// Sequence is its sequence in the dead-letter stream.
	Sequence uint64
	// Subject is its own subject, assets.dlq.<source>.
	Subject string
	// Stored is when the dead-letter stream stored it.
	Stored time.Time
	// Header holds its headers, without those the server adds when a
	// message is read by sequence (Nats-Stream, Nats-Sequence, ...).
	Header nats.Header
	// Data is its body: the original message body, byte for byte (empty
	// when Ingest-Body-Omitted says it was left out).
	Data []byte
}

func newLetter(m *jetstream.RawStreamMsg) *Letter {
	h := nats.Header{}
	for k, vs := range m.Header {
		if !events.AddedByGet(k) {
			h[k] = vs
		}
	}
	return &Letter{Sequence: m.Sequence, Subject: m.Subject, Stored: m.Time, Header: h, Data: m.Data}
}

// Get returns the first value of the header name, matched
// case-insensitively (spellings visited in sorted order), or "" when absent.
func (l *Letter) Get(name string) string {
	return events.HeaderValue(l.Header, name)
}

// FailedAt is Ingest-Failed-At, or the time the dead letter was stored when
// that header is absent or malformed.
func (l *Letter) FailedAt() time.Time {
	if t, err := time.Parse(time.RFC3339Nano, l.Get(events.HeaderFailedAt)); err == nil {
		return t.UTC()
	}
	return l.Stored.UTC()
}

// Row is the summary of one dead letter that `dlq list` prints. With --json
// each row is one JSON object on its own line, with these stable field
// names:
//
//	sequence     number  sequence in the dead-letter stream
//	failedAt     string  Ingest-Failed-At (RFC 3339, UTC), else the time it was stored
//	class        string  Ingest-Error-Class: invalid_event, rejected or exhausted
//	subject      string  Ingest-Original-Subject, where the event was published
//	dlqSubject   string  the dead letter's own subject
//	eventId      string  Ingest-Event-Id ("" when absent)
//	eventSource  string  Ingest-Event-Source ("" when absent)
//	name         string  the event's data.name as written ("" when the body has none)
//	attempts     number  Ingest-Attempts (0 when absent)
//	replayCount  number  Ingest-Replay-Count (0 when absent or malformed: never replayed)
//	error        string  Ingest-Error, in full
//	bodyBytes    number  size of the stored body
//	bodyOmitted  bool    the body was left out (Ingest-Body-Omitted)
//
// JSON strings escape control characters; invalid UTF-8 becomes U+FFFD.
type Row struct {
	Sequence    uint64       `json:"sequence"`
	FailedAt    time.Time    `json:"failedAt"`
	Class       events.Class `json:"class"`
	Subject     string       `json:"subject"`
	DLQSubject  string       `json:"dlqSubject"`
	EventID     string       `json:"eventId"`
	EventSource string       `json:"eventSource"`
	Name        string       `json:"name"`
	Attempts    int          `json:"attempts"`
	ReplayCount int          `json:"replayCount"`
	Error       string       `json:"error"`
	BodyBytes   int          `json:"bodyBytes"`
	BodyOmitted bool         `json:"bodyOmitted"`
}

// Row summarises l.
func (l *Letter) Row() Row {
	return Row{
		Sequence:    l.Sequence,
		FailedAt:    l.FailedAt(),
		Class:       events.Class(l.Get(events.HeaderErrorClass)),
		Subject:     l.Get(events.HeaderOriginalSubject),
		DLQSubject:  l.Subject,
		EventID:     l.Get(events.HeaderEventID),
		EventSource: l.Get(events.HeaderEventSource),
		Name:        l.name(),
		Attempts:    atoi(l.Get(events.HeaderAttempts)),
		ReplayCount: events.ReplayInfo(l.Header).Count,
		Error:       l.Get(events.HeaderError),
		BodyBytes:   len(l.Data),
		BodyOmitted: l.Get(events.HeaderBodyOmitted) != "",
	}
}

// atoi reads a non-negative decimal header value; anything else is 0.
func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// name is the asset name the dead letter's event carries, read as it was
// written (valid or not), or "".
func (l *Letter) name() string {
	p, _ := events.Decode(l.Get(events.HeaderOriginalSubject), l.Header, l.Data, events.Rules{})
	return p.Asset.Name
}

// amplienceError matches an Ingest-Error written from an Amplience answer:
// "amplience <operation>: <kind> (<details>): <Amplience's message>".
var amplienceError = regexp.MustCompile(`^(amplience [^:]+: [a-z_]+(?: \([^)]*\))?): (.+)$`)

// messageFirst returns an Ingest-Error with Amplience's own message first
// and the call that got it after, so that a shortened error keeps the part
// that says what is wrong. Other errors are returned as they are.
func messageFirst(e string) string {
	m := amplienceError.FindStringSubmatch(e)
	if m == nil {
		return e
	}
	return m[2] + " [" + m[1] + "]"
}
