package broker

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/natstest"
	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"
)

func TestEnsureCreatesEverythingWithSPECSettings(t *testing.T) {
	t.Parallel()
	_, js := natstest.Connect(t, natstest.RunServer(t))
	r := testResources()

	b, err := Ensure(testContext(t), js, r, nil)
	if err != nil {
		t.Fatalf("Ensure: %v", err)
	}

	day := 24 * time.Hour
	streams := []struct {
		name string
		want streamSettings
	}{
		{"ASSETS", streamSettings{[]string{"assets.published.>"}, jetstream.LimitsPolicy, jetstream.FileStorage, jetstream.DiscardOld, 30 * day, 2 * time.Minute, 1}},
		{"ASSET_RESULTS", streamSettings{[]string{"assets.ingested.>", "assets.failed.>"}, jetstream.LimitsPolicy, jetstream.FileStorage, jetstream.DiscardOld, 7 * day, 150 * time.Second, 1}},
		{"ASSETS_DLQ", streamSettings{[]string{"assets.dlq.>"}, jetstream.LimitsPolicy, jetstream.FileStorage, jetstream.DiscardOld, 90 * day, 150 * time.Second, 1}},
		{"ASSETS_ADVISORIES", streamSettings{[]string{"$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.ASSETS.asset-ingest"}, jetstream.LimitsPolicy, jetstream.FileStorage, jetstream.DiscardOld, 90 * day, 2 * time.Minute, 1}},
	}
	for _, s := range streams {
		if diff := cmp.Diff(s.want, settingsOf(fetchStream(t, js, s.name))); diff != "" {
			t.Errorf("stream %s settings (-want +got):\n%s", s.name, diff)
		}
	}

	wantConsumer := consumerSettings{
		Durable: "asset-ingest", AckPolicy: jetstream.AckExplicitPolicy, DeliverPolicy: jetstream.DeliverAllPolicy,
		AckWait: 90 * time.Second, MaxDeliver: 100, MaxAckPending: 1000,
	}
	if diff := cmp.Diff(wantConsumer, consumerSettingsOf(fetchConsumer(t, js, "ASSETS", "asset-ingest"))); diff != "" {
		t.Errorf("consumer settings (-want +got):\n%s", diff)
	}

	kv, err := js.KeyValue(testContext(t), "asset_ingest_ledger")
	if err != nil {
		t.Fatalf("looking up the ledger bucket: %v", err)
	}
	st, err := kv.Status(testContext(t))
	if err != nil {
		t.Fatalf("ledger status: %v", err)
	}
	type ledgerSettings struct {
		TTL      time.Duration
		History  int64
		Storage  jetstream.StorageType
		Replicas int
	}
	info := st.(*jetstream.KeyValueBucketStatus).StreamInfo().Config
	if diff := cmp.Diff(ledgerSettings{120 * day, 1, jetstream.FileStorage, 1},
		ledgerSettings{st.TTL(), st.History(), info.Storage, info.Replicas}); diff != "" {
		t.Errorf("ledger settings (-want +got):\n%s", diff)
	}

	bound := map[string]string{
		"inbound": b.Inbound.CachedInfo().Config.Name, "results": b.Results.CachedInfo().Config.Name,
		"dlq": b.DLQ.CachedInfo().Config.Name, "advisories": b.Advisories.CachedInfo().Config.Name,
		"consumer": b.Consumer.CachedInfo().Name, "ledger": b.Ledger.Bucket(),
	}
	wantBound := map[string]string{
		"inbound": "ASSETS", "results": "ASSET_RESULTS", "dlq": "ASSETS_DLQ", "advisories": "ASSETS_ADVISORIES",
		"consumer": "asset-ingest", "ledger": "asset_ingest_ledger",
	}
	if diff := cmp.Diff(wantBound, bound); diff != "" {
		t.Errorf("bound resources (-want +got):\n%s", diff)
	}
}

