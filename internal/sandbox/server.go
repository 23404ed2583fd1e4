// Package sandbox is a stand-in for the Amplience GraphQL Asset Management API and its OAuth
// token endpoint, served over real HTTP. It backs `consumer sandbox`, `consumer dev` and the
// integration tests.
//
// It follows what is certain about the API (see shared/amplience-api.md): client-credentials
// tokens that expire, Bearer authentication, every request parsed and validated against
// schema.graphql, GraphQL errors in the documented shape, createAsset, node, assets and
// assetSearch. What is uncertain is settable: whether createAsset refuses an existing name
// ([Options.DuplicateNames]), whether a 429 carries Retry-After ([Options.RetryAfterHeader]),
// the server-side rate limit. Faults (HTTP statuses, GraphQL errors, hangs, delays, "created but
// the answer was lost") can be injected from Go ([Server.AddFault]) or over HTTP under /sandbox/
// (see [Server.Handler]).
//
// The sandbox keeps everything in memory. Its admin endpoints are unauthenticated: never expose
// it beyond the machine or the test that started it.
package sandbox

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/validator/rules"
)

// DuplicateNames says what createAsset does with a name that already exists in the asset's
// repository. Amplience does not document it; the client must cope with either.
type DuplicateNames int

const (
	// DuplicatesAccept creates another asset with the same name (the default).
	DuplicatesAccept DuplicateNames = iota
	// DuplicatesReject answers HTTP 200 with a GraphQL error (extensions.code
	// "DUPLICATE_ASSET_NAME") and creates nothing.
	DuplicatesReject
)

// String returns "accept" or "reject".
func (d DuplicateNames) String() string {
	switch d {
	case DuplicatesAccept:
		return "accept"
	case DuplicatesReject:
		return "reject"
	default:
		return fmt.Sprintf("DuplicateNames(%d)", int(d))
	}
}

// UnmarshalText parses "accept" or "reject" (any case), so the mode can come from a flag or an
// environment variable.
func (d *DuplicateNames) UnmarshalText(text []byte) error {
	switch strings.ToLower(strings.TrimSpace(string(text))) {
	case "accept":
		*d = DuplicatesAccept
	case "reject":
		*d = DuplicatesReject
	default:
		return fmt.Errorf("duplicate-name mode %q is unknown; use accept or reject", text)
	}
	return nil
}

// Options configures a [Server]. The zero value of each field is documented; [DefaultOptions]
// returns the values that behave most like Amplience.
type Options struct {
	// ClientID and ClientSecret are the accepted client credentials. Both empty: the token
	// endpoint accepts none (then PATs must not be empty).
	ClientID, ClientSecret string
	// PATs are the accepted personal access tokens; each must start with "amp_pat_". They never
	// expire.
	PATs []string
	// TokenTTL is the lifetime (expires_in) of issued tokens; 0 means 300 s. A request with an
	// expired token answers 401.
	TokenTTL time.Duration
	// Latency is added to every GraphQL request before it is answered.
	Latency time.Duration
	// FieldTime is the time each root field of a mutation takes; a mutation's root fields run
	// one after another, in document order, so a request of n createAsset fields takes n times
	// as long.
	FieldTime time.Duration
	// ComplexityLimit is the most complexity points a request may score (one per field
	// selected, at every depth); a request over it answers HTTP 400 COMPLEXITY_LIMIT_EXCEEDED
	// and executes nothing. 0 means no limit. Amplience allows 10,000 points and does not
	// publish the cost of createAsset.
	ComplexityLimit int
	// PartialFailureStatus is the HTTP status of an answer in which some createAsset fields of
	// a request failed and others did not: 200 (the zero value, the GraphQL-over-HTTP norm) or
	// 400. Amplience does not document which it sends.
	PartialFailureStatus int
	// RateLimit is the number of GraphQL requests one API key (a client id, or a PAT) may make
	// within one fixed window of RateWindow; the requests above it answer 429. 0 means no limit.
	RateLimit int
	// RateWindow is the length of the fixed rate windows, aligned on multiples of it; 0 means one
	// minute. Stats counts requests per window even without a RateLimit.
	RateWindow time.Duration
	// RetryAfterHeader makes rate-limited answers carry Retry-After (whole seconds until the
	// window ends). Whether Amplience sends it is not documented. The zero value (false) sends
	// none; DefaultOptions sets true, which is the documented default of `consumer sandbox`.
	RetryAfterHeader bool
	// DuplicateNames says what createAsset does with an existing name; zero: DuplicatesAccept.
	DuplicateNames DuplicateNames
	// Clock governs token expiry, rate windows and createdDate; nil means time.Now. Latency,
	// Fault.Delay and hangs use real timers.
	Clock func() time.Time
	// Logger receives one record per request; nil discards. Secrets and tokens are never logged.
	Logger *slog.Logger
}

// DefaultOptions returns Options with Amplience's documented behaviour: 300 s tokens, and
// Retry-After on 429 answers. The caller still sets credentials. RateLimit stays 0 (none);
// Amplience's documented limit is 60 per minute.
func DefaultOptions() Options {
	return Options{TokenTTL: 300 * time.Second, RateWindow: time.Minute, RetryAfterHeader: true}
}

// Server is the sandbox. Create it with [New]; serve [Server.Handler]; call [Server.Close]
// when done. Its methods are safe for concurrent use.
type Server struct {
	opts   Options
	now    func() time.Time
	log    *slog.Logger
	schema *ast.Schema
	rules  *rules.Rules

	tokens  *tokenStore
	limiter *rateLimiter
	faults  *faultSet
	store   *store
	stats   *recorder
	access  repositoryAccess

	closeOnce sync.Once
	closing   chan struct{}
}

