package conformance

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/events"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/ledger"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/sandbox"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/servicetest"
)

// callsFor returns the GraphQL operations the sandbox received about assets named name, in
// order (CreateAsset by its input's name, alone or in a batch; FindAssetsByName by its keyword,
// alone or among the first pages of a FindAssetsByNames).
func callsFor(e *servicetest.Env, name string) []string {
	var out []string
	for _, r := range e.Sandbox.Requests() {
		switch {
		case slices.Contains(r.RootFields, "createAsset") && slices.Contains(inputNames(r), name):
			out = append(out, "CreateAsset")
		case r.OperationName == "FindAssetsByName" && r.Variables["name"] == name,
			r.OperationName == "FindAssetsByNames" && slices.Contains(slices.Collect(maps.Values(r.Variables)), any(name)):
			out = append(out, "FindAssetsByName")
		}
	}
	return out
}

// SPEC "The ledger": before its first call for an event, the service claims the event key with a
// key-value Create: state pending, owner, attempt count, first-attempt time. SPEC "What happens":
// an attempt is counted in the ledger claim before the call.
func TestSpec_Ledger_ClaimPrecedesFirstCall(t *testing.T) {
	t.Parallel()
	e := start(t, nil, nil)
	e.Sandbox.AddFault(sandbox.Fault{Match: "claim-first", Times: 1, Delay: time.Second})
	ev := servicetest.NewEvent("claim-first")
	e.Publish(ev.Msg())
	e.WaitFor(wait, "the createAsset call to arrive", func() bool { return len(callsFor(e, "claim-first")) == 1 })
	entry, ok := getEntry(t, e, keyOf(ev))
	if !ok {
		t.Fatalf("no ledger entry while the first call is in flight")
	}
	if entry.State != ledger.StatePending || entry.Owner == "" || entry.Attempts != 1 || entry.FirstAttempt.IsZero() {
		t.Errorf("entry during the first call = %+v, want pending, owned, 1 attempt, first-attempt time", entry)
	}
	waitCompletions(t, e, "assets.ingested.", 1)
}

// SPEC "The ledger": on success the entry becomes created with the asset id and the completion
// event's fields, so a later duplicate delivery republishes a byte-identical asset.ingested and
// acks, calling no API.
func TestSpec_Ledger_CreatedRepublishesWithoutCalling(t *testing.T) {
	t.Parallel()
	e := start(t, nil, nil)
	ev := servicetest.NewEvent("ledger-created")
	key := keyOf(ev)
	stored := []byte(`{"specversion":"1.0","id":"` + key + `:ingested","source":"urn:asset-ingest-consumer","type":"asset.ingested","data":{"assetId":"from-the-ledger"}}`)
	putEntry(t, e, key, ledger.Entry{State: ledger.StateCreated, AssetID: "from-the-ledger", Attempts: 1, Completion: stored})

	e.Publish(ev.Msg())
	e.WaitFor(wait, "the delivery acked", func() bool { return settled(t, e) })
	got := e.Subjects(resultsStream, "assets.ingested.akeneo")
	if len(got) != 1 || string(got[0].Data) != string(stored) || got[0].Header.Get(nats.MsgIdHdr) != key+":ingested" {
		t.Fatalf("results: %d messages; want exactly the stored completion with Nats-Msg-Id %s:ingested", len(got), key)
	}
	if n := e.EventRequests(); n != 0 {
		t.Errorf("%d API requests for an event the ledger has as created", n)
	}
}

