package events

import (
	"encoding/json"
	"fmt"
	"mime"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// Mode is the CloudEvents NATS binding mode an event arrived in.
type Mode string

const (
	// ModeStructured: the body is the whole event as JSON.
	ModeStructured Mode = "structured"
	// ModeBinary: attributes in ce-* headers, the body is data as JSON.
	ModeBinary Mode = "binary"
)

// CloudEvents constants of the inbound event.
const (
	SpecVersion   = "1.0"
	TypePublished = "asset.published"
)

// InvalidEventError says exactly what is wrong with an inbound event. Such an
// event is never retried: it is dead-lettered with class
// [ClassInvalidEvent] and Error() as Ingest-Error. Neither field ever quotes
// the src URL.
type InvalidEventError struct {
	// Field is the attribute or data field at fault: "id", "type",
	// "data.src", "data.tags[3]"; "event" when the body is not an event at all.
	Field string
	// Reason is what is wrong with it: "required", "must be a string, got number".
	Reason string
}

// Error returns "<field>: <reason>".
func (e *InvalidEventError) Error() string { return e.Field + ": " + e.Reason }

func invalid(field, format string, args ...any) *InvalidEventError {
	return &InvalidEventError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// Published is a decoded asset.published event.
type Published struct {
	Mode Mode
	// ID, Source, Type and Subject are the CloudEvents attributes as read;
	// Subject is the optional CloudEvents "subject" attribute, not the NATS
	// subject. ID and Source may be set even when Decode fails (see Decode).
	ID, Source, Type, Subject string
	// Time is the optional "time" attribute; zero when absent.
	Time time.Time
	// SourceToken is the last token of the NATS subject: the publishing system.
	SourceToken string
	// Key is the event key ([Key]); empty when id or source is missing,
	// not a string, empty or contains a NUL byte.
	Key string
	// Asset is the createAsset input, defaults applied. Valid only when
	// Decode returned no error; after an error it holds at most Name and Src,
	// as written, when data had them as strings (for the failure event).
	Asset CreateAsset
}

// Decode reads and validates an asset.published event received on the NATS
// subject subject with headers h and body body.
//
// The event is in structured mode when its Content-Type header is
// application/cloudevents+json (parameters allowed, any case) or when it has
// no ce-specversion header; otherwise it is in binary mode, its ce-* header
// values percent-decoded as the CloudEvents NATS binding requires, so that
// one event has the same id and key in both modes. Header names are matched
// case-insensitively.
//
// A nil error means the event is valid and p.Asset is ready to send. Any
// error is an *InvalidEventError naming the first field at fault; p then
// still carries Mode, SourceToken and whatever of ID, Source and Key could be
// read, for the dead-letter headers. Decode never returns another error type.
func Decode(subject string, h nats.Header, body []byte, r Rules) (Published, error) {
	p := Published{SourceToken: SourceToken(subject)}
	var ev rawEvent
	var err *InvalidEventError
	if isStructured(h) {
		p.Mode = ModeStructured
		ev, err = structuredEvent(body)
	} else {
		p.Mode = ModeBinary
		ev = binaryEvent(h, body)
	}
	if err != nil {
		return p, err
	}
	if ev.id.err == nil {
		p.ID = ev.id.value
	}
	if ev.source.err == nil {
		p.Source = ev.source.value
	}
	if usableAttribute(p.ID) && usableAttribute(p.Source) {
		p.Key = Key(p.SourceToken, p.Source, p.ID)
	}
	if err := p.validateAttributes(ev, r); err != nil {
		p.Asset = describeData(ev.data)
		return p, err
	}
	if ev.dataErr != nil {
		return p, ev.dataErr
	}
	asset, err := validateData(ev.data, r)
	if err != nil {
		p.Asset = describeData(ev.data)
		return p, err
	}
	p.Asset = asset
	return p, nil
}

func (p *Published) validateAttributes(ev rawEvent, r Rules) *InvalidEventError {
	if err := ev.specversion.required("specversion"); err != nil {
		return err
	}
	if ev.specversion.value != SpecVersion {
		return invalid("specversion", "%s is not %s", quote(ev.specversion.value), SpecVersion)
	}
	for _, a := range []struct {
		name string
		attr attribute
	}{{"id", ev.id}, {"source", ev.source}} {
		if err := a.attr.required(a.name); err != nil {
			return err
		}
		if strings.IndexByte(a.attr.value, 0) >= 0 {
			return invalid(a.name, "must not contain a NUL byte")
		}
		if len(a.attr.value) > MaxAttributeBytes {
			return invalid(a.name, "%d bytes, at most %d", len(a.attr.value), MaxAttributeBytes)
		}
	}
	if err := ev.typ.required("type"); err != nil {
		return err
	}
	p.Type = ev.typ.value
	if p.Type != TypePublished {
		return invalid("type", "%s is not %s", quote(p.Type), TypePublished)
	}
	if !r.Sources.Allows(p.SourceToken, p.Source) {
		return invalid("source", "%s may not publish on subject token %s (INGEST_SOURCES)",
			quote(p.Source), quote(p.SourceToken))
	}
	if ev.subject.err != nil {
		return ev.subject.err
	}
	p.Subject = ev.subject.value
	if ev.time.err != nil {
		return ev.time.err
	}
	if ev.time.present {
		t, err := time.Parse(time.RFC3339Nano, ev.time.value)
		if err != nil {
			return invalid("time", "%s is not an RFC 3339 timestamp", quote(ev.time.value))
		}
		p.Time = t
	}
	if ev.contentType.err != nil {
		return ev.contentType.err
	}
	if ev.contentType.present && !jsonMediaType(ev.contentType.value) {
		return invalid(ev.contentTypeField, "%s is not application/json", quote(ev.contentType.value))
	}
	return nil
}

// jsonMediaType accepts application/json and any */*+json, with parameters.
func jsonMediaType(v string) bool {
	mt, _, err := mime.ParseMediaType(v)
	if err != nil {
		return false
	}
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

// describeData reads data's name and src as they are written, without validating them, so
// that the failure event of an invalid event can still say which asset it was about.
func describeData(raw json.RawMessage) CreateAsset {
	var d struct {
		Name any `json:"name"`
		Src  any `json:"src"`
	}
	if raw == nil || json.Unmarshal(raw, &d) != nil {
		return CreateAsset{}
	}
	name, _ := d.Name.(string)
	src, _ := d.Src.(string)
	return CreateAsset{Name: name, Src: src}
}
