package ingest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/events"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/gqlapi"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/ledger"
)

// The decisions of the pipeline, from a table and without NATS: what a delivery does for each
// state of its ledger entry.
func TestPlanFor(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	const ackWait = 30 * time.Second
	fresh, stale := now.Add(-10*time.Second), now.Add(-ackWait-time.Second)
	pending := func(owner string, heartbeat time.Time, attempts, calls int) ledger.Entry {
		return ledger.Entry{State: ledger.StatePending, Owner: owner, Heartbeat: heartbeat, Attempts: attempts, Calls: calls}
	}
	dead := ledger.Entry{State: ledger.StateDead, Class: "rejected", DLQSequence: 7, ReplayCount: 1}
	tests := []struct {
		name   string
		entry  ledger.Entry
		found  bool
		replay events.ReplayContext
		self   string
		want   plan
	}{
		{name: "no entry", want: plan{step: stepClaim, state: "miss"}},
		{name: "created", found: true, entry: ledger.Entry{State: ledger.StateCreated},
			want: plan{step: stepRepublish, state: "created"}},
		{name: "created, even for a replay", found: true, entry: ledger.Entry{State: ledger.StateCreated},
			replay: events.ReplayContext{Count: 5}, want: plan{step: stepRepublish, state: "created"}},
		{name: "dead, redelivered", found: true, entry: dead, replay: events.ReplayContext{Count: 1},
			want: plan{step: stepRedeadLetter, state: "dead"}},
		{name: "dead, replayed with a higher count", found: true, entry: dead, replay: events.ReplayContext{Count: 2},
			want: plan{step: stepRetake, state: "dead", replay: true, reconcile: true}},
		{name: "dead, replay of its own dead letter whatever the count", found: true, entry: dead,
			replay: events.ReplayContext{Of: "ASSETS_DLQ:7"},
			want:   plan{step: stepRetake, state: "dead", replay: true, reconcile: true}},
		{name: "dead, replay of an older dead letter", found: true, entry: dead,
			replay: events.ReplayContext{Count: 1, Of: "ASSETS_DLQ:3"}, want: plan{step: stepRedeadLetter, state: "dead"}},
		{name: "claimed live by another replica", found: true, entry: pending("b", fresh, 1, 1), self: "a",
			want: plan{step: stepWait, state: "pending", wait: 20 * time.Second}},
		{name: "a live claim about to expire waits at least a second", found: true,
			entry: pending("b", now.Add(-ackWait+time.Millisecond), 1, 1), self: "a",
			want: plan{step: stepWait, state: "pending", wait: time.Second}},
		{name: "own live claim (a redelivery to the same replica)", found: true, entry: pending("a", fresh, 1, 1), self: "a",
			want: plan{step: stepRetake, state: "pending", reconcile: true}},
		{name: "any live claim waits when no replica decides", found: true, entry: pending("a", fresh, 1, 1),
			want: plan{step: stepWait, state: "pending", wait: 20 * time.Second}},
		{name: "expired claim of a crashed replica", found: true, entry: pending("b", stale, 2, 2), self: "a",
			want: plan{step: stepRetake, state: "pending", reconcile: true}},
		{name: "nothing charged and no call made: no search", found: true, entry: pending("", time.Time{}, 0, 0), self: "a",
			want: plan{step: stepRetake, state: "pending"}},
		{name: "a call given back that may have created the asset", found: true,
			entry: ledger.Entry{State: ledger.StatePending, MayExist: true}, self: "a",
			want: plan{step: stepRetake, state: "pending", reconcile: true}},
		{name: "pending, replayed", found: true, entry: pending("", time.Time{}, 0, 0), self: "a",
			replay: events.ReplayContext{Count: 1},
			want:   plan{step: stepRetake, state: "pending", replay: true, reconcile: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := planFor(tt.entry, tt.found, tt.replay, tt.self, now, ackWait)
			if got != tt.want {
				t.Errorf("planFor = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// What a failed request calls for, by the kind of its error and whether it was the
// createAsset call or a reconciliation search.
func TestJudge(t *testing.T) {
	t.Parallel()
	budget := &gqlapi.Error{Kind: gqlapi.KindUnavailable}
	tests := []struct {
		err  error
		req  request
		want remedy
	}{
		{budget, createCall, remedy{checkNone, actSystemic}},
		{budget, lookup, remedy{checkNone, actSystemic}},
		{&gqlapi.Error{Kind: gqlapi.KindRateLimited}, createCall, remedy{checkNone, actRateLimited}},
		{&gqlapi.Error{Kind: gqlapi.KindRateLimited}, lookup, remedy{checkNone, actRateLimited}},
		{&gqlapi.Error{Kind: gqlapi.KindRejected}, createCall, remedy{checkNone, actReject}},
		{&gqlapi.Error{Kind: gqlapi.KindRejected}, lookup, remedy{checkNone, actRetry}},
		{&gqlapi.Error{Kind: gqlapi.KindPermission}, createCall, remedy{checkRepository, actReject}},
		{&gqlapi.Error{Kind: gqlapi.KindPermission}, lookup, remedy{checkRepository, actRetry}},
		{&gqlapi.Error{Kind: gqlapi.KindUnauthorized}, createCall, remedy{checkAlways, actRetry}},
		{&gqlapi.Error{Kind: gqlapi.KindUnauthorized}, lookup, remedy{checkAlways, actRetry}},
		{&gqlapi.Error{Kind: gqlapi.KindTransient}, createCall, remedy{checkIfSuspect, actRetry}},
		{&gqlapi.Error{Kind: gqlapi.KindTransient}, lookup, remedy{checkIfSuspect, actRetry}},
		{errors.New("connection reset"), createCall, remedy{checkIfSuspect, actRetry}},
	}
	for _, tt := range tests {
		name := fmt.Sprintf("%s/%v", gqlapi.KindOf(tt.err), tt.req)
		if got := judge(gqlapi.KindOf(tt.err), tt.req); got != tt.want {
			t.Errorf("%s: judge = %+v, want %+v", name, got, tt.want)
		}
	}
}

// A failed createAsset call may have created the asset unless its answer proves it refused the
// request before doing anything.
func TestMayHaveCreated(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  error
		want bool
	}{
		{errors.New("read tcp: connection reset by peer"), true},
		{&gqlapi.Error{Kind: gqlapi.KindTransient}, true},
		{fmt.Errorf("batch: %w", gqlapi.ErrNotSent), false},
		{&gqlapi.Error{Kind: gqlapi.KindUnavailable}, false},
		{&gqlapi.Error{Kind: gqlapi.KindRateLimited}, false},
		{&gqlapi.Error{Kind: gqlapi.KindUnauthorized}, false},
		{&gqlapi.Error{Kind: gqlapi.KindPermission}, false},
		{&gqlapi.Error{Kind: gqlapi.KindRejected}, false},
	}
	for _, tt := range tests {
		if got := mayHaveCreated(tt.err); got != tt.want {
			t.Errorf("mayHaveCreated(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}
