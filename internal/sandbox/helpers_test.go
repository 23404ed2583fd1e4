package sandbox_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/sandbox"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	testClientID     = "sandbox-client"
	testClientSecret = "s3cret-value-never-logged"
	testPAT          = "amp_pat_0123456789abcdef"
	testRepo         = "QXNzZXRSZXBvc2l0b3J5OmY0NDhiOGY0LTc1ZjUtNDk0Ni1hOWQ4LTFkZTM2ZWZmYjNiNQ=="
	otherRepo        = "QXNzZXRSZXBvc2l0b3J5OjAwMDAwMDAwLTAwMDAtMDAwMC0wMDAwLTAwMDAwMDAwMDAwMA=="
)

// fakeClock is a settable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 11, 27, 9, 30, 10, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// sandboxEnv is a sandbox served over real HTTP.
type sandboxEnv struct {
	srv   *sandbox.Server
	ts    *httptest.Server
	clock *fakeClock
}

// newEnv starts a sandbox with o, filling in test credentials, the PAT and a fake clock when o
// has none.
func newEnv(tb testing.TB, o sandbox.Options) *sandboxEnv {
	tb.Helper()
	env := &sandboxEnv{clock: newFakeClock()}
	if o.ClientID == "" && len(o.PATs) == 0 {
		o.ClientID, o.ClientSecret = testClientID, testClientSecret
		o.PATs = []string{testPAT}
	}
	if o.Clock == nil {
		o.Clock = env.clock.Now
	}
	srv, err := sandbox.New(o)
	if err != nil {
		tb.Fatalf("sandbox.New: %v", err)
	}
	env.srv = srv
	env.ts = httptest.NewServer(srv.Handler())
	tb.Cleanup(env.ts.Close)
	tb.Cleanup(srv.Close) // runs first: releases hung requests before the server waits for them
	return env
}

// tokenResponse is the token endpoint's answer.
type tokenResponse struct {
	AccessToken      string `json:"access_token"`
	ExpiresIn        int    `json:"expires_in"`
	SessionExpiresIn *int   `json:"session_expires_in"`
	Error            string `json:"error"`
}

// requestToken posts client credentials and returns the status and decoded answer.
func (e *sandboxEnv) requestToken(tb testing.TB, form url.Values) (int, tokenResponse) {
	tb.Helper()
	resp, err := e.ts.Client().PostForm(e.ts.URL+"/oauth/token", form)
	if err != nil {
		tb.Fatalf("POST /oauth/token: %v", err)
	}
	defer resp.Body.Close()
	var tr tokenResponse
	if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil {
		tb.Fatalf("decoding the token answer: %v", err)
	}
	return resp.StatusCode, tr
}

// token returns a fresh access token for the test credentials.
func (e *sandboxEnv) token(tb testing.TB) string {
	tb.Helper()
	status, tr := e.requestToken(tb, credentials(testClientID, testClientSecret))
	if status != http.StatusOK || tr.AccessToken == "" {
		tb.Fatalf("token: status %d, answer %+v", status, tr)
	}
	return tr.AccessToken
}

func credentials(id, secret string) url.Values {
	return url.Values{"client_id": {id}, "client_secret": {secret}, "grant_type": {"client_credentials"}}
}

// gqlError is one entry of a GraphQL errors list.
type gqlError struct {
	Message    string         `json:"message"`
	Locations  []location     `json:"locations,omitempty"`
	Path       []any          `json:"path,omitempty"`
	Extensions map[string]any `json:"extensions,omitempty"`
}

type location struct {
	Line   int `json:"line"`
	Column int `json:"column"`
}

// gqlAnswer is an HTTP answer of /graphql.
type gqlAnswer struct {
	Status int
	Header http.Header
	Data   json.RawMessage `json:"data"`
	Errors []gqlError      `json:"errors"`
}

// post sends a GraphQL POST with bearer (none when "") and extra headers.
func (e *sandboxEnv) post(tb testing.TB, bearer, query string, vars map[string]any, header ...string) gqlAnswer {
	tb.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		tb.Fatalf("encoding the request: %v", err)
	}
	req, err := http.NewRequest(http.MethodPost, e.ts.URL+"/graphql", bytes.NewReader(body))
	if err != nil {
		tb.Fatalf("building the request: %v", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return e.do(tb, req)
}

func (e *sandboxEnv) do(tb testing.TB, req *http.Request) gqlAnswer {
	tb.Helper()
	resp, err := e.ts.Client().Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("reading the answer: %v", err)
	}
	ans := gqlAnswer{Status: resp.StatusCode, Header: resp.Header}
	if err := json.Unmarshal(raw, &ans); err != nil {
		tb.Fatalf("answer %d is not JSON: %v: %s", resp.StatusCode, err, raw)
	}
	return ans
}

// decodeData decodes ans.Data into v, failing when there is none.
func decodeData(tb testing.TB, ans gqlAnswer, v any) {
	tb.Helper()
	if len(ans.Data) == 0 || string(ans.Data) == "null" {
		tb.Fatalf("no data in the answer: status %d, errors %+v", ans.Status, ans.Errors)
	}
	if err := json.Unmarshal(ans.Data, v); err != nil {
		tb.Fatalf("decoding data %s: %v", ans.Data, err)
	}
}

const createMutation = `mutation CreateAsset($input: CreateAssetInput!) {
  createAsset(input: $input) { id }
}`

// assetInput returns a valid CreateAssetInput for name in the test repository.
func assetInput(name string) map[string]any {
	return map[string]any{
		"src":               "https://media.example-pim.com/exports/" + name + ".jpg",
		"type":              "IMAGE",
		"name":              name,
		"filename":          name + ".jpg",
		"assetRepositoryId": testRepo,
	}
}

// create calls createAsset for name and returns the new id, failing on any error.
func (e *sandboxEnv) create(tb testing.TB, bearer, name string) string {
	tb.Helper()
	ans := e.post(tb, bearer, createMutation, map[string]any{"input": assetInput(name)})
	if ans.Status != http.StatusOK || len(ans.Errors) > 0 {
		tb.Fatalf("createAsset %q: status %d, errors %+v", name, ans.Status, ans.Errors)
	}
	var data struct {
		CreateAsset struct{ ID string } `json:"createAsset"`
	}
	decodeData(tb, ans, &data)
	return data.CreateAsset.ID
}

// admin sends an admin request and returns the status and body.
func (e *sandboxEnv) admin(tb testing.TB, method, path, body string) (int, []byte) {
	tb.Helper()
	req, err := http.NewRequest(method, e.ts.URL+path, strings.NewReader(body))
	if err != nil {
		tb.Fatalf("building the request: %v", err)
	}
	resp, err := e.ts.Client().Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("reading the answer: %v", err)
	}
	return resp.StatusCode, raw
}

// names returns the names of assets, in order.
func names(assets []sandbox.Asset) []string {
	out := make([]string, 0, len(assets))
	for _, a := range assets {
		out = append(out, a.Name)
	}
	return out
}
