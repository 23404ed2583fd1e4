package dlq

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/events"
)

const (
	publisherTP = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	failedTP    = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
)

func TestReplayRepublishesAndDeletes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	l := sampleLetter("ev-1")
	l.header = nats.Header{"traceparent": {publisherTP}, "X-Custom": {"keep"}, "Nats-Expected-Stream": {"OTHER"}}
	l.body = "{\"id\": \"ev-1\",\n  \"odd\":\t\"bytes\"}  "
	seq := e.addDeadLetter(t, l)

	tool, out, errOut := e.tool("")
	rep, err := tool.Replay(context.Background(), Selection{Seqs: []uint64{seq}}, ReplayOptions{})
	if err != nil {
		t.Fatalf("Replay: %v\nstderr: %s", err, errOut)
	}
	if d := cmp.Diff(Report{Selected: 1, Done: 1}, rep); d != "" {
		t.Errorf("report (-want +got):\n%s", d)
	}
	if !strings.Contains(out.String(), "1: replayed to assets.published.akeneo (ASSETS sequence 1); deleted") {
		t.Errorf("output does not say what happened:\n%s", out)
	}
	got := e.messages(t, "ASSETS")
	if len(got) != 1 {
		t.Fatalf("ASSETS holds %d messages, want 1", len(got))
	}
	if got[0].Subject != "assets.published.akeneo" || string(got[0].Data) != l.body {
		t.Errorf("replayed %q on %s, want the body byte for byte on assets.published.akeneo", got[0].Data, got[0].Subject)
	}
	want := nats.Header{
		"X-Custom":                     {"keep"},
		"traceparent":                  {publisherTP},
		events.HeaderReplayCount:       {"1"},
		events.HeaderReplayOf:          {fmt.Sprintf("ASSETS_DLQ:%d", seq)},
		events.HeaderReplayTraceparent: {failedTP},
		events.HeaderMsgID:             {fmt.Sprintf("replay:ASSETS_DLQ:%d", seq)},
	}
	if d := cmp.Diff(want, got[0].Header); d != "" {
		t.Errorf("replay headers (-want +got):\n%s", d)
	}
	if left := e.messages(t, "ASSETS_DLQ"); len(left) != 0 {
		t.Errorf("the dead letter was not deleted: %v", seqsOf(left))
	}

	// The service dead-letters the replay again; a second replay counts 2.
	again := events.DeadLetterHeader(got[0].Header, events.DeadLetter{
		Stream: "ASSETS", Sequence: got[0].Sequence, Subject: got[0].Subject,
		Class: events.ClassExhausted, Err: "still failing", Attempts: 8, EventID: "ev-1", EventSource: "pim://x",
		Traceparent: "00-11111111111111111111111111111111-2222222222222222-01",
	})
	dl := nats.NewMsg("assets.dlq.akeneo")
	dl.Header, dl.Data = again, got[0].Data
	ack, err := e.js.PublishMsg(context.Background(), dl)
	if err != nil {
		t.Fatalf("dead-lettering the replay: %v", err)
	}
	if _, err := tool.Replay(context.Background(), Selection{EventID: "ev-1"}, ReplayOptions{}); err != nil {
		t.Fatalf("second Replay: %v", err)
	}
	got = e.messages(t, "ASSETS")
	if len(got) != 2 {
		t.Fatalf("ASSETS holds %d messages, want 2", len(got))
	}
	second := got[1].Header
	for k, v := range map[string]string{
		events.HeaderReplayCount:       "2",
		events.HeaderReplayOf:          fmt.Sprintf("ASSETS_DLQ:%d", ack.Sequence),
		events.HeaderReplayTraceparent: "00-11111111111111111111111111111111-2222222222222222-01",
		events.HeaderMsgID:             fmt.Sprintf("replay:ASSETS_DLQ:%d", ack.Sequence),
		"traceparent":                  publisherTP,
	} {
		if g := second.Get(k); g != v {
			t.Errorf("second replay %s = %q, want %q", k, g, v)
		}
	}
	if string(got[1].Data) != l.body {
		t.Errorf("second replay body %q, want %q", got[1].Data, l.body)
	}
	for k := range second {
		if strings.HasPrefix(k, "Ingest-Error") || strings.HasPrefix(k, "Ingest-Original") {
			t.Errorf("replay carries dead-letter header %s", k)
		}
	}
}

