package service_test

import (
	"strings"
	"testing"
	"time"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/events"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/servicetest"
)

// An unreadable ledger entry is not a failure of the system: the event is held without
// pausing the replica or calling the API, and once JetStream gives up on it, it is
// dead-lettered as exhausted with the reason, instead of pausing replicas over and over.
func TestUnreadableLedgerEntryIsHeldThenDeadLettered(t *testing.T) {
	t.Parallel()
	e := servicetest.Start(t, servicetest.Options{Env: map[string]string{
		"INGEST_MAX_ATTEMPTS": "3", "INGEST_MAX_DELIVER": "3",
	}})
	kv, err := e.JS.KeyValue(t.Context(), "asset_ingest_ledger")
	if err != nil {
		t.Fatal(err)
	}
	ev := servicetest.NewEvent("corrupt-entry")
	key := events.Key("akeneo", ev.Source, ev.ID)
	if _, err := kv.Put(t.Context(), "event."+key, []byte("written by hand")); err != nil {
		t.Fatal(err)
	}
	e.Publish(ev.Msg())

	e.WaitFor(30*time.Second, "a dead letter", func() bool { return len(e.Messages("ASSETS_DLQ")) == 1 })
	h := e.Messages("ASSETS_DLQ")[0].Header
	if h.Get("Ingest-Error-Class") != "exhausted" || !strings.Contains(h.Get("Ingest-Error"), "ledger entry is unreadable") {
		t.Errorf("dead letter class %q error %q, want exhausted naming the unreadable entry",
			h.Get("Ingest-Error-Class"), h.Get("Ingest-Error"))
	}
	if n := e.Sandbox.Stats().CreateAssetCalls["corrupt-entry"]; n != 0 {
		t.Errorf("createAsset calls = %d for an event whose ledger entry cannot be read", n)
	}
	if strings.Contains(e.Logs.String(), "replica paused") {
		t.Errorf("an unreadable entry paused the replica")
	}
}
