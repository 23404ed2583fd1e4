package dlq

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/events"
)

// threeLetters writes three dead letters of different classes, subjects and
// failure times and returns their sequences.
func threeLetters(t *testing.T, e *env) []uint64 {
	t.Helper()
	a := sampleLetter("ev-1")
	a.failedAt = testNow.Add(-48 * time.Hour)
	b := sampleLetter("ev-2")
	b.subject, b.class, b.err = "assets.published.salsify", events.ClassInvalidEvent, "data.src: missing"
	b.failedAt = testNow.Add(-2 * time.Hour)
	c := sampleLetter("ev-3")
	c.class, c.err = events.ClassExhausted, "HTTP 503 \x1b[31mred"
	c.failedAt = testNow.Add(-10 * time.Minute)
	return []uint64{e.addDeadLetter(t, a), e.addDeadLetter(t, b), e.addDeadLetter(t, c)}
}

func listJSON(t *testing.T, e *env, sel Selection) []Row {
	t.Helper()
	tool, out, _ := e.tool("")
	if err := tool.List(context.Background(), sel, ListOptions{JSON: true}); err != nil {
		t.Fatalf("List: %v", err)
	}
	rows := []Row{}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if line == "" {
			continue
		}
		var r Row
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("line %q is not a JSON row: %v", line, err)
		}
		rows = append(rows, r)
	}
	return rows
}

func TestListJSONRows(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	seqs := threeLetters(t, e)
	got := listJSON(t, e, Selection{})
	body := func(id string) int { return len(sampleLetter(id).body) }
	want := []Row{
		{Sequence: seqs[0], FailedAt: testNow.Add(-48 * time.Hour), Class: "rejected", Subject: "assets.published.akeneo",
			DLQSubject: "assets.dlq.akeneo", EventID: "ev-1", EventSource: "pim://akeneo/prod", Name: "n", Attempts: 3,
			Error: "name: already taken", BodyBytes: body("ev-1")},
		{Sequence: seqs[1], FailedAt: testNow.Add(-2 * time.Hour), Class: "invalid_event", Subject: "assets.published.salsify",
			DLQSubject: "assets.dlq.salsify", EventID: "ev-2", EventSource: "pim://akeneo/prod", Name: "n", Attempts: 3,
			Error: "data.src: missing", BodyBytes: body("ev-2")},
		{Sequence: seqs[2], FailedAt: testNow.Add(-10 * time.Minute), Class: "exhausted", Subject: "assets.published.akeneo",
			DLQSubject: "assets.dlq.akeneo", EventID: "ev-3", EventSource: "pim://akeneo/prod", Name: "n", Attempts: 3,
			Error: "HTTP 503 \x1b[31mred", BodyBytes: body("ev-3")},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("rows (-want +got):\n%s", d)
	}
}

func TestListTextSummaryAndRows(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	seqs := threeLetters(t, e)
	tool, out, _ := e.tool("")
	if err := tool.List(context.Background(), Selection{}, ListOptions{}); err != nil {
		t.Fatalf("List: %v", err)
	}
	text := out.String()
	for _, want := range []string{
		"3 dead letters in ASSETS_DLQ\n",
		"failed between 2026-11-25T12:00:00Z and 2026-11-27T11:50:00Z\n",
		"exhausted 1, invalid_event 1, rejected 1\n",
		"assets.published.akeneo 2, assets.published.salsify 1\n",
		"SEQ",
		`HTTP 503 \x1b[31mred`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "\x1b") {
		t.Errorf("output holds a raw escape character:\n%q", text)
	}
	if i, j := strings.Index(text, "by class"), strings.Index(text, "SEQ"); i < 0 || j < i {
		t.Errorf("summary does not come before the rows:\n%s", text)
	}
	table, _, _ := strings.Cut(text[strings.Index(text, "SEQ"):], "\n\n")
	lines := strings.Split(strings.TrimSpace(table), "\n")
	if len(lines) != 1+len(seqs) {
		t.Errorf("got %d row lines, want %d:\n%s", len(lines)-1, len(seqs), text)
	}
}

