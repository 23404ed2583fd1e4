package gqlapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// Limiter is the request budget shared by every API request of the deployment (Amplience
// allows 60 requests per minute per API key). The Client calls Wait before each API request,
// including a repeat after a 401 and each page of a search, but not before token requests.
type Limiter interface {
	// Wait blocks until one API request may be sent. An error means no request may be sent:
	// when ctx ended, or the error wraps ErrNotSent (the limiter refused because the service
	// is stopping), the Client returns an error wrapping ErrNotSent; when the error is an
	// *Error (KindUnavailable: the budget cannot be read), that *Error for the operation;
	// otherwise an *Error of KindRateLimited.
	Wait(ctx context.Context) error
	// Report429 tells the limiter the API answered 429; retryAfter is the wait the answer
	// asked for, 0 when it gave none.
	Report429(retryAfter time.Duration)
}

// Options configures a Client. APIURL and either ClientID, ClientSecret and AuthURL, or PAT,
// are required; every other field has a default.
type Options struct {
	// APIURL is the GraphQL endpoint, such as https://api.amplience.net/graphql.
	APIURL string
	// AuthURL is the OAuth2 token endpoint, such as https://auth.amplience.net/oauth/token.
	// Used only with client credentials.
	AuthURL string
	// ClientID and ClientSecret are the API key's client credentials.
	ClientID, ClientSecret string
	// PAT is a personal access token, sent as a static bearer token instead of client
	// credentials. Setting both PAT and ClientID or ClientSecret is an error.
	PAT string
	// Timeout bounds each API call from the end of its wait for the Limiter: the token fetch
	// it needs, and a repeat after a 401 with its token refresh and its own wait for the
	// Limiter, included. 0 means 30 seconds.
	Timeout time.Duration
	// UserAgent is sent with every request, such as "asset-ingest-consumer/1.2.3". Empty
	// means "asset-ingest-consumer".
	UserAgent string
	// Transport is the base transport of API and token requests; nil means a clone of
	// http.DefaultTransport.
	Transport http.RoundTripper
	// TracerProvider makes the client span of each API request; nil means the global one.
	TracerProvider trace.TracerProvider
	// MeterProvider records request durations; nil means the global one.
	MeterProvider metric.MeterProvider
	// Limiter is the shared request budget; nil means no client-side limit.
	Limiter Limiter
	// Clock tells the time for token expiry and Retry-After dates; nil means time.Now.
	Clock func() time.Time
}

// Client calls the Amplience GraphQL Asset Management API. It is safe for concurrent use.
// Every error its methods return is an *Error (see Kind), except when the caller's context
// ends: then the error wraps ctx.Err().
type Client struct {
	gql *caller
}

// defaultTimeout is Options.Timeout's default.
const defaultTimeout = 30 * time.Second

// New returns a Client for o. It reports every missing or contradictory option at once; it
// sends no request.
func New(o Options) (*Client, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	if o.Timeout == 0 {
		o.Timeout = defaultTimeout
	}
	if o.UserAgent == "" {
		o.UserAgent = "asset-ingest-consumer"
	}
	if o.Transport == nil {
		o.Transport = http.DefaultTransport.(*http.Transport).Clone()
	}
	if o.TracerProvider == nil {
		o.TracerProvider = otel.GetTracerProvider()
	}
	if o.MeterProvider == nil {
		o.MeterProvider = otel.GetMeterProvider()
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	m, err := newMetrics(o.MeterProvider)
	if err != nil {
		return nil, fmt.Errorf("gqlapi: %w", err)
	}
	var creds credentials = staticToken(o.PAT)
	if o.PAT == "" {
		// A redirect would post the client secret elsewhere: the token endpoint's 3xx is a
		// failed fetch (see classifyTokenError).
		tokens := &http.Client{Transport: userAgent{next: o.Transport, agent: o.UserAgent}, CheckRedirect: noRedirects}
		creds = newTokenCache(o.AuthURL, o.ClientID, o.ClientSecret, tokens, o.Clock)
	}
	return &Client{gql: &caller{
		endpoint:  o.APIURL,
		userAgent: o.UserAgent,
		timeout:   o.Timeout,
		http: &http.Client{
			// The caller sets the User-Agent of API requests itself.
			Transport: tracedTransport(o.Transport, o.TracerProvider, o.MeterProvider),
			// A redirect would send the token elsewhere; the API never redirects.
			CheckRedirect: noRedirects,
		},
		creds:   creds,
		limiter: o.Limiter,
		now:     o.Clock,
		metrics: m,
	}}, nil
}

// noRedirects makes an http.Client return a 3xx answer as it is instead of following it, so
// that no secret or token is re-sent to wherever Location points.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// validate lists every problem of o in one error, naming fields, never their values.
func (o Options) validate() error {
	var errs []error
	if err := checkURL(o.APIURL); err != nil {
		errs = append(errs, fmt.Errorf("APIURL %w", err))
	}
	switch {
	case o.PAT != "" && (o.ClientID != "" || o.ClientSecret != ""):
		errs = append(errs, errors.New("PAT and client credentials are both set; set only one"))
	case o.PAT == "":
		if o.ClientID == "" {
			errs = append(errs, errors.New("ClientID is empty; set it or set PAT"))
		}
		if o.ClientSecret == "" {
			errs = append(errs, errors.New("ClientSecret is empty; set it or set PAT"))
		}
		if err := checkURL(o.AuthURL); err != nil {
			errs = append(errs, fmt.Errorf("AuthURL %w", err))
		}
	}
	if o.Timeout < 0 {
		errs = append(errs, errors.New("the Timeout is negative"))
	}
	if len(errs) > 0 {
		return fmt.Errorf("gqlapi: invalid options: %w", errors.Join(errs...))
	}
	return nil
}

func checkURL(s string) error {
	if s == "" {
		return errors.New("is empty")
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return errors.New("is not an absolute http(s) URL")
	}
	return nil
}

// Probe checks that the API works with these credentials, independently of any event: it
// drops the cached token, so that a fresh one is fetched, and runs `query Probe { __typename }`.
// Like any API request it waits for the Limiter first and is bounded by Options.Timeout. It
// returns nil when both succeed, and otherwise a classified error (Op "Probe token" when the
// token endpoint failed). With a personal access token only the query runs.
func (c *Client) Probe(ctx context.Context) error {
	c.gql.creds.discard()
	resp, err := Probe(ctx, c.gql)
	if err != nil {
		return err
	}
	if resp.Typename == "" {
		return &Error{Kind: KindTransient, Op: "Probe", Status: http.StatusOK, Message: "the answer has no __typename"}
	}
	return nil
}
