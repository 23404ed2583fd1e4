package config

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sethvargo/go-envconfig"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/gqlapi"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/ratelimit"
)

func TestPATAndClientCredentialsTogetherAreRefused(t *testing.T) {
	t.Parallel()
	env := complete()
	env["AMPLIENCE_PAT"] = "amp_pat_abc"
	cfg, err := load(t, env, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := cfg.Validate(true)
	if len(p) != 1 || !strings.Contains(p[0], "AMPLIENCE_PAT and AMPLIENCE_CLIENT_ID") {
		t.Errorf("problems = %v, want the PAT/credentials conflict", p)
	}
	if strings.Contains(p.Error(), "amp_pat_abc") || strings.Contains(p.Error(), "s3cret") {
		t.Errorf("a problem quotes a secret: %v", p)
	}
}

// TestAmplienceURLs: the token and API URLs carry the client secret and tokens, so they must be
// https unless their host is loopback, or AMPLIENCE_ALLOW_HTTP opts in for a test setup.
func TestAmplienceURLs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     map[string]string
		refused []string // variables named by a problem
	}{
		{name: "https", env: map[string]string{"AMPLIENCE_API_URL": "https://api.example.com/graphql", "AMPLIENCE_AUTH_URL": "https://auth.example.com/oauth/token"}},
		{name: "http on 127.0.0.1", env: map[string]string{"AMPLIENCE_API_URL": "http://127.0.0.1:8090/graphql", "AMPLIENCE_AUTH_URL": "http://127.0.0.1:8090/oauth/token"}},
		{name: "http on 127.1.2.3", env: map[string]string{"AMPLIENCE_API_URL": "http://127.1.2.3/graphql"}},
		{name: "http on ::1", env: map[string]string{"AMPLIENCE_API_URL": "http://[::1]:8090/graphql"}},
		{name: "http on localhost", env: map[string]string{"AMPLIENCE_AUTH_URL": "http://LocalHost:8090/oauth/token"}},
		{name: "http on a service name", env: map[string]string{"AMPLIENCE_API_URL": "http://sandbox:8090/graphql", "AMPLIENCE_AUTH_URL": "http://sandbox:8090/oauth/token"},
			refused: []string{"AMPLIENCE_API_URL", "AMPLIENCE_AUTH_URL"}},
		{name: "http on a public name", env: map[string]string{"AMPLIENCE_AUTH_URL": "http://auth.amplience.net/oauth/token"}, refused: []string{"AMPLIENCE_AUTH_URL"}},
		{name: "http on a private address", env: map[string]string{"AMPLIENCE_API_URL": "http://10.0.0.7/graphql"}, refused: []string{"AMPLIENCE_API_URL"}},
		{name: "http on a name that starts like loopback", env: map[string]string{"AMPLIENCE_API_URL": "http://127.0.0.1.example.com/graphql"}, refused: []string{"AMPLIENCE_API_URL"}},
		{name: "http on a service name, opted in", env: map[string]string{"AMPLIENCE_API_URL": "http://sandbox:8090/graphql", "AMPLIENCE_AUTH_URL": "http://sandbox:8090/oauth/token", "AMPLIENCE_ALLOW_HTTP": "true"}},
		{name: "auth URL unused with a PAT", env: map[string]string{"AMPLIENCE_CLIENT_ID": "", "AMPLIENCE_CLIENT_SECRET": "", "AMPLIENCE_PAT": "amp_pat_x", "AMPLIENCE_AUTH_URL": "http://auth.example.com/token"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := complete()
			for k, v := range tt.env {
				env[k] = v
			}
			cfg, err := load(t, env, nil)
			if err != nil {
				t.Fatal(err)
			}
			var refused []string
			for _, p := range cfg.Validate(true) {
				name, _, _ := strings.Cut(p, " ")
				refused = append(refused, name)
				if !strings.Contains(p, "https") || !strings.Contains(p, "AMPLIENCE_ALLOW_HTTP") {
					t.Errorf("problem %q does not say what to do", p)
				}
			}
			if diff := cmp.Diff(tt.refused, refused); diff != "" {
				t.Errorf("refused variables (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRateLimitIsParsedOnLoad(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		value   string
		want    ratelimit.Limit
		problem string
	}{
		{value: "5/s", want: ratelimit.Limit{Requests: 5, Per: time.Second}},
		{value: "0"},
		{value: "fast", want: ratelimit.Limit{Requests: 60, Per: time.Minute},
			problem: `AMPLIENCE_RATE_LIMIT "fast": want N/s or N/m with N a positive integer (60/m, 5/s), or 0 for no limit`},
	} {
		t.Run(tc.value, func(t *testing.T) {
			t.Parallel()
			a, err := Load[Amplience](t.Context(), envconfig.MapLookuper(map[string]string{"AMPLIENCE_RATE_LIMIT": tc.value}), nil)
			var got Problems
			if err != nil && !errors.As(err, &got) {
				t.Fatal(err)
			}
			var want Problems
			if tc.problem != "" {
				want = Problems{tc.problem}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
			if a.RateLimit.Limit != tc.want {
				t.Errorf("limit = %v, want %v (a bad value keeps the default)", a.RateLimit.Limit, tc.want)
			}
		})
	}
}

func TestAmplienceValidate(t *testing.T) {
	t.Parallel()
	ok := Amplience{APIURL: "https://api", AuthURL: "https://auth", ClientID: "id", ClientSecret: "s", Timeout: time.Second, BatchSize: 25}
	tests := []struct {
		name   string
		change func(*Amplience)
		want   Problems
	}{
		{name: "complete", change: func(*Amplience) {}},
		{name: "a PAT instead of client credentials", change: func(a *Amplience) { a.ClientID, a.ClientSecret, a.PAT = "", "", "amp_pat_x" }},
		{name: "not a PAT", change: func(a *Amplience) { a.ClientID, a.ClientSecret, a.PAT = "", "", "token" },
			want: Problems{"AMPLIENCE_PAT does not start with amp_pat_; give a personal access token, or use client credentials"}},
		{name: "no credentials", change: func(a *Amplience) { a.ClientID, a.ClientSecret = "", "" }, want: Problems{
			"AMPLIENCE_CLIENT_ID is empty; set it (with AMPLIENCE_CLIENT_SECRET) or set AMPLIENCE_PAT",
			"AMPLIENCE_CLIENT_SECRET is empty; set it (or AMPLIENCE_CLIENT_SECRET_FILE), or set AMPLIENCE_PAT"}},
		{name: "no timeout", change: func(a *Amplience) { a.Timeout = 0 },
			want: Problems{"AMPLIENCE_TIMEOUT is 0s; set a positive duration such as 30s"}},
		{name: "batch too large", change: func(a *Amplience) { a.BatchSize = 101 },
			want: Problems{"AMPLIENCE_BATCH_SIZE is 101; set 1 (one event per request) to 100"}},
		{name: "batch empty", change: func(a *Amplience) { a.BatchSize = 0 },
			want: Problems{"AMPLIENCE_BATCH_SIZE is 0; set 1 (one event per request) to 100"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := ok
			tt.change(&a)
			if diff := cmp.Diff(tt.want, a.Validate()); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

func TestClientOptions(t *testing.T) {
	t.Parallel()
	a := Amplience{APIURL: "https://api", AuthURL: "https://auth", ClientID: "id", ClientSecret: "s", PAT: "p", Timeout: 7 * time.Second}
	got := a.ClientOptions(gqlapi.Options{UserAgent: "agent", Timeout: time.Hour})
	want := gqlapi.Options{APIURL: "https://api", AuthURL: "https://auth", ClientID: "id", ClientSecret: "s", PAT: "p",
		Timeout: 7 * time.Second, UserAgent: "agent"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("options (-want +got):\n%s", diff)
	}
}

// TestURLProblemsHideSecrets: a problem that quotes an Amplience URL shows it without its
// user-info, query string or fragment.
func TestURLProblemsHideSecrets(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, url, want string
	}{
		{"plain http", "http://svc:pw-6c1d@sandbox:8090/graphql?token=tok-9e2a#frag-4b7f", `"http://sandbox:8090/graphql"`},
		{"not http(s)", "ftp://svc:pw-6c1d@sandbox/graphql?token=tok-9e2a", `"ftp://sandbox/graphql"`},
		{"unparsable", "https://svc:pw-6c1d@[::1/graphql?token=tok-9e2a", `"(unparsable)"`},
		{"empty", "", `AMPLIENCE_API_URL ""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var found []string
			for _, p := range (Amplience{APIURL: tt.url}).Validate() {
				if strings.HasPrefix(p, "AMPLIENCE_API_URL ") {
					found = append(found, p)
				}
			}
			if len(found) != 1 || !strings.Contains(found[0], tt.want) {
				t.Fatalf("AMPLIENCE_API_URL problems = %q, want one quoting %s", found, tt.want)
			}
			for _, secret := range []string{"pw-6c1d", "tok-9e2a", "frag-4b7f"} {
				if strings.Contains(found[0], secret) {
					t.Errorf("problem %q shows %q", found[0], secret)
				}
			}
		})
	}
}
