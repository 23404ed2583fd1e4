package gqlapi

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

// TestNoRedirectIsFollowed: neither the token request (which carries the client secret) nor
// an API request (which carries the token) follows a redirect; the failure names the status and
// says that redirects are not followed, without the secret.
func TestNoRedirectIsFollowed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		status   int
		endpoint string // "token" or "api"
		wantKind Kind
	}{
		{name: "token 301", status: http.StatusMovedPermanently, endpoint: "token", wantKind: KindUnauthorized},
		{name: "token 302", status: http.StatusFound, endpoint: "token", wantKind: KindUnauthorized},
		{name: "token 307", status: http.StatusTemporaryRedirect, endpoint: "token", wantKind: KindUnauthorized},
		{name: "token 308", status: http.StatusPermanentRedirect, endpoint: "token", wantKind: KindUnauthorized},
		{name: "api 307", status: http.StatusTemporaryRedirect, endpoint: "api", wantKind: KindTransient},
		{name: "api 308", status: http.StatusPermanentRedirect, endpoint: "api", wantKind: KindTransient},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var elsewhere atomic.Int32
			target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				elsewhere.Add(1)
				writeJSON(w, http.StatusOK, `{"access_token":"stolen","expires_in":300,"data":{"__typename":"Query"}}`)
			}))
			t.Cleanup(target.Close)
			redirect := func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, target.URL+"/collect?x=1", tt.status)
			}
			f := newFakeAmplience(t)
			if tt.endpoint == "token" {
				f.set(func(f *fakeAmplience) { f.token = redirect })
			} else {
				f.setAPI(func(w http.ResponseWriter, r *http.Request, _ apiRequest) { redirect(w, r) })
			}
			c := newTestClient(t, f, nil)

			err := c.Probe(t.Context())

			if n := elsewhere.Load(); n != 0 {
				t.Errorf("the redirect target received %d requests; want none", n)
			}
			if err == nil {
				t.Fatal("Probe succeeded through a redirect")
			}
			if KindOf(err) != tt.wantKind {
				t.Errorf("KindOf(%v) = %v, want %v", err, KindOf(err), tt.wantKind)
			}
			msg := err.Error()
			for _, want := range []string{strconv.Itoa(tt.status), "redirects are not followed", "(to " + target.URL + "/collect)"} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not contain %q", msg, want)
				}
			}
			assertNoSecrets(t, msg)
		})
	}
}
