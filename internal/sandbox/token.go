package sandbox

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// patPrefix starts every Amplience personal access token.
const patPrefix = "amp_pat_"

// tokenStore issues access tokens for the client credentials and checks Bearer tokens.
type tokenStore struct {
	clientID, clientSecret string
	pats                   []string
	ttl                    time.Duration

	mu      sync.Mutex
	invalid bool                 // SetCredentialsValid(false)
	issued  map[string]time.Time // access token -> expiry
}

func newTokenStore(clientID, clientSecret string, pats []string, ttl time.Duration) *tokenStore {
	return &tokenStore{
		clientID:     clientID,
		clientSecret: clientSecret,
		pats:         append([]string(nil), pats...),
		ttl:          ttl,
		issued:       map[string]time.Time{},
	}
}

func (t *tokenStore) setValid(ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.invalid = !ok
}

func (t *tokenStore) valid() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return !t.invalid
}

// expireAll makes every issued token expire at now; personal access tokens never expire.
func (t *tokenStore) expireAll(now time.Time) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for tok, exp := range t.issued {
		if now.Before(exp) {
			t.issued[tok] = now
			n++
		}
	}
	return n
}

// issue checks the credentials and returns a new token, or ok false.
func (t *tokenStore) issue(clientID, clientSecret string, now time.Time) (token string, ok bool) {
	if t.clientID == "" || !equal(clientID, t.clientID) || !equal(clientSecret, t.clientSecret) {
		return "", false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.invalid {
		return "", false
	}
	for tok, exp := range t.issued {
		if !now.Before(exp) {
			delete(t.issued, tok)
		}
	}
	token = newJWTLookingToken(clientID, now, t.ttl)
	t.issued[token] = now.Add(t.ttl)
	return token, true
}

// authenticate checks an Authorization header value and returns the API key the request counts
// against (for rate limiting), or ok false for a missing, unknown, expired or revoked token.
func (t *tokenStore) authenticate(header string, now time.Time) (key string, ok bool) {
	scheme, token, found := strings.Cut(header, " ")
	if !found || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", false
	}
	token = strings.TrimSpace(token)
	for i, pat := range t.pats {
		if equal(token, pat) {
			if !t.valid() {
				return "", false
			}
			return "pat#" + strconv.Itoa(i), true
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	exp, known := t.issued[token]
	if !known || t.invalid || !now.Before(exp) {
		return "", false
	}
	return "client:" + t.clientID, true
}

// serveToken answers POST /oauth/token as Amplience's authorization server does: a form body
// with client_id, client_secret and grant_type=client_credentials; 200 with the token, or 400.
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	s.stats.tokenRequested()
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		s.tokenError(w, "invalid_request", "the body is not a URL-encoded form")
		return
	}
	if gt := r.PostForm.Get("grant_type"); gt != "client_credentials" {
		s.tokenError(w, "unsupported_grant_type", "grant_type must be client_credentials")
		return
	}
	token, ok := s.tokens.issue(r.PostForm.Get("client_id"), r.PostForm.Get("client_secret"), s.now())
	if !ok {
		s.tokenError(w, "invalid_client", "client id or secret are not valid")
		return
	}
	s.stats.tokenIssued()
	s.log.Debug("token issued", "expires_in", int(s.opts.TokenTTL.Seconds()))
	writeJSON(w, http.StatusOK, nil, map[string]any{
		"access_token":       token,
		"expires_in":         int(s.opts.TokenTTL.Seconds()),
		"session_expires_in": 0,
	})
}

func (s *Server) tokenError(w http.ResponseWriter, code, description string) {
	s.stats.tokenRefused()
	s.log.Info("token refused", "error", code)
	writeJSON(w, http.StatusBadRequest, nil, map[string]string{
		"error":             code,
		"error_description": description,
	})
}

// newJWTLookingToken returns header.payload.signature in base64url, like Amplience's RS256
// JWTs; the signature is random, so the token is opaque and unguessable.
func newJWTLookingToken(clientID string, now time.Time, ttl time.Duration) string {
	enc := base64.RawURLEncoding
	header, _ := json.Marshal(map[string]string{"kid": "amplience-sandbox", "alg": "RS256"})
	payload, _ := json.Marshal(map[string]any{
		"iss": "amplience-sandbox",
		"sub": clientID,
		"iat": now.Unix(),
		"exp": now.Add(ttl).Unix(),
	})
	sig := make([]byte, 32)
	_, _ = rand.Read(sig) // crypto/rand.Read never fails (Go 1.24+).
	return enc.EncodeToString(header) + "." + enc.EncodeToString(payload) + "." + enc.EncodeToString(sig)
}

func equal(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
