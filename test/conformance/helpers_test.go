package conformance

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/gqlapi"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/ledger"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/sandbox"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/servicetest"
)

// The default names of SPEC "NATS resources".
const (
	inboundStream  = "ASSETS"
	durable        = "asset-ingest"
	resultsStream  = "ASSET_RESULTS"
	dlqStream      = "ASSETS_DLQ"
	advisoryStream = "ASSETS_ADVISORIES"
	ledgerBucket   = "asset_ingest_ledger"
)

// wait is how long a test waits for something the service does promptly.
const wait = 15 * time.Second

// start runs the service with env overriding servicetest's defaults and sb changing the
// sandbox's options (either may be nil).
func start(t *testing.T, env map[string]string, sb func(*sandbox.Options)) *servicetest.Env {
	t.Helper()
	return servicetest.Start(t, servicetest.Options{Env: env, Sandbox: sb})
}

// completion is a completion event as a subscriber reads it.
type completion struct {
	SpecVersion     string `json:"specversion"`
	ID              string `json:"id"`
	Source          string `json:"source"`
	Type            string `json:"type"`
	Subject         string `json:"subject"`
	Time            string `json:"time"`
	DataContentType string `json:"datacontenttype"`
	Data            struct {
		EventID           string `json:"eventId"`
		EventSource       string `json:"eventSource"`
		AssetID           string `json:"assetId"`
		Name              string `json:"name"`
		AssetRepositoryID string `json:"assetRepositoryId"`
		Src               string `json:"src"`
		Attempts          int    `json:"attempts"`
		DurationMs        *int64 `json:"durationMs"`
		ErrorClass        string `json:"errorClass"`
		Error             string `json:"error"`
		DLQSequence       uint64 `json:"dlqSequence"`
	} `json:"data"`

	// NATS is where it was read from.
	NATS *jetstream.RawStreamMsg `json:"-"`
}

// completions returns the completion events on subjects starting with prefix
// ("assets.ingested." or "assets.failed.").
func completions(t testing.TB, e *servicetest.Env, prefix string) []completion {
	t.Helper()
	var out []completion
	for _, m := range e.Subjects(resultsStream, prefix) {
		var c completion
		if err := json.Unmarshal(m.Data, &c); err != nil {
			t.Fatalf("completion event on %s is not JSON: %v\n%s", m.Subject, err, m.Data)
		}
		c.NATS = m
		out = append(out, c)
	}
	return out
}

// waitCompletions waits until there are n completion events under prefix and returns them.
func waitCompletions(t testing.TB, e *servicetest.Env, prefix string, n int) []completion {
	t.Helper()
	e.WaitFor(wait, strconv.Itoa(n)+" completion events on "+prefix+"*", func() bool {
		return len(completions(t, e, prefix)) >= n
	})
	return completions(t, e, prefix)
}

// waitDeadLetters waits until the dead-letter stream holds n messages and returns them.
func waitDeadLetters(t testing.TB, e *servicetest.Env, n int) []*jetstream.RawStreamMsg {
	t.Helper()
	e.WaitFor(wait, strconv.Itoa(n)+" dead letters", func() bool { return len(e.Messages(dlqStream)) >= n })
	return e.Messages(dlqStream)
}

// deadLetterOf returns the dead letter of inbound sequence seq, or nil.
func deadLetterOf(e *servicetest.Env, seq uint64) *jetstream.RawStreamMsg {
	for _, m := range e.Messages(dlqStream) {
		if m.Header.Get("Ingest-Original-Sequence") == strconv.FormatUint(seq, 10) {
			return m
		}
	}
	return nil
}

// waitDeadLetterOf waits for the dead letter of inbound sequence seq.
func waitDeadLetterOf(t testing.TB, e *servicetest.Env, seq uint64) *jetstream.RawStreamMsg {
	t.Helper()
	e.WaitFor(wait, "the dead letter of inbound message "+strconv.FormatUint(seq, 10), func() bool {
		return deadLetterOf(e, seq) != nil
	})
	return deadLetterOf(e, seq)
}

// consumerInfo reads the durable consumer's state.
func consumerInfo(t testing.TB, e *servicetest.Env) *jetstream.ConsumerInfo {
	t.Helper()
	c, err := e.JS.Consumer(context.Background(), inboundStream, durable)
	if err != nil {
		t.Fatalf("looking up the consumer: %v", err)
	}
	ci, err := c.Info(context.Background())
	if err != nil {
		t.Fatalf("consumer info: %v", err)
	}
	return ci
}

// settled reports whether every inbound message was delivered and acked or terminated.
func settled(t testing.TB, e *servicetest.Env) bool {
	ci := consumerInfo(t, e)
	return ci.NumPending == 0 && ci.NumAckPending == 0
}

