package main

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/events"
)

// TestPublishWritesTheBinding: publish writes structured events with the binding's Content-Type,
// and binary events with the binding's lower-case ce-* headers, values percent-encoded, which
// decode to the same attributes.
func TestPublishWritesTheBinding(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		binary      bool
		wantHeaders []string
		wantMode    events.Mode
	}{
		{"structured", false, []string{"Content-Type"}, events.ModeStructured},
		{"binary", true, []string{"ce-id", "ce-source", "ce-specversion", "ce-time", "ce-type", "content-type"}, events.ModeBinary},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := publishFlags{subject: "assets.published.cli", source: `pim://cli/dev team "eu" 100%`, binary: tt.binary}
			msg := sampleMessage(f, "sku-1042", nil)
			var names []string
			for k := range msg.Header {
				names = append(names, k)
			}
			slices.Sort(names)
			if diff := cmp.Diff(tt.wantHeaders, names); diff != "" {
				t.Errorf("header names (-want +got):\n%s", diff)
			}
			if tt.binary {
				if diff := cmp.Diff([]string{"pim://cli/dev%20team%20%22eu%22%20100%25"}, msg.Header["ce-source"]); diff != "" {
					t.Errorf("ce-source (-want +got):\n%s", diff)
				}
			} else if got := msg.Header.Get("Content-Type"); got != "application/cloudevents+json" {
				t.Errorf("Content-Type %q, want application/cloudevents+json", got)
			}
			ev, err := events.Decode(f.subject, msg.Header, msg.Data, events.Rules{DefaultRepositoryID: "repo"})
			if err != nil {
				t.Fatalf("the published event does not decode: %v", err)
			}
			got := []any{ev.Mode, ev.Source, ev.Type, ev.Asset.Name}
			want := []any{tt.wantMode, f.source, events.TypePublished, "sku-1042"}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("decoded mode, source, type, name (-want +got):\n%s", diff)
			}
		})
	}
}
