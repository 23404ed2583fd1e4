package ingest

import (
	"testing"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/events"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/ledger"
)

func TestReplays(t *testing.T) {
	t.Parallel()
	dead := func(count int, dlqSeq uint64) ledger.Entry {
		return ledger.Entry{State: ledger.StateDead, ReplayCount: count, DLQSequence: dlqSeq}
	}
	tests := []struct {
		name   string
		replay events.ReplayContext
		entry  ledger.Entry
		want   bool
	}{
		{name: "original delivered again", entry: dead(0, 7), want: false},
		{name: "higher count", replay: events.ReplayContext{Count: 1, Of: "ASSETS_DLQ:7"}, entry: dead(0, 7), want: true},
		{name: "higher count without Of", replay: events.ReplayContext{Count: 1}, entry: dead(0, 7), want: true},
		{name: "the replay that was dead-lettered, delivered again", replay: events.ReplayContext{Count: 1, Of: "ASSETS_DLQ:7"}, entry: dead(1, 9), want: false},
		{name: "count unreadable, names the recorded dead letter", replay: events.ReplayContext{Of: "ASSETS_DLQ:9"}, entry: dead(999999999, 9), want: true},
		{name: "count unreadable, names an older dead letter", replay: events.ReplayContext{Of: "ASSETS_DLQ:7"}, entry: dead(999999999, 9), want: false},
		{name: "dead letter sequence not recorded", replay: events.ReplayContext{Of: "ASSETS_DLQ:9"}, entry: dead(999999999, 0), want: false},
		{name: "pending entry, same count", replay: events.ReplayContext{Count: 2, Of: "ASSETS_DLQ:9"},
			entry: ledger.Entry{State: ledger.StatePending, ReplayCount: 2}, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := replays(tt.replay, tt.entry); got != tt.want {
				t.Errorf("replays(%+v, %+v) = %t, want %t", tt.replay, tt.entry, got, tt.want)
			}
		})
	}
}

func TestSuperseded(t *testing.T) {
	t.Parallel()
	pending := func(count int, of string) ledger.Entry {
		return ledger.Entry{State: ledger.StatePending, ReplayCount: count, ReplayOf: of}
	}
	tests := []struct {
		name   string
		replay events.ReplayContext
		entry  ledger.Entry
		want   bool
	}{
		{name: "the original, no replay since", entry: pending(0, ""), want: false},
		{name: "the original, replayed since", entry: pending(1, "ASSETS_DLQ:7"), want: true},
		{name: "the current replay", replay: events.ReplayContext{Count: 1, Of: "ASSETS_DLQ:7"}, entry: pending(1, "ASSETS_DLQ:7"), want: false},
		{name: "an older replay", replay: events.ReplayContext{Count: 1, Of: "ASSETS_DLQ:7"}, entry: pending(2, "ASSETS_DLQ:9"), want: true},
		{name: "the current replay, its count raised above a forged one", replay: events.ReplayContext{Count: 1, Of: "ASSETS_DLQ:9"},
			entry: pending(1000000000, "ASSETS_DLQ:9"), want: false},
		{name: "an entry written before ReplayOf was recorded", replay: events.ReplayContext{Count: 1, Of: "ASSETS_DLQ:7"}, entry: pending(2, ""), want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := superseded(tt.replay, tt.entry); got != tt.want {
				t.Errorf("superseded(%+v, %+v) = %t, want %t", tt.replay, tt.entry, got, tt.want)
			}
		})
	}
}

func TestTakeReplayRaisesTheCount(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		header     int
		entryCount int
		want       int
	}{
		{name: "the header's count", header: 3, entryCount: 2, want: 3},
		{name: "unreadable header", header: 0, entryCount: 999999999, want: 1000000000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := &delivery{replay: events.ReplayContext{Count: tt.header}}
			e := ledger.Entry{State: ledger.StateDead, Attempts: 3, Calls: 4, ReplayCount: tt.entryCount}
			takeReplay(d, &e)
			if e.ReplayCount != tt.want || d.replay.Count != tt.want || e.Attempts != 0 || e.Calls != 0 {
				t.Errorf("after takeReplay: entry count %d, delivery count %d, attempts %d, calls %d; want %d, %d, 0, 0",
					e.ReplayCount, d.replay.Count, e.Attempts, e.Calls, tt.want, tt.want)
			}
		})
	}
}