// eventKey computes the event key of SPEC "Event key" independently of the service:
// lowercase hex SHA-256 of "<subject token> NUL <source> NUL <id>".
func eventKey(token, source, id string) string {
	sum := sha256.Sum256([]byte(token + "\x00" + source + "\x00" + id))
	return hex.EncodeToString(sum[:])
}

// keyOf is the event key of ev published on its default subject token (akeneo).
func keyOf(ev servicetest.Event) string {
	token := "akeneo"
	if ev.Subject != "" {
		token = ev.Subject[strings.LastIndexByte(ev.Subject, '.')+1:]
	}
	return eventKey(token, ev.Source, ev.ID)
}

// kv opens the ledger bucket.
func kv(t testing.TB, e *servicetest.Env) jetstream.KeyValue {
	t.Helper()
	b, err := e.JS.KeyValue(context.Background(), ledgerBucket)
	if err != nil {
		t.Fatalf("opening the ledger bucket: %v", err)
	}
	return b
}

// putEntry writes the ledger entry of an event directly: key "event.<key>", the ledger's JSON.
func putEntry(t testing.TB, e *servicetest.Env, key string, entry ledger.Entry) {
	t.Helper()
	b, err := json.Marshal(entry)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv(t, e).Put(context.Background(), "event."+key, b); err != nil {
		t.Fatalf("writing ledger entry: %v", err)
	}
}

// getEntry reads the ledger entry of an event; ok is false when there is none.
func getEntry(t testing.TB, e *servicetest.Env, key string) (ledger.Entry, bool) {
	t.Helper()
	kve, err := kv(t, e).Get(context.Background(), "event."+key)
	if err != nil {
		return ledger.Entry{}, false
	}
	var entry ledger.Entry
	if err := json.Unmarshal(kve.Value(), &entry); err != nil {
		t.Fatalf("ledger entry of %s is not the ledger's JSON: %v", key, err)
	}
	return entry, true
}

// putAssetOwner writes the asset index entry that records assetID as created by eventKey.
func putAssetOwner(t testing.TB, e *servicetest.Env, assetID, key string) {
	t.Helper()
	sum := sha256.Sum256([]byte(assetID))
	if _, err := kv(t, e).Put(context.Background(), "asset."+hex.EncodeToString(sum[:]), []byte(key)); err != nil {
		t.Fatalf("writing the asset index: %v", err)
	}
}

// seedAsset creates an asset named name in the test repository through the sandbox's API, as
// an earlier attempt whose answer was lost would have.
func seedAsset(t testing.TB, e *servicetest.Env, name string) gqlapi.Asset {
	t.Helper()
	c, err := gqlapi.New(gqlapi.Options{
		APIURL: e.SandboxURL + "/graphql", AuthURL: e.SandboxURL + "/oauth/token",
		ClientID: servicetest.ClientID, ClientSecret: servicetest.ClientSecret, Timeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	a, err := c.CreateAsset(context.Background(), gqlapi.CreateAssetInput{
		Src: "https://media.example-pim.com/seed.jpg", Type: "IMAGE", Name: name, Filename: "seed.jpg",
		AssetRepositoryID: servicetest.Repository,
	})
	if err != nil {
		t.Fatalf("seeding asset %s: %v", name, err)
	}
	return a
}

// requests returns the sandbox requests of GraphQL operation op, in order.
func requests(e *servicetest.Env, op string) []sandbox.Request {
	var out []sandbox.Request
	for _, r := range e.Sandbox.Requests() {
		if r.OperationName == op {
			out = append(out, r)
		}
	}
	return out
}

// reconciliations returns the search requests the sandbox received for events: every
// FindAssetsByName but the probe's, and every FindAssetsByNames (first pages of several).
func reconciliations(e *servicetest.Env) []sandbox.Request {
	var out []sandbox.Request
	for _, r := range e.Sandbox.Requests() {
		if r.OperationName == "FindAssetsByNames" || r.OperationName == "FindAssetsByName" && !servicetest.IsProbe(r) {
			out = append(out, r)
		}
	}
	return out
}

// operations returns the GraphQL operation names the sandbox received, in order.
func operations(e *servicetest.Env) []string {
	var out []string
	for _, r := range e.Sandbox.Requests() {
		out = append(out, r.OperationName)
	}
	return out
}

// header returns every value of name in h, the name matched case-insensitively.
func header(h nats.Header, name string) []string {
	var out []string
	for k, vs := range h {
		if strings.EqualFold(k, name) {
			out = append(out, vs...)
		}
	}
	return out
}

// itoa formats a sequence.
func itoa[T ~int | ~uint64](n T) string { return strconv.FormatInt(int64(n), 10) }

// never checks for d that cond stays false, polling; it fails the test with what if it holds.
func never(t testing.TB, e *servicetest.Env, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			t.Fatalf("%s\nlogs:\n%s", what, e.Logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
