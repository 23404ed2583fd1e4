package dlq

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestShowJSON: the body is text when it is UTF-8, base64 when it is not, and null when empty;
// control characters in it survive as JSON escapes.
func TestShowJSON(t *testing.T) {
	t.Parallel()
	text := "bell\athen"
	tests := []struct {
		name       string
		body       string
		wantBody   *string
		wantBase64 string
	}{
		{name: "text", body: text, wantBody: &text},
		{name: "binary", body: "\xff\xfe", wantBase64: "//4="},
		{name: "empty", body: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			l := sampleLetter("ev-" + tt.name)
			l.body = tt.body
			seq := e.addDeadLetter(t, l)
			tool, out, _ := e.tool("")
			if err := tool.ShowJSON(context.Background(), seq); err != nil {
				t.Fatalf("ShowJSON: %v", err)
			}
			var got LetterJSON
			if err := json.Unmarshal(out.Bytes(), &got); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, out.String())
			}
			type view struct {
				Seq                       uint64
				Class, EventID, TraceID   string
				PublisherTraceID, BodyB64 string
				Body                      *string
				OriginalSequence          uint64
			}
			want := view{seq, "rejected", "ev-" + tt.name, "4bf92f3577b34da6a3ce929d0e0e4736",
				"0af7651916cd43dd8448eb211c80319c", tt.wantBase64, tt.wantBody, 1000}
			if diff := cmp.Diff(want, view{got.Sequence, string(got.Class), got.EventID, got.TraceID,
				got.PublisherTraceID, got.BodyBase64, got.Body, got.OriginalSequence}); diff != "" {
				t.Errorf("ShowJSON (-want +got):\n%s", diff)
			}
		})
	}
}
