package faulttest_test

import (
	"encoding/json"
	"strconv"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/sandbox"
)

// completion is the part of a completion event the tests read.
type completion struct {
	ID   string `json:"id"`
	Type string `json:"type"`
	Data struct {
		EventID    string `json:"eventId"`
		AssetID    string `json:"assetId"`
		Name       string `json:"name"`
		Attempts   int    `json:"attempts"`
		ErrorClass string `json:"errorClass"`
	} `json:"data"`
}

// tally is what became of the events, by event name (the asset's name).
type tally struct {
	assets      map[string][]sandbox.Asset
	ingested    map[string][]completion
	failed      map[string][]completion
	deadLetters map[string][]*jetstream.RawStreamMsg
}

// fate counts what one event name ended with.
type fate struct {
	Assets, Ingested, Failed, DeadLetters int
}

// tally reads the sandbox's assets, the results stream and the dead-letter stream.
func (r *rig) tally() tally {
	r.t.Helper()
	tl := tally{
		assets: map[string][]sandbox.Asset{}, ingested: map[string][]completion{},
		failed: map[string][]completion{}, deadLetters: map[string][]*jetstream.RawStreamMsg{},
	}
	for _, a := range r.Sandbox.Assets() {
		tl.assets[a.Name] = append(tl.assets[a.Name], a)
	}
	for _, m := range r.Messages("ASSET_RESULTS") {
		var c completion
		if err := json.Unmarshal(m.Data, &c); err != nil {
			r.t.Fatalf("completion event on %s is not JSON: %v", m.Subject, err)
		}
		switch c.Type {
		case "asset.ingested":
			tl.ingested[c.Data.Name] = append(tl.ingested[c.Data.Name], c)
		case "asset.ingest_failed":
			tl.failed[c.Data.Name] = append(tl.failed[c.Data.Name], c)
		default:
			r.t.Errorf("unexpected completion type %q on %s", c.Type, m.Subject)
		}
	}
	for _, m := range r.Messages("ASSETS_DLQ") {
		// The tests publish structured events: the body is the whole event.
		var ev struct {
			Data struct {
				Name string `json:"name"`
			} `json:"data"`
		}
		if err := json.Unmarshal(m.Data, &ev); err != nil {
			r.t.Fatalf("dead letter %d is not a structured event: %v", m.Sequence, err)
		}
		tl.deadLetters[ev.Data.Name] = append(tl.deadLetters[ev.Data.Name], m)
	}
	return tl
}

// check asserts the promise: each name in ingested has exactly one asset and exactly one
// asset.ingested naming that asset; each name in dead has no asset, exactly one dead letter and
// exactly one asset.ingest_failed; nothing exists for any other name.
func (r *rig) check(tl tally, ingested, dead []string) {
	r.t.Helper()
	want := map[string]fate{}
	for _, n := range ingested {
		want[n] = fate{Assets: 1, Ingested: 1}
	}
	for _, n := range dead {
		want[n] = fate{Failed: 1, DeadLetters: 1}
	}
	got := map[string]fate{}
	add := func(name string, f func(*fate)) {
		v := got[name]
		f(&v)
		got[name] = v
	}
	for n, as := range tl.assets {
		add(n, func(f *fate) { f.Assets = len(as) })
	}
	for n, cs := range tl.ingested {
		add(n, func(f *fate) { f.Ingested = len(cs) })
	}
	for n, cs := range tl.failed {
		add(n, func(f *fate) { f.Failed = len(cs) })
	}
	for n, ms := range tl.deadLetters {
		add(n, func(f *fate) { f.DeadLetters = len(ms) })
	}
	if diff := cmp.Diff(want, got); diff != "" {
		r.t.Errorf("what became of each event (-want +got):\n%s", diff)
	}
	for _, n := range ingested {
		as, cs := tl.assets[n], tl.ingested[n]
		if len(as) == 1 && len(cs) == 1 && cs[0].Data.AssetID != as[0].ID {
			r.t.Errorf("%s: asset.ingested names asset %s, the sandbox created %s", n, cs[0].Data.AssetID, as[0].ID)
		}
	}
}

// attempts returns each ingested event's attempt count, from its asset.ingested.
func (tl tally) attempts() map[string]int {
	out := map[string]int{}
	for n, cs := range tl.ingested {
		for _, c := range cs {
			out[n] = c.Data.Attempts
		}
	}
	return out
}

// header returns the value of header k of the only dead letter of name, or "" when there is not
// exactly one.
func (tl tally) header(name, k string) string {
	if ms := tl.deadLetters[name]; len(ms) == 1 {
		return ms[0].Header.Get(k)
	}
	return ""
}

func itoa(n int) string { return strconv.Itoa(n) }
