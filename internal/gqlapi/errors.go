package gqlapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Kind is what a failed call means for the caller. Every error a Client returns is classified
// once, here, into one of these kinds; callers branch on KindOf and never parse messages.
type Kind int

const (
	// KindTransient: the call may succeed if repeated later. Transport errors, the per-call
	// timeout, HTTP 5xx and 408, unexpected answers (non-JSON bodies, unknown statuses such
	// as 404 from a misconfigured URL, a redirect, which is never followed), and GraphQL
	// errors that all say they are retryable (extensions.code such as INTERNAL_SERVER_ERROR,
	// SERVICE_UNAVAILABLE, TIMEOUT, or extensions.retryable = true). Some of these may be systemic: the caller decides
	// with Client.Probe.
	KindTransient Kind = iota
	// KindRateLimited: the API answered 429 (or a GraphQL error coded as a rate limit), or
	// the Limiter refused to wait. It is nobody's fault; RetryAfter tells how long the API
	// asked the caller to wait (0 when it did not say).
	KindRateLimited
	// KindRejected: the API refused this request (HTTP 400 or 422, or GraphQL errors in an
	// HTTP 200 answer, including partial data with errors: errors win, except that
	// CreateAsset takes an answer holding an asset id as a success). Repeating the same
	// request will fail the same way.
	KindRejected
	// KindPermission: HTTP 403, a FORBIDDEN-like extensions.code, or an error without a code
	// whose message names 403, "forbidden" or "permission". It may be systemic (credentials
	// lost a role) or specific to the input (a repository the key cannot write to): the
	// caller tells the two apart with Client.Probe.
	KindPermission
	// KindUnauthorized: the credentials were refused: the token endpoint answered 400, 401 or
	// 403 (or a redirect, which is never followed: it would re-send the client secret), or the
	// API answered 401 (or UNAUTHENTICATED) again after one token refresh and one repeat.
	// Systemic until an operator fixes the credentials or the token URL.
	KindUnauthorized
	// KindUnavailable: the shared request budget could not be read (the Limiter said so), so
	// no request was sent. It is not the API's fault nor the event's, and never a call made:
	// systemic until the budget's store answers again.
	KindUnavailable
)

// String returns the kind's metric and log label, such as "rate_limited".
func (k Kind) String() string {
	switch k {
	case KindTransient:
		return "transient"
	case KindRateLimited:
		return "rate_limited"
	case KindRejected:
		return "rejected"
	case KindPermission:
		return "permission"
	case KindUnauthorized:
		return "unauthorized"
	case KindUnavailable:
		return "budget_unavailable"
	default:
		return fmt.Sprintf("kind(%d)", int(k))
	}
}

// Error is a classified failure of one call to the API or its token endpoint. It never holds
// a secret or a token, and its Message quotes URLs without their user-info, query string or
// fragment (presigned source URLs are credentials).
type Error struct {
	// Kind is the classification; see the Kind constants.
	Kind Kind
	// Op is the GraphQL operation name ("CreateAsset", "FindAssetsByName", "Probe"), with
	// " token" appended when the token endpoint failed.
	Op string
	// Status is the HTTP status code, 0 when no answer arrived.
	Status int
	// Codes are the answer's error codes in order (GraphQL extensions.code, or the OAuth2
	// error code of a token answer); nil when there were none.
	Codes []string
	// Message is a one-line description: the first GraphQL error's message (with a count of
	// the others), or what went wrong.
	Message string
	// RetryAfter is the wait the API asked for with a 429, 0 when not given.
	RetryAfter time.Duration
	// Err is the underlying error, when there is one (a transport error, a context error, an
	// *oauth2.RetrieveError). Error does not print it when Message is set.
	Err error

	// data is the answer's data when it came with the errors (a partial answer), for a caller
	// that can tell from it that its operation took effect.
	data json.RawMessage
}

// maxErrorLen bounds Error's text so that it fits in a dead-letter header with room to spare.
const maxErrorLen = 512

// Error returns one line: "amplience <op>: <kind> (HTTP <status>, <codes>): <message>".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("amplience ")
	b.WriteString(e.Op)
	b.WriteString(": ")
	b.WriteString(e.Kind.String())
	var detail []string
	if e.Status != 0 {
		detail = append(detail, fmt.Sprintf("HTTP %d", e.Status))
	}
	detail = append(detail, e.Codes...)
	if e.RetryAfter > 0 {
		detail = append(detail, "retry after "+e.RetryAfter.String())
	}
	if len(detail) > 0 {
		b.WriteString(" (" + strings.Join(detail, ", ") + ")")
	}
	msg := e.Message
	if msg == "" && e.Err != nil {
		msg = e.Err.Error()
	}
	if msg != "" {
		b.WriteString(": ")
		b.WriteString(msg)
	}
	return oneLine(b.String(), maxErrorLen)
}

// Unwrap returns Err, so errors.Is(err, context.DeadlineExceeded) works for the per-call
// timeout.
func (e *Error) Unwrap() error { return e.Err }

// ErrNotSent marks an error returned because the caller's context ended while the request
// waited for the request budget: nothing reached Amplience.
var ErrNotSent = errors.New("the request was not sent")

// KindOf returns the kind of err. For an error that is not (or does not wrap) an *Error it
// returns KindTransient; in particular a call ended by the caller's own context returns an
// error wrapping context.Canceled or context.DeadlineExceeded (not an *Error), and the caller,
// which knows its context ended, should treat it as "outcome unknown, stop" rather than as a
// failure of the request. KindOf(nil) is KindTransient and meaningless.
func KindOf(err error) Kind {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Kind
	}
	return KindTransient
}

// RetryAfter returns the wait the API asked for (a 429's Retry-After header, seconds or
// HTTP-date), or 0 when err is not an *Error or the API did not say.
func RetryAfter(err error) time.Duration {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.RetryAfter
	}
	return 0
}

// oneLine replaces control characters with spaces and truncates s to at most n bytes,
// without splitting a UTF-8 sequence.
func oneLine(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if len(s) <= n {
		return s
	}
	cut := n - len("...")
	for cut > 0 && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut] + "..."
}