// SPEC "The ledger": a dead entry: a delivery with the same replay count (a crash between dead
// letter and terminate) republishes the dead letter (its Nats-Msg-Id makes that a duplicate) and
// terminates, calling no API.
func TestSpec_Ledger_DeadSameReplayCountRepublishesDeadLetter(t *testing.T) {
	t.Parallel()
	e := start(t, nil, nil)
	failedAt := time.Date(2026, 11, 27, 9, 30, 0, 123456789, time.UTC)
	dead := func(ev servicetest.Event) {
		putEntry(t, e, keyOf(ev), ledger.Entry{State: ledger.StateDead, Attempts: 3, ReplayCount: 0,
			Class: "rejected", Error: "refused earlier", FailedAt: failedAt, FirstAttempt: failedAt.Add(-time.Minute)})
	}
	first, second := servicetest.NewEvent("dead-again-1"), servicetest.NewEvent("dead-again-2")
	dead(first)
	dead(second)

	// first: its dead letter was never stored; the delivery republishes it.
	seq := e.Publish(first.Msg())
	dl := waitDeadLetterOf(t, e, seq)
	got := []string{dl.Header.Get("Ingest-Error-Class"), dl.Header.Get("Ingest-Error"), dl.Header.Get("Ingest-Attempts"),
		dl.Header.Get("Ingest-Failed-At"), dl.Header.Get(nats.MsgIdHdr)}
	want := []string{"rejected", "refused earlier", "3", failedAt.Format(time.RFC3339Nano), "ASSETS:" + itoa(seq)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("republished dead letter (-want +got):\n%s", diff)
	}

	// second: its dead letter is already stored (as a crash after publishing it leaves it); the
	// republish is a duplicate and the stream keeps one.
	pre := nats.NewMsg("assets.dlq.akeneo")
	pre.Header.Set(nats.MsgIdHdr, "ASSETS:"+itoa(seq+1))
	pre.Data = []byte("stored before the crash")
	if _, err := e.JS.PublishMsg(t.Context(), pre); err != nil {
		t.Fatal(err)
	}
	if s := e.Publish(second.Msg()); s != seq+1 {
		t.Fatalf("inbound sequence %d, want %d", s, seq+1)
	}
	waitCompletions(t, e, "assets.failed.", 2)
	e.WaitFor(wait, "both deliveries terminated", func() bool { return settled(t, e) })
	if n := len(e.Messages(dlqStream)); n != 2 {
		t.Errorf("dead-letter stream holds %d messages, want 2 (the second republish is a duplicate)", n)
	}
	if ci := consumerInfo(t, e); ci.Delivered.Consumer != 2 {
		t.Errorf("%d deliveries, want 2: a dead entry's delivery is terminated", ci.Delivered.Consumer)
	}
	if n := e.EventRequests(); n != 0 {
		t.Errorf("%d API requests for dead entries", n)
	}
}

// SPEC "The ledger": a dead entry and a replay (higher Ingest-Replay-Count): the service
// reconciles first and then has a fresh budget of INGEST_MAX_ATTEMPTS.
func TestSpec_Ledger_DeadReplayReconcilesThenFreshBudget(t *testing.T) {
	t.Parallel()
	e := start(t, map[string]string{"INGEST_MAX_ATTEMPTS": "2"}, nil)
	claimed := time.Now().UTC().Add(-time.Minute)
	found, notFound := servicetest.NewEvent("replay-found"), servicetest.NewEvent("replay-not-found")
	seeded := seedAsset(t, e, "replay-found")
	for _, ev := range []servicetest.Event{found, notFound} {
		putEntry(t, e, keyOf(ev), ledger.Entry{State: ledger.StateDead, Attempts: 2, ReplayCount: 0,
			Class: "exhausted", Error: "spent", FirstAttempt: claimed, FailedAt: claimed, DLQSequence: 1})
		ev.Header = nats.Header{"Ingest-Replay-Count": {"1"}}
		e.Publish(ev.Msg())
	}
	waitCompletions(t, e, "assets.ingested.", 2)
	byName := map[string]completion{}
	for _, c := range completions(t, e, "assets.ingested.") {
		byName[c.Data.Name] = c
	}
	for _, tc := range []struct {
		name     string
		calls    []string
		assetID  string
		attempts int
	}{
		// No call since the replay, but a call made the asset: attempts reports at least 1.
		{"replay-found", []string{"CreateAsset", "FindAssetsByName"}, seeded.ID, 1},
		{"replay-not-found", []string{"FindAssetsByName", "CreateAsset"}, "", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.calls, callsFor(e, tc.name)); diff != "" {
				t.Errorf("API calls (the seed first, if any) (-want +got):\n%s", diff)
			}
			c := byName[tc.name]
			if tc.assetID != "" && c.Data.AssetID != tc.assetID {
				t.Errorf("ingested with asset %s, want the reconciled %s", c.Data.AssetID, tc.assetID)
			}
			if c.Data.Attempts != tc.attempts {
				t.Errorf("attempts %d, want %d", c.Data.Attempts, tc.attempts)
			}
		})
	}
}

