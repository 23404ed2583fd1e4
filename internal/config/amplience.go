package config

import (
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/gqlapi"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/ratelimit"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/redact"
)

// Amplience is the Amplience API client: endpoints, credentials, the shared request budget
// and the batching of requests.
type Amplience struct {
	APIURL       string `env:"AMPLIENCE_API_URL, default=https://api.amplience.net/graphql"`
	AuthURL      string `env:"AMPLIENCE_AUTH_URL, default=https://auth.amplience.net/oauth/token"`
	ClientID     string `env:"AMPLIENCE_CLIENT_ID"`
	ClientSecret string `env:"AMPLIENCE_CLIENT_SECRET" secret:"true"`
	PAT          string `env:"AMPLIENCE_PAT" secret:"true"`
	// RepositoryID is the repository of events that name none, and the one the probe reads.
	RepositoryID string        `env:"AMPLIENCE_ASSET_REPOSITORY_ID"`
	RateLimit    RateLimit     `env:"AMPLIENCE_RATE_LIMIT, default=60/m"`
	Timeout      time.Duration `env:"AMPLIENCE_TIMEOUT, default=30s"`
	AllowHTTP    bool          `env:"AMPLIENCE_ALLOW_HTTP, default=false"`
	BatchSize    int           `env:"AMPLIENCE_BATCH_SIZE, default=25"`
}

// RateLimit is AMPLIENCE_RATE_LIMIT, parsed when it is loaded.
type RateLimit struct{ ratelimit.Limit }

// EnvDecode parses the variable's value.
func (r *RateLimit) EnvDecode(s string) error {
	l, err := ratelimit.ParseLimit(s)
	if err != nil {
		return parseProblem(err.Error())
	}
	r.Limit = l
	return nil
}

// Validate lists what is wrong with the Amplience settings.
func (a Amplience) Validate() Problems {
	var p Problems
	add := func(format string, args ...any) { p = append(p, problemf(format, args...)) }
	switch {
	case a.PAT != "" && (a.ClientID != "" || a.ClientSecret != ""):
		add("AMPLIENCE_PAT and AMPLIENCE_CLIENT_ID/AMPLIENCE_CLIENT_SECRET are both set; use either a personal access token or client credentials")
	case a.PAT != "":
		if !strings.HasPrefix(a.PAT, "amp_pat_") {
			add("AMPLIENCE_PAT does not start with amp_pat_; give a personal access token, or use client credentials")
		}
	default:
		if a.ClientID == "" {
			add("AMPLIENCE_CLIENT_ID is empty; set it (with AMPLIENCE_CLIENT_SECRET) or set AMPLIENCE_PAT")
		}
		if a.ClientSecret == "" {
			add("AMPLIENCE_CLIENT_SECRET is empty; set it (or AMPLIENCE_CLIENT_SECRET_FILE), or set AMPLIENCE_PAT")
		}
	}
	checkURL(add, "AMPLIENCE_API_URL", a.APIURL, a.AllowHTTP)
	if a.PAT == "" {
		checkURL(add, "AMPLIENCE_AUTH_URL", a.AuthURL, a.AllowHTTP)
	}
	positive(add, "AMPLIENCE_TIMEOUT", a.Timeout)
	if a.BatchSize < 1 || a.BatchSize > 100 {
		add("AMPLIENCE_BATCH_SIZE is %d; set 1 (one event per request) to 100", a.BatchSize)
	}
	return p
}

// ClientOptions returns o with the endpoints, credentials and timeout of these settings; o
// brings what does not come from the environment (transport, telemetry, the budget).
func (a Amplience) ClientOptions(o gqlapi.Options) gqlapi.Options {
	o.APIURL, o.AuthURL = a.APIURL, a.AuthURL
	o.ClientID, o.ClientSecret, o.PAT = a.ClientID, a.ClientSecret, a.PAT
	o.Timeout = a.Timeout
	return o
}

// checkURL checks an Amplience endpoint: an https URL, or http on a loopback host (or on any
// host when allowHTTP is set), since its requests carry the client secret or the token.
func checkURL(add func(string, ...any), name, raw string, allowHTTP bool) {
	u, err := url.Parse(raw)
	switch {
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
		add("%s %q is not an http(s) URL", name, shownURL(raw))
	case u.Scheme == "http" && !allowHTTP && !loopback(u.Hostname()):
		add("%s %q is plain http to a host that is not loopback: the client secret and tokens would cross the network unencrypted; use https, or set AMPLIENCE_ALLOW_HTTP=true for a test setup such as the sandbox",
			name, shownURL(raw))
	}
}

// loopback reports whether host is localhost or a loopback IP address (127.0.0.0/8, ::1).
func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

func positive(add func(string, ...any), name string, d time.Duration) {
	if d <= 0 {
		add("%s is %s; set a positive duration such as 30s", name, d)
	}
}

// shownURL is raw as a problem may quote it: without user-info, query string or fragment, or
// "(unparsable)".
func shownURL(raw string) string {
	if shown := redact.URL(raw); shown != "" || raw == "" {
		return shown
	}
	return "(unparsable)"
}