func TestEnsureAdvisoryStreamCapturesMaxDeliveries(t *testing.T) {
	t.Parallel()
	_, js := natstest.Connect(t, natstest.RunServer(t))
	r := testResources()
	r.MaxDeliver = 1
	b, err := Ensure(testContext(t), js, r, nil)
	if err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	ctx := testContext(t)
	if _, err := js.Publish(ctx, "assets.published.akeneo", []byte("{}")); err != nil {
		t.Fatalf("publishing: %v", err)
	}
	batch, err := b.Consumer.Fetch(1, jetstream.FetchMaxWait(testTimeout))
	if err != nil {
		t.Fatalf("fetching: %v", err)
	}
	for msg := range batch.Messages() {
		if err := msg.Nak(); err != nil {
			t.Fatalf("nak: %v", err)
		}
	}
	// The next pull makes JetStream notice the message has no delivery left.
	deadline := time.Now().Add(testTimeout)
	for {
		if _, err := b.Consumer.FetchNoWait(1); err != nil {
			t.Fatalf("fetching again: %v", err)
		}
		info, err := b.Advisories.Info(ctx)
		if err != nil {
			t.Fatalf("advisory stream info: %v", err)
		}
		if info.State.Msgs > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no max-deliveries advisory reached the advisory stream")
		}
	}
	msg, err := b.Advisories.GetMsg(ctx, 1)
	if err != nil {
		t.Fatalf("reading the advisory: %v", err)
	}
	if want := MaxDeliveriesSubject("ASSETS", "asset-ingest"); msg.Subject != want {
		t.Errorf("advisory subject = %q, want %q", msg.Subject, want)
	}
}

func TestEnsureTwiceIsNoOp(t *testing.T) {
	t.Parallel()
	_, js := natstest.Connect(t, natstest.RunServer(t))
	r := testResources()
	if _, err := Ensure(testContext(t), js, r, nil); err != nil {
		t.Fatalf("first Ensure: %v", err)
	}
	before := fetchConsumer(t, js, "ASSETS", "asset-ingest")
	beforeResults := fetchStream(t, js, "ASSET_RESULTS")

	rec, log := newLogRecorder()
	if _, err := Ensure(testContext(t), js, r, log); err != nil {
		t.Fatalf("second Ensure: %v", err)
	}
	if got := rec.Records(); len(got) != 0 {
		t.Errorf("second Ensure logged %d records, want none (nothing to create, update or warn about):\n%s", len(got), rec)
	}
	if diff := cmp.Diff(before, fetchConsumer(t, js, "ASSETS", "asset-ingest")); diff != "" {
		t.Errorf("consumer changed (-before +after):\n%s", diff)
	}
	if diff := cmp.Diff(beforeResults, fetchStream(t, js, "ASSET_RESULTS")); diff != "" {
		t.Errorf("results stream changed (-before +after):\n%s", diff)
	}
}