// SPEC "The ledger": a live claim held by another replica (one whose owner refreshed it within
// INGEST_ACK_WAIT): the delivery is handed back with a delay, calling no API.
func TestSpec_Ledger_LiveClaimOfAnotherReplicaHandedBack(t *testing.T) {
	t.Parallel()
	e := start(t, map[string]string{"INGEST_ACK_WAIT": "2s", "AMPLIENCE_TIMEOUT": "1s"}, nil)
	ev := servicetest.NewEvent("live-claim")
	now := time.Now().UTC()
	putEntry(t, e, keyOf(ev), ledger.Entry{State: ledger.StatePending, Owner: "replica-elsewhere", Heartbeat: now,
		Attempts: 1, FirstAttempt: now})
	e.Publish(ev.Msg())
	e.WaitFor(wait, "the delivery", func() bool { return consumerInfo(t, e).Delivered.Consumer >= 1 })
	never(t, e, time.Second, "the API was called for an event another replica holds a live claim on", func() bool {
		return len(callsFor(e, "live-claim")) > 0
	})
	if entry, _ := getEntry(t, e, keyOf(ev)); entry.Owner != "replica-elsewhere" || entry.Attempts != 1 {
		t.Errorf("the live claim was taken over: %+v", entry)
	}
	// Once the owner stops refreshing it, the claim is stale: reconcile, then call.
	c := waitCompletions(t, e, "assets.ingested.", 1)[0]
	if diff := cmp.Diff([]string{"FindAssetsByName", "CreateAsset"}, callsFor(e, "live-claim")); diff != "" {
		t.Errorf("calls after the claim went stale (-want +got):\n%s", diff)
	}
	if c.Data.Attempts != 2 {
		t.Errorf("attempts %d, want 2 (one by the other replica)", c.Data.Attempts)
	}
}

// SPEC "The ledger": a pending claim left by an earlier attempt: before calling again the service
// reconciles: assetSearch in the event's repository, exact match on name, created at or after the
// claim's first-attempt time minus 5 seconds, and not recorded by another event's entry; of
// several, the oldest. Found: ingested with that asset. Not found: call again.
func TestSpec_Ledger_StalePendingReconcilesBeforeCalling(t *testing.T) {
	t.Parallel()
	e := start(t, nil, nil)
	now := time.Now().UTC()
	stale := func(name string, firstAttempt time.Time) servicetest.Event {
		ev := servicetest.NewEvent(name)
		putEntry(t, e, keyOf(ev), ledger.Entry{State: ledger.StatePending, Owner: "replica-gone",
			Heartbeat: now.Add(-time.Hour), Attempts: 2, FirstAttempt: firstAttempt})
		return ev
	}
	type row struct {
		name      string
		ev        servicetest.Event
		adopt     string // the asset reconciliation must find; empty: none, call again
		seedCalls int    // CreateAsset requests the test made itself
	}
	var rows []row

	a := seedAsset(t, e, "stale-found")
	rows = append(rows, row{"found", stale("stale-found", now.Add(-time.Minute)), a.ID, 1})
	rows = append(rows, row{"not found", stale("stale-none", now.Add(-time.Minute)), "", 0})
	b := seedAsset(t, e, "stale-taken")
	putAssetOwner(t, e, b.ID, eventKey("akeneo", "pim://akeneo/test", "some-other-event"))
	rows = append(rows, row{"recorded by another event", stale("stale-taken", now.Add(-time.Minute)), "", 1})
	seedAsset(t, e, "stale-too-old")
	rows = append(rows, row{"created before the first attempt less 5s", stale("stale-too-old", now.Add(30*time.Second)), "", 1})
	oldest := seedAsset(t, e, "stale-several")
	seedAsset(t, e, "stale-several")
	rows = append(rows, row{"oldest of several", stale("stale-several", now.Add(-time.Minute)), oldest.ID, 2})
	prefix := seedAsset(t, e, "stale-exact-name-longer")
	rows = append(rows, row{"exact name only", stale("stale-exact-name", now.Add(-time.Minute)), "", 0})
	_ = prefix

	for _, r := range rows {
		e.Publish(r.ev.Msg())
	}
	waitCompletions(t, e, "assets.ingested.", len(rows))
	byName := map[string]completion{}
	for _, c := range completions(t, e, "assets.ingested.") {
		byName[c.Data.Name] = c
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			name := r.ev.Data["name"].(string)
			calls := callsFor(e, name)[r.seedCalls:]
			want := []string{"FindAssetsByName", "CreateAsset"}
			attempts := 3
			if r.adopt != "" {
				want, attempts = []string{"FindAssetsByName"}, 2
			}
			if diff := cmp.Diff(want, calls); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
			c := byName[name]
			if r.adopt != "" && c.Data.AssetID != r.adopt {
				t.Errorf("ingested with %s, want the reconciled %s", c.Data.AssetID, r.adopt)
			}
			if r.adopt == "" && slices.ContainsFunc(e.Sandbox.Assets(), func(a sandbox.Asset) bool {
				return a.ID == c.Data.AssetID && a.CreatedDate.Before(now)
			}) {
				t.Errorf("ingested with an asset that existed before: %s", c.Data.AssetID)
			}
			if c.Data.Attempts != attempts {
				t.Errorf("attempts %d, want %d", c.Data.Attempts, attempts)
			}
		})
	}
}

