package events

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"
)

func TestFitDeadLetter(t *testing.T) {
	t.Parallel()
	d := DeadLetter{
		Stream: "ASSETS", Sequence: 7, Subject: "assets.published.akeneo", Class: ClassInvalidEvent,
		Err: "bad", EventID: "id-1", EventSource: "pim://akeneo/x", FailedAt: time.Unix(1, 0), PublishedAt: time.Unix(1, 0),
	}
	big := func(n int) []string { return []string{strings.Repeat("v", n)} }
	manyNats := nats.Header{}
	for i := range 4000 {
		manyNats["Nats-"+strconv.Itoa(i)] = []string{"x"}
	}
	tests := []struct {
		name       string
		orig       nats.Header
		d          DeadLetter
		body       int
		maxPayload int64
		// wantDropped is Ingest-Dropped-Headers; wantKept names original headers that stay.
		wantDropped string
		wantKept    []string
		wantBody    bool
	}{
		{
			name: "fits as it is", orig: nats.Header{"A": big(100)}, d: d, body: 10, maxPayload: 1 << 20,
			wantKept: []string{"A"}, wantBody: true,
		},
		{
			name: "largest original headers first", d: d, body: 10, maxPayload: 1 << 20,
			orig: nats.Header{"A": big(30000), "Nats-B": big(30000), "C": big(10000), "D": big(10)},
			// Nats-B is the largest once renamed.
			wantDropped: `"Ingest-Original-Nats-B"`, wantKept: []string{"A", "C", "D"}, wantBody: true,
		},
		{
			name: "refused names and sizes", d: d, body: 10, maxPayload: 1 << 20,
			orig:        nats.Header{"bad name": {"1"}, "A": big(40000), "C": big(40000)},
			wantDropped: `"bad name","A"`, wantKept: []string{"C"}, wantBody: true,
		},
		{
			name: "a long list is cut", d: d, body: 10, maxPayload: 1 << 20, orig: manyNats,
			wantBody: true,
		},
		{
			name: "event attributes go last", body: 0, maxPayload: 1 << 20,
			d:           func() DeadLetter { d := d; d.EventID = strings.Repeat("i", 70000); return d }(),
			orig:        nats.Header{"A": big(10)},
			wantDropped: `"A","Ingest-Event-Id"`, wantBody: true,
		},
		{
			name: "body over the maximum payload", orig: nats.Header{"A": big(10)}, d: d, body: 5000, maxPayload: 4096,
			wantKept: []string{"A"},
		},
		{
			name: "header limit below 64k with a small maximum payload", d: d, body: 10, maxPayload: 8192,
			orig:        nats.Header{"A": big(7800), "B": big(100)},
			wantDropped: `"A"`, wantKept: []string{"B"}, wantBody: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := DeadLetterHeader(tt.orig, tt.d)
			body := make([]byte, tt.body)
			const reserve = 200
			got := FitDeadLetter(h, body, reserve, tt.maxPayload)
			if n := HeaderBytes(h) + reserve; n > MaxHeaderBytes || int64(n+len(got)) > tt.maxPayload {
				t.Errorf("%d header bytes and a body of %d do not fit", n, len(got))
			}
			list := h.Get(HeaderDroppedHeaders)
			if len(list) > MaxDroppedHeadersBytes {
				t.Errorf("Ingest-Dropped-Headers has %d bytes", len(list))
			}
			if tt.name == "a long list is cut" {
				if !strings.HasSuffix(list, ",...") || !strings.HasPrefix(list, `"Ingest-Original-Nats-`) {
					t.Errorf("Ingest-Dropped-Headers %.80q... not cut", list)
				}
			} else if diff := cmp.Diff(tt.wantDropped, list); diff != "" {
				t.Errorf("Ingest-Dropped-Headers (-want +got):\n%s", diff)
			}
			for _, k := range tt.wantKept {
				if HeaderValue(h, k) == "" && HeaderValue(h, HeaderOriginalPrefix+k) == "" {
					t.Errorf("original header %s left out", k)
				}
			}
			for _, k := range []string{HeaderMsgID, HeaderErrorClass, HeaderError, HeaderAttempts, HeaderOriginalSubject,
				HeaderOriginalStream, HeaderOriginalSequence, HeaderEventKey, HeaderPublishedAt, HeaderFailedAt} {
				if h.Get(k) == "" {
					t.Errorf("the service's header %s left out", k)
				}
			}
			if (got != nil) != tt.wantBody {
				t.Errorf("body kept %v, want %v", got != nil, tt.wantBody)
			}
			if want := strconv.Itoa(tt.body); !tt.wantBody && h.Get(HeaderBodyOmitted) != want {
				t.Errorf("Ingest-Body-Omitted %q, want %s", h.Get(HeaderBodyOmitted), want)
			}
		})
	}
}

func TestDroppedList(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("n", MaxDroppedHeadersBytes)
	tests := []struct {
		name  string
		names []string
		want  string
	}{
		{"empty name", []string{""}, `""`},
		{"quoted", []string{"a b", "é"}, `"a b","\u00e9"`},
		{"first name too long", []string{long}, "..."},
		{"cut after a whole name", []string{"a", long}, `"a",...`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, droppedList(tt.names)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestHeaderBytesMatchesClient checks HeaderBytes against the size the NATS client computes.
func TestHeaderBytesMatchesClient(t *testing.T) {
	t.Parallel()
	h := nats.Header{"A": {" spaced ", "x"}, "Bb": {""}, "C": {"line\r\nbreak"}}
	m := &nats.Msg{Subject: "s", Header: h}
	if diff := cmp.Diff(m.Size()-len("s"), HeaderBytes(h)); diff != "" {
		t.Errorf("(-client +HeaderBytes):\n%s", diff)
	}
}
