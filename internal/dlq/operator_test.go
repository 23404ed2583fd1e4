package dlq

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/events"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/servicetest"
)

func TestSelectionRefusesUnknownClass(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		class string
		ok    bool
	}{
		{"typo", "invalid_evnt", false},
		{"known", "invalid_event", true},
		{"known in another case", "Exhausted", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := Selection{Class: tc.class}.Check(false)
			if tc.ok {
				if err != nil {
					t.Errorf("Check: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), "use invalid_event, rejected, exhausted") {
				t.Errorf("Check error = %v, want ErrUsage naming the classes", err)
			}
		})
	}
}

func TestListTextShowsNameAndAmplienceMessageFirst(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	l := sampleLetter("ev-1")
	l.body = `{"specversion":"1.0","id":"ev-1","data":{"name":"sku-1042-front"}}`
	l.err = "amplience CreateAsset: rejected (HTTP 200, BAD_USER_INPUT): name sku-1042-front is already taken"
	e.addDeadLetter(t, l)
	tool, out, _ := e.tool("")
	if err := tool.List(context.Background(), Selection{}, ListOptions{}); err != nil {
		t.Fatalf("List: %v", err)
	}
	for _, want := range []string{"  NAME  ", "  sku-1042-front  ", "  name sku-1042-front is already taken [amplience CreateAsset…\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("listing lacks %q:\n%s", want, out)
		}
	}
}

