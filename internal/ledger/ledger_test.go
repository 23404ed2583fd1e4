package ledger_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/ledger"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/natstest"
)

func newLedger(t *testing.T) *ledger.Ledger {
	t.Helper()
	return ledger.New(newBucket(t))
}

func newBucket(t *testing.T) jetstream.KeyValue {
	t.Helper()
	_, js := natstest.Connect(t, natstest.RunServer(t))
	kv, err := js.CreateKeyValue(context.Background(), jetstream.KeyValueConfig{Bucket: "ledger_test"})
	if err != nil {
		t.Fatal(err)
	}
	return kv
}

func TestClaimIsCreateIfAbsent(t *testing.T) {
	t.Parallel()
	l := newLedger(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC)
	first := ledger.Entry{State: ledger.StatePending, Owner: "a", Attempts: 1, Calls: 1, FirstAttempt: now, Heartbeat: now}

	if _, _, err := l.Get(ctx, "k"); !errors.Is(err, ledger.ErrNotFound) {
		t.Fatalf("Get before any claim: %v, want ErrNotFound", err)
	}
	rev, err := l.Claim(ctx, "k", first)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Claim(ctx, "k", ledger.Entry{State: ledger.StatePending, Owner: "b"}); !errors.Is(err, ledger.ErrExists) {
		t.Errorf("second claim: %v, want ErrExists", err)
	}
	got, gotRev, err := l.Get(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(first, got); diff != "" || gotRev != rev {
		t.Errorf("entry after claim (-want +got):\n%s (rev %d want %d)", diff, gotRev, rev)
	}
}

func TestUpdateIsCompareAndSet(t *testing.T) {
	t.Parallel()
	l := newLedger(t)
	ctx := context.Background()
	rev, err := l.Claim(ctx, "k", ledger.Entry{State: ledger.StatePending, Attempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	created := ledger.Entry{State: ledger.StateCreated, Attempts: 1, Calls: 1, AssetID: "QXNzZXQ6MQ==", Completion: []byte(`{"id":"k:ingested"}`)}
	next, err := l.Update(ctx, "k", created, rev)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Update(ctx, "k", ledger.Entry{State: ledger.StateDead}, rev); !errors.Is(err, ledger.ErrConflict) {
		t.Errorf("update at a stale revision: %v, want ErrConflict", err)
	}
	got, gotRev, err := l.Get(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(created, got); diff != "" || gotRev != next {
		t.Errorf("entry (-want +got):\n%s", diff)
	}
}

func TestAssetIndexNamesOneEvent(t *testing.T) {
	t.Parallel()
	l := newLedger(t)
	ctx := context.Background()
	id := "QXNzZXQ6YWJj+/=="
	if _, err := l.AssetOwner(ctx, id); !errors.Is(err, ledger.ErrNotFound) {
		t.Fatalf("AssetOwner before recording: %v", err)
	}
	completion := []byte(`{"id":"event-a:ingested","time":"2026-01-01T00:00:00.000Z"}`)
	if got, err := l.RecordAsset(ctx, id, "event-a", completion); err != nil || !bytes.Equal(got, completion) {
		t.Fatalf("RecordAsset = %s, %v; want its own completion", got, err)
	}
	// Again for the same event (a redelivery after a crash): the completion recorded first.
	if got, err := l.RecordAsset(ctx, id, "event-a", []byte(`{"id":"event-a:ingested","time":"2026-01-02T00:00:00.000Z"}`)); err != nil || !bytes.Equal(got, completion) {
		t.Errorf("recording again for the same event = %s, %v; want the first completion", got, err)
	}
	if _, err := l.RecordAsset(ctx, id, "event-b", nil); !errors.Is(err, ledger.ErrAssetTaken) {
		t.Errorf("recording for another event: %v, want ErrAssetTaken", err)
	}
	if owner, err := l.AssetOwner(ctx, id); err != nil || owner != "event-a" {
		t.Errorf("AssetOwner = %q, %v; want event-a", owner, err)
	}
	if err := l.Check(ctx); err != nil {
		t.Errorf("Check on a live bucket: %v", err)
	}
}

// Index entries written before the completion was kept hold the bare event key; an entry this
// service did not write names no event, so no event may adopt its asset.
func TestAssetIndexReadsOlderAndForeignEntries(t *testing.T) {
	t.Parallel()
	kv := newBucket(t)
	l := ledger.New(kv)
	ctx := context.Background()
	put := func(id, value string) {
		t.Helper()
		sum := sha256.Sum256([]byte(id))
		if _, err := kv.Put(ctx, "asset."+hex.EncodeToString(sum[:]), []byte(value)); err != nil {
			t.Fatal(err)
		}
	}
	put("bare", "event-a")
	if owner, err := l.AssetOwner(ctx, "bare"); err != nil || owner != "event-a" {
		t.Errorf("AssetOwner of a bare entry = %q, %v; want event-a", owner, err)
	}
	if got, err := l.RecordAsset(ctx, "bare", "event-a", []byte(`{}`)); err != nil || got != nil {
		t.Errorf("RecordAsset over a bare entry = %s, %v; want no recorded completion", got, err)
	}
	put("foreign", `{"not":"ours"}`)
	if _, err := l.RecordAsset(ctx, "foreign", "event-a", nil); !errors.Is(err, ledger.ErrAssetTaken) {
		t.Errorf("RecordAsset over a foreign entry: %v, want ErrAssetTaken", err)
	}
}

// An entry written before the ledger counted calls apart from attempts reads with as many
// calls as attempts; an entry that holds calls keeps them.
func TestGetReadsCallsOfOlderEntries(t *testing.T) {
	t.Parallel()
	kv := newBucket(t)
	l := ledger.New(kv)
	tests := []struct {
		name      string
		value     string
		wantCalls int
	}{
		{name: "written without calls", value: `{"state":"pending","attempts":2,"replay_count":0}`, wantCalls: 2},
		{name: "calls above attempts", value: `{"state":"pending","attempts":0,"calls":1,"replay_count":0}`, wantCalls: 1},
		{name: "no calls yet", value: `{"state":"dead","attempts":0,"calls":0,"replay_count":1}`, wantCalls: 0},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := "calls-" + string(rune('a'+i))
			if _, err := kv.Put(context.Background(), "event."+key, []byte(tt.value)); err != nil {
				t.Fatal(err)
			}
			got, _, err := l.Get(context.Background(), key)
			if err != nil {
				t.Fatal(err)
			}
			if got.Calls != tt.wantCalls {
				t.Errorf("Calls = %d, want %d", got.Calls, tt.wantCalls)
			}
		})
	}
}