func TestReplayRefusesForeignSubjects(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	good := e.addDeadLetter(t, sampleLetter("good"))
	sys := sampleLetter("sys")
	sys.subject = "$JS.API.STREAM.DELETE.ASSETS"
	sysSeq := e.addDeadLetter(t, sys)
	other := sampleLetter("other")
	other.subject = "other.subject"
	otherSeq := e.addDeadLetter(t, other)
	omitted := sampleLetter("omitted")
	omitted.extra = nats.Header{events.HeaderBodyOmitted: {"9000000"}}
	omittedSeq := e.addDeadLetter(t, omitted)

	tool, _, errOut := e.tool("")
	rep, err := tool.Replay(context.Background(), Selection{All: true}, ReplayOptions{Yes: true})
	if !errors.Is(err, ErrIncomplete) {
		t.Errorf("Replay error = %v, want ErrIncomplete", err)
	}
	if d := cmp.Diff(Report{Selected: 4, Done: 1, Refused: 3}, rep); d != "" {
		t.Errorf("report (-want +got):\n%s", d)
	}
	for _, want := range []string{
		fmt.Sprintf("%d: refused (kept): replay refused: subject \"$JS.API.STREAM.DELETE.ASSETS\" starts with '$'", sysSeq),
		fmt.Sprintf("%d: refused (kept): replay refused: subject \"other.subject\" matches none", otherSeq),
		fmt.Sprintf("%d: refused: its body (9000000 bytes) was left out", omittedSeq),
	} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if d := cmp.Diff([]uint64{sysSeq, otherSeq, omittedSeq}, seqsOf(e.messages(t, "ASSETS_DLQ"))); d != "" {
		t.Errorf("dead letters left (-want +got):\n%s", d)
	}
	inbound := e.messages(t, "ASSETS")
	if len(inbound) != 1 || inbound[0].Header.Get(events.HeaderReplayOf) != fmt.Sprintf("ASSETS_DLQ:%d", good) {
		t.Errorf("ASSETS holds %d messages, want only the replay of %d", len(inbound), good)
	}
}

func TestReplayInterruptedThenRunAgain(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	var all []uint64
	for i := range 6 {
		all = append(all, e.addDeadLetter(t, sampleLetter(fmt.Sprintf("ev-%d", i))))
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tool, _, _ := e.tool("")
	out := &cancelAfter{marker: "replayed to", lines: 3, cancel: cancel}
	tool.Out = out
	rep, err := tool.Replay(ctx, Selection{All: true}, ReplayOptions{Yes: true, Rate: 1000})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted Replay error = %v, want context.Canceled", err)
	}
	if rep.Done != 3 {
		t.Errorf("interrupted run replayed %d, want 3", rep.Done)
	}
	if n := len(e.messages(t, "ASSETS")); n != 3 {
		t.Errorf("after the interruption ASSETS holds %d, want 3", n)
	}

	tool, _, _ = e.tool("")
	rep, err = tool.Replay(context.Background(), Selection{All: true}, ReplayOptions{Yes: true})
	if err != nil {
		t.Fatalf("second Replay: %v", err)
	}
	if d := cmp.Diff(Report{Selected: 3, Done: 3}, rep); d != "" {
		t.Errorf("second report (-want +got):\n%s", d)
	}
	replayOf := map[string]int{}
	for _, m := range e.messages(t, "ASSETS") {
		replayOf[m.Header.Get(events.HeaderReplayOf)]++
	}
	want := map[string]int{}
	for _, s := range all {
		want[fmt.Sprintf("ASSETS_DLQ:%d", s)] = 1
	}
	if d := cmp.Diff(want, replayOf); d != "" {
		t.Errorf("replays per dead letter (-want +got):\n%s", d)
	}
	if left := e.messages(t, "ASSETS_DLQ"); len(left) != 0 {
		t.Errorf("dead letters left: %v", seqsOf(left))
	}
}