// SPEC "The job": an event creates at most one asset, whatever crashes or redeliveries happen: a
// call whose answer is lost is reconciled, not repeated.
func TestSpec_Ledger_LostAnswerCreatesOneAsset(t *testing.T) {
	t.Parallel()
	e := start(t, nil, nil)
	e.Sandbox.AddFault(sandbox.Fault{Match: "lost-answer", Times: 1, Status: 500, CreateThenFail: true})
	e.Publish(servicetest.NewEvent("lost-answer").Msg())
	c := waitCompletions(t, e, "assets.ingested.", 1)[0]
	assets := e.Sandbox.Assets()
	if len(assets) != 1 || c.Data.AssetID != assets[0].ID {
		t.Fatalf("%d assets; completion names %s", len(assets), c.Data.AssetID)
	}
	if diff := cmp.Diff([]string{"CreateAsset", "FindAssetsByName"}, callsFor(e, "lost-answer")); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
}

// SPEC "The job": delivery is at-least-once with an exactly-once effect: the same event published
// twice creates one asset, and both deliveries are acked.
func TestSpec_Ledger_SameEventTwiceCreatesOneAsset(t *testing.T) {
	t.Parallel()
	e := start(t, nil, nil)
	e.Sandbox.AddFault(sandbox.Fault{Match: "twice", Times: 1, Delay: 300 * time.Millisecond})
	ev := servicetest.NewEvent("twice")
	e.Publish(ev.Msg())
	again := ev.Msg()
	again.Header.Set("X-Again", "1") // a second message, not a duplicate for the stream
	e.Publish(again)
	e.WaitFor(wait, "both deliveries acked", func() bool { return consumerInfo(t, e).Delivered.Stream == 2 && settled(t, e) })
	if n := len(e.Sandbox.Assets()); n != 1 {
		t.Errorf("%d assets for one event, want 1", n)
	}
	if n := e.Sandbox.Stats().CreateAssetCalls["twice"]; n != 1 {
		t.Errorf("%d createAsset calls, want 1", n)
	}
}

