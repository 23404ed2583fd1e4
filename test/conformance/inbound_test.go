package conformance

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/servicetest"
)

// SPEC "Inbound event": a CloudEvents 1.0 event in either mode of the NATS binding: binary when
// a ce-specversion header (any case) is present (ce-* headers, body = data as JSON), otherwise
// structured (the body is the whole event as JSON).
func TestSpec_InboundEvent_BothContentModes(t *testing.T) {
	t.Parallel()
	e := start(t, nil, nil)

	binary := func(name string, names [4]string) *nats.Msg {
		m := nats.NewMsg("assets.published.akeneo")
		m.Header[names[0]] = []string{"1.0"}
		m.Header[names[1]] = []string{"id-" + name}
		m.Header[names[2]] = []string{"pim://akeneo/test"}
		m.Header[names[3]] = []string{"asset.published"}
		m.Data, _ = json.Marshal(map[string]any{"src": "https://media.example-pim.com/" + name + ".jpg", "name": name})
		return m
	}
	rows := []struct {
		name, asset string
		msg         *nats.Msg
	}{
		{"structured", "mode-structured", servicetest.NewEvent("mode-structured").Msg()},
		{"binary, lowercase headers", "mode-binary-lower", binary("mode-binary-lower", [4]string{"ce-specversion", "ce-id", "ce-source", "ce-type"})},
		{"binary, uppercase headers", "mode-binary-upper", binary("mode-binary-upper", [4]string{"CE-SPECVERSION", "CE-ID", "CE-SOURCE", "CE-TYPE"})},
		{"binary, mixed-case headers", "mode-binary-mixed", binary("mode-binary-mixed", [4]string{"Ce-Specversion", "Ce-Id", "cE-sOuRcE", "Ce-Type"})},
	}
	for _, r := range rows {
		e.Publish(r.msg)
	}
	// A ce-specversion header in any case makes the body the data alone: a whole structured
	// event sent with one is read as data without src.
	mixed := servicetest.NewEvent("mode-structured-with-header").Msg()
	mixed.Header.Set("CE-SpecVersion", "1.0")
	mixed.Header.Set("ce-id", "id-mixed")
	mixed.Header.Set("ce-source", "pim://akeneo/test")
	mixed.Header.Set("ce-type", "asset.published")
	seq := e.Publish(mixed)

	waitCompletions(t, e, "assets.ingested.", len(rows))
	names := map[string]bool{}
	for _, a := range e.Sandbox.Assets() {
		names[a.Name] = true
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			if !names[r.asset] {
				t.Errorf("no asset %s was created; assets: %v", r.asset, names)
			}
		})
	}
	dl := waitDeadLetterOf(t, e, seq)
	if got := dl.Header.Get("Ingest-Error"); !strings.HasPrefix(got, "data.src:") {
		t.Errorf("a structured body sent with CE-SpecVersion was not read as binary data: Ingest-Error %q", got)
	}
}

