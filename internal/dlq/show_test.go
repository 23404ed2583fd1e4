package dlq

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
)

func TestShow(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	l := sampleLetter("ev-1")
	l.header = nats.Header{
		"traceparent": {"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
		"X-Note":      {"bell\athen \u202eevil"},
	}
	seq := e.addDeadLetter(t, l)
	tool, out, _ := e.tool("")
	if err := tool.Show(context.Background(), seq); err != nil {
		t.Fatalf("Show: %v", err)
	}
	text := out.String()
	for _, want := range []string{
		"Dead letter 1 of ASSETS_DLQ\n",
		"error class:         rejected\n",
		"original subject:    assets.published.akeneo\n",
		"trace id:            4bf92f3577b34da6a3ce929d0e0e4736\n",
		"publisher trace id:  0af7651916cd43dd8448eb211c80319c\n",
		"  Ingest-Event-Id: ev-1\n",
		"  Ingest-Original-Traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\n",
		`  X-Note: bell\x07then \u202eevil` + "\n",
		"Body (53 bytes, JSON):\n{\n  \"specversion\": \"1.0\",\n  \"id\": \"ev-1\",\n  \"data\": {\n    \"name\": \"n\"\n  }\n}\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	if strings.ContainsAny(text, "\a\u202e") {
		t.Errorf("output holds raw control characters:\n%q", text)
	}
	if strings.Contains(text, "Nats-Sequence") || strings.Contains(text, "Nats-Time-Stamp") {
		t.Errorf("output shows headers the get added, not the dead letter's:\n%s", text)
	}
}

func TestShowBodies(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	tests := []struct {
		name, body, want string
	}{
		{"text with escape", "not json \x1b[2J\nsecond line", "Body (25 bytes, text):\nnot json \\x1b[2J\nsecond line\n"},
		{"binary", "\xff\xfe\x00", "Body (3 bytes, binary):\n\"\\xff\\xfe\\x00\"\n"},
		{"empty", "", "Body: empty\n"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := sampleLetter("body-" + string(rune('a'+i)))
			l.body = tt.body
			seq := e.addDeadLetter(t, l)
			tool, out, _ := e.tool("")
			if err := tool.Show(context.Background(), seq); err != nil {
				t.Fatalf("Show: %v", err)
			}
			if !strings.HasSuffix(out.String(), tt.want) {
				t.Errorf("output does not end with %q:\n%s", tt.want, out)
			}
		})
	}
}

func TestShowNoSuchSequence(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	tool, _, _ := e.tool("")
	err := tool.Show(context.Background(), 42)
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "sequence 42 is not in ASSETS_DLQ") {
		t.Errorf("Show error = %v, want ErrNotFound naming the sequence", err)
	}
}
