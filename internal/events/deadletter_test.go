package events

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"
)

const (
	pubTraceparent  = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	failTraceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
)

func testDeadLetter() DeadLetter {
	return DeadLetter{
		Stream: "ASSETS", Sequence: 42, Subject: testSubject,
		PublishedAt: time.Date(2026, 11, 27, 10, 30, 0, 123456789, time.FixedZone("CET", 3600)),
		FailedAt:    time.Date(2026, 11, 27, 9, 31, 0, 0, time.UTC),
		Class:       ClassRejected,
		Err:         "createAsset: Post \"https://api.example.com/graphql?token=" + testSecret + "\":\nrefused",
		Attempts:    3, EventID: testID, EventSource: testSource,
		Traceparent: failTraceparent, Tracestate: "ours=1",
	}
}

func TestDeadLetterHeader(t *testing.T) {
	t.Parallel()
	orig := nats.Header{
		// Forged service context, in several spellings: dropped.
		"Ingest-Error-Class":          {"exhausted"},
		"ingest-attempts":             {"0"},
		"INGEST-EVENT-KEY":            {"forged"},
		"Ingeſt-Error":                {"long s folds to s"},
		"Ingest-Original-Traceparent": {pubTraceparent},
		"Ingest-Replay-Traceparent":   {"not-a-traceparent"},
		// Replay context, well-formed and single: kept.
		"Ingest-Replay-Count": {"2"},
		"ingest-replay-of":    {"ASSETS_DLQ:7"},
		// The publisher's Nats-* headers: renamed.
		"Nats-Expected-Stream": {"OTHER"},
		"Nats-Msg-Id":          {"pub-1"},
		"nats-ttl":             {"1s"},
		// Added by a read by sequence: left out.
		"Nats-Stream": {"ASSETS"}, "Nats-Subject": {testSubject}, "Nats-Sequence": {"42"},
		"Nats-Time-Stamp": {"2026-11-27T09:30:00Z"}, "NATS-NUM-PENDING": {"0"},
		"Nats-Last-Sequence": {"41"}, "Nats-UpTo-Sequence": {"42"},
		// Trace context: moved.
		"Traceparent": {pubTraceparent},
		"tracestate":  {"vendor=1"},
		// Anything else: copied, one line per value.
		"X-Custom":     {"line1\r\nline2", "second"},
		"ce-id":        {testID},
		"content-type": {"application/json"},
	}
	before := cloneHeader(orig)
	got := DeadLetterHeader(orig, testDeadLetter())
	want := nats.Header{
		"Ingest-Replay-Count":                  {"2"},
		"Ingest-Replay-Of":                     {"ASSETS_DLQ:7"},
		"Ingest-Original-Nats-Expected-Stream": {"OTHER"},
		"Ingest-Original-Nats-Msg-Id":          {"pub-1"},
		"Ingest-Original-nats-ttl":             {"1s"},
		"Ingest-Original-Traceparent":          {pubTraceparent},
		"Ingest-Original-Tracestate":           {"vendor=1"},
		"X-Custom":                             {"line1  line2", "second"},
		"ce-id":                                {testID},
		"content-type":                         {"application/json"},
		"Nats-Msg-Id":                          {"ASSETS:42"},
		"Ingest-Error-Class":                   {"rejected"},
		"Ingest-Error":                         {`createAsset: Post "https://api.example.com/graphql": refused`},
		"Ingest-Attempts":                      {"3"},
		"Ingest-Original-Subject":              {testSubject},
		"Ingest-Original-Stream":               {"ASSETS"},
		"Ingest-Original-Sequence":             {"42"},
		"Ingest-Event-Id":                      {testID},
		"Ingest-Event-Source":                  {testSource},
		"Ingest-Event-Key":                     {testKey},
		"Ingest-Published-At":                  {"2026-11-27T09:30:00.123456789Z"},
		"Ingest-Failed-At":                     {"2026-11-27T09:31:00Z"},
		"traceparent":                          {failTraceparent},
		"tracestate":                           {"ours=1"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("DeadLetterHeader (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(before, orig); diff != "" {
		t.Errorf("DeadLetterHeader modified its input (-before +after):\n%s", diff)
	}
}

func TestDeadLetterHeaderVariants(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		orig   nats.Header
		modify func(*DeadLetter)
		check  []string // headers compared, absent ones as nil
		want   nats.Header
	}{
		{
			name:   "NUL in id: no id, no key",
			modify: func(d *DeadLetter) { d.EventID = "a\x00b" },
			check:  []string{HeaderEventID, HeaderEventSource, HeaderEventKey},
			want:   nats.Header{HeaderEventSource: {testSource}},
		},
		{
			name:   "empty source: no source, no key",
			modify: func(d *DeadLetter) { d.EventSource = "" },
			check:  []string{HeaderEventID, HeaderEventSource, HeaderEventKey},
			want:   nats.Header{HeaderEventID: {testID}},
		},
		{
			name:   "line breaks in attributes",
			modify: func(d *DeadLetter) { d.EventID = "a\nb"; d.Subject = "assets.published.x" },
			check:  []string{HeaderEventID, HeaderEventKey},
			want:   nats.Header{HeaderEventID: {"a b"}, HeaderEventKey: {Key("x", testSource, "a\nb")}},
		},
		{
			name:   "error cut to 1024 bytes",
			modify: func(d *DeadLetter) { d.Err = strings.Repeat("é", 600) },
			check:  []string{HeaderError},
			want:   nats.Header{HeaderError: {strings.Repeat("é", 512)}},
		},
		{
			name: "invalid_event, no times, no trace",
			modify: func(d *DeadLetter) {
				*d = DeadLetter{Stream: "S", Sequence: 1, Subject: "a.b", Class: ClassInvalidEvent, Err: "id: required"}
			},
			check: []string{HeaderErrorClass, HeaderAttempts, HeaderPublishedAt, HeaderFailedAt, HeaderTraceparent, HeaderTracestate, HeaderMsgID},
			want:  nats.Header{HeaderErrorClass: {"invalid_event"}, HeaderAttempts: {"0"}, HeaderMsgID: {"S:1"}},
		},
		{
			name:   "publisher trace kept even without ours",
			orig:   nats.Header{"TRACEPARENT": {pubTraceparent}},
			modify: func(d *DeadLetter) { d.Traceparent, d.Tracestate = "", "" },
			check:  []string{HeaderTraceparent, HeaderOriginalTraceparent, "TRACEPARENT"},
			want:   nats.Header{HeaderOriginalTraceparent: {pubTraceparent}},
		},
		{
			name:  "malformed or repeated replay headers dropped",
			orig:  nats.Header{"Ingest-Replay-Count": {"-1"}, "Ingest-Replay-Of": {"S:1"}, "INGEST-REPLAY-OF": {"S:2"}, "ingest-replay-traceparent": {pubTraceparent}},
			check: []string{HeaderReplayCount, HeaderReplayOf, HeaderReplayTraceparent, "ingest-replay-traceparent"},
			want:  nats.Header{HeaderReplayTraceparent: {pubTraceparent}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := testDeadLetter()
			if tt.modify != nil {
				tt.modify(&d)
			}
			h := DeadLetterHeader(tt.orig, d)
			got := nats.Header{}
			for _, k := range tt.check {
				if vs, ok := h[k]; ok {
					got[k] = vs
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("headers (-want +got):\n%s", diff)
			}
			for k, vs := range h {
				for _, v := range vs {
					if strings.ContainsAny(v, "\r\n") || strings.Contains(v, testSecret) {
						t.Errorf("header %s value %q is not a safe single line", k, v)
					}
				}
			}
		})
	}
}

func TestDropUnsendableHeaders(t *testing.T) {
	t.Parallel()
	h := nats.Header{
		"Good-Name": {"1"}, "": {"empty"}, "has space": {"x"}, "col:on": {"x"},
		"tab\t": {"x"}, "née": {"x"}, "slash/x": {"x"}, "a\x7f": {"x"},
	}
	got := DropUnsendableHeaders(h)
	want := []string{"", "a\x7f", "col:on", "has space", "née", "slash/x", "tab\t"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("dropped (-want +got):\n%s", diff)
	}
	wantH := nats.Header{
		"Good-Name":          {"1"},
		HeaderDroppedHeaders: {`"","a\x7f","col:on","has space","n\u00e9e","slash/x","tab\t"`},
	}
	if diff := cmp.Diff(wantH, h); diff != "" {
		t.Errorf("header (-want +got):\n%s", diff)
	}
	if got := DropUnsendableHeaders(nats.Header{"Ok": {"1"}}); got != nil {
		t.Errorf("dropped %q from a sendable header", got)
	}
}

func cloneHeader(h nats.Header) nats.Header {
	out := nats.Header{}
	for k, vs := range h {
		out[k] = append([]string(nil), vs...)
	}
	return out
}
