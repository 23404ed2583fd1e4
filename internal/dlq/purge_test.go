package dlq

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestPurgeDeletesOnlyTheSelection(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	s := threeLetters(t, e)
	tool, out, _ := e.tool("yes\n")
	rep, err := tool.Purge(context.Background(), Selection{Subject: "assets.published.akeneo"}, PurgeOptions{})
	if err != nil {
		t.Fatalf("Purge: %v", err)
	}
	if d := cmp.Diff(Report{Selected: 2, Done: 2}, rep); d != "" {
		t.Errorf("report (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]uint64{s[1]}, seqsOf(e.messages(t, "ASSETS_DLQ"))); d != "" {
		t.Errorf("dead letters left (-want +got):\n%s", d)
	}
	if !strings.Contains(out.String(), "purged 2 of 2 dead letters") {
		t.Errorf("output lacks the summary:\n%s", out)
	}
	if n := len(e.messages(t, "ASSETS")); n != 0 {
		t.Errorf("purge published %d messages", n)
	}
}

func TestPurgeDryRun(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	s := threeLetters(t, e)
	tool, out, _ := e.tool("")
	rep, err := tool.Purge(context.Background(), Selection{All: true}, PurgeOptions{DryRun: true})
	if err != nil {
		t.Fatalf("Purge: %v", err)
	}
	if d := cmp.Diff(Report{Selected: 3, Done: 3}, rep); d != "" {
		t.Errorf("report (-want +got):\n%s", d)
	}
	if d := cmp.Diff(s, seqsOf(e.messages(t, "ASSETS_DLQ"))); d != "" {
		t.Errorf("dry run changed the stream (-want +got):\n%s", d)
	}
	if !strings.Contains(out.String(), "would delete it") {
		t.Errorf("output does not say what would happen:\n%s", out)
	}
}

func TestNeedsASelection(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	threeLetters(t, e)
	tool, _, _ := e.tool("y\n")
	if _, err := tool.Replay(context.Background(), Selection{Limit: 5}, ReplayOptions{Yes: true}); !errors.Is(err, ErrUsage) {
		t.Errorf("Replay without selection: error = %v, want ErrUsage", err)
	}
	if _, err := tool.Purge(context.Background(), Selection{}, PurgeOptions{Yes: true}); !errors.Is(err, ErrUsage) {
		t.Errorf("Purge without selection: error = %v, want ErrUsage", err)
	}
	if n := len(e.messages(t, "ASSETS_DLQ")); n != 3 {
		t.Errorf("%d dead letters left, want 3", n)
	}
}

func TestConfirmation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      io.Reader
		wantErr error
		left    int
	}{
		{"declined", strings.NewReader("n\n"), ErrNotConfirmed, 3},
		{"empty answer", strings.NewReader("\n"), ErrNotConfirmed, 3},
		{"end of input", strings.NewReader(""), ErrNotConfirmed, 3},
		{"no input", nil, ErrNotConfirmed, 3},
		{"accepted", strings.NewReader("Y\n"), nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			threeLetters(t, e)
			tool, _, errOut := e.tool("")
			tool.In = tt.in
			_, err := tool.Purge(context.Background(), Selection{All: true}, PurgeOptions{})
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("Purge error = %v, want %v", err, tt.wantErr)
			}
			if !strings.Contains(errOut.String(), "Delete 3 dead letters from ASSETS_DLQ for good? [y/N] ") {
				t.Errorf("the question was not asked:\n%s", errOut)
			}
			if n := len(e.messages(t, "ASSETS_DLQ")); n != tt.left {
				t.Errorf("%d dead letters left, want %d", n, tt.left)
			}
		})
	}
}

func TestReplayDeclinedChangesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	threeLetters(t, e)
	tool, _, errOut := e.tool("no\n")
	_, err := tool.Replay(context.Background(), Selection{All: true}, ReplayOptions{})
	if !errors.Is(err, ErrNotConfirmed) {
		t.Errorf("Replay error = %v, want ErrNotConfirmed", err)
	}
	if !strings.Contains(errOut.String(), "Replay 3 dead letters from ASSETS_DLQ to ASSETS? [y/N]") {
		t.Errorf("the question was not asked:\n%s", errOut)
	}
	if n := len(e.messages(t, "ASSETS")); n != 0 {
		t.Errorf("declined replay published %d", n)
	}
	if n := len(e.messages(t, "ASSETS_DLQ")); n != 3 {
		t.Errorf("%d dead letters left, want 3", n)
	}
}

