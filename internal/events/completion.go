package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/redact"
)

// CloudEvents attributes of the completion events.
const (
	CompletionSource    = "urn:asset-ingest-consumer"
	TypeIngested        = "asset.ingested"
	TypeIngestFailed    = "asset.ingest_failed"
	completionMediaType = "application/json"
	// completionTimeLayout is RFC 3339 in UTC with milliseconds, fixed width,
	// so that a completion event re-marshalled from the ledger is
	// byte-identical.
	completionTimeLayout = "2006-01-02T15:04:05.000Z07:00"
)

// CompletionHeader is a new header set for a completion event: structured mode of the
// CloudEvents NATS binding, Content-Type application/cloudevents+json.
func CompletionHeader() nats.Header {
	return nats.Header{HeaderContentType: {MediaTypeCloudEventsJSON}}
}

// Ingested is the asset.ingested completion event, published on
// IngestedSubject(token) with Nats-Msg-Id = ID().
type Ingested struct {
	Key, EventID, EventSource string
	AssetID                   string // Amplience's id of the asset
	Name, AssetRepositoryID   string
	Src                       string // written without user-info, query or fragment
	Attempts                  int    // calls since the last replay
	DurationMs                int64
	Time                      time.Time
}

// ID is the CloudEvents id: "<key>:ingested".
func (e Ingested) ID() string { return e.Key + ":ingested" }

// Marshal returns the structured CloudEvents JSON. The same Ingested always
// gives the same bytes (Time is written in UTC with millisecond precision).
// It fails only when Key is empty: such an event has no id.
func (e Ingested) Marshal() ([]byte, error) {
	if e.Key == "" {
		return nil, errors.New("marshalling asset.ingested: the event key is empty")
	}
	return marshalEvent(envelope{
		SpecVersion: SpecVersion, ID: e.ID(), Source: CompletionSource, Type: TypeIngested,
		Subject: e.Name, Time: formatTime(e.Time), DataContentType: completionMediaType,
		Data: ingestedData{
			EventID: e.EventID, EventSource: e.EventSource, AssetID: e.AssetID, Name: e.Name,
			AssetRepositoryID: e.AssetRepositoryID, Src: redact.URL(e.Src),
			Attempts: e.Attempts, DurationMs: e.DurationMs,
		},
	})
}

// Failed is the asset.ingest_failed completion event, published on
// FailedSubject(token) with Nats-Msg-Id = ID() after the dead letter.
type Failed struct {
	// Key is the event key; empty when it could not be read, and then
	// Stream and Sequence (of the inbound message) name the event.
	Key         string
	Stream      string
	Sequence    uint64
	ReplayCount int // 0 for an original delivery
	EventID     string
	EventSource string
	Name        string
	Src         string // written without user-info, query or fragment
	ErrorClass  Class
	Error       string // written redacted, one line, at most MaxErrorBytes
	Attempts    int
	DLQSequence uint64
	Time        time.Time
}

// ID is the CloudEvents id: "<key>:failed:<replay count>", or
// "<stream>:<sequence>:failed:<replay count>" when Key is empty.
func (e Failed) ID() string {
	prefix := e.Key
	if prefix == "" {
		prefix = e.Stream + ":" + strconv.FormatUint(e.Sequence, 10)
	}
	return prefix + ":failed:" + strconv.Itoa(e.ReplayCount)
}

// Marshal returns the structured CloudEvents JSON; the same Failed always
// gives the same bytes.
func (e Failed) Marshal() ([]byte, error) {
	return marshalEvent(envelope{
		SpecVersion: SpecVersion, ID: e.ID(), Source: CompletionSource, Type: TypeIngestFailed,
		Subject: e.Name, Time: formatTime(e.Time), DataContentType: completionMediaType,
		Data: failedData{
			EventID: e.EventID, EventSource: e.EventSource, Name: e.Name, Src: redact.URL(e.Src),
			ErrorClass: e.ErrorClass, Error: OneLine(redact.Text(e.Error), MaxErrorBytes),
			Attempts: e.Attempts, DLQSequence: e.DLQSequence,
		},
	})
}

// envelope is a structured CloudEvent; field order is the JSON order.
type envelope struct {
	SpecVersion     string `json:"specversion"`
	ID              string `json:"id"`
	Source          string `json:"source"`
	Type            string `json:"type"`
	Subject         string `json:"subject,omitempty"`
	Time            string `json:"time,omitempty"`
	DataContentType string `json:"datacontenttype"`
	Data            any    `json:"data"`
}

type ingestedData struct {
	EventID           string `json:"eventId"`
	EventSource       string `json:"eventSource"`
	AssetID           string `json:"assetId"`
	Name              string `json:"name"`
	AssetRepositoryID string `json:"assetRepositoryId"`
	Src               string `json:"src"`
	Attempts          int    `json:"attempts"`
	DurationMs        int64  `json:"durationMs"`
}

type failedData struct {
	EventID     string `json:"eventId"`
	EventSource string `json:"eventSource"`
	Name        string `json:"name"`
	Src         string `json:"src"`
	ErrorClass  Class  `json:"errorClass"`
	Error       string `json:"error"`
	Attempts    int    `json:"attempts"`
	DLQSequence uint64 `json:"dlqSequence"`
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(completionTimeLayout)
}

func marshalEvent(ev envelope) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(ev); err != nil {
		return nil, fmt.Errorf("marshalling %s: %w", ev.Type, err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
