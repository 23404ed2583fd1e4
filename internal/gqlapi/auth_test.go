package gqlapi

import (
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestTokenRequest(t *testing.T) {
	t.Parallel()
	f := newFakeAmplience(t)
	c := newTestClient(t, f, nil)

	if err := probeQuery(t, c); err != nil {
		t.Fatal(err)
	}

	if f.tokenCount() != 1 {
		t.Fatalf("token requests = %d, want 1", f.tokenCount())
	}
	r := f.tokenRequest(0)
	wantForm := url.Values{
		"client_id":     {testClientID},
		"client_secret": {testClientSecret},
		"grant_type":    {"client_credentials"},
	}
	if diff := cmp.Diff(wantForm, r.PostForm); diff != "" {
		t.Errorf("token form mismatch (-want +got):\n%s", diff)
	}
	if got := r.Header.Get("Content-Type"); got != "application/x-www-form-urlencoded" {
		t.Errorf("token Content-Type = %q", got)
	}
	if _, _, ok := r.BasicAuth(); ok {
		t.Error("token request uses basic auth; the credentials belong in the form body")
	}
	if got := r.Header.Get("User-Agent"); got != testUserAgent {
		t.Errorf("token User-Agent = %q, want %q", got, testUserAgent)
	}
	if got := f.requests()[0].Token; got != "tok-1" {
		t.Errorf("API bearer token = %q, want tok-1", got)
	}
}

func TestTokenReuseAndRefreshBeforeExpiry(t *testing.T) {
	t.Parallel()
	f := newFakeAmplience(t) // tokens live 300 s
	clock := &fakeClock{now: time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)}
	c := newTestClient(t, f, func(o *Options) { o.Clock = clock.Now })

	steps := []struct {
		advance   time.Duration
		wantToken string
	}{
		{0, "tok-1"},
		{time.Minute, "tok-1"},                    // reused
		{3 * time.Minute, "tok-1"},                // 240 s old: reused
		{49 * time.Second, "tok-1"},               // 289 s old: still more than 10 s left
		{2 * time.Second, "tok-2"},                // 291 s old: replaced a few seconds early
		{4*time.Minute + 49*time.Second, "tok-2"}, // 289 s into tok-2
	}
	for i, s := range steps {
		clock.Advance(s.advance)
		if err := probeQuery(t, c); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		reqs := f.requests()
		if got := reqs[len(reqs)-1].Token; got != s.wantToken {
			t.Errorf("step %d: bearer token = %q, want %q", i, got, s.wantToken)
		}
	}
	if f.tokenCount() != 2 {
		t.Errorf("token requests = %d, want 2", f.tokenCount())
	}
}

func TestShortLivedTokenIsReplacedAtHalfItsLifetime(t *testing.T) {
	t.Parallel()
	f := newFakeAmplience(t)
	f.set(func(f *fakeAmplience) { f.expiresIn = 4 }) // shorter than twice the 10 s margin
	clock := &fakeClock{now: time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)}
	c := newTestClient(t, f, func(o *Options) { o.Clock = clock.Now })

	var got []string
	for _, advance := range []time.Duration{0, 1900 * time.Millisecond, 200 * time.Millisecond} {
		clock.Advance(advance)
		if err := probeQuery(t, c); err != nil {
			t.Fatal(err)
		}
		reqs := f.requests()
		got = append(got, reqs[len(reqs)-1].Token)
	}
	if diff := cmp.Diff([]string{"tok-1", "tok-1", "tok-2"}, got); diff != "" {
		t.Errorf("bearer tokens mismatch (-want +got):\n%s", diff)
	}
}

func TestSingleRefreshAfterConcurrent401s(t *testing.T) {
	t.Parallel()
	const storm = 16
	f := newFakeAmplience(t)
	c := newTestClient(t, f, nil)
	if err := probeQuery(t, c); err != nil { // caches tok-1
		t.Fatal(err)
	}

	// From now on tok-1 is refused, but only once all the storm's requests have arrived
	// with it, so that every one of them sees a 401 for the same token.
	var mu sync.Mutex
	arrived := 0
	allArrived := make(chan struct{})
	f.setAPI(func(w http.ResponseWriter, _ *http.Request, req apiRequest) {
		if req.Token != "tok-1" {
			writeJSON(w, 200, `{"data":{"__typename":"Query"}}`)
			return
		}
		mu.Lock()
		arrived++
		if arrived == storm {
			close(allArrived)
		}
		mu.Unlock()
		select {
		case <-allArrived:
		case <-time.After(5 * time.Second):
		}
		writeJSON(w, 401, `{"message":"Unauthorized"}`)
	})

	var wg sync.WaitGroup
	errs := make([]error, storm)
	for i := range storm {
		wg.Go(func() { errs[i] = probeQuery(t, c) })
	}
	wg.Wait()

	for i, err := range errs {
		if err != nil {
			t.Errorf("request %d: %v", i, err)
		}
	}
	if f.tokenCount() != 2 {
		t.Errorf("token requests = %d, want 2 (one at start, one refresh for the whole storm)", f.tokenCount())
	}
	if n := len(f.requests()); n != 1+2*storm {
		t.Errorf("API requests = %d, want %d (each 401 repeated once)", n, 1+2*storm)
	}
}

func TestPersonalAccessToken(t *testing.T) {
	t.Parallel()
	f := newFakeAmplience(t)
	f.setAPI(answer(401, `{"message":"Unauthorized"}`))
	c := newTestClient(t, f, func(o *Options) {
		o.ClientID, o.ClientSecret, o.AuthURL = "", "", ""
		o.PAT = "amp_pat_0123456789"
	})

	err := c.Probe(t.Context())

	if KindOf(err) != KindUnauthorized {
		t.Errorf("KindOf(%v) = %v, want unauthorized", err, KindOf(err))
	}
	assertNoSecrets(t, err.Error())
	if f.tokenCount() != 0 {
		t.Errorf("token requests = %d, want none with a personal access token", f.tokenCount())
	}
	reqs := f.requests()
	if len(reqs) != 1 {
		t.Fatalf("API requests = %d, want 1: a static token is not worth a repeat", len(reqs))
	}
	if reqs[0].Token != "amp_pat_0123456789" {
		t.Errorf("bearer token = %q, want the personal access token", reqs[0].Token)
	}
}

func TestOptionsValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		opts    Options
		wantErr string
	}{
		{
			name: "client credentials",
			opts: Options{APIURL: "https://api.example/graphql", AuthURL: "https://auth.example/token", ClientID: "id", ClientSecret: "secret"},
		},
		{
			name: "personal access token",
			opts: Options{APIURL: "https://api.example/graphql", PAT: "amp_pat_x"},
		},
		{
			name:    "nothing",
			opts:    Options{},
			wantErr: "gqlapi: invalid options: APIURL is empty\nClientID is empty; set it or set PAT\nClientSecret is empty; set it or set PAT\nAuthURL is empty",
		},
		{
			name:    "both",
			opts:    Options{APIURL: "https://api.example/graphql", PAT: "amp_pat_x", ClientSecret: "very-secret"},
			wantErr: "gqlapi: invalid options: PAT and client credentials are both set; set only one",
		},
		{
			name:    "bad URL and timeout",
			opts:    Options{APIURL: "api.example/graphql", PAT: "amp_pat_x", Timeout: -1},
			wantErr: "gqlapi: invalid options: APIURL is not an absolute http(s) URL\nthe Timeout is negative",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := New(tt.opts)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if diff := cmp.Diff(tt.wantErr, got); diff != "" {
				t.Errorf("New error mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
