package service_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/events"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/sandbox"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/servicetest"
)

// completion is the part of a completion event the tests read.
type completion struct {
	ID   string `json:"id"`
	Type string `json:"type"`
	Data struct {
		EventID           string `json:"eventId"`
		EventSource       string `json:"eventSource"`
		AssetID           string `json:"assetId"`
		Name              string `json:"name"`
		AssetRepositoryID string `json:"assetRepositoryId"`
		Src               string `json:"src"`
		Attempts          int    `json:"attempts"`
		ErrorClass        string `json:"errorClass"`
		Error             string `json:"error"`
		DLQSequence       uint64 `json:"dlqSequence"`
	} `json:"data"`
}

func completions(t *testing.T, e *servicetest.Env, prefix string) []completion {
	t.Helper()
	var out []completion
	for _, m := range e.Subjects("ASSET_RESULTS", prefix) {
		var c completion
		if err := json.Unmarshal(m.Data, &c); err != nil {
			t.Fatalf("completion event %s is not JSON: %v", m.Subject, err)
		}
		out = append(out, c)
	}
	return out
}

func TestIngestsBothContentModes(t *testing.T) {
	t.Parallel()
	e := servicetest.Start(t, servicetest.Options{})

	structured := servicetest.NewEvent("sku-1-front")
	structured.Data["tags"] = []string{"sku-1", "spring"}
	structured.Data["label"] = "SKU 1, front"
	binary := servicetest.NewEvent("sku-1-back")
	binary.Binary = true
	binary.Data["type"] = "VIDEO"
	binary.Data["filename"] = "back.mp4"
	e.Publish(structured.Msg())
	e.Publish(binary.Msg())

	e.WaitFor(10*time.Second, "two asset.ingested events", func() bool {
		return len(completions(t, e, "assets.ingested.")) == 2
	})
	assets := e.Sandbox.Assets()
	got := map[string]sandbox.Asset{}
	for _, a := range assets {
		got[a.Name] = a
	}
	if len(assets) != 2 {
		t.Fatalf("sandbox has %d assets, want 2", len(assets))
	}
	front, back := got["sku-1-front"], got["sku-1-back"]
	if diff := cmp.Diff(
		[]any{"IMAGE", "sku-1-front.jpg", servicetest.Repository, "SKU 1, front", []string{"sku-1", "spring"}},
		[]any{front.Type, front.Filename, front.AssetRepositoryID, front.Label, front.Tags}); diff != "" {
		t.Errorf("structured event's asset (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]any{"VIDEO", "back.mp4"}, []any{back.Type, back.Filename}); diff != "" {
		t.Errorf("binary event's asset (-want +got):\n%s", diff)
	}
	if !strings.Contains(front.Src, "sig=secret-signature") {
		t.Errorf("Amplience must get the full src, query included; got %q", front.Src)
	}

	for _, c := range completions(t, e, "assets.ingested.") {
		key := events.Key("akeneo", "pim://akeneo/test", c.Data.EventID)
		if c.ID != key+":ingested" {
			t.Errorf("completion id %q, want %q", c.ID, key+":ingested")
		}
		if c.Data.AssetID != got[c.Data.Name].ID || c.Data.Attempts != 1 {
			t.Errorf("completion %+v does not match the asset %+v", c.Data, got[c.Data.Name])
		}
		if strings.Contains(c.Data.Src, "?") {
			t.Errorf("completion src keeps a query string: %q", c.Data.Src)
		}
	}
	if strings.Contains(e.Logs.String(), "secret-signature") || strings.Contains(e.Logs.String(), servicetest.ClientSecret) {
		t.Errorf("logs contain a presigned query string or the client secret")
	}
	e.WaitFor(5*time.Second, "inbound messages acked", func() bool { return ackPending(t, e) == 0 })
}

func TestInvalidEventIsDeadLetteredWithoutCallingTheAPI(t *testing.T) {
	t.Parallel()
	e := servicetest.Start(t, servicetest.Options{})

	bad := servicetest.NewEvent("bad-one")
	bad.Data["src"] = "https://10.0.0.1/file.jpg?token=abc"
	msg := bad.Msg()
	msg.Header.Set("Ingest-Error-Class", "forged")
	msg.Header.Set("Nats-Expected-Stream", "ASSETS")
	msg.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	seq := e.Publish(msg)

	e.WaitFor(10*time.Second, "a dead letter", func() bool { return len(e.Messages("ASSETS_DLQ")) == 1 })
	dl := e.Messages("ASSETS_DLQ")[0]
	if dl.Subject != "assets.dlq.akeneo" {
		t.Errorf("dead letter subject %q", dl.Subject)
	}
	if string(dl.Data) != string(msg.Data) {
		t.Errorf("dead letter body differs from the original")
	}
	h := dl.Header
	want := map[string]string{
		"Ingest-Error-Class":                   "invalid_event",
		"Ingest-Attempts":                      "0",
		"Ingest-Original-Subject":              "assets.published.akeneo",
		"Ingest-Original-Stream":               "ASSETS",
		"Ingest-Original-Sequence":             itoa(seq),
		"Ingest-Event-Id":                      "id-bad-one",
		"Ingest-Event-Source":                  "pim://akeneo/test",
		"Ingest-Event-Key":                     events.Key("akeneo", "pim://akeneo/test", "id-bad-one"),
		"Nats-Msg-Id":                          "ASSETS:" + itoa(seq),
		"Ingest-Original-Nats-Expected-Stream": "ASSETS",
		"Ingest-Original-Traceparent":          "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
	}
	for k, v := range want {
		if got := h.Get(k); got != v {
			t.Errorf("header %s = %q, want %q", k, got, v)
		}
	}
	if h.Get("Nats-Expected-Stream") != "" {
		t.Errorf("the publisher's Nats-Expected-Stream was re-sent")
	}
	if tp := h.Get("traceparent"); !strings.Contains(tp, "4bf92f3577b34da6a3ce929d0e0e4736") || tp == msg.Header.Get("traceparent") {
		t.Errorf("dead letter traceparent %q should be the processing's span in the publisher's trace", tp)
	}
	if errText := h.Get("Ingest-Error"); !strings.Contains(errText, "data.src") || strings.Contains(errText, "token=abc") {
		t.Errorf("Ingest-Error %q should name data.src and leave out the query", errText)
	}
	for _, k := range []string{"Ingest-Published-At", "Ingest-Failed-At"} {
		if _, err := time.Parse(time.RFC3339Nano, h.Get(k)); err != nil {
			t.Errorf("%s %q is not RFC 3339: %v", k, h.Get(k), err)
		}
	}
	if n := e.EventRequests(); n != 0 {
		t.Errorf("an invalid event made %d API requests", n)
	}
	e.WaitFor(5*time.Second, "asset.ingest_failed", func() bool { return len(completions(t, e, "assets.failed.")) == 1 })
	failed := completions(t, e, "assets.failed.")
	if len(failed) != 1 || failed[0].Data.ErrorClass != "invalid_event" || failed[0].Data.DLQSequence != 1 {
		t.Fatalf("asset.ingest_failed events: %+v", failed)
	}
	if want := events.Key("akeneo", "pim://akeneo/test", "id-bad-one") + ":failed:0"; failed[0].ID != want {
		t.Errorf("failed id %q, want %q", failed[0].ID, want)
	}
	e.WaitFor(5*time.Second, "inbound message terminated", func() bool { return ackPending(t, e) == 0 })
}

func TestTransientFailureIsRetried(t *testing.T) {
	t.Parallel()
	e := servicetest.Start(t, servicetest.Options{})
	e.Sandbox.AddFault(sandbox.Fault{Match: "flaky", Times: 2, Status: 500})
	e.Publish(servicetest.NewEvent("flaky-asset").Msg())

	e.WaitFor(10*time.Second, "asset.ingested", func() bool { return len(completions(t, e, "assets.ingested.")) == 1 })
	c := completions(t, e, "assets.ingested.")[0]
	if c.Data.Attempts != 3 {
		t.Errorf("attempts = %d, want 3 (two 500s, then success)", c.Data.Attempts)
	}
	if n := e.Sandbox.Stats().CreateAssetCalls["flaky-asset"]; n != 3 {
		t.Errorf("createAsset calls = %d, want 3", n)
	}
	if len(e.Messages("ASSETS_DLQ")) != 0 {
		t.Errorf("a transient failure was dead-lettered")
	}
}

func TestRejectedAfterOneAttempt(t *testing.T) {
	t.Parallel()
	e := servicetest.Start(t, servicetest.Options{})
	e.Sandbox.AddFault(sandbox.Fault{Match: "refused", Status: 400, GraphQLError: "Invalid src: not reachable", Code: "BAD_USER_INPUT"})
	e.Publish(servicetest.NewEvent("refused-asset").Msg())

	e.WaitFor(10*time.Second, "a dead letter", func() bool { return len(e.Messages("ASSETS_DLQ")) == 1 })
	h := e.Messages("ASSETS_DLQ")[0].Header
	if h.Get("Ingest-Error-Class") != "rejected" || h.Get("Ingest-Attempts") != "1" {
		t.Errorf("class %q attempts %q, want rejected after 1", h.Get("Ingest-Error-Class"), h.Get("Ingest-Attempts"))
	}
	if !strings.Contains(h.Get("Ingest-Error"), "Invalid src: not reachable") {
		t.Errorf("Ingest-Error %q does not carry the API's message", h.Get("Ingest-Error"))
	}
	if n := e.Sandbox.Stats().CreateAssetCalls["refused-asset"]; n != 1 {
		t.Errorf("createAsset calls = %d, want 1", n)
	}
}

func TestExhaustedAfterMaxAttempts(t *testing.T) {
	t.Parallel()
	e := servicetest.Start(t, servicetest.Options{Env: map[string]string{"INGEST_MAX_ATTEMPTS": "3"}})
	e.Sandbox.AddFault(sandbox.Fault{Match: "doomed", Status: 500})
	e.Publish(servicetest.NewEvent("doomed-asset").Msg())

	e.WaitFor(15*time.Second, "a dead letter", func() bool { return len(e.Messages("ASSETS_DLQ")) == 1 })
	h := e.Messages("ASSETS_DLQ")[0].Header
	if h.Get("Ingest-Error-Class") != "exhausted" || h.Get("Ingest-Attempts") != "3" {
		t.Errorf("class %q attempts %q, want exhausted after 3", h.Get("Ingest-Error-Class"), h.Get("Ingest-Attempts"))
	}
	if n := e.Sandbox.Stats().CreateAssetCalls["doomed-asset"]; n != 3 {
		t.Errorf("createAsset calls = %d, want exactly 3", n)
	}
}

func TestLostAnswerIsReconciledToOneAsset(t *testing.T) {
	t.Parallel()
	e := servicetest.Start(t, servicetest.Options{})
	// The asset is created but the answer is lost: the redelivery must find it, not create it again.
	e.Sandbox.AddFault(sandbox.Fault{Match: "lost-answer", Times: 1, Status: 500, CreateThenFail: true})
	e.Publish(servicetest.NewEvent("lost-answer").Msg())

	e.WaitFor(10*time.Second, "asset.ingested", func() bool { return len(completions(t, e, "assets.ingested.")) == 1 })
	if n := len(e.Sandbox.Assets()); n != 1 {
		t.Fatalf("sandbox has %d assets, want exactly 1", n)
	}
	c := completions(t, e, "assets.ingested.")[0]
	if c.Data.AssetID != e.Sandbox.Assets()[0].ID {
		t.Errorf("completion names asset %s, the sandbox has %s", c.Data.AssetID, e.Sandbox.Assets()[0].ID)
	}
	if n := e.Sandbox.Stats().CreateAssetCalls["lost-answer"]; n != 1 {
		t.Errorf("createAsset calls = %d, want 1 (the redelivery reconciles)", n)
	}
}

func TestDuplicateDeliveryRepublishesTheSameCompletion(t *testing.T) {
	t.Parallel()
	e := servicetest.Start(t, servicetest.Options{})
	ev := servicetest.NewEvent("twice")
	e.Publish(ev.Msg())
	e.WaitFor(10*time.Second, "asset.ingested", func() bool { return len(completions(t, e, "assets.ingested.")) == 1 })
	first := e.Subjects("ASSET_RESULTS", "assets.ingested.")[0]

	// The same event again, past the results stream's duplicate window as far as the results
	// stream can tell: purge it so the republished completion is stored again.
	s, err := e.JS.Stream(t.Context(), "ASSET_RESULTS")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Purge(t.Context()); err != nil {
		t.Fatal(err)
	}
	msg := ev.Msg()
	msg.Header = nats.Header{"X-Again": []string{"1"}}
	e.Publish(msg)
	e.WaitFor(10*time.Second, "the inbound message acked", func() bool { return ackPending(t, e) == 0 && numPending(t, e) == 0 })
	if n := e.Sandbox.Stats().CreateAssetCalls["twice"]; n != 1 {
		t.Errorf("createAsset calls = %d, want 1", n)
	}
	if len(e.Sandbox.Assets()) != 1 {
		t.Errorf("sandbox has %d assets, want 1", len(e.Sandbox.Assets()))
	}
	// The duplicate window drops a byte-identical republish; what matters is that none differs.
	for _, m := range e.Subjects("ASSET_RESULTS", "assets.ingested.") {
		if string(m.Data) != string(first.Data) {
			t.Errorf("republished completion differs:\n%s\n%s", m.Data, first.Data)
		}
	}
}

func TestCredentialsRefusedPausesThenRecovers(t *testing.T) {
	t.Parallel()
	e := servicetest.Start(t, servicetest.Options{NoService: true})
	e.Sandbox.SetCredentialsValid(false)
	e.StartServiceUnready()
	for i := range 3 {
		e.Publish(servicetest.NewEvent("paused-" + itoa(uint64(i))).Msg())
	}
	e.WaitFor(10*time.Second, "not ready while the credentials are refused", func() bool {
		code, body := e.Get("/readyz")
		return code == 503 && strings.Contains(body, "paused")
	})
	if n := len(e.Messages("ASSETS_DLQ")); n != 0 {
		t.Fatalf("%d events dead-lettered while the credentials were refused", n)
	}
	e.Sandbox.SetCredentialsValid(true)
	e.WaitFor(30*time.Second, "all three ingested after the credentials came back", func() bool {
		return len(completions(t, e, "assets.ingested.")) == 3
	})
	if code, _ := e.Get("/readyz"); code != 200 {
		t.Errorf("/readyz = %d after resuming, want 200", code)
	}
	if n := len(e.Messages("ASSETS_DLQ")); n != 0 {
		t.Errorf("%d dead letters, want none", n)
	}
	for _, c := range completions(t, e, "assets.ingested.") {
		if c.Data.Attempts != 1 {
			t.Errorf("%s: attempts = %d; a pause must spend no attempt\n%s", c.Data.Name, c.Data.Attempts, e.Logs.String())
		}
	}
}

func ackPending(t *testing.T, e *servicetest.Env) int {
	t.Helper()
	c, err := e.JS.Consumer(t.Context(), "ASSETS", "asset-ingest")
	if err != nil {
		t.Fatal(err)
	}
	ci, err := c.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return ci.NumAckPending
}

func numPending(t *testing.T, e *servicetest.Env) uint64 {
	t.Helper()
	c, err := e.JS.Consumer(t.Context(), "ASSETS", "asset-ingest")
	if err != nil {
		t.Fatal(err)
	}
	ci, err := c.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return ci.NumPending
}

func itoa(n uint64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
