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
			name: "binary percent-encoded and quoted attributes",
			header: binaryHeader(map[string][]string{
				"ce-id": {"sku%201042%2fFront%E2%82%AC"}, "ce-source": {`"pim://akeneo/prod"`},
				"ce-subject": {"%22quoted%22%20%25"},
			}),
			body: dataJSON(t, nil),
			want: Published{
				Mode: ModeBinary, ID: "sku 1042/Front\u20ac", Source: testSource, Type: TypePublished,
				Subject: `"quoted" %`, SourceToken: "akeneo", Key: Key("akeneo", testSource, "sku 1042/Front\u20ac"),
				Asset: wantAsset,
			},
		},
		{
			name:   "binary ce-datacontenttype over a stray Content-Type",
			header: binaryHeader(map[string][]string{"ce-datacontenttype": {"application/json;%20charset=utf-8"}, "content-type": {"text/plain"}}),
			body:   dataJSON(t, nil),
			want: Published{
				Mode: ModeBinary, ID: testID, Source: testSource, Type: TypePublished,
				SourceToken: "akeneo", Key: testKey, Asset: wantAsset,
			},
		},
		{
			name: "structured by content type despite a stray ce-specversion",
			header: nats.Header{
				"ce-specversion": {"1.0"}, "ce-id": {"other"},
				"Content-Type": {"Application/CloudEvents+JSON; charset=UTF-8"},
			},
			body: eventJSON(t, nil, nil),
			want: Published{
				Mode: ModeStructured, ID: testID, Source: testSource, Type: TypePublished,
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

// TestModesShareTheKey: one event published in structured mode and in binary mode, its id
// percent-encoded in the header as the binding requires, has one event key.
func TestModesShareTheKey(t *testing.T) {
	t.Parallel()
	const id = "sku 1042"
	structured, err := Decode(testSubject, nil, eventJSON(t, map[string]any{"id": id}, nil), testRules())
	if err != nil {
		t.Fatalf("structured: %v", err)
	}
	binary, err := Decode(testSubject, binaryHeader(map[string][]string{"ce-id": {"sku%201042"}}), dataJSON(t, nil), testRules())
	if err != nil {
		t.Fatalf("binary: %v", err)
	}
	if diff := cmp.Diff(structured.Key, binary.Key); diff != "" {
		t.Errorf("the modes give different keys (-structured +binary):\n%s", diff)
	}
	if diff := cmp.Diff(id, binary.ID); diff != "" {
		t.Errorf("binary id (-want +got):\n%s", diff)
	}
}

// TestHeaderValueEncoding checks the binding's percent-encoding both ways.
func TestHeaderValueEncoding(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, value, encoded string }{
		{"plain", "5f0c6a1e-8d7b", "5f0c6a1e-8d7b"},
		{"URI kept", "pim://akeneo/prod?x=1&y=~", "pim://akeneo/prod?x=1&y=~"},
		{"space, quote and percent", `a b"c%d`, "a%20b%22c%25d"},
		{"spec example", "Euro \u20ac \U0001F600", "Euro%20%E2%82%AC%20%F0%9F%98%80"},
		{"control characters", "a\tb\x7f", "a%09b%7F"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.encoded, EncodeHeaderValue(tt.value)); diff != "" {
				t.Errorf("EncodeHeaderValue (-want +got):\n%s", diff)
			}
			got, err := DecodeHeaderValue(tt.encoded)
			if err != nil {
				t.Fatalf("DecodeHeaderValue(%q): %v", tt.encoded, err)
			}
			if diff := cmp.Diff(tt.value, got); diff != "" {
				t.Errorf("DecodeHeaderValue (-want +got):\n%s", diff)
			}
		})
	}
	decodes := []struct{ name, header, want string }{
		{"lower-case hex", "%e2%82%ac", "\u20ac"},
		{"needlessly encoded", "%41%2D", "A-"},
		{"quoted with escapes", `"a \"b\" \\ c"`, `a "b" \ c`},
		{"quoted then percent-decoded", `"a%20b"`, "a b"},
	}
	for _, tt := range decodes {
		t.Run("decode "+tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := DecodeHeaderValue(tt.header)
			if err != nil {
				t.Fatalf("DecodeHeaderValue(%q): %v", tt.header, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("DecodeHeaderValue (-want +got):\n%s", diff)
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