// SPEC "The ledger": a later duplicate delivery republishes a byte-identical asset.ingested.
// The same holds when the earlier delivery stopped after publishing the completion and before
// writing the created entry (a crash, or a failed write): the next delivery reconciles to the
// asset the index records for this event, and publishes the completion recorded with it, not
// a new one with another time and duration.
func TestSpec_Ledger_CompletionRecordedWithTheAssetIsRepublishedAfterACrash(t *testing.T) {
	t.Parallel()
	e := start(t, nil, nil)
	// &, < and > are escaped by Go's JSON encoder unless told not to: the bytes must survive.
	const name = "crash-after-publish <Tom & Jerry>"
	ev := servicetest.NewEvent(name)
	key := keyOf(ev)
	a := seedAsset(t, e, name)
	now := time.Now().UTC()
	putEntry(t, e, key, ledger.Entry{State: ledger.StatePending, Owner: "replica-gone",
		Heartbeat: now.Add(-time.Hour), Attempts: 1, FirstAttempt: now.Add(-time.Minute)})
	published, err := events.Ingested{
		Key: key, EventID: ev.ID, EventSource: ev.Source, AssetID: a.ID, Name: name,
		AssetRepositoryID: servicetest.Repository, Src: ev.Data["src"].(string), Attempts: 1,
		DurationMs: 4321, Time: now.Add(-50 * time.Second),
	}.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	record, err := json.Marshal(map[string]any{"event": key, "completion": published})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(a.ID))
	if _, err := kv(t, e).Put(t.Context(), "asset."+hex.EncodeToString(sum[:]), record); err != nil {
		t.Fatalf("writing the asset index: %v", err)
	}

	e.Publish(ev.Msg())
	waitCompletions(t, e, "assets.ingested.", 1)
	got := e.Subjects(resultsStream, "assets.ingested.")
	if len(got) != 1 || !bytes.Equal(got[0].Data, published) {
		t.Errorf("asset.ingested published:\n%s\nwant the recorded completion, byte for byte:\n%s", got[0].Data, published)
	}
	if entry, ok := getEntry(t, e, key); !ok || entry.State != ledger.StateCreated || !bytes.Equal(entry.Completion, published) {
		t.Errorf("ledger entry %+v; want created with the recorded completion", entry)
	}
	if calls := callsFor(e, name); slices.Contains(calls[1:], "CreateAsset") {
		t.Errorf("calls after the seed: %v; want the lookup only", calls[1:])
	}
}

// SPEC "The ledger": reconciliation adopts no asset recorded by another event, and an asset
// the index already records for this event is the event's, even when an older unrecorded one
// has the same name (another event's, whose own record was lost in a crash): this event may
// already have announced the recorded one.
func TestSpec_Ledger_ReconcilePrefersTheAssetRecordedForTheEvent(t *testing.T) {
	t.Parallel()
	e := start(t, nil, nil)
	const name = "stale-own"
	ev := servicetest.NewEvent(name)
	key := keyOf(ev)
	now := time.Now().UTC()
	older := seedAsset(t, e, name)
	own := seedAsset(t, e, name)
	putAssetOwner(t, e, own.ID, key)
	putEntry(t, e, key, ledger.Entry{State: ledger.StatePending, Owner: "replica-gone",
		Heartbeat: now.Add(-time.Hour), Attempts: 1, FirstAttempt: now.Add(-time.Minute)})

	e.Publish(ev.Msg())
	c := waitCompletions(t, e, "assets.ingested.", 1)[0]
	if c.Data.AssetID != own.ID {
		t.Errorf("ingested with %s, want %s, the asset recorded for the event (not the older %s)", c.Data.AssetID, own.ID, older.ID)
	}
	if diff := cmp.Diff([]string{"FindAssetsByName"}, callsFor(e, name)[2:]); diff != "" {
		t.Errorf("calls after the seeds (-want +got):\n%s", diff)
	}
}

// SPEC "The ledger" (reconciliation) and issue "Reconciling a common name spends the whole
// budget": one reconciliation spends a few requests. An event whose name is contained in more
// assets created since its first attempt than three pages hold ends dead-lettered with a
// message saying why, without another createAsset call.
func TestSpec_Ledger_ReconcilingACommonNameEnds(t *testing.T) {
	t.Parallel()
	e := start(t, nil, nil)
	const name = "common-name"
	for i := range 301 {
		seedAsset(t, e, name+"-"+itoa(i))
	}
	ev := servicetest.NewEvent(name)
	now := time.Now().UTC()
	putEntry(t, e, keyOf(ev), ledger.Entry{State: ledger.StatePending, Owner: "replica-gone",
		Heartbeat: now.Add(-time.Hour), Attempts: 1, MayExist: true, FirstAttempt: now.Add(-time.Minute)})

	seq := e.Publish(ev.Msg())
	dl := waitDeadLetterOf(t, e, seq)
	if class, msg := dl.Header.Get("Ingest-Error-Class"), dl.Header.Get("Ingest-Error"); class != "rejected" ||
		!strings.Contains(msg, "more than 300 assets") || !strings.Contains(msg, "look for the asset in the repository") {
		t.Errorf("dead letter class %q, error %q; want rejected, saying that too many assets match", class, msg)
	}
	if diff := cmp.Diff([]string{"FindAssetsByName", "FindAssetsByName", "FindAssetsByName"}, callsFor(e, name)); diff != "" {
		t.Errorf("calls for the event (-want +got):\n%s", diff)
	}
}