// SPEC "Inbound event", the data table: fields map onto CreateAssetInput; filename defaults to
// the last non-empty segment of the src path (query and fragment ignored), type to IMAGE,
// assetRepositoryId to the configured one; assetFolderId, label, locale and localeGroup are sent
// only when the event has them; src is sent whole. http is accepted with INGEST_ALLOW_HTTP=true.
func TestSpec_InboundEvent_DataMappedOntoCreateAssetInput(t *testing.T) {
	t.Parallel()
	// servicetest sets INGEST_ALLOW_HTTP=true. One event per request, so that each request's
	// variables are one event's input.
	e := start(t, map[string]string{"AMPLIENCE_BATCH_SIZE": "1"}, nil)

	defaults := servicetest.NewEvent("map-defaults")
	defaults.Data["src"] = "https://media.example-pim.com/exports/front.jpg/?sig=secret-signature#frag"
	full := servicetest.NewEvent("map-full")
	full.Data = map[string]any{
		"src": "http://media.example-pim.com/x/y.mp4", "name": "map-full", "filename": "given.mp4", "type": "VIDEO",
		"assetRepositoryId": "other-repository", "assetFolderId": "folder-1", "label": "Label 1",
		"locale": "en-GB", "localeGroup": "group-1", "tags": []string{"a", "b"},
	}
	e.Publish(defaults.Msg())
	e.Publish(full.Msg())
	waitCompletions(t, e, "assets.ingested.", 2)

	inputs := map[string]map[string]any{}
	for _, r := range requests(e, "CreateAsset") {
		in, _ := r.Variables["input"].(map[string]any)
		inputs[in["name"].(string)] = in
	}
	for _, tc := range []struct {
		name string
		want map[string]any
	}{
		{"map-defaults", map[string]any{
			"src": "https://media.example-pim.com/exports/front.jpg/?sig=secret-signature#frag", "name": "map-defaults",
			"filename": "front.jpg", "type": "IMAGE", "assetRepositoryId": servicetest.Repository,
		}},
		{"map-full", map[string]any{
			"src": "http://media.example-pim.com/x/y.mp4", "name": "map-full", "filename": "given.mp4", "type": "VIDEO",
			"assetRepositoryId": "other-repository", "assetFolderId": "folder-1", "label": "Label 1",
			"locale": "en-GB", "localeGroup": "group-1", "tags": []any{"a", "b"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, inputs[tc.name]); diff != "" {
				t.Errorf("CreateAssetInput (-want +got):\n%s", diff)
			}
		})
	}
}

// SPEC "Inbound event": the limits are inclusive: src of 2048 bytes, name of 255 bytes, 100 tags
// of 128 bytes each are valid.
func TestSpec_InboundEvent_LimitsAreInclusive(t *testing.T) {
	t.Parallel()
	e := start(t, nil, nil)
	ev := servicetest.NewEvent("limits")
	prefix := "https://media.example-pim.com/"
	ev.Data["src"] = prefix + strings.Repeat("a", 2048-len(prefix)-4) + ".jpg"
	ev.Data["name"] = strings.Repeat("n", 255)
	tags := make([]string, 100)
	for i := range tags {
		tags[i] = strings.Repeat(string(rune('a'+i%26)), 128)
	}
	ev.Data["tags"] = tags
	e.Publish(ev.Msg())
	c := waitCompletions(t, e, "assets.", 1)[0]
	if c.Type != "asset.ingested" {
		t.Fatalf("an event at every limit was not ingested: %s %s", c.Type, c.Data.Error)
	}
}