func TestEnsureConcurrentReplicasBothSucceed(t *testing.T) {
	t.Parallel()
	s := natstest.RunServer(t)
	const replicas = 4
	handles := make([]jetstream.JetStream, replicas)
	for i := range handles {
		_, handles[i] = natstest.Connect(t, s)
	}
	ctx := testContext(t)
	errs := make([]error, replicas)
	var wg sync.WaitGroup
	for i, js := range handles {
		wg.Go(func() {
			_, errs[i] = Ensure(ctx, js, testResources(), nil)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("replica %d: Ensure: %v", i, err)
		}
	}
}

func TestEnsureWithoutCreateReportsEveryMissingResource(t *testing.T) {
	t.Parallel()
	_, js := natstest.Connect(t, natstest.RunServer(t))
	r := testResources()
	r.Create = false

	_, err := Ensure(testContext(t), js, r, nil)
	var cfgErr *ConfigError
	if !errors.As(err, &cfgErr) {
		t.Fatalf("Ensure error = %v, want a *ConfigError", err)
	}
	wantMentions := []string{"inbound stream ASSETS ", "results stream ASSET_RESULTS ", "dead-letter stream ASSETS_DLQ ",
		"advisory stream ASSETS_ADVISORIES ", "ledger bucket asset_ingest_ledger ", "consumer asset-ingest "}
	if len(cfgErr.Problems) != len(wantMentions) {
		t.Fatalf("got %d problems, want %d: %q", len(cfgErr.Problems), len(wantMentions), cfgErr.Problems)
	}
	for i, want := range wantMentions {
		if !strings.Contains(cfgErr.Problems[i], want) {
			t.Errorf("problem %d = %q, want it to name %q", i, cfgErr.Problems[i], want)
		}
	}
	names := js.StreamNames(testContext(t))
	for n := range names.Name() {
		t.Errorf("Ensure without Create created stream %s", n)
	}
	if err := names.Err(); err != nil {
		t.Fatalf("listing streams: %v", err)
	}

	// Once everything exists, the same settings pass.
	r.Create = true
	if _, err := Ensure(testContext(t), js, r, nil); err != nil {
		t.Fatalf("Ensure with Create: %v", err)
	}
	r.Create = false
	if _, err := Ensure(testContext(t), js, r, nil); err != nil {
		t.Fatalf("Ensure without Create after creation: %v", err)
	}
}

func TestEnsureLeavesExistingStreamUnchanged(t *testing.T) {
	t.Parallel()
	_, js := natstest.Connect(t, natstest.RunServer(t))
	existing := jetstream.StreamConfig{
		Name:     "ASSETS",
		Subjects: []string{"assets.published.akeneo", "assets.published.salsify"},
		Storage:  jetstream.MemoryStorage,
		MaxAge:   time.Hour,
	}
	if _, err := js.CreateStream(testContext(t), existing); err != nil {
		t.Fatalf("creating the existing stream: %v", err)
	}
	before := fetchStream(t, js, "ASSETS")

	rec, log := newLogRecorder()
	if _, err := Ensure(testContext(t), js, testResources(), log); err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	if diff := cmp.Diff(before, fetchStream(t, js, "ASSETS")); diff != "" {
		t.Errorf("existing stream changed (-before +after):\n%s", diff)
	}
	var warned []string
	for _, w := range rec.Find("existing stream differs") {
		if w.Attrs["stream"] == "ASSETS" {
			warned = append(warned, w.Attrs["setting"])
		}
	}
	if diff := cmp.Diff([]string{"subjects", "storage", "max_age"}, warned); diff != "" {
		t.Errorf("warned settings (-want +got):\n%s\nlog:\n%s", diff, rec)
	}
}

func TestEnsureSubjectOverlapIsConfigError(t *testing.T) {
	t.Parallel()
	_, js := natstest.Connect(t, natstest.RunServer(t))
	if _, err := js.CreateStream(testContext(t), jetstream.StreamConfig{Name: "EVERYTHING", Subjects: []string{"assets.>"}}); err != nil {
		t.Fatalf("creating the overlapping stream: %v", err)
	}
	_, err := Ensure(testContext(t), js, testResources(), nil)
	var cfgErr *ConfigError
	if !errors.As(err, &cfgErr) {
		t.Fatalf("Ensure error = %v, want a *ConfigError", err)
	}
	if len(cfgErr.Problems) == 0 || !strings.Contains(cfgErr.Problems[0], "inbound stream ASSETS cannot be created") ||
		!strings.Contains(cfgErr.Error(), "overlap") {
		t.Errorf("problems = %q, want the inbound stream's subject overlap first", cfgErr.Problems)
	}
}

func TestEnsureRejectsInvalidResources(t *testing.T) {
	t.Parallel()
	r := testResources()
	r.DLQStream = "ASSETS.DLQ"
	r.Replicas = 0
	r.MaxAckPending = 0
	// No server: validation comes before any request.
	_, err := Ensure(testContext(t), nil, r, nil)
	var cfgErr *ConfigError
	if !errors.As(err, &cfgErr) {
		t.Fatalf("Ensure error = %v, want a *ConfigError", err)
	}
	want := []string{
		`dead-letter stream name "ASSETS.DLQ" contains a space, '.', '*' or '>'`,
		"Replicas is 0; JetStream allows 1 to 5",
		"MaxAckPending is 0; it must be positive",
	}
	if diff := cmp.Diff(want, cfgErr.Problems); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}