func TestOneDeadLetterNeedsNoConfirmation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	seq := e.addDeadLetter(t, sampleLetter("ev-1"))
	tool, _, errOut := e.tool("") // a question would find no answer
	if _, err := tool.Purge(context.Background(), Selection{Seqs: []uint64{seq}}, PurgeOptions{}); err != nil {
		t.Fatalf("Purge: %v", err)
	}
	if strings.Contains(errOut.String(), "[y/N]") {
		t.Errorf("asked about a single dead letter:\n%s", errOut)
	}
}

// TestSnapshot adds a dead letter while the command waits for its
// confirmation, after it read the stream's last sequence.
func TestSnapshot(t *testing.T) {
	t.Parallel()
	for _, cmd := range []string{"replay", "purge"} {
		t.Run(cmd, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			threeLetters(t, e)
			var late uint64
			answered := false
			tool, _, _ := e.tool("")
			tool.In = readerFunc(func(p []byte) (int, error) {
				if answered {
					return 0, io.EOF
				}
				answered = true
				late = e.addDeadLetter(t, sampleLetter("late"))
				return copy(p, "y\n"), nil
			})
			var rep Report
			var err error
			if cmd == "replay" {
				rep, err = tool.Replay(context.Background(), Selection{All: true}, ReplayOptions{})
			} else {
				rep, err = tool.Purge(context.Background(), Selection{Subject: "assets.published.akeneo"}, PurgeOptions{})
			}
			if err != nil {
				t.Fatalf("%s: %v", cmd, err)
			}
			if rep.Done == 0 || late == 0 {
				t.Fatalf("%s did nothing (report %+v) or the late letter was not added", cmd, rep)
			}
			left := seqsOf(e.messages(t, "ASSETS_DLQ"))
			if len(left) == 0 || left[len(left)-1] != late {
				t.Errorf("the dead letter added after the start (%d) was touched; left %v", late, left)
			}
			for _, m := range e.messages(t, "ASSETS") {
				if m.Header.Get("Ingest-Replay-Of") == fmt.Sprintf("ASSETS_DLQ:%d", late) {
					t.Errorf("the late dead letter %d was replayed", late)
				}
			}
		})
	}
}

func TestProgressOnLongRuns(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	for i := range progressFrom {
		e.addDeadLetter(t, sampleLetter(fmt.Sprintf("ev-%d", i)))
	}
	tool, _, errOut := e.tool("")
	tick := 0
	tool.Now = func() time.Time { tick++; return testNow.Add(time.Duration(tick) * time.Second) }
	if _, err := tool.Purge(context.Background(), Selection{All: true}, PurgeOptions{Yes: true}); err != nil {
		t.Fatalf("Purge: %v", err)
	}
	// The clock ticks 1s per reading: the run starts at 1s, and the first
	// report comes at the second reading 2s later, after two purges.
	want := "purge: 2/10 handled (2 done, 0 refused, 0 failed), 1.0/s, about 8s left\n"
	if got := errOut.String(); !strings.Contains(got, want) || strings.Count(got, "handled") != progressFrom/2 {
		t.Errorf("progress = %q, want %q first and a line every 2s of a clock ticking 1s per reading", got, want)
	}
}

func TestNoProgressOnAFewDeadLetters(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	threeLetters(t, e)
	tool, _, errOut := e.tool("")
	tick := 0
	tool.Now = func() time.Time { tick++; return testNow.Add(time.Duration(tick) * time.Second) }
	if _, err := tool.Purge(context.Background(), Selection{All: true}, PurgeOptions{Yes: true}); err != nil {
		t.Fatalf("Purge: %v", err)
	}
	if got := errOut.String(); strings.Contains(got, "handled") {
		t.Errorf("a run of three reported progress: %q", got)
	}
}