func TestListFilters(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	s := threeLetters(t, e)
	tests := []struct {
		name string
		sel  Selection
		want []uint64
	}{
		{"everything", Selection{}, s},
		{"class any case", Selection{Class: "REJECTED"}, s[:1]},
		{"subject literal", Selection{Subject: "assets.published.salsify"}, s[1:2]},
		{"subject wildcard", Selection{Subject: "assets.*.akeneo"}, []uint64{s[0], s[2]}},
		{"dead-letter subject", Selection{Subject: "assets.dlq.salsify"}, s[1:2]},
		{"since", Selection{Since: testNow.Add(-3 * time.Hour)}, s[1:]},
		{"until", Selection{Until: testNow.Add(-time.Hour)}, s[:2]},
		{"since and until", Selection{Since: testNow.Add(-3 * time.Hour), Until: testNow.Add(-time.Hour)}, s[1:2]},
		{"event id", Selection{EventID: "ev-3"}, s[2:]},
		{"limit", Selection{Limit: 2}, s[:2]},
		{"sequences", Selection{Seqs: []uint64{s[2], s[0], s[2]}}, []uint64{s[0], s[2]}},
		{"sequences and filter", Selection{Seqs: s, Class: "exhausted"}, s[2:]},
		{"nothing matches", Selection{Class: "exhausted", EventID: "ev-1"}, []uint64{}},
		{"error substring any case", Selection{Error: "ALREADY taken"}, s[:1]},
		{"error and subject", Selection{Error: "a", Subject: "assets.published.salsify"}, s[1:2]},
		{"error and class", Selection{Error: "503", Class: "rejected"}, []uint64{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := []uint64{}
			for _, r := range listJSON(t, e, tt.sel) {
				got = append(got, r.Sequence)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("sequences (-want +got):\n%s", d)
			}
		})
	}
}

func TestListMissingSequence(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	s := threeLetters(t, e)
	tool, out, errOut := e.tool("")
	err := tool.List(context.Background(), Selection{Seqs: []uint64{s[0], 99}}, ListOptions{JSON: true})
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "99") {
		t.Errorf("List error = %v, want ErrNotFound naming 99", err)
	}
	if n := strings.Count(out.String(), "\n"); n != 1 {
		t.Errorf("printed %d rows, want the one that exists:\n%s", n, out)
	}
	if !strings.Contains(errOut.String(), "no dead letter 99 in ASSETS_DLQ") {
		t.Errorf("stderr does not name the missing sequence: %q", errOut)
	}
}

func TestListErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	tests := []struct {
		name   string
		stream string
		sel    Selection
		want   error
	}{
		{"no stream", "NOPE", Selection{}, ErrNoStream},
		{"all and sequences", "ASSETS_DLQ", Selection{All: true, Seqs: []uint64{1}}, ErrUsage},
		{"until before since", "ASSETS_DLQ", Selection{Since: testNow, Until: testNow.Add(-time.Hour)}, ErrUsage},
		{"bad subject filter", "ASSETS_DLQ", Selection{Subject: "a.>.b"}, ErrUsage},
		{"negative limit", "ASSETS_DLQ", Selection{Limit: -1}, ErrUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tool, _, _ := e.tool("")
			tool.DLQStream = tt.stream
			err := tool.List(context.Background(), tt.sel, ListOptions{})
			if !errors.Is(err, tt.want) {
				t.Errorf("List error = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestListEmptyStream(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	tool, out, _ := e.tool("")
	if err := tool.List(context.Background(), Selection{}, ListOptions{}); err != nil {
		t.Fatalf("List: %v", err)
	}
	if got, want := out.String(), "no dead letters selected in ASSETS_DLQ\n"; got != want {
		t.Errorf("output = %q, want %q", got, want)
	}
}
