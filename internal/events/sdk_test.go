package events_test

import (
	"encoding/json"
	"testing"
	"time"

	ce "github.com/cloudevents/sdk-go/v2/event"
	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/events"
)

// sdkEvent builds an asset.published event with the CloudEvents Go SDK, as a publisher would:
// extensions, dataschema and a charset parameter on the content type.
func sdkEvent(tb testing.TB, id string) ce.Event {
	tb.Helper()
	ev := ce.New()
	ev.SetID(id)
	ev.SetSource("pim://akeneo/prod")
	ev.SetType(events.TypePublished)
	ev.SetSubject("sku-1042")
	ev.SetTime(time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC))
	ev.SetDataSchema("https://schemas.example-pim.com/asset-published/v1.json")
	ev.SetExtension("partitionkey", "sku-1042")
	ev.SetExtension("sequence", 42)
	err := ev.SetData("application/json; charset=utf-8", map[string]any{
		"src": "https://media.example-pim.com/exports/sku-1042/front.jpg", "name": "sku-1042-front",
		"tags": []string{"sku-1042"}, "label": "SKU 1042, front view",
	})
	if err != nil {
		tb.Fatalf("SetData: %v", err)
	}
	if err := ev.Validate(); err != nil {
		tb.Fatalf("the SDK refuses its own event: %v", err)
	}
	return ev
}

// TestDecodeSDKStructured decodes events the CloudEvents Go SDK marshalled in structured mode,
// with and without the binding's Content-Type header, and checks that the event key is the
// one the same id gives in binary mode, percent-encoded as the binding requires.
func TestDecodeSDKStructured(t *testing.T) {
	t.Parallel()
	const id = "sku 1042/front"
	body, err := json.Marshal(sdkEvent(t, id))
	if err != nil {
		t.Fatalf("marshalling the SDK event: %v", err)
	}
	rules := events.Rules{DefaultRepositoryID: "repo-1"}
	label := "SKU 1042, front view"
	want := events.Published{
		Mode: events.ModeStructured, ID: id, Source: "pim://akeneo/prod", Type: events.TypePublished,
		Subject: "sku-1042", Time: time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC),
		SourceToken: "akeneo", Key: events.Key("akeneo", "pim://akeneo/prod", id),
		Asset: events.CreateAsset{
			Src: "https://media.example-pim.com/exports/sku-1042/front.jpg", Name: "sku-1042-front",
			Filename: "front.jpg", Type: "IMAGE", AssetRepositoryID: "repo-1", Label: &label,
			Tags: []string{"sku-1042"},
		},
	}
	tests := []struct {
		name   string
		header nats.Header
	}{
		{"no headers", nil},
		{"binding content type", nats.Header{"Content-Type": {"application/cloudevents+json; charset=UTF-8"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := events.Decode("assets.published.akeneo", tt.header, body, rules)
			if err != nil {
				t.Fatalf("Decode: %v\n%s", err, body)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Decode (-want +got):\n%s", diff)
			}
		})
	}

	binary := nats.Header{
		"ce-specversion": {"1.0"}, "ce-id": {events.EncodeHeaderValue(id)},
		"ce-source": {"pim://akeneo/prod"}, "ce-type": {events.TypePublished},
	}
	data, _ := json.Marshal(map[string]any{"src": want.Asset.Src, "name": want.Asset.Name})
	got, err := events.Decode("assets.published.akeneo", binary, data, rules)
	if err != nil {
		t.Fatalf("Decode binary: %v", err)
	}
	if got.Key != want.Key {
		t.Errorf("binary key %s, structured key %s: one event, two keys", got.Key, want.Key)
	}
}

// TestCompletionEventsReadBySDK: a subscriber using the CloudEvents Go SDK reads both
// completion events as valid CloudEvents with the attributes the contract names.
func TestCompletionEventsReadBySDK(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 27, 9, 30, 0, 412e6, time.UTC)
	ingested, err := events.Ingested{Key: "k", EventID: "e", EventSource: "s", AssetID: "a", Name: "n", Time: at}.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	failed, err := events.Failed{Key: "k", EventID: "e", EventSource: "s", ErrorClass: events.ClassRejected, Time: at}.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	type attrs struct{ ID, Source, Type, Subject, DataContentType string }
	tests := []struct {
		name string
		body []byte
		want attrs
	}{
		{"ingested", ingested, attrs{"k:ingested", events.CompletionSource, events.TypeIngested, "n", "application/json"}},
		{"failed", failed, attrs{"k:failed:0", events.CompletionSource, events.TypeIngestFailed, "", "application/json"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var ev ce.Event
			if err := json.Unmarshal(tt.body, &ev); err != nil {
				t.Fatalf("the SDK cannot read %s: %v", tt.body, err)
			}
			if err := ev.Validate(); err != nil {
				t.Fatalf("the SDK finds the event invalid: %v", err)
			}
			got := attrs{ev.ID(), ev.Source(), ev.Type(), ev.Subject(), ev.DataContentType()}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("attributes (-want +got):\n%s", diff)
			}
			if !ev.Time().Equal(at) {
				t.Errorf("time %v, want %v", ev.Time(), at)
			}
		})
	}
}