func TestMessageFirst(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, in, want string }{
		{"amplience", "amplience CreateAsset: rejected (HTTP 200, BAD_USER_INPUT): bad name", "bad name [amplience CreateAsset: rejected (HTTP 200, BAD_USER_INPUT)]"},
		{"without details", "amplience CreateAsset: transient: connection reset", "connection reset [amplience CreateAsset: transient]"},
		{"other", "data.src: missing", "data.src: missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := messageFirst(tc.in); got != tc.want {
				t.Errorf("messageFirst(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestListSummaryComesFromTheServer(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	threeLetters(t, e)
	tool, out, _ := e.tool("")
	if err := tool.List(context.Background(), Selection{}, ListOptions{SummaryOnly: true}); err != nil {
		t.Fatalf("List: %v", err)
	}
	for _, want := range []string{"3 dead letters in ASSETS_DLQ\n", "by source:  akeneo 2, salsify 1\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out.String(), "SEQ") {
		t.Errorf("the summary lists rows:\n%s", out)
	}
	err := tool.List(context.Background(), Selection{Class: "rejected"}, ListOptions{SummaryOnly: true})
	if !errors.Is(err, ErrUsage) {
		t.Errorf("--summary with a filter: error = %v, want ErrUsage", err)
	}
}

func TestEmptySelectionThatLooksLikeATypo(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	threeLetters(t, e)
	for _, tc := range []struct {
		name    string
		subject string
		typo    bool
	}{
		{"misspelt source", "assets.published.akeneoo", true},
		{"misspelt dead-letter subject", "assets.dql.akeneo", false}, // its source has dead letters
		{"source without dead letters", "assets.dlq.salsify2", true},
		{"wildcard", "assets.nothing.*", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tool, _, _ := e.tool("")
			err := tool.List(context.Background(), Selection{Subject: tc.subject}, ListOptions{})
			if !tc.typo {
				if err != nil {
					t.Errorf("List: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), "assets.dlq.akeneo 2, assets.dlq.salsify 1") {
				t.Errorf("List error = %v, want ErrUsage naming the subjects", err)
			}
			if err := tool.List(context.Background(), Selection{Subject: tc.subject}, ListOptions{JSON: true}); !errors.Is(err, ErrUsage) {
				t.Errorf("List --json error = %v, want ErrUsage", err)
			}
			_, err = tool.Purge(context.Background(), Selection{Subject: tc.subject}, PurgeOptions{Yes: true})
			if !errors.Is(err, ErrUsage) {
				t.Errorf("Purge error = %v, want ErrUsage", err)
			}
		})
	}
}

func TestListFollowPrintsNewDeadLetters(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.addDeadLetter(t, sampleLetter("ev-old"))
	tool, _, _ := e.tool("")
	var out, errOut servicetest.SyncBuffer
	tool.Out, tool.Err = &out, &errOut
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- tool.List(ctx, Selection{Class: "exhausted"}, ListOptions{JSON: true, Follow: true})
	}()
	waitUntil(t, func() bool { return strings.Contains(errOut.String(), "following ASSETS_DLQ") })
	skipped := sampleLetter("ev-rejected")
	e.addDeadLetter(t, skipped)
	fresh := sampleLetter("ev-new")
	fresh.class = events.ClassExhausted
	seq := e.addDeadLetter(t, fresh)
	waitUntil(t, func() bool { return strings.Contains(out.String(), `"eventId":"ev-new"`) })
	cancel()
	if err := <-done; err != nil {
		t.Errorf("List --follow ended with %v, want nil on interrupt", err)
	}
	var r Row
	if err := json.Unmarshal([]byte(strings.TrimSpace(out.String())), &r); err != nil {
		t.Fatalf("output %q is not one JSON row: %v", out.String(), err)
	}
	if r.Sequence != seq || r.Class != events.ClassExhausted {
		t.Errorf("followed row = %+v, want the new exhausted dead letter %d only", r, seq)
	}
	err := tool.List(context.Background(), Selection{Seqs: []uint64{1}}, ListOptions{Follow: true})
	if !errors.Is(err, ErrUsage) {
		t.Errorf("--follow with sequences: error = %v, want ErrUsage", err)
	}
}

// waitUntil polls cond until it holds, failing after a deadline.
func waitUntil(tb testing.TB, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatal("condition not met before the deadline")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestExportWritesBodyAndMetadata(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	seqs := threeLetters(t, e)
	dir := filepath.Join(t.TempDir(), "ticket-123")
	tool, out, _ := e.tool("")
	if err := tool.Export(context.Background(), Selection{Class: "invalid_event"}, dir); err != nil {
		t.Fatalf("Export: %v", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, en := range entries {
		names = append(names, en.Name())
	}
	want := []string{"2.body", "2.json"}
	if d := cmp.Diff(want, names); d != "" {
		t.Errorf("files (-want +got):\n%s", d)
	}
	body, err := os.ReadFile(filepath.Join(dir, "2.body"))
	if err != nil {
		t.Fatal(err)
	}
	if string(body) != sampleLetter("ev-2").body {
		t.Errorf("body = %q, want the dead letter's bytes", body)
	}
	meta, err := os.ReadFile(filepath.Join(dir, "2.json"))
	if err != nil {
		t.Fatal(err)
	}
	var got Exported
	if err := json.Unmarshal(meta, &got); err != nil {
		t.Fatalf("metadata is not JSON: %v", err)
	}
	if got.Sequence != seqs[1] || got.Class != events.ClassInvalidEvent || got.BodyFile != "2.body" ||
		got.Headers[events.HeaderErrorClass][0] != string(events.ClassInvalidEvent) || got.Stored.IsZero() {
		t.Errorf("metadata = %+v", got)
	}
	if !strings.Contains(out.String(), "exported 1 dead letters from ASSETS_DLQ") {
		t.Errorf("output:\n%s", out)
	}
	if n := len(e.messages(t, "ASSETS_DLQ")); n != 3 {
		t.Errorf("the export left %d dead letters, want all 3", n)
	}
}

func TestReplayDryRunCountsMissingInTheSummary(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	seq := e.addDeadLetter(t, sampleLetter("ev-1"))
	tool, out, _ := e.tool("")
	_, err := tool.Replay(context.Background(), Selection{Seqs: []uint64{seq, 99}}, ReplayOptions{DryRun: true})
	if !errors.Is(err, ErrIncomplete) || !strings.Contains(err.Error(), "1 of 2 dead letters refused, failed or missing") {
		t.Errorf("Replay error = %v", err)
	}
	want := "dry run, nothing changed: would have replayed 1 of 2 dead letters; 0 refused, 0 failed, 0 gone, 1 missing\n"
	if !strings.Contains(out.String(), want) {
		t.Errorf("summary = %q, want %q", out.String(), want)
	}
}

func TestListFollowTextAlignsRowsUnderOneHeader(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	tool, _, _ := e.tool("")
	var out, errOut servicetest.SyncBuffer
	tool.Out, tool.Err = &out, &errOut
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- tool.List(ctx, Selection{}, ListOptions{Follow: true}) }()
	waitUntil(t, func() bool { return strings.Contains(errOut.String(), "following ASSETS_DLQ") })
	l := sampleLetter("ev-1")
	l.failedAt = testNow
	e.addDeadLetter(t, l)
	waitUntil(t, func() bool { return strings.Contains(out.String(), "ev-1") })
	cancel()
	if err := <-done; err != nil {
		t.Errorf("List --follow: %v", err)
	}
	want := "no dead letters selected in ASSETS_DLQ\n" +
		"SEQ    FAILED AT             CLASS          SUBJECT                   NAME                  EVENT ID                              ATTEMPTS  REPLAYS  ERROR\n" +
		"1      2026-11-27T12:00:00Z  rejected       assets.published.akeneo   n                     ev-1                                  3         0        name: already taken\n"
	if d := cmp.Diff(want, out.String()); d != "" {
		t.Errorf("output (-want +got):\n%s", d)
	}
}
