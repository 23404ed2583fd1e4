package events

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func testIngested() Ingested {
	return Ingested{
		Key: testKey, EventID: testID, EventSource: testSource,
		AssetID: "QXNzZXQ6MDFm", Name: "sku-1042-front", AssetRepositoryID: "QXNzZXRSZXBv",
		Src: testSrc, Attempts: 1, DurationMs: 412,
		Time: time.Date(2026, 11, 27, 10, 30, 0, 412_999_999, time.FixedZone("CET", 3600)),
	}
}

func TestIngestedMarshal(t *testing.T) {
	t.Parallel()
	e := testIngested()
	got, err := e.Marshal()
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	want := `{"specversion":"1.0","id":"` + testKey + `:ingested","source":"urn:asset-ingest-consumer",` +
		`"type":"asset.ingested","subject":"sku-1042-front","time":"2026-11-27T09:30:00.412Z",` +
		`"datacontenttype":"application/json","data":{"eventId":"` + testID + `","eventSource":"pim://akeneo/prod",` +
		`"assetId":"QXNzZXQ6MDFm","name":"sku-1042-front","assetRepositoryId":"QXNzZXRSZXBv",` +
		`"src":"https://media.example-pim.com/exports/sku-1042/front.jpg","attempts":1,"durationMs":412}}`
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("Marshal (-want +got):\n%s", diff)
	}
	if e.ID() != testKey+":ingested" {
		t.Errorf("ID = %q", e.ID())
	}

	back, err := DecodeIngested(got)
	if err != nil {
		t.Fatalf("DecodeIngested: %v", err)
	}
	again, err := back.Marshal()
	if err != nil {
		t.Fatalf("Marshal of decoded: %v", err)
	}
	if diff := cmp.Diff(string(got), string(again)); diff != "" {
		t.Errorf("re-marshalled bytes differ (-first +second):\n%s", diff)
	}

	if _, err := (Ingested{}).Marshal(); err == nil {
		t.Error("Marshal without a key succeeded")
	}
	if _, err := DecodeIngested([]byte(`{"type":"asset.ingest_failed","id":"x:failed:0"}`)); err == nil {
		t.Error("DecodeIngested accepted an asset.ingest_failed event")
	}
}

func TestFailed(t *testing.T) {
	t.Parallel()
	base := Failed{
		Key: testKey, Stream: "ASSETS", Sequence: 42, EventID: testID, EventSource: testSource,
		Name: "sku-1042-front", Src: testSrc, ErrorClass: ClassRejected,
		Error:    "createAsset refused https://api.example.com/x?token=" + testSecret + "\n" + strings.Repeat("x", 2000),
		Attempts: 2, DLQSequence: 7, Time: time.Date(2026, 11, 27, 9, 31, 0, 0, time.UTC),
	}
	tests := []struct {
		name   string
		modify func(*Failed)
		wantID string
	}{
		{name: "original delivery", wantID: testKey + ":failed:0"},
		{name: "second replay", modify: func(f *Failed) { f.ReplayCount = 2 }, wantID: testKey + ":failed:2"},
		{name: "no key", modify: func(f *Failed) { f.Key, f.ReplayCount = "", 1 }, wantID: "ASSETS:42:failed:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := base
			if tt.modify != nil {
				tt.modify(&f)
			}
			if diff := cmp.Diff(tt.wantID, f.ID()); diff != "" {
				t.Errorf("ID (-want +got):\n%s", diff)
			}
			got, err := f.Marshal()
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			errText := "createAsset refused https://api.example.com/x " + strings.Repeat("x", 1024-len("createAsset refused https://api.example.com/x "))
			want := `{"specversion":"1.0","id":"` + tt.wantID + `","source":"urn:asset-ingest-consumer",` +
				`"type":"asset.ingest_failed","subject":"sku-1042-front","time":"2026-11-27T09:31:00.000Z",` +
				`"datacontenttype":"application/json","data":{"eventId":"` + testID + `","eventSource":"pim://akeneo/prod",` +
				`"name":"sku-1042-front","src":"https://media.example-pim.com/exports/sku-1042/front.jpg",` +
				`"errorClass":"rejected","error":"` + errText + `","attempts":2,"dlqSequence":7}}`
			if diff := cmp.Diff(want, string(got)); diff != "" {
				t.Errorf("Marshal (-want +got):\n%s", diff)
			}
		})
	}
}

// DecodeIngested parses an asset.ingested event written by Marshal. Src comes back as written (redacted).
func DecodeIngested(b []byte) (Ingested, error) {
	var ev struct {
		envelope
		Data ingestedData `json:"data"`
	}
	if err := json.Unmarshal(b, &ev); err != nil {
		return Ingested{}, fmt.Errorf("decoding asset.ingested: %w", err)
	}
	key, ok := bytes.CutSuffix([]byte(ev.ID), []byte(":ingested"))
	if ev.Type != TypeIngested || !ok {
		return Ingested{}, fmt.Errorf("decoding asset.ingested: type %q id %q is not an asset.ingested event", ev.Type, ev.ID)
	}
	t, err := parseOptionalTime(ev.Time)
	if err != nil {
		return Ingested{}, fmt.Errorf("decoding asset.ingested: %w", err)
	}
	d := ev.Data
	return Ingested{
		Key: string(key), EventID: d.EventID, EventSource: d.EventSource, AssetID: d.AssetID,
		Name: d.Name, AssetRepositoryID: d.AssetRepositoryID, Src: d.Src,
		Attempts: d.Attempts, DurationMs: d.DurationMs, Time: t,
	}, nil
}

func parseOptionalTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("time %q: %w", s, err)
	}
	return t, nil
}
