package events

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"
)

// readable is what an invalid event still yields for the dead letter.
type readable struct{ ID, Source, Key string }

// TestDecodeInvalid has one row per validation rule; each compares the exact
// message and what stayed readable.
func TestDecodeInvalid(t *testing.T) {
	t.Parallel()
	ok := readable{testID, testSource, testKey}
	long := strings.Repeat("a", 2048-len("https://cdn.example.com/")+1)
	tests := []struct {
		name    string
		subject string
		header  nats.Header
		body    []byte
		rules   *Rules
		want    string
		read    *readable // nil: ok
	}{
		// The envelope.
		{name: "body not JSON", body: []byte("{nope"), want: `event: body must be a CloudEvents JSON object: invalid JSON: invalid character 'n' looking for beginning of object key string at offset 2`, read: &readable{}},
		{name: "body an array", body: []byte(`[1]`), want: `event: body must be a CloudEvents JSON object: got array`, read: &readable{}},
		{name: "body empty", body: nil, want: `event: body must be a CloudEvents JSON object: empty`, read: &readable{}},
		{name: "specversion missing", body: eventJSON(t, map[string]any{"specversion": absent}, nil), want: `specversion: required`},
		{name: "specversion wrong", body: eventJSON(t, map[string]any{"specversion": "0.3"}, nil), want: `specversion: "0.3" is not 1.0`},
		{name: "specversion not a string", body: eventJSON(t, map[string]any{"specversion": 1.0}, nil), want: `specversion: must be a string, got number`},
		{name: "id missing", body: eventJSON(t, map[string]any{"id": absent}, nil), want: `id: required`, read: &readable{Source: testSource}},
		{name: "id empty", body: eventJSON(t, map[string]any{"id": ""}, nil), want: `id: required`, read: &readable{Source: testSource}},
		{name: "id null", body: eventJSON(t, map[string]any{"id": nil}, nil), want: `id: required`, read: &readable{Source: testSource}},
		{name: "id a number", body: eventJSON(t, map[string]any{"id": 7}, nil), want: `id: must be a string, got number`, read: &readable{Source: testSource}},
		{name: "id with NUL", body: eventJSON(t, map[string]any{"id": "a\x00b"}, nil), want: `id: must not contain a NUL byte`, read: &readable{ID: "a\x00b", Source: testSource}},
		{name: "id too long", body: eventJSON(t, map[string]any{"id": strings.Repeat("i", MaxAttributeBytes+1)}, nil), want: `id: 4097 bytes, at most 4096`, read: &readable{ID: strings.Repeat("i", MaxAttributeBytes+1), Source: testSource, Key: Key("akeneo", testSource, strings.Repeat("i", MaxAttributeBytes+1))}},
		{name: "source too long", body: eventJSON(t, map[string]any{"source": strings.Repeat("s", MaxAttributeBytes+1)}, nil), want: `source: 4097 bytes, at most 4096`, read: &readable{ID: testID, Source: strings.Repeat("s", MaxAttributeBytes+1), Key: Key("akeneo", strings.Repeat("s", MaxAttributeBytes+1), testID)}},
		{name: "source missing", body: eventJSON(t, map[string]any{"source": absent}, nil), want: `source: required`, read: &readable{ID: testID}},
		{name: "source an object", body: eventJSON(t, map[string]any{"source": map[string]any{}}, nil), want: `source: must be a string, got object`, read: &readable{ID: testID}},
		{name: "source with NUL", body: eventJSON(t, map[string]any{"source": "\x00"}, nil), want: `source: must not contain a NUL byte`, read: &readable{ID: testID, Source: "\x00"}},
		{name: "type missing", body: eventJSON(t, map[string]any{"type": absent}, nil), want: `type: required`},
		{name: "type other", body: eventJSON(t, map[string]any{"type": "x"}, nil), want: `type: "x" is not asset.published`},
		{name: "type quoted safely", body: eventJSON(t, map[string]any{"type": "see https://h.example.com/p?token=" + testSecret + "\nnext"}, nil), want: `type: "see https://h.example.com/p next" is not asset.published`},
		{name: "time malformed", body: eventJSON(t, map[string]any{"time": "yesterday"}, nil), want: `time: "yesterday" is not an RFC 3339 timestamp`},
		{name: "time a number", body: eventJSON(t, map[string]any{"time": 1}, nil), want: `time: must be a string, got number`},
		{name: "subject a boolean", body: eventJSON(t, map[string]any{"subject": true}, nil), want: `subject: must be a string, got boolean`},
		{name: "datacontenttype not JSON", body: eventJSON(t, map[string]any{"datacontenttype": "text/plain"}, nil), want: `datacontenttype: "text/plain" is not application/json`},
		{name: "data_base64", body: eventJSON(t, map[string]any{"data": absent, "data_base64": "e30="}, nil), want: `data_base64: not supported; send data as a JSON object`},
		{name: "data missing", body: eventJSON(t, map[string]any{"data": absent}, nil), want: `data: required`},
		{name: "data a string", body: eventJSON(t, map[string]any{"data": "x"}, nil), want: `data: must be a JSON object: got string`},
		// INGEST_SOURCES.
		{name: "source not allowed for token", rules: &Rules{DefaultRepositoryID: testRepo, Sources: Sources{"akeneo": {"pim://akeneo-eu/*"}}}, body: eventJSON(t, nil, nil), want: `source: "pim://akeneo/prod" may not publish on subject token "akeneo" (INGEST_SOURCES)`},
		{name: "token without sources entry", subject: "assets.published.salsify", rules: &Rules{DefaultRepositoryID: testRepo, Sources: Sources{"akeneo": {"pim://akeneo/*"}}}, body: eventJSON(t, nil, nil), want: `source: "pim://akeneo/prod" may not publish on subject token "salsify" (INGEST_SOURCES)`, read: &readable{testID, testSource, Key("salsify", testSource, testID)}},
		// Binary mode.
		{name: "binary body not an object", header: binaryHeader(nil), body: []byte(`"x"`), want: `data: must be a JSON object: got string`},
		{name: "binary body empty", header: binaryHeader(nil), body: nil, want: `data: required`},
		{name: "binary specversion wrong", header: binaryHeader(map[string][]string{"ce-specversion": {"0.3"}}), body: dataJSON(t, nil), want: `specversion: "0.3" is not 1.0`},
		{name: "binary id repeated", header: binaryHeader(map[string][]string{"CE-ID": {"other"}}), body: dataJSON(t, nil), want: `id: header ce-id has 2 values, want one`, read: &readable{Source: testSource}},
		{name: "binary source missing", header: binaryHeader(map[string][]string{"ce-source": nil}), body: dataJSON(t, nil), want: `source: required`, read: &readable{ID: testID}},
		{name: "binary type other", header: binaryHeader(map[string][]string{"ce-type": {"asset.deleted"}}), body: dataJSON(t, nil), want: `type: "asset.deleted" is not asset.published`},
		{name: "binary content type not JSON", header: binaryHeader(map[string][]string{"content-type": {"application/xml"}}), body: dataJSON(t, nil), want: `datacontenttype: "application/xml" is not application/json`},
		{name: "binary ce-datacontenttype not JSON over a JSON Content-Type", header: binaryHeader(map[string][]string{"ce-datacontenttype": {"text/plain"}}), body: dataJSON(t, nil), want: `datacontenttype: "text/plain" is not application/json`},
		{name: "binary id malformed percent-encoding", header: binaryHeader(map[string][]string{"ce-id": {"sku%2"}}), body: dataJSON(t, nil), want: `id: header ce-id: malformed percent-encoding at byte 3`, read: &readable{Source: testSource}},
		{name: "binary source overlong UTF-8", header: binaryHeader(map[string][]string{"ce-source": {"pim%C0%A0x"}}), body: dataJSON(t, nil), want: `source: header ce-source: percent-encoded bytes are not UTF-8`, read: &readable{ID: testID}},
		{name: "binary id percent-encoded NUL", header: binaryHeader(map[string][]string{"ce-id": {"a%00b"}}), body: dataJSON(t, nil), want: `id: must not contain a NUL byte`, read: &readable{ID: "a\x00b", Source: testSource}},
		{name: "binary type unterminated quoted string", header: binaryHeader(map[string][]string{"ce-type": {`"asset.published`}}), body: dataJSON(t, nil), want: `type: header ce-type: unterminated quoted string`},
		{name: "cloudevents content type is structured despite ce-specversion", header: binaryHeader(map[string][]string{"content-type": {"application/cloudevents+json"}}), body: dataJSON(t, nil), want: `specversion: required`, read: &readable{}},
		// data.src.
		{name: "src missing", body: eventJSON(t, nil, map[string]any{"src": absent}), want: `data.src: required`},
		{name: "src a number", body: eventJSON(t, nil, map[string]any{"src": 1}), want: `data.src: must be a string, got number`},
		{name: "src http", body: eventJSON(t, nil, map[string]any{"src": "http://cdn.example.com/a.jpg?sig=" + testSecret}), want: `data.src: must be an absolute https URL (http is allowed only with INGEST_ALLOW_HTTP=true)`},
		{name: "src ftp with AllowHTTP", rules: &Rules{AllowHTTP: true, DefaultRepositoryID: testRepo}, body: eventJSON(t, nil, map[string]any{"src": "ftp://cdn.example.com/a.jpg"}), want: `data.src: must be an absolute http or https URL`},
		{name: "src relative", body: eventJSON(t, nil, map[string]any{"src": "/exports/a.jpg?sig=" + testSecret}), want: `data.src: must be an absolute https URL`},
		{name: "src opaque", body: eventJSON(t, nil, map[string]any{"src": "https:cdn.example.com/a.jpg"}), want: `data.src: must be an absolute https URL`},
		{name: "src unparsable", body: eventJSON(t, nil, map[string]any{"src": "https://cdn.example.com/a%zz.jpg?sig=" + testSecret}), want: `data.src: must be an absolute https URL`},
		{name: "src IPv4", body: eventJSON(t, nil, map[string]any{"src": "https://10.0.0.1/a.jpg"}), want: `data.src: host must be a DNS name, not an IP address`},
		{name: "src IPv6", body: eventJSON(t, nil, map[string]any{"src": "https://[::1]:443/a.jpg"}), want: `data.src: host must be a DNS name, not an IP address`},
		{name: "src short IPv4", body: eventJSON(t, nil, map[string]any{"src": "https://127.1/a.jpg"}), want: `data.src: host must be a DNS name, not an IP address`},
		{name: "src localhost", body: eventJSON(t, nil, map[string]any{"src": "https://LocalHost./a.jpg"}), want: `data.src: host "LocalHost." is not allowed: localhost`},
		{name: "src single label", body: eventJSON(t, nil, map[string]any{"src": "https://intranet/a.jpg"}), want: `data.src: host "intranet" is not allowed: a single-label name`},
		{name: "src .local", body: eventJSON(t, nil, map[string]any{"src": "https://printer.LOCAL/a.jpg"}), want: `data.src: host "printer.LOCAL" is not allowed: .local names are not public`},
		{name: "src .localhost", body: eventJSON(t, nil, map[string]any{"src": "https://app.localhost:8443/a.jpg"}), want: `data.src: host "app.localhost" is not allowed: .localhost names are not public`},
		{name: "src .internal with trailing dot", body: eventJSON(t, nil, map[string]any{"src": "https://db.Internal./a.jpg"}), want: `data.src: host "db.Internal." is not allowed: .internal names are not public`},
		{name: "src non-ASCII host", body: eventJSON(t, nil, map[string]any{"src": "https://exämple.com/a.jpg"}), want: `data.src: host "exämple.com" must be a DNS name of ASCII letters, digits and hyphens (use punycode for international names)`},
		{name: "src empty label", body: eventJSON(t, nil, map[string]any{"src": "https://cdn..example.com/a.jpg"}), want: `data.src: host "cdn..example.com" must be a DNS name of ASCII letters, digits and hyphens (use punycode for international names)`},
		{name: "src user-info", body: eventJSON(t, nil, map[string]any{"src": "https://user:" + testSecret + "@cdn.example.com/a.jpg"}), want: `data.src: must not contain user-info`},
		{name: "src too long", body: eventJSON(t, nil, map[string]any{"src": "https://cdn.example.com/" + long}), want: `data.src: 2049 bytes, at most 2048`},
		// data.name.
		{name: "name missing", body: eventJSON(t, nil, map[string]any{"name": absent}), want: `data.name: required`},
		{name: "name empty", body: eventJSON(t, nil, map[string]any{"name": ""}), want: `data.name: required`},
		{name: "name an array", body: eventJSON(t, nil, map[string]any{"name": []any{}}), want: `data.name: must be a string, got array`},
		{name: "name too long", body: eventJSON(t, nil, map[string]any{"name": strings.Repeat("n", 256)}), want: `data.name: 256 bytes, at most 255`},
		// data.filename.
		{name: "filename not derivable", body: eventJSON(t, nil, map[string]any{"src": "https://cdn.example.com//?f=a.jpg"}), want: `data.filename: required: data.src has no path segment to take it from`},
		{name: "filename empty", body: eventJSON(t, nil, map[string]any{"filename": ""}), want: `data.filename: must not be empty; omit it to derive it from data.src`},
		{name: "filename a number", body: eventJSON(t, nil, map[string]any{"filename": 3}), want: `data.filename: must be a string, got number`},
		// data.type.
		{name: "type lowercase", body: eventJSON(t, nil, map[string]any{"type": "image"}), want: `data.type: "image" is not an AssetType (IMAGE, VIDEO, AUDIO, DOCUMENT, SET, OTHER)`},
		{name: "type a number", body: eventJSON(t, nil, map[string]any{"type": 1}), want: `data.type: must be a string, got number`},
		// data.assetRepositoryId.
		{name: "repository neither", rules: &Rules{}, body: eventJSON(t, nil, nil), want: `data.assetRepositoryId: required: the event names none and AMPLIENCE_ASSET_REPOSITORY_ID is not set`},
		{name: "repository empty", body: eventJSON(t, nil, map[string]any{"assetRepositoryId": ""}), want: `data.assetRepositoryId: must not be empty`},
		{name: "repository a boolean", body: eventJSON(t, nil, map[string]any{"assetRepositoryId": false}), want: `data.assetRepositoryId: must be a string, got boolean`},
		// Optional strings.
		{name: "assetFolderId a number", body: eventJSON(t, nil, map[string]any{"assetFolderId": 1}), want: `data.assetFolderId: must be a string, got number`},
		{name: "label an object", body: eventJSON(t, nil, map[string]any{"label": map[string]any{}}), want: `data.label: must be a string, got object`},
		{name: "locale an array", body: eventJSON(t, nil, map[string]any{"locale": []any{"en"}}), want: `data.locale: must be a string, got array`},
		{name: "localeGroup a boolean", body: eventJSON(t, nil, map[string]any{"localeGroup": true}), want: `data.localeGroup: must be a string, got boolean`},
		// data.tags.
		{name: "tags a string", body: eventJSON(t, nil, map[string]any{"tags": "a,b"}), want: `data.tags: must be an array of strings, got string`},
		{name: "tags too many", body: eventJSON(t, nil, map[string]any{"tags": make([]string, 101)}), want: `data.tags: 101 tags, at most 100`},
		{name: "tag a number", body: eventJSON(t, nil, map[string]any{"tags": []any{"a", 2}}), want: `data.tags[1]: must be a string, got number`},
		{name: "tag too long", body: eventJSON(t, nil, map[string]any{"tags": []any{"a", strings.Repeat("t", 129)}}), want: `data.tags[1]: 129 bytes, at most 128`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			subject, rules, want := testSubject, testRules(), ok
			if tt.subject != "" {
				subject = tt.subject
			}
			if tt.rules != nil {
				rules = *tt.rules
			}
			if tt.read != nil {
				want = *tt.read
			}
			got, err := Decode(subject, tt.header, tt.body, rules)
			if err == nil {
				t.Fatalf("Decode succeeded, want %q", tt.want)
			}
			var ie *InvalidEventError
			if !errors.As(err, &ie) {
				t.Fatalf("Decode error %T is not *InvalidEventError", err)
			}
			if diff := cmp.Diff(tt.want, err.Error()); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
			if strings.Contains(err.Error(), testSecret) {
				t.Errorf("error %q leaks a secret", err)
			}
			if diff := cmp.Diff(want, readable{got.ID, got.Source, got.Key}); diff != "" {
				t.Errorf("readable attributes (-want +got):\n%s", diff)
			}
			if got.SourceToken != SourceToken(subject) {
				t.Errorf("SourceToken = %q, want %q", got.SourceToken, SourceToken(subject))
			}
		})
	}
}

