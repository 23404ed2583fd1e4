package sandbox_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/sandbox"
)

func TestTokenEndpoint(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		form       url.Values
		wantStatus int
		wantError  string
	}{
		{name: "valid credentials", form: credentials(testClientID, testClientSecret), wantStatus: http.StatusOK},
		{name: "wrong secret", form: credentials(testClientID, "wrong"), wantStatus: http.StatusBadRequest, wantError: "invalid_client"},
		{name: "unknown client", form: credentials("someone-else", testClientSecret), wantStatus: http.StatusBadRequest, wantError: "invalid_client"},
		{name: "missing secret", form: url.Values{"client_id": {testClientID}, "grant_type": {"client_credentials"}}, wantStatus: http.StatusBadRequest, wantError: "invalid_client"},
		{
			name:       "wrong grant type",
			form:       url.Values{"client_id": {testClientID}, "client_secret": {testClientSecret}, "grant_type": {"password"}},
			wantStatus: http.StatusBadRequest, wantError: "unsupported_grant_type",
		},
		{name: "a PAT is not a client secret", form: credentials(testClientID, testPAT), wantStatus: http.StatusBadRequest, wantError: "invalid_client"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := newEnv(t, sandbox.Options{TokenTTL: 300 * time.Second})
			status, tr := env.requestToken(t, tt.form)
			if status != tt.wantStatus || tr.Error != tt.wantError {
				t.Fatalf("status %d error %q, want %d %q", status, tr.Error, tt.wantStatus, tt.wantError)
			}
			if status != http.StatusOK {
				if tr.AccessToken != "" {
					t.Errorf("a refused request got a token")
				}
				return
			}
			if got := strings.Count(tr.AccessToken, "."); got != 2 {
				t.Errorf("access_token %q does not look like a JWT (%d dots)", tr.AccessToken, got)
			}
			if tr.ExpiresIn != 300 || tr.SessionExpiresIn == nil || *tr.SessionExpiresIn != 0 {
				t.Errorf("expires_in %d, session_expires_in %v; want 300 and 0", tr.ExpiresIn, tr.SessionExpiresIn)
			}
			if ans := env.post(t, tr.AccessToken, `{ __typename }`, nil); ans.Status != http.StatusOK {
				t.Errorf("the issued token was refused: %d %+v", ans.Status, ans.Errors)
			}
		})
	}
}

// golang.org/x/oauth2's client-credentials flow works against the endpoint, whatever way it
// first tries to send the credentials.
func TestTokenWithOAuth2Client(t *testing.T) {
	t.Parallel()
	env := newEnv(t, sandbox.Options{})
	for _, style := range []oauth2.AuthStyle{oauth2.AuthStyleInParams, oauth2.AuthStyleAutoDetect} {
		cfg := clientcredentials.Config{
			ClientID: testClientID, ClientSecret: testClientSecret,
			TokenURL: env.ts.URL + "/oauth/token", AuthStyle: style,
		}
		ctx := context.WithValue(t.Context(), oauth2.HTTPClient, env.ts.Client())
		tok, err := cfg.Token(ctx)
		if err != nil {
			t.Fatalf("AuthStyle %d: %v", style, err)
		}
		if left := time.Until(tok.Expiry); left < 290*time.Second || left > 310*time.Second {
			t.Errorf("AuthStyle %d: token expires in %v, want about 300 s", style, left)
		}
		if ans := env.post(t, tok.AccessToken, `{ __typename }`, nil); ans.Status != http.StatusOK {
			t.Errorf("AuthStyle %d: the token was refused: %d", style, ans.Status)
		}
	}
}

func TestTokenStatsCount(t *testing.T) {
	t.Parallel()
	env := newEnv(t, sandbox.Options{})
	env.token(t)
	env.requestToken(t, credentials(testClientID, "wrong"))
	st := env.srv.Stats()
	got := [3]int{st.TokenRequests, st.TokensIssued, st.TokensRefused}
	if diff := cmp.Diff([3]int{2, 1, 1}, got); diff != "" {
		t.Errorf("token counts (requests, issued, refused) (-want +got):\n%s", diff)
	}
}

