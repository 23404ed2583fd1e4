package events

import (
	"encoding/json"
	"maps"
	"testing"

	"github.com/nats-io/nats.go"
)

const (
	testID      = "5f0c6a1e-8d7b-4b7e-9a51-0c2f3d1e9b44"
	testSource  = "pim://akeneo/prod"
	testSubject = "assets.published.akeneo"
	// testKey is sha256("akeneo\x00pim://akeneo/prod\x00"+testID), computed
	// independently (Python hashlib).
	testKey = "d358e4309f025f096a9d7249c418d63ef523d4683281cd59c9abd0ee31b1daf4"
	// testSrc carries a presigned query string that must never show.
	testSrc    = "https://media.example-pim.com/exports/sku-1042/front.jpg?X-Amz-Signature=topsecret"
	testSecret = "topsecret"
	testRepo   = "repo-default"
)

// absent, as a value in the maps given to eventJSON, deletes the key.
type absentT int

const absent absentT = 0

func testRules() Rules { return Rules{DefaultRepositoryID: testRepo} }

func baseAttrs() map[string]any {
	return map[string]any{
		"specversion": "1.0",
		"id":          testID,
		"source":      testSource,
		"type":        "asset.published",
	}
}

func baseData() map[string]any {
	return map[string]any{"src": testSrc, "name": "sku-1042-front"}
}

// merge applies override to base: absent deletes a key.
func merge(base, override map[string]any) map[string]any {
	out := maps.Clone(base)
	for k, v := range override {
		if v == absent {
			delete(out, k)
			continue
		}
		out[k] = v
	}
	return out
}

// eventJSON is a structured event: the base attributes with attrs applied and
// the base data with data applied.
func eventJSON(tb testing.TB, attrs, data map[string]any) []byte {
	tb.Helper()
	ev := merge(baseAttrs(), attrs)
	if _, ok := ev["data"]; !ok {
		if _, gone := attrs["data"]; !gone {
			ev["data"] = merge(baseData(), data)
		}
	}
	return mustJSON(tb, ev)
}

// dataJSON is the base data with data applied, as a binary-mode body.
func dataJSON(tb testing.TB, data map[string]any) []byte {
	tb.Helper()
	return mustJSON(tb, merge(baseData(), data))
}

// binaryHeader is a binary-mode header set with override applied (nil
// deletes a header).
func binaryHeader(override map[string][]string) nats.Header {
	h := nats.Header{
		"ce-specversion": {"1.0"},
		"ce-id":          {testID},
		"ce-source":      {testSource},
		"ce-type":        {"asset.published"},
		"content-type":   {"application/json"},
	}
	for k, v := range override {
		if v == nil {
			delete(h, k)
			continue
		}
		h[k] = v
	}
	return h
}

func mustJSON(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatalf("marshalling test event: %v", err)
	}
	return b
}

func ptr(s string) *string { return &s }
