package ledger_test

import (
	"context"
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
	_, js := natstest.Connect(t, natstest.RunServer(t))
	kv, err := js.CreateKeyValue(context.Background(), jetstream.KeyValueConfig{Bucket: "ledger_test"})
	if err != nil {
		t.Fatal(err)
	}
	return ledger.New(kv)
}

func TestClaimIsCreateIfAbsent(t *testing.T) {
	t.Parallel()
	l := newLedger(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC)
	first := ledger.Entry{State: ledger.StatePending, Owner: "a", Attempts: 1, FirstAttempt: now, Heartbeat: now}

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
	created := ledger.Entry{State: ledger.StateCreated, Attempts: 1, AssetID: "QXNzZXQ6MQ==", Completion: []byte(`{"id":"k:ingested"}`)}
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
	if err := l.RecordAsset(ctx, id, "event-a"); err != nil {
		t.Fatal(err)
	}
	if err := l.RecordAsset(ctx, id, "event-a"); err != nil {
		t.Errorf("recording again for the same event: %v, want nil", err)
	}
	if err := l.RecordAsset(ctx, id, "event-b"); !errors.Is(err, ledger.ErrAssetTaken) {
		t.Errorf("recording for another event: %v, want ErrAssetTaken", err)
	}
	if owner, err := l.AssetOwner(ctx, id); err != nil || owner != "event-a" {
		t.Errorf("AssetOwner = %q, %v; want event-a", owner, err)
	}
	if err := l.Check(ctx); err != nil {
		t.Errorf("Check on a live bucket: %v", err)
	}
}
