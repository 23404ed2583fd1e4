package cluster_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/natstest"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/sandbox"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/servicetest"
)

// Scale-out run: the Amplience budget the replicas share (AMPLIENCE_RATE_LIMIT) and the
// sandbox's own limit per window, which the replicas must never reach.
const (
	events        = 150
	ratePerSecond = 40
	sandboxLimit  = 50
)

// ingestedEvent is the part of an asset.ingested event the test reads.
type ingestedEvent struct {
	ID   string `json:"id"`
	Data struct {
		EventID string `json:"eventId"`
		AssetID string `json:"assetId"`
		Name    string `json:"name"`
	} `json:"data"`
}

// TestScaleOutOnACluster runs three replicas, each connected to a different node of a
// three-node JetStream cluster, on streams and a ledger with three replicas. Mid-run one node
// (not the publisher's) and one replica stop. Every event still ends ingested exactly once,
// and the replicas together stay within the shared request budget.
func TestScaleOutOnACluster(t *testing.T) {
	t.Parallel()
	nodes := startCluster(t, 3)
	sb, sbURL := startSandbox(t, func(o *sandbox.Options) {
		o.RateLimit, o.RateWindow = sandboxLimit, time.Second
	})

	replicas := make([]*replica, len(nodes))
	for i, node := range nodes {
		replicas[i] = startReplica(t, fmt.Sprintf("replica-%d", i), replicaEnv(node.ClientURL(), sbURL, map[string]string{
			"NATS_STREAM_REPLICAS": "3",
			"AMPLIENCE_RATE_LIMIT": fmt.Sprintf("%d/s", ratePerSecond),
			"INGEST_CONCURRENCY":   "8",
		}))
	}
	for _, r := range replicas {
		r.waitReady(t, 30*time.Second)
	}
	dumpLogs := func() {
		for _, r := range replicas {
			t.Logf("logs of %s:\n%s", r.name, tail(r.logs.String(), 60))
		}
	}

	_, js := natstest.Connect(t, nodes[0])
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	for _, stream := range []string{"ASSETS", "ASSET_RESULTS", "ASSETS_DLQ", "ASSETS_ADVISORIES", "KV_asset_ingest_ledger"} {
		if n := streamReplicas(ctx, t, js, stream); n != 3 {
			t.Fatalf("stream %s has %d replicas, want 3 (NATS_STREAM_REPLICAS=3)", stream, n)
		}
	}
	start := time.Now()
	names := make([]string, events)
	for i := range events {
		names[i] = fmt.Sprintf("scale-%03d", i)
		if _, err := js.PublishMsgAsync(servicetest.NewEvent(names[i]).Msg()); err != nil {
			t.Fatalf("publishing %s: %v", names[i], err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-ctx.Done():
		t.Fatalf("publishes not confirmed: %v", ctx.Err())
	}

	// Mid-run: a node other than the publisher's goes down, and another replica stops.
	servicetest.WaitFor(t, 30*time.Second, "a third of the assets", func() bool {
		return len(sb.Assets()) >= events/3
	}, nil)
	nodes[2].Shutdown()
	if err := replicas[1].Stop(); err != nil {
		t.Errorf("replica-1 stopped with an error: %v", err)
	}
	t.Logf("after %s: node %s and replica-1 stopped with %d assets created",
		time.Since(start).Round(time.Millisecond), nodes[2].Name(), len(sb.Assets()))

	var ingested map[string]ingestedEvent
	waitOrDump(t, dumpLogs, 30*time.Second, "every event's asset.ingested", func() bool {
		ingested = readIngested(t, js)
		return len(ingested) >= events
	})
	waitOrDump(t, dumpLogs, 15*time.Second, "every inbound message settled", func() bool {
		info, err := consumerInfo(ctx, js)
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0
	})
	elapsed := time.Since(start)

	// Exactly once: one asset per event, one asset.ingested id per event, naming that asset.
	assets := sb.Assets()
	byName := map[string]string{}
	for _, a := range assets {
		if prev, dup := byName[a.Name]; dup {
			t.Errorf("two assets named %s: %s and %s", a.Name, prev, a.ID)
		}
		byName[a.Name] = a.ID
	}
	if len(assets) != events {
		t.Errorf("the sandbox has %d assets, want exactly %d", len(assets), events)
	}
	if len(ingested) != events {
		t.Errorf("%d distinct asset.ingested ids, want %d", len(ingested), events)
	}
	for _, name := range names {
		ev, ok := ingested[name]
		switch {
		case !ok:
			t.Errorf("no asset.ingested for %s", name)
		case ev.Data.AssetID != byName[name] || ev.Data.EventID != "id-"+name:
			t.Errorf("asset.ingested for %s names asset %s of event %s; the sandbox has %s", name, ev.Data.AssetID, ev.Data.EventID, byName[name])
		}
	}
	if n := streamMsgs(ctx, t, js, "ASSETS_DLQ"); n != 0 {
		t.Errorf("%d events were dead-lettered", n)
	}

	// The shared budget held.
	st := sb.Stats()
	if st.TooManyRequests != 0 {
		t.Errorf("the sandbox answered 429 %d times", st.TooManyRequests)
	}
	if st.MaxPerWindow > sandboxLimit {
		t.Errorf("%d requests in one window, above the sandbox's %d", st.MaxPerWindow, sandboxLimit)
	}
	used := float64(st.GraphQLRequests) / (elapsed.Seconds() * ratePerSecond)
	t.Logf("%d events in %s: %d GraphQL requests (%v), %d createAsset calls; busiest window %d of %d allowed; %.0f%% of the %d/s budget used over the run",
		events, elapsed.Round(time.Millisecond), st.GraphQLRequests, st.ByOperation, sumCalls(st.CreateAssetCalls),
		st.MaxPerWindow, sandboxLimit, 100*used, ratePerSecond)

	// The durable consumer spread the work: every replica ingested some events.
	for _, r := range replicas {
		if n := strings.Count(r.logs.String(), `"msg":"event ingested"`); n == 0 {
			t.Errorf("%s ingested no event", r.name)
		} else {
			t.Logf("%s logged %d ingested events", r.name, n)
		}
	}
	if t.Failed() {
		dumpLogs()
	}
}

// readIngested returns the asset.ingested events in the results stream by asset name, one
// per distinct CloudEvents id.
func readIngested(tb testing.TB, js jetstream.JetStream) map[string]ingestedEvent {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, "ASSET_RESULTS")
	if err != nil {
		return nil // a leader election in progress; the caller polls again
	}
	info, err := s.Info(ctx)
	if err != nil || info.State.Msgs < events {
		return nil
	}
	out := map[string]ingestedEvent{}
	ids := map[string]bool{}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil || !strings.HasPrefix(m.Subject, "assets.ingested.") {
			continue
		}
		var ev ingestedEvent
		if err := json.Unmarshal(m.Data, &ev); err != nil {
			tb.Fatalf("asset.ingested at %d is not JSON: %v", seq, err)
		}
		if ids[ev.ID] {
			continue
		}
		ids[ev.ID] = true
		if prev, dup := out[ev.Data.Name]; dup {
			tb.Errorf("two asset.ingested ids for %s: %s and %s", ev.Data.Name, prev.ID, ev.ID)
		}
		out[ev.Data.Name] = ev
	}
	return out
}

func consumerInfo(ctx context.Context, js jetstream.JetStream) (*jetstream.ConsumerInfo, error) {
	c, err := js.Consumer(ctx, "ASSETS", "asset-ingest")
	if err != nil {
		return nil, err
	}
	return c.Info(ctx)
}

func streamReplicas(ctx context.Context, tb testing.TB, js jetstream.JetStream, stream string) int {
	tb.Helper()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		tb.Fatalf("stream %s: %v", stream, err)
	}
	return s.CachedInfo().Config.Replicas
}

func streamMsgs(ctx context.Context, tb testing.TB, js jetstream.JetStream, stream string) uint64 {
	tb.Helper()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		tb.Fatalf("stream %s: %v", stream, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		tb.Fatalf("stream %s info: %v", stream, err)
	}
	return info.State.Msgs
}

func sumCalls(calls map[string]int) int {
	n := 0
	for _, c := range calls {
		n += c
	}
	return n
}

// waitOrDump polls cond until it holds; on timeout it dumps the replicas' logs first.
func waitOrDump(tb testing.TB, dump func(), timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			dump()
			tb.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