func TestTokenExpires(t *testing.T) {
	t.Parallel()
	env := newEnv(t, sandbox.Options{TokenTTL: 300 * time.Second})
	tok := env.token(t)

	env.clock.Advance(299 * time.Second)
	if ans := env.post(t, tok, `{ __typename }`, nil); ans.Status != http.StatusOK {
		t.Fatalf("a token 299 s old: status %d, want 200", ans.Status)
	}
	env.clock.Advance(time.Second)
	ans := env.post(t, tok, `{ __typename }`, nil)
	if ans.Status != http.StatusUnauthorized {
		t.Fatalf("a token 300 s old: status %d, want 401", ans.Status)
	}
	if len(ans.Errors) != 1 || ans.Errors[0].Message == "" {
		t.Errorf("401 errors = %+v, want one with a message", ans.Errors)
	}
	if ans := env.post(t, env.token(t), `{ __typename }`, nil); ans.Status != http.StatusOK {
		t.Errorf("a fresh token after expiry: status %d, want 200", ans.Status)
	}
}

func TestBearerAuthentication(t *testing.T) {
	t.Parallel()
	env := newEnv(t, sandbox.Options{})
	tok := env.token(t)
	tests := []struct {
		name   string
		header string
		want   int
	}{
		{name: "issued token", header: "Bearer " + tok, want: http.StatusOK},
		{name: "scheme in lower case", header: "bearer " + tok, want: http.StatusOK},
		{name: "personal access token", header: "Bearer " + testPAT, want: http.StatusOK},
		{name: "no header", header: "", want: http.StatusUnauthorized},
		{name: "unknown token", header: "Bearer eyJhbGciOiJub25lIn0.e30.x", want: http.StatusUnauthorized},
		{name: "unknown PAT", header: "Bearer amp_pat_unknown", want: http.StatusUnauthorized},
		{name: "basic scheme", header: "Basic " + tok, want: http.StatusUnauthorized},
		{name: "empty bearer", header: "Bearer ", want: http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequest(http.MethodPost, env.ts.URL+"/graphql", strings.NewReader(`{"query":"{ __typename }"}`))
			if err != nil {
				t.Fatal(err)
			}
			if tt.header != "" {
				req.Header.Set("Authorization", tt.header)
			}
			if ans := env.do(t, req); ans.Status != tt.want {
				t.Errorf("status %d, want %d (errors %+v)", ans.Status, tt.want, ans.Errors)
			}
		})
	}
}

func TestSetCredentialsValid(t *testing.T) {
	t.Parallel()
	env := newEnv(t, sandbox.Options{})
	tok := env.token(t)

	env.srv.SetCredentialsValid(false)
	if status, _ := env.requestToken(t, credentials(testClientID, testClientSecret)); status != http.StatusBadRequest {
		t.Errorf("token while refused: status %d, want 400", status)
	}
	for _, bearer := range []string{tok, testPAT} {
		if ans := env.post(t, bearer, `{ __typename }`, nil); ans.Status != http.StatusUnauthorized {
			t.Errorf("GraphQL while refused: status %d, want 401", ans.Status)
		}
	}

	env.srv.SetCredentialsValid(true)
	for _, bearer := range []string{tok, testPAT, env.token(t)} {
		if ans := env.post(t, bearer, `{ __typename }`, nil); ans.Status != http.StatusOK {
			t.Errorf("GraphQL once restored: status %d, want 200", ans.Status)
		}
	}
}

func TestNewRefusesBadOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		o    sandbox.Options
	}{
		{name: "no credentials", o: sandbox.Options{}},
		{name: "id without secret", o: sandbox.Options{ClientID: "id"}},
		{name: "PAT without prefix", o: sandbox.Options{PATs: []string{"token"}}},
		{name: "negative rate limit", o: sandbox.Options{PATs: []string{testPAT}, RateLimit: -1}},
		{name: "negative latency", o: sandbox.Options{PATs: []string{testPAT}, Latency: -time.Second}},
		{name: "unknown duplicate mode", o: sandbox.Options{PATs: []string{testPAT}, DuplicateNames: 7}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if srv, err := sandbox.New(tt.o); err == nil {
				srv.Close()
				t.Fatal("New accepted the options")
			}
		})
	}
}
