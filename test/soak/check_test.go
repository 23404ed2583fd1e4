package soak_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/sandbox"
)

// deadLetter is what the check reads of a dead letter.
type deadLetter struct {
	seq   uint64 // on the dead-letter stream
	class string
}

// tally is what became of everything published, read once the consumer has settled.
type tally struct {
	eventSeqs   map[string][]uint64 // valid event name -> its stored inbound sequences
	hostileSeqs map[uint64]string   // inbound sequence -> hostile kind
	strays      []string            // inbound messages that are neither
	deadLetters map[uint64][]deadLetter
	dlStrays    []string // dead letters that name no stored message
	assets      map[string][]sandbox.Asset
	ingested    map[string][]string // event name -> asset ids its asset.ingested events name
	failed      map[string]int      // event name -> asset.ingest_failed events
	createCalls int
}

func readTally(t *testing.T, js jetstream.JetStream, sb *sandbox.Server) tally {
	t.Helper()
	tl := tally{
		eventSeqs: map[string][]uint64{}, hostileSeqs: map[uint64]string{}, deadLetters: map[uint64][]deadLetter{},
		assets: map[string][]sandbox.Asset{}, ingested: map[string][]string{}, failed: map[string]int{},
	}
	readAll(t, js, "ASSETS", func(m jetstream.Msg, seq uint64) {
		if kind := m.Headers().Get(hostileHeader); kind != "" {
			tl.hostileSeqs[seq] = kind
			return
		}
		var ev struct {
			Data struct {
				Name string `json:"name"`
			} `json:"data"`
		}
		if err := json.Unmarshal(m.Data(), &ev); err != nil || ev.Data.Name == "" {
			tl.strays = append(tl.strays, fmt.Sprintf("inbound message %d is neither a soak event nor marked hostile", seq))
			return
		}
		tl.eventSeqs[ev.Data.Name] = append(tl.eventSeqs[ev.Data.Name], seq)
	})
	readAll(t, js, "ASSETS_DLQ", func(m jetstream.Msg, seq uint64) {
		orig, err := strconv.ParseUint(m.Headers().Get("Ingest-Original-Sequence"), 10, 64)
		if err != nil {
			tl.dlStrays = append(tl.dlStrays, fmt.Sprintf("dead letter %d has no Ingest-Original-Sequence", seq))
			return
		}
		tl.deadLetters[orig] = append(tl.deadLetters[orig], deadLetter{seq: seq, class: m.Headers().Get("Ingest-Error-Class")})
	})
	readAll(t, js, "ASSET_RESULTS", func(m jetstream.Msg, seq uint64) {
		var c struct {
			Type string `json:"type"`
			Data struct {
				Name    string `json:"name"`
				AssetID string `json:"assetId"`
			} `json:"data"`
		}
		if err := json.Unmarshal(m.Data(), &c); err != nil {
			t.Errorf("completion event %d is not JSON: %v", seq, err)
			return
		}
		switch c.Type {
		case "asset.ingested":
			tl.ingested[c.Data.Name] = append(tl.ingested[c.Data.Name], c.Data.AssetID)
		case "asset.ingest_failed":
			tl.failed[c.Data.Name]++
		}
	})
	for _, a := range sb.Assets() {
		tl.assets[a.Name] = append(tl.assets[a.Name], a)
	}
	for _, n := range sb.Stats().CreateAssetCalls {
		tl.createCalls += n
	}
	eventSeqs := map[uint64]bool{}
	for _, seqs := range tl.eventSeqs {
		for _, seq := range seqs {
			eventSeqs[seq] = true
		}
	}
	for seq := range tl.deadLetters {
		if _, hostile := tl.hostileSeqs[seq]; !hostile && !eventSeqs[seq] {
			tl.dlStrays = append(tl.dlStrays, fmt.Sprintf("dead letters %v name inbound sequence %d, which holds no published message", tl.deadLetters[seq], seq))
		}
	}
	return tl
}

// readAll calls each for every message of stream, in order, with its stream sequence.
func readAll(t *testing.T, js jetstream.JetStream, stream string, each func(jetstream.Msg, uint64)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatalf("stream %s: %v", stream, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatalf("stream %s info: %v", stream, err)
	}
	if info.State.Msgs == 0 {
		return
	}
	c, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatalf("reading %s: %v", stream, err)
	}
	var last, read uint64
	for empty := 0; last < info.State.LastSeq && read < info.State.Msgs; {
		// No more than are left, so that the last fetch need not wait for its batch to fill.
		batch, err := c.Fetch(int(min(1000, info.State.Msgs-read)), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatalf("reading %s: %v", stream, err)
		}
		n := 0
		for m := range batch.Messages() {
			meta, err := m.Metadata()
			if err != nil {
				t.Fatalf("reading %s: %v", stream, err)
			}
			last = meta.Sequence.Stream
			each(m, last)
			n++
			read++
		}
		if n == 0 {
			if empty++; empty == 3 {
				t.Fatalf("reading %s: nothing after sequence %d of %d", stream, last, info.State.LastSeq)
			}
		}
	}
}