// New checks o and returns a Server. It fails when o accepts no credential at all, when only
// one of ClientID and ClientSecret is set, when a PAT lacks the "amp_pat_" prefix, or when a
// number or duration is negative.
func New(o Options) (*Server, error) {
	if err := checkOptions(o); err != nil {
		return nil, err
	}
	if o.TokenTTL == 0 {
		o.TokenTTL = 300 * time.Second
	}
	if o.RateWindow == 0 {
		o.RateWindow = time.Minute
	}
	now := o.Clock
	if now == nil {
		now = time.Now
	}
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	schema, err := loadSchema()
	if err != nil {
		return nil, err
	}
	return &Server{
		opts:    o,
		now:     now,
		log:     logger,
		schema:  schema,
		rules:   rules.NewDefaultRules(),
		tokens:  newTokenStore(o.ClientID, o.ClientSecret, o.PATs, o.TokenTTL),
		limiter: newRateLimiter(o.RateLimit, o.RateWindow),
		faults:  &faultSet{},
		store:   newStore(),
		stats:   newRecorder(o.RateWindow),
		closing: make(chan struct{}),
	}, nil
}

func checkOptions(o Options) error {
	if (o.ClientID == "") != (o.ClientSecret == "") {
		return errors.New("sandbox: set both ClientID and ClientSecret, or neither")
	}
	if o.ClientID == "" && len(o.PATs) == 0 {
		return errors.New("sandbox: no credentials accepted; set ClientID and ClientSecret, or PATs")
	}
	for i, pat := range o.PATs {
		if !strings.HasPrefix(pat, patPrefix) || len(pat) == len(patPrefix) {
			return fmt.Errorf("sandbox: PATs[%d] does not start with %q", i, patPrefix)
		}
	}
	if o.TokenTTL < 0 || o.Latency < 0 || o.RateWindow < 0 || o.RateLimit < 0 || o.FieldTime < 0 || o.ComplexityLimit < 0 {
		return errors.New("sandbox: TokenTTL, Latency, FieldTime, RateLimit, RateWindow and ComplexityLimit must not be negative")
	}
	if o.PartialFailureStatus != 0 && o.PartialFailureStatus != 200 && o.PartialFailureStatus != 400 {
		return fmt.Errorf("sandbox: PartialFailureStatus %d must be 200 or 400", o.PartialFailureStatus)
	}
	if o.DuplicateNames != DuplicatesAccept && o.DuplicateNames != DuplicatesReject {
		return fmt.Errorf("sandbox: %v is not a duplicate-name mode", o.DuplicateNames)
	}
	return nil
}

// Handler serves:
//
//	POST /oauth/token          client-credentials token endpoint (form body)
//	POST /graphql, GET /graphql?query=...   the GraphQL API (GET refuses mutations with 405)
//	GET  /sandbox/state        assets, pending faults, stats, credential state (JSON)
//	GET  /sandbox/requests     the recorded GraphQL requests (JSON)
//	POST /sandbox/faults       add one fault (a JSON Fault); DELETE /sandbox/faults clears them
//	POST /sandbox/credentials  {"valid": false|true}, as SetCredentialsValid
//	POST /sandbox/tokens/expire  expire every issued token now, as ExpireTokens
//	POST /sandbox/reset        forget assets, faults, stats and requests; credentials valid again
//	GET  /healthz              200 while the process serves (for `consumer healthcheck` in a container)
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.HandleFunc("POST /oauth/token", s.serveToken)
	mux.HandleFunc("POST /graphql", s.serveGraphQL)
	mux.HandleFunc("GET /graphql", s.serveGraphQL)
	s.adminRoutes(mux)
	return mux
}

// Close releases every hung or waiting request (they answer 503). The Handler keeps serving,
// but from then on a request that would wait (Latency, Fault.Delay, Fault.Hang) answers 503 at
// once. Close is idempotent; it does not stop the http.Server serving the Handler.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.closing) })
}

// Assets returns every asset created, oldest first.
func (s *Server) Assets() []Asset { return s.store.all() }

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats { return s.stats.snapshot() }

// Requests returns the recorded GraphQL requests, oldest first (at most the last
// maxRecordedRequests).
func (s *Server) Requests() []Request { return s.stats.requests() }

// SetCredentialsValid false makes the token endpoint answer 400 and every token, issued or
// personal, answer 401, as if the credentials were revoked; true restores them (tokens issued
// earlier work again until they expire).
func (s *Server) SetCredentialsValid(ok bool) { s.tokens.setValid(ok) }

// ExpireTokens makes every access token issued so far expire now, as if their lifetime had run
// out early: requests bearing one answer 401 and the client must fetch a new token. It returns
// how many live tokens it expired.
func (s *Server) ExpireTokens() int { return s.tokens.expireAll(s.now()) }

// Reset forgets assets, faults, stats, recorded requests and rate windows, and makes the
// credentials valid again. Issued tokens stay valid, so a running client is not disturbed.
func (s *Server) Reset() {
	s.store.reset()
	s.faults.clear()
	s.stats.reset()
	s.limiter.reset()
	s.tokens.setValid(true)
}

// wait blocks for d, or until ctx ends or the server closes; it reports whether d elapsed.
func (s *Server) wait(done <-chan struct{}, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-done:
		return false
	case <-s.closing:
		return false
	}
}
