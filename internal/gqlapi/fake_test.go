package gqlapi

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	testClientID     = "test-client-id"
	testClientSecret = "s3cr3t-never-printed"
	testUserAgent    = "asset-ingest-consumer/test"
)

// apiRequest is one request the fake GraphQL endpoint received.
type apiRequest struct {
	Header        http.Header
	Token         string // the bearer token
	OperationName string
	Query         string
	Variables     map[string]any
	BodySize      int   // bytes of the body received
	ContentLength int64 // the request's Content-Length
}

// fakeAmplience is a hand-written fake of Amplience's token and GraphQL endpoints. Its
// handlers may be replaced before the first request; it records every request.
type fakeAmplience struct {
	server *httptest.Server

	mu            sync.Mutex
	tokenRequests []*http.Request // with ParseForm done
	apiRequests   []apiRequest
	issued        int // tokens issued, named tok-1, tok-2, ...

	// expiresIn is the lifetime of issued tokens, in seconds.
	expiresIn int
	// token answers token requests; nil issues the next token.
	token http.HandlerFunc
	// api answers GraphQL requests; nil answers {"data":{"__typename":"Query"}}.
	api func(w http.ResponseWriter, r *http.Request, req apiRequest)
}

func newFakeAmplience(tb testing.TB) *fakeAmplience {
	tb.Helper()
	f := &fakeAmplience{expiresIn: 300}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /oauth/token", f.serveToken)
	mux.HandleFunc("POST /graphql", f.serveAPI)
	f.server = httptest.NewServer(mux)
	tb.Cleanup(f.server.Close)
	return f
}

func (f *fakeAmplience) serveToken(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.tokenRequests = append(f.tokenRequests, r)
	handler := f.token
	f.mu.Unlock()
	if handler != nil {
		handler(w, r)
		return
	}
	f.mu.Lock()
	f.issued++
	tok, exp := fmt.Sprintf("tok-%d", f.issued), f.expiresIn
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"access_token":%q,"expires_in":%d,"session_expires_in":0}`, tok, exp)
}

func (f *fakeAmplience) serveAPI(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Query         string         `json:"query"`
		OperationName string         `json:"operationName"`
		Variables     map[string]any `json:"variables"`
	}
	raw, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(raw, &body); err != nil {
		http.Error(w, "bad json", http.StatusBadRequest)
		return
	}
	req := apiRequest{
		Header:        r.Header.Clone(),
		Token:         strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "),
		OperationName: body.OperationName,
		Query:         body.Query,
		Variables:     body.Variables,
		BodySize:      len(raw),
		ContentLength: r.ContentLength,
	}
	f.mu.Lock()
	f.apiRequests = append(f.apiRequests, req)
	handler := f.api
	f.mu.Unlock()
	if handler == nil {
		writeJSON(w, http.StatusOK, `{"data":{"__typename":"Query"}}`)
		return
	}
	handler(w, r, req)
}

func (f *fakeAmplience) tokenCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.tokenRequests)
}

func (f *fakeAmplience) requests() []apiRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]apiRequest(nil), f.apiRequests...)
}

func (f *fakeAmplience) tokenRequest(i int) *http.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tokenRequests[i]
}

func (f *fakeAmplience) apiURL() string  { return f.server.URL + "/graphql" }
func (f *fakeAmplience) authURL() string { return f.server.URL + "/oauth/token" }

// set changes the fake's behaviour under its lock.
func (f *fakeAmplience) set(change func(f *fakeAmplience)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	change(f)
}

func (f *fakeAmplience) setAPI(h func(http.ResponseWriter, *http.Request, apiRequest)) {
	f.set(func(f *fakeAmplience) { f.api = h })
}

// newTestClient returns a Client using f with client credentials; edit adjusts the options.
func newTestClient(tb testing.TB, f *fakeAmplience, edit func(*Options)) *Client {
	tb.Helper()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tb.Cleanup(tr.CloseIdleConnections)
	o := Options{
		APIURL:       f.apiURL(),
		AuthURL:      f.authURL(),
		ClientID:     testClientID,
		ClientSecret: testClientSecret,
		Timeout:      5 * time.Second,
		UserAgent:    testUserAgent,
		Transport:    tr,
	}
	if edit != nil {
		edit(&o)
	}
	c, err := New(o)
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return c
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

// answer returns an API handler that always writes status and body.
func answer(status int, body string) func(http.ResponseWriter, *http.Request, apiRequest) {
	return func(w http.ResponseWriter, _ *http.Request, _ apiRequest) { writeJSON(w, status, body) }
}

// hangUp closes the connection without answering: a transport error for the client.
func hangUp(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err == nil {
		conn.Close()
	}
}

// fakeLimiter records its calls; Wait returns err.
type fakeLimiter struct {
	mu      sync.Mutex
	err     error
	waits   int
	reports []time.Duration
}

func (l *fakeLimiter) Wait(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.waits++
	if err := ctx.Err(); err != nil {
		return err
	}
	return l.err
}

func (l *fakeLimiter) Report429(d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reports = append(l.reports, d)
}

func (l *fakeLimiter) calls() (int, []time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.waits, append([]time.Duration(nil), l.reports...)
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
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

// probeQuery runs the Probe query without dropping the cached token first.
func probeQuery(tb testing.TB, c *Client) error {
	tb.Helper()
	_, err := Probe(tb.Context(), c.gql)
	return err
}

var testInput = CreateAssetInput{
	Src:               "https://media.example.com/a/front.jpg",
	Type:              "IMAGE",
	Name:              "sku-1042-front",
	Filename:          "front.jpg",
	AssetRepositoryID: "UmVwbzox",
}
