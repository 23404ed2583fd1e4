package events

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"strings"

	"github.com/nats-io/nats.go"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/redact"
)

// Header names and media types of the CloudEvents NATS binding.
const (
	// HeaderContentType is the message's content type: the event format's
	// media type in structured mode, data's in binary mode.
	HeaderContentType = "Content-Type"
	// MediaTypeCloudEventsJSON is the media type of the JSON event format: a
	// message with this content type is structured.
	MediaTypeCloudEventsJSON = "application/cloudevents+json"
	// HeaderAttributePrefix prefixes each attribute's header in binary mode:
	// ce-id, ce-source, ...
	HeaderAttributePrefix = "ce-"
)

// This file reads both modes of the CloudEvents NATS binding into a
// rawEvent; decode.go validates it.

// attribute is one CloudEvents attribute as read from JSON or a header.
type attribute struct {
	value   string
	present bool // present and not null
	err     *InvalidEventError
}

func (a attribute) required(name string) *InvalidEventError {
	switch {
	case a.err != nil:
		return a.err
	case !a.present || a.value == "":
		return invalid(name, "required")
	}
	return nil
}

// rawEvent is an event before validation.
type rawEvent struct {
	specversion, id, source, typ, subject, time, contentType attribute
	contentTypeField                                         string // where the content type came from
	data                                                     json.RawMessage
	dataErr                                                  *InvalidEventError
}

// structuredEvent reads a structured-mode body.
func structuredEvent(body []byte) (rawEvent, *InvalidEventError) {
	var obj map[string]json.RawMessage
	if err := jsonObject(body, &obj); err != nil {
		return rawEvent{}, invalid("event", "body must be a CloudEvents JSON object: %s", err)
	}
	ev := rawEvent{
		specversion:      jsonAttribute(obj, "specversion"),
		id:               jsonAttribute(obj, "id"),
		source:           jsonAttribute(obj, "source"),
		typ:              jsonAttribute(obj, "type"),
		subject:          jsonAttribute(obj, "subject"),
		time:             jsonAttribute(obj, "time"),
		contentType:      jsonAttribute(obj, "datacontenttype"),
		contentTypeField: "datacontenttype",
	}
	if raw, ok := obj["data_base64"]; ok && jsonKind(raw) != "null" {
		ev.dataErr = invalid("data_base64", "not supported; send data as a JSON object")
	}
	if raw, ok := obj["data"]; ok && jsonKind(raw) != "null" {
		ev.data = raw
	}
	return ev, nil
}

func jsonAttribute(obj map[string]json.RawMessage, name string) attribute {
	raw, ok := obj[name]
	if !ok || jsonKind(raw) == "null" {
		return attribute{}
	}
	var s string
	if jsonKind(raw) != "string" || json.Unmarshal(raw, &s) != nil {
		return attribute{err: invalid(name, "must be a string, got %s", jsonKind(raw))}
	}
	return attribute{value: s, present: true}
}

// isStructured tells the mode of a message as the binding does: structured
// when its Content-Type is the JSON event format (parameters allowed, any
// case) or when it has no ce-specversion header; binary otherwise.
func isStructured(h nats.Header) bool {
	if vs, _ := findHeader(h, HeaderContentType); len(vs) == 1 {
		if mt, _, err := mime.ParseMediaType(vs[0]); err == nil && mt == MediaTypeCloudEventsJSON {
			return true
		}
	}
	_, binary := findHeader(h, HeaderAttributePrefix+"specversion")
	return !binary
}

// binaryEvent reads a binary-mode message: ce-* headers and a data body.
// datacontenttype is ce-datacontenttype, or else the Content-Type header.
func binaryEvent(h nats.Header, body []byte) rawEvent {
	ev := rawEvent{
		specversion:      ceAttribute(h, "specversion"),
		id:               ceAttribute(h, "id"),
		source:           ceAttribute(h, "source"),
		typ:              ceAttribute(h, "type"),
		subject:          ceAttribute(h, "subject"),
		time:             ceAttribute(h, "time"),
		contentType:      ceAttribute(h, "datacontenttype"),
		contentTypeField: "datacontenttype",
		data:             body,
	}
	if !ev.contentType.present && ev.contentType.err == nil {
		ev.contentType = headerAttribute(h, "datacontenttype", HeaderContentType)
	}
	return ev
}

// ceAttribute reads the attribute name from its ce- header, percent-decoded.
func ceAttribute(h nats.Header, name string) attribute {
	header := HeaderAttributePrefix + name
	a := headerAttribute(h, name, header)
	if !a.present {
		return a
	}
	v, err := DecodeHeaderValue(a.value)
	if err != nil {
		return attribute{err: invalid(name, "header %s: %s", header, err)}
	}
	a.value = v
	return a
}

func headerAttribute(h nats.Header, name, header string) attribute {
	vs, ok := findHeader(h, header)
	switch {
	case !ok:
		return attribute{}
	case len(vs) != 1:
		return attribute{err: invalid(name, "header %s has %d values, want one", header, len(vs))}
	}
	return attribute{value: vs[0], present: true}
}

// findHeader returns the values of name in any case; ok is false when no key
// matches.
func findHeader(h nats.Header, name string) ([]string, bool) {
	vs := headerValues(h, name)
	if vs == nil {
		for k := range h {
			if strings.EqualFold(k, name) {
				return nil, true // present with no values
			}
		}
		return nil, false
	}
	return vs, true
}

// jsonObject unmarshals b, which must be exactly one JSON object, into v.
func jsonObject(b []byte, v *map[string]json.RawMessage) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return fmt.Errorf("empty")
	}
	if b[0] != '{' {
		return fmt.Errorf("got %s", jsonKind(b))
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("invalid JSON: %s", jsonErrorText(err))
	}
	return nil
}

// jsonErrorText keeps what encoding/json says about syntax, which quotes at
// most one character, and drops anything else.
func jsonErrorText(err error) string {
	if se, ok := err.(*json.SyntaxError); ok {
		return fmt.Sprintf("%s at offset %d", se.Error(), se.Offset)
	}
	return "malformed"
}

// jsonKind names the JSON type of a raw value.
func jsonKind(raw []byte) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return "number"
	}
	return "invalid JSON"
}

// quote renders a value from the event for an error message: one line, at
// most 64 bytes, URL query strings removed, Go-quoted.
func quote(s string) string {
	short := OneLine(redact.Text(s), 64)
	if len(short) < len(redact.Text(s)) {
		return fmt.Sprintf("%q...", short)
	}
	return fmt.Sprintf("%q", short)
}