// SPEC "Inbound event": an event that fails to decode or validate is never retried: it goes
// straight to the dead-letter stream with class invalid_event and a message naming exactly which
// field is wrong. One row per rule of the attribute and data tables.
func TestSpec_InboundEvent_InvalidEventsNameTheField(t *testing.T) {
	t.Parallel()
	e := start(t, map[string]string{"INGEST_ALLOW_HTTP": "false", "AMPLIENCE_ASSET_REPOSITORY_ID": ""}, nil)

	event := func(change func(ev *servicetest.Event)) func() *nats.Msg {
		return func() *nats.Msg {
			ev := servicetest.NewEvent("invalid")
			ev.Data["assetRepositoryId"] = servicetest.Repository
			change(&ev)
			return ev.Msg()
		}
	}
	data := func(k string, v any) func() *nats.Msg {
		return event(func(ev *servicetest.Event) { ev.Data[k] = v })
	}
	raw := func(body string) func() *nats.Msg {
		return func() *nats.Msg { return &nats.Msg{Subject: "assets.published.akeneo", Data: []byte(body)} }
	}
	manyTags := make([]string, 101)
	for i := range manyTags {
		manyTags[i] = "t"
	}
	rows := []struct {
		name  string
		msg   func() *nats.Msg
		field string
	}{
		{"id missing", event(func(ev *servicetest.Event) { ev.ID = "" }), "id"},
		{"id with NUL", event(func(ev *servicetest.Event) { ev.ID = "a\x00b" }), "id"},
		{"source missing", event(func(ev *servicetest.Event) { ev.Source = "" }), "source"},
		{"source with NUL", event(func(ev *servicetest.Event) { ev.Source = "pim://x\x00y" }), "source"},
		{"type not asset.published", event(func(ev *servicetest.Event) { ev.Type = "asset.deleted" }), "type"},
		{"binary, ce-type not asset.published", event(func(ev *servicetest.Event) { ev.Binary, ev.Type = true, "asset.deleted" }), "type"},
		{"binary, ce-id missing", event(func(ev *servicetest.Event) { ev.Binary, ev.ID = true, "" }), "id"},
		{"specversion not 1.0", raw(`{"specversion":"0.3","id":"x","source":"s","type":"asset.published","data":{}}`), "specversion"},
		{"body not JSON", raw(`not json`), "event"},
		{"data missing", raw(`{"specversion":"1.0","id":"x","source":"s","type":"asset.published"}`), "data"},
		{"data not an object", raw(`{"specversion":"1.0","id":"x","source":"s","type":"asset.published","data":[1]}`), "data"},
		{"src missing", event(func(ev *servicetest.Event) { delete(ev.Data, "src") }), "data.src"},
		{"src not a string", data("src", 42), "data.src"},
		{"src relative", data("src", "/exports/a.jpg"), "data.src"},
		{"src ftp", data("src", "ftp://media.example-pim.com/a.jpg"), "data.src"},
		{"src http without INGEST_ALLOW_HTTP", data("src", "http://media.example-pim.com/a.jpg"), "data.src"},
		{"src IPv4 literal", data("src", "https://203.0.113.7/a.jpg"), "data.src"},
		{"src IPv6 literal", data("src", "https://[2001:db8::1]/a.jpg"), "data.src"},
		{"src localhost", data("src", "https://localhost/a.jpg"), "data.src"},
		{"src single-label name", data("src", "https://media/a.jpg"), "data.src"},
		{"src .local", data("src", "https://nas.local/a.jpg"), "data.src"},
		{"src .localhost", data("src", "https://app.localhost/a.jpg"), "data.src"},
		{"src .internal", data("src", "https://media.corp.internal/a.jpg"), "data.src"},
		{"src user-info", data("src", "https://user:pw@media.example-pim.com/a.jpg"), "data.src"},
		{"src over 2048 bytes", data("src", "https://media.example-pim.com/"+strings.Repeat("a", 2048)+".jpg"), "data.src"},
		{"name missing", event(func(ev *servicetest.Event) { delete(ev.Data, "name") }), "data.name"},
		{"name over 255 bytes", data("name", strings.Repeat("n", 256)), "data.name"},
		{"no filename derivable from src", data("src", "https://media.example-pim.com/?file=a.jpg"), "data.filename"},
		{"type not an AssetType", data("type", "PHOTO"), "data.type"},
		{"no assetRepositoryId and none configured", event(func(ev *servicetest.Event) { delete(ev.Data, "assetRepositoryId") }), "data.assetRepositoryId"},
		{"over 100 tags", data("tags", manyTags), "data.tags"},
		{"tag over 128 bytes", data("tags", []string{strings.Repeat("t", 129)}), "data.tags[0]"},
		{"tag not a string", data("tags", []any{"ok", 7}), "data.tags[1]"},
	}
	seqs := make([]uint64, len(rows))
	for i, r := range rows {
		seqs[i] = e.Publish(r.msg())
	}
	waitDeadLetters(t, e, len(rows))
	e.WaitFor(wait, "every invalid event terminated", func() bool { return settled(t, e) })
	for i, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			dl := deadLetterOf(e, seqs[i])
			if dl == nil {
				t.Fatalf("no dead letter")
			}
			got := []string{dl.Header.Get("Ingest-Error-Class"), dl.Header.Get("Ingest-Attempts")}
			if diff := cmp.Diff([]string{"invalid_event", "0"}, got); diff != "" {
				t.Errorf("class and attempts (-want +got):\n%s", diff)
			}
			if msg := dl.Header.Get("Ingest-Error"); !strings.HasPrefix(msg, r.field+": ") {
				t.Errorf("Ingest-Error %q does not name %s", msg, r.field)
			}
		})
	}
	if n := e.EventRequests(); n != 0 {
		t.Errorf("invalid events made %d API requests", n)
	}
	if ci := consumerInfo(t, e); ci.Delivered.Consumer != uint64(len(rows)) {
		t.Errorf("%d deliveries of %d invalid events: an invalid event was retried", ci.Delivered.Consumer, len(rows))
	}
}

