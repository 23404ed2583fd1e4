package events

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"
)

// TestDecodeValid compares the whole Published of valid events in both modes.
func TestDecodeValid(t *testing.T) {
	t.Parallel()
	wantAsset := CreateAsset{
		Src: testSrc, Name: "sku-1042-front", Filename: "front.jpg", Type: "IMAGE",
		AssetRepositoryID: testRepo,
	}
	tests := []struct {
		name   string
		header nats.Header
		body   []byte
		want   Published
	}{
		{
			name: "structured minimal",
			body: eventJSON(t, nil, nil),
			want: Published{
				Mode: ModeStructured, ID: testID, Source: testSource, Type: TypePublished,
				SourceToken: "akeneo", Key: testKey, Asset: wantAsset,
			},
		},
		{
			name: "structured with time, subject, content type and every data field",
			body: eventJSON(t, map[string]any{
				"time": "2026-11-27T09:30:00Z", "subject": "sku-1042",
				"datacontenttype": "application/json; charset=utf-8", "extension": 42,
			}, map[string]any{
				"filename": "f.jpg", "type": "VIDEO", "assetRepositoryId": "repo-event",
				"assetFolderId": "folder", "label": "", "locale": "en-GB", "localeGroup": "g",
				"tags": []any{"a", ""}, "unknown": true,
			}),
			want: Published{
				Mode: ModeStructured, ID: testID, Source: testSource, Type: TypePublished,
				Subject: "sku-1042", Time: time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC),
				SourceToken: "akeneo", Key: testKey,
				Asset: CreateAsset{
					Src: testSrc, Name: "sku-1042-front", Filename: "f.jpg", Type: "VIDEO",
					AssetRepositoryID: "repo-event", AssetFolderID: ptr("folder"), Label: ptr(""),
					Locale: ptr("en-GB"), LocaleGroup: ptr("g"), Tags: []string{"a", ""},
				},
			},
		},
		{
			name:   "binary lowercase headers",
			header: binaryHeader(map[string][]string{"ce-time": {"2026-11-27T09:30:00.5+01:00"}, "ce-subject": {"s"}}),
			body:   dataJSON(t, nil),
			want: Published{
				Mode: ModeBinary, ID: testID, Source: testSource, Type: TypePublished, Subject: "s",
				Time:        time.Date(2026, 11, 27, 8, 30, 0, 5e8, time.UTC),
				SourceToken: "akeneo", Key: testKey, Asset: wantAsset,
			},
		},
		{
			name: "binary mixed-case headers",
			header: nats.Header{
				"CE-SPECVERSION": {"1.0"}, "Ce-Id": {testID}, "cE-sOURCE": {testSource},
				"Ce-Type": {"asset.published"}, "Content-Type": {"application/json"},
			},
			body: dataJSON(t, nil),
			want: Published{
				Mode: ModeBinary, ID: testID, Source: testSource, Type: TypePublished,
				SourceToken: "akeneo", Key: testKey, Asset: wantAsset,
			},
		},
		{
			name:   "binary without content type",
			header: binaryHeader(map[string][]string{"content-type": nil}),
			body:   dataJSON(t, nil),
			want: Published{
				Mode: ModeBinary, ID: testID, Source: testSource, Type: TypePublished,
				SourceToken: "akeneo", Key: testKey, Asset: wantAsset,
			},
		},
		{
			name:   "structured ignores unrelated ce-like headers",
			header: nats.Header{"ce-id": {"other"}, "content-type": {"application/cloudevents+json"}},
			body:   eventJSON(t, nil, nil),
			want: Published{
				Mode: ModeStructured, ID: testID, Source: testSource, Type: TypePublished,
				SourceToken: "akeneo", Key: testKey, Asset: wantAsset,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Decode(testSubject, tt.header, tt.body, testRules())
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Decode mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestKey(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, token, source, id, want string }{
		{"spec example", "akeneo", testSource, testID, testKey},
		{"all empty", "", "", "", "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, Key(tt.token, tt.source, tt.id)); diff != "" {
				t.Errorf("Key (-want +got):\n%s", diff)
			}
		})
	}
	if Key("a", "b", "c") == Key("a", "bc", "") {
		t.Error("Key does not separate its parts")
	}
}

func TestSubjects(t *testing.T) {
	t.Parallel()
	got := []string{
		SourceToken("assets.published.akeneo"), SourceToken("single"), SourceToken("a.b."),
		IngestedSubject("akeneo"), FailedSubject("akeneo"), DLQSubject("akeneo"),
	}
	want := []string{"akeneo", "single", "", "assets.ingested.akeneo", "assets.failed.akeneo", "assets.dlq.akeneo"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("subjects (-want +got):\n%s", diff)
	}
}