// check returns every way the promise was broken: numEvents valid events were published and
// confirmed, plus the hostile messages stored.
func (tl tally) check(numEvents int) []string {
	var out []string
	out = append(out, tl.strays...)
	out = append(out, tl.dlStrays...)
	for i := range numEvents {
		if n := eventName(i); len(tl.eventSeqs[n]) == 0 {
			out = append(out, fmt.Sprintf("%s: the publish was confirmed, the inbound stream does not hold it", n))
		}
	}
	for _, n := range slices.Sorted(maps.Keys(tl.eventSeqs)) {
		var dls []deadLetter
		for _, seq := range tl.eventSeqs[n] {
			dls = append(dls, tl.deadLetters[seq]...)
		}
		as := tl.assets[n]
		switch {
		case len(as)+len(dls) != 1:
			out = append(out, fmt.Sprintf("%s (inbound %v): %d assets %v and %d dead letters %v, want exactly one of them", n, tl.eventSeqs[n], len(as), assetIDs(as), len(dls), dls))
		case len(as) == 1 && !slices.Contains(tl.ingested[n], as[0].ID):
			out = append(out, fmt.Sprintf("%s: no asset.ingested names its asset %s (those published name %v)", n, as[0].ID, tl.ingested[n]))
		case len(dls) == 1 && tl.failed[n] == 0:
			out = append(out, fmt.Sprintf("%s: dead-lettered (%s) without asset.ingest_failed", n, dls[0].class))
		}
	}
	for _, seq := range slices.Sorted(maps.Keys(tl.hostileSeqs)) {
		if dls := tl.deadLetters[seq]; len(dls) != 1 {
			out = append(out, fmt.Sprintf("inbound message %d (%s): %d dead letters %v, want exactly one", seq, tl.hostileSeqs[seq], len(dls), dls))
		}
	}
	for _, n := range slices.Sorted(maps.Keys(tl.assets)) {
		if _, ok := tl.eventSeqs[n]; !ok {
			out = append(out, fmt.Sprintf("assets %v are named %q, which no event carried", assetIDs(tl.assets[n]), n))
		}
	}
	return out
}

func assetIDs(as []sandbox.Asset) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.ID)
	}
	return out
}

// report writes the outcome counts.
func (tl tally) report(w io.Writer) {
	stored, dups, ingested, dead := 0, 0, 0, map[string]int{}
	for n, seqs := range tl.eventSeqs {
		stored += len(seqs)
		dups += len(seqs) - 1
		if len(tl.assets[n]) > 0 {
			ingested++
		}
		for _, seq := range seqs {
			for _, dl := range tl.deadLetters[seq] {
				dead[dl.class]++
			}
		}
	}
	hostile, hostileDead := map[string]int{}, map[string]int{}
	hostileNone := 0
	for seq, kind := range tl.hostileSeqs {
		hostile[kind]++
		hostileDead[kind] += len(tl.deadLetters[seq])
		if len(tl.deadLetters[seq]) == 0 {
			hostileNone++
		}
	}
	eventsNone := 0
	for n, seqs := range tl.eventSeqs {
		outcomes := len(tl.assets[n])
		for _, seq := range seqs {
			outcomes += len(tl.deadLetters[seq])
		}
		if outcomes == 0 {
			eventsNone++
		}
	}
	assets, twice := 0, 0
	for _, as := range tl.assets {
		assets += len(as)
		if len(as) > 1 {
			twice++
		}
	}
	completions, repeated := 0, 0
	for _, ids := range tl.ingested {
		completions += len(ids)
		if len(ids) > 1 {
			repeated++
		}
	}
	fmt.Fprintf(w, "events: %d stored (%d stored twice), %d ingested, %d dead-lettered %v\n", stored, dups, ingested, sum(dead), dead)
	fmt.Fprintf(w, "hostile messages: %d stored %v, %d dead letters for them %v\n", sum(hostile), hostile, sum(hostileDead), hostileDead)
	fmt.Fprintf(w, "assets: %d, %d names with more than one; createAsset calls: %d\n", assets, twice, tl.createCalls)
	fmt.Fprintf(w, "without any outcome: %d events, %d hostile messages\n", eventsNone, hostileNone)
	fmt.Fprintf(w, "completions: %d asset.ingested (%d events with more than one), %d asset.ingest_failed\n", completions, repeated, sum(tl.failed))
}
