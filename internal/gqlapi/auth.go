package gqlapi

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// credentials supplies the bearer token of each API request.
type credentials interface {
	// token returns the token to send and its generation, fetching one when none is cached
	// or the cached one is about to expire. ctx bounds the fetch.
	token(ctx context.Context) (string, uint64, error)
	// invalidate drops the token of generation gen after the API refused it, and reports
	// whether a repeat may be sent with a different token (false for a static token). A
	// refusal of an already replaced token changes nothing, so a storm of concurrent 401s
	// causes one refresh.
	invalidate(gen uint64) bool
	// discard drops any cached token, so the next request fetches a fresh one.
	discard()
}

// staticToken is a personal access token: sent as is, never refreshed.
type staticToken string

func (s staticToken) token(context.Context) (string, uint64, error) { return string(s), 0, nil }
func (staticToken) invalidate(uint64) bool                          { return false }
func (staticToken) discard()                                        {}

// refreshEarly is how long before its expiry a cached token is replaced (at most half of its
// lifetime), so that no request is sent with a token about to expire.
const refreshEarly = 10 * time.Second

// tokenCache holds the client-credentials token, fetching a new one when it is about to expire
// or was invalidated. At most one fetch runs at a time; concurrent callers wait for it.
//
// It is written by hand rather than with oauth2.ReuseTokenSourceWithExpiry because the fetch
// must honour each call's context (and so its timeout), expiry must follow the injectable
// clock, and a 401 must be able to drop exactly the token it refused.
type tokenCache struct {
	fetch func(ctx context.Context) (*oauth2.Token, error)
	now   func() time.Time

	mu       sync.Mutex
	access   string
	expiry   time.Time // zero: valid until invalidated
	gen      uint64    // incremented by each successful fetch
	inflight *tokenFetch
}

// tokenFetch is one fetch in progress; done is closed when its fields are set.
type tokenFetch struct {
	done   chan struct{}
	access string
	gen    uint64
	err    error
}

// newTokenCache returns a tokenCache fetching with OAuth2 client credentials sent in the form
// body (client_id, client_secret, grant_type=client_credentials, no scope), through hc.
func newTokenCache(tokenURL, clientID, clientSecret string, hc *http.Client, now func() time.Time) *tokenCache {
	cfg := &clientcredentials.Config{
		ClientID:     clientID,
		ClientSecret: clientSecret,
		TokenURL:     tokenURL,
		AuthStyle:    oauth2.AuthStyleInParams,
	}
	return &tokenCache{
		fetch: func(ctx context.Context) (*oauth2.Token, error) {
			return cfg.Token(context.WithValue(ctx, oauth2.HTTPClient, hc))
		},
		now: now,
	}
}

func (c *tokenCache) token(ctx context.Context) (string, uint64, error) {
	for {
		if err := ctx.Err(); err != nil {
			return "", 0, err
		}
		c.mu.Lock()
		if c.access != "" && (c.expiry.IsZero() || c.now().Before(c.expiry)) {
			access, gen := c.access, c.gen
			c.mu.Unlock()
			return access, gen, nil
		}
		if f := c.inflight; f != nil {
			c.mu.Unlock()
			select {
			case <-f.done:
			case <-ctx.Done():
				return "", 0, ctx.Err()
			}
			// A fetch that ended because its caller's context did is no answer for
			// this caller: try again.
			if f.err != nil && (errors.Is(f.err, context.Canceled) || errors.Is(f.err, context.DeadlineExceeded)) {
				continue
			}
			return f.access, f.gen, f.err
		}
		f := &tokenFetch{done: make(chan struct{})}
		c.inflight = f
		c.mu.Unlock()
		return c.runFetch(ctx, f)
	}
}

// runFetch fetches a token for f and publishes the result to f's waiters and the cache.
func (c *tokenCache) runFetch(ctx context.Context, f *tokenFetch) (string, uint64, error) {
	start := c.now()
	tok, err := c.fetch(ctx)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.inflight = nil
	defer close(f.done)
	if err != nil {
		f.err = err
		return "", 0, err
	}
	c.gen++
	c.access = tok.AccessToken
	c.expiry = expiryOf(tok, start)
	f.access, f.gen = c.access, c.gen
	return f.access, f.gen, nil
}

// expiryOf returns when a token fetched at start should be replaced: refreshEarly (at most
// half its lifetime) before it expires; zero when the endpoint gave no lifetime.
func expiryOf(tok *oauth2.Token, start time.Time) time.Time {
	var lifetime time.Duration
	switch {
	case tok.ExpiresIn > 0:
		lifetime = time.Duration(tok.ExpiresIn) * time.Second
	case !tok.Expiry.IsZero():
		// Only form-encoded answers end up here; their Expiry follows the real clock.
		lifetime = time.Until(tok.Expiry)
	default:
		return time.Time{}
	}
	return start.Add(lifetime - min(refreshEarly, lifetime/2))
}

func (c *tokenCache) invalidate(gen uint64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen == c.gen {
		c.access = ""
	}
	return true
}

func (c *tokenCache) discard() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.access = ""
}

// userAgent sets the User-Agent header of every request it sends.
type userAgent struct {
	next  http.RoundTripper
	agent string
}

func (u userAgent) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("User-Agent", u.agent)
	return u.next.RoundTrip(r)
}