// TestDecodeData covers the defaults and edge values that are valid.
func TestDecodeData(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		rules Rules
		data  map[string]any
		want  CreateAsset
	}{
		{
			name: "filename from percent-decoded last segment, query and fragment ignored",
			data: map[string]any{"src": "https://cdn.example.com/a/My%20File%C3%A9.jpg/?sig=x#frag/y.png"},
			want: CreateAsset{Src: "https://cdn.example.com/a/My%20File%C3%A9.jpg/?sig=x#frag/y.png", Filename: "My Fileé.jpg"},
		},
		{
			name:  "http allowed by rule, port and trailing dot",
			rules: Rules{AllowHTTP: true},
			data:  map[string]any{"src": "HTTP://Cdn.Example.com.:8080/x.png"},
			want:  CreateAsset{Src: "HTTP://Cdn.Example.com.:8080/x.png", Filename: "x.png"},
		},
		{
			name: "nulls are absent",
			data: map[string]any{"label": nil, "tags": nil, "type": nil, "filename": nil, "assetRepositoryId": nil},
			want: CreateAsset{Src: testSrc, Filename: "front.jpg"},
		},
		{
			name: "limits reached exactly",
			data: map[string]any{"name": strings.Repeat("é", 127) + "n", "tags": make([]string, 100)},
			want: CreateAsset{Src: testSrc, Name: strings.Repeat("é", 127) + "n", Filename: "front.jpg", Tags: make([]string, 100)},
		},
		{
			name: "empty tags array is sent",
			data: map[string]any{"tags": []any{}},
			want: CreateAsset{Src: testSrc, Filename: "front.jpg", Tags: []string{}},
		},
		{
			name: "hostname with hyphen, digits and underscore",
			data: map[string]any{"src": "https://s3-eu-1_a.cdn9.example.com/f"},
			want: CreateAsset{Src: "https://s3-eu-1_a.cdn9.example.com/f", Filename: "f"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rules := tt.rules
			rules.DefaultRepositoryID = testRepo
			got, err := Decode(testSubject, nil, eventJSON(t, nil, tt.data), rules)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			want := tt.want
			if want.Name == "" {
				want.Name = "sku-1042-front"
			}
			want.Type, want.AssetRepositoryID = "IMAGE", testRepo
			if diff := cmp.Diff(want, got.Asset); diff != "" {
				t.Errorf("Asset (-want +got):\n%s", diff)
			}
		})
	}
}