func TestReplayAfterPublishWithoutDelete(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	seq := e.addDeadLetter(t, sampleLetter("ev-1"))
	// An earlier run stored the replay and stopped before deleting.
	dl := e.messages(t, "ASSETS_DLQ")[0]
	m := nats.NewMsg("assets.published.akeneo")
	m.Header, m.Data = events.ReplayHeader(dl.Header, "ASSETS_DLQ", seq), dl.Data
	if _, err := e.js.PublishMsg(context.Background(), m); err != nil {
		t.Fatalf("publishing the earlier replay: %v", err)
	}
	tool, out, _ := e.tool("")
	rep, err := tool.Replay(context.Background(), Selection{Seqs: []uint64{seq}}, ReplayOptions{})
	if err != nil {
		t.Fatalf("Replay: %v", err)
	}
	if d := cmp.Diff(Report{Selected: 1, Done: 1, Duplicates: 1}, rep); d != "" {
		t.Errorf("report (-want +got):\n%s", d)
	}
	if !strings.Contains(out.String(), "already replayed") {
		t.Errorf("output does not say it was a duplicate:\n%s", out)
	}
	if n := len(e.messages(t, "ASSETS")); n != 1 {
		t.Errorf("ASSETS holds %d messages, want 1", n)
	}
	if n := len(e.messages(t, "ASSETS_DLQ")); n != 0 {
		t.Errorf("ASSETS_DLQ holds %d, want 0", n)
	}
}

func TestReplayDryRunChangesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	good := e.addDeadLetter(t, sampleLetter("good"))
	bad := sampleLetter("bad")
	bad.subject = "other.subject"
	badSeq := e.addDeadLetter(t, bad)
	tool, out, errOut := e.tool("") // no answer: a question would fail
	rep, err := tool.Replay(context.Background(), Selection{All: true}, ReplayOptions{DryRun: true})
	if !errors.Is(err, ErrIncomplete) {
		t.Errorf("dry run error = %v, want ErrIncomplete for the refusal", err)
	}
	if d := cmp.Diff(Report{Selected: 2, Done: 1, Refused: 1}, rep); d != "" {
		t.Errorf("report (-want +got):\n%s", d)
	}
	if !strings.Contains(out.String(), fmt.Sprintf("%d: would replay to assets.published.akeneo", good)) ||
		!strings.Contains(out.String(), "dry run, nothing changed") {
		t.Errorf("output does not say what would happen:\n%s", out)
	}
	if !strings.Contains(errOut.String(), fmt.Sprintf("%d: refused", badSeq)) {
		t.Errorf("stderr does not report the refusal:\n%s", errOut)
	}
	if n := len(e.messages(t, "ASSETS")); n != 0 {
		t.Errorf("dry run published %d messages", n)
	}
	if n := len(e.messages(t, "ASSETS_DLQ")); n != 2 {
		t.Errorf("dry run left %d dead letters, want 2", n)
	}
}

func TestReplayMissingSequenceFails(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	seq := e.addDeadLetter(t, sampleLetter("ev-1"))
	tool, _, errOut := e.tool("y\n")
	rep, err := tool.Replay(context.Background(), Selection{Seqs: []uint64{seq, 77}}, ReplayOptions{})
	if !errors.Is(err, ErrIncomplete) {
		t.Errorf("Replay error = %v, want ErrIncomplete", err)
	}
	if d := cmp.Diff(Report{Selected: 1, Missing: 1, Done: 1}, rep); d != "" {
		t.Errorf("report (-want +got):\n%s", d)
	}
	if !strings.Contains(errOut.String(), "77: no such sequence in ASSETS_DLQ") {
		t.Errorf("stderr does not name the missing sequence:\n%s", errOut)
	}
}

func TestReplayWithoutInboundStream(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.addDeadLetter(t, sampleLetter("ev-1"))
	tool, _, _ := e.tool("")
	tool.InboundStream = "MISSING"
	_, err := tool.Replay(context.Background(), Selection{All: true}, ReplayOptions{})
	if !errors.Is(err, ErrNoStream) || !strings.Contains(err.Error(), "MISSING") {
		t.Errorf("Replay error = %v, want ErrNoStream naming MISSING", err)
	}
}