// SPEC "Inbound event": when INGEST_SOURCES is set, an event whose CloudEvents source is not
// allowed for its subject token is invalid: one PIM cannot speak for another.
func TestSpec_InboundEvent_SourcesBindEachPIMToItsToken(t *testing.T) {
	t.Parallel()
	e := start(t, map[string]string{"INGEST_SOURCES": "akeneo=pim://akeneo/*,salsify=pim://salsify/prod"}, nil)
	rows := []struct {
		name, token, source string
		ok                  bool
	}{
		{"akeneo source on akeneo", "akeneo", "pim://akeneo/prod", true},
		{"salsify source on salsify", "salsify", "pim://salsify/prod", true},
		{"akeneo source on salsify", "salsify", "pim://akeneo/prod", false},
		{"salsify source on akeneo", "akeneo", "pim://salsify/prod", false},
		{"unlisted token", "inriver", "pim://inriver/prod", false},
	}
	seqs := make([]uint64, len(rows))
	for i, r := range rows {
		ev := servicetest.NewEvent("sources-" + itoa(i))
		ev.Source, ev.Subject = r.source, "assets.published."+r.token
		seqs[i] = e.Publish(ev.Msg())
	}
	e.WaitFor(wait, "every event settled", func() bool { return settled(t, e) })
	for i, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			dl := deadLetterOf(e, seqs[i])
			switch {
			case r.ok && dl != nil:
				t.Errorf("dead-lettered: %s", dl.Header.Get("Ingest-Error"))
			case !r.ok && dl == nil:
				t.Errorf("accepted")
			case !r.ok && !strings.HasPrefix(dl.Header.Get("Ingest-Error"), "source: "):
				t.Errorf("Ingest-Error %q does not name source", dl.Header.Get("Ingest-Error"))
			}
		})
	}
	if n := len(completions(t, e, "assets.ingested.")); n != 2 {
		t.Errorf("%d events ingested, want the 2 allowed", n)
	}
}

// SPEC "Event key" = lowercase hex SHA-256 of "<subject token> NUL <source> NUL <id>". It keys
// the ledger and names the completion events.
func TestSpec_EventKey_KeysLedgerAndCompletions(t *testing.T) {
	t.Parallel()
	e := start(t, nil, nil)
	ev := servicetest.NewEvent("key")
	ev.Subject = "assets.published.salsify"
	e.Publish(ev.Msg())
	c := waitCompletions(t, e, "assets.ingested.", 1)[0]
	key := eventKey("salsify", ev.Source, ev.ID)
	if c.ID != key+":ingested" {
		t.Errorf("completion id %q, want %q", c.ID, key+":ingested")
	}
	entry, ok := getEntry(t, e, key)
	if !ok || entry.State != "created" || entry.AssetID != c.Data.AssetID {
		t.Errorf("ledger entry event.%s = %+v (found %v), want created with asset %s", key, entry, ok, c.Data.AssetID)
	}
}
