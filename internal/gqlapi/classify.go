package gqlapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/redact"
)

// gqlError is one entry of a GraphQL answer's "errors".
type gqlError struct {
	Message    string         `json:"message"`
	Extensions map[string]any `json:"extensions"`
}

// envelope is a GraphQL answer before its data is decoded into the generated type.
type envelope struct {
	Data   json.RawMessage `json:"data"`
	Errors json.RawMessage `json:"errors"`
}

// Error codes (extensions.code, compared upper-cased) that decide a kind on their own.
var (
	retryableCodes = map[string]bool{
		"INTERNAL_SERVER_ERROR": true, "INTERNAL_ERROR": true, "INTERNAL": true,
		"SERVICE_UNAVAILABLE": true, "UNAVAILABLE": true, "BAD_GATEWAY": true,
		"GATEWAY_TIMEOUT": true, "TIMEOUT": true, "DEADLINE_EXCEEDED": true,
	}
	permissionCodes   = map[string]bool{"FORBIDDEN": true, "PERMISSION_DENIED": true, "ACCESS_DENIED": true}
	unauthorizedCodes = map[string]bool{"UNAUTHENTICATED": true, "UNAUTHORIZED": true}
	rateLimitCodes    = map[string]bool{"RATE_LIMITED": true, "TOO_MANY_REQUESTS": true, "RATE_LIMIT_EXCEEDED": true}

	// mentionsPermission recognises a code-less error that reports a missing permission;
	// Amplience has been seen answering HTTP 200 with a message naming status 403.
	mentionsPermission = regexp.MustCompile(`(?i)\b403\b|forbidden|permission|access denied|not authori[sz]ed`)
)

// classifyAnswer classifies one HTTP answer of the GraphQL endpoint. It returns the answer's
// data when the call succeeded, and a classified *Error otherwise. Errors win over data: an
// answer with partial data and errors is a failure, whose *Error keeps the data for a caller
// that can tell from it that its operation took effect (CreateAsset: an asset id).
func classifyAnswer(op string, status int, header http.Header, body []byte, now time.Time) (json.RawMessage, *Error) {
	e := &Error{Op: op, Status: status}
	var env envelope
	parseErr := json.Unmarshal(body, &env)
	var errs []gqlError
	malformedErrors := false
	if parseErr == nil && len(env.Errors) > 0 && !bytes.Equal(env.Errors, []byte("null")) {
		malformedErrors = json.Unmarshal(env.Errors, &errs) != nil
	}
	describeErrors(e, errs)

	switch {
	case status == http.StatusTooManyRequests:
		e.Kind = KindRateLimited
		e.RetryAfter = parseRetryAfter(header.Get("Retry-After"), now)
		defaultMessage(e, "rate limit exceeded")
	case status == http.StatusUnauthorized:
		e.Kind = KindUnauthorized
		defaultMessage(e, "the API refused the access token")
	case status == http.StatusForbidden:
		e.Kind = KindPermission
		defaultMessage(e, "the API refused the request: permission denied")
	case status >= 500 || status == http.StatusRequestTimeout:
		e.Kind = KindTransient
		defaultMessage(e, "server error"+bodySnippet(body, parseErr))
	case status == http.StatusOK || status == http.StatusBadRequest ||
		status == http.StatusUnprocessableEntity || status == http.StatusRequestEntityTooLarge:
		fallback := KindRejected
		if status == http.StatusOK {
			// A 200 that is not a GraphQL answer comes from something in between (a proxy,
			// a truncated body), not from the API judging the request.
			fallback = KindTransient
		}
		switch {
		case parseErr != nil:
			e.Kind = fallback
			e.Message = "the answer is not a GraphQL JSON object" + bodySnippet(body, parseErr)
		case malformedErrors:
			e.Kind = fallback
			e.Message = "the answer's errors are malformed"
		case len(errs) > 0:
			e.Kind = kindOfErrors(errs)
			if hasResult(env.Data) {
				e.data = env.Data
				if e.Kind == KindUnauthorized {
					// A field was executed: repeating the request after a token refresh
					// could repeat its effect (a second asset).
					e.Kind = KindRejected
				}
			}
		case status != http.StatusOK:
			e.Kind = KindRejected
			defaultMessage(e, "bad request")
		case len(env.Data) == 0 || bytes.Equal(env.Data, []byte("null")):
			e.Kind = KindTransient
			e.Message = "the answer has neither data nor errors"
		default:
			return env.Data, nil
		}
	case status >= 300 && status < 400:
		e.Kind = KindTransient
		e.Message = "the API answered " + redirected(status, &http.Response{Header: header}) +
			"; redirects are not followed, so that the token goes nowhere else: set the API URL to the endpoint itself"
	default:
		e.Kind = KindTransient
		e.Message = "unexpected HTTP status" + bodySnippet(body, parseErr)
	}
	return nil, e
}

// hasResult reports whether a GraphQL answer's data holds a result: a root field that is not
// null.
func hasResult(data json.RawMessage) bool {
	var fields map[string]json.RawMessage
	if json.Unmarshal(data, &fields) != nil {
		return false
	}
	for _, v := range fields {
		if !bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
			return true
		}
	}
	return false
}

// redirected describes a 3xx answer: its status and where it points, without the target's
// user-info, query or fragment.
func redirected(status int, res *http.Response) string {
	s := fmt.Sprintf("%d %s", status, http.StatusText(status))
	if res == nil {
		return s
	}
	loc := res.Header.Get("Location")
	if u, err := url.Parse(loc); err == nil && u.Host != "" {
		s += " (to " + redact.URL(loc) + ")"
	}
	return s
}

// kindOfErrors classifies a non-empty list of GraphQL errors. In order: a permission error,
// an authentication error, a rate limit; transient only when every error is retryable;
// otherwise rejected (validation, COMPLEXITY_LIMIT_EXCEEDED, unknown codes).
func kindOfErrors(errs []gqlError) Kind {
	var permission, unauthorized, rateLimited bool
	allRetryable := true
	for _, ge := range errs {
		code := strings.ToUpper(extString(ge.Extensions, "code"))
		status := extInt(ge.Extensions, "status", "statusCode")
		switch {
		case permissionCodes[code] || status == http.StatusForbidden:
			permission = true
		case unauthorizedCodes[code] || status == http.StatusUnauthorized:
			unauthorized = true
		case rateLimitCodes[code] || status == http.StatusTooManyRequests:
			rateLimited = true
		case code == "" && mentionsPermission.MatchString(ge.Message):
			permission = true
		}
		retryable := retryableCodes[code] || status >= 500 || extBool(ge.Extensions, "retryable", "retriable")
		allRetryable = allRetryable && retryable
	}
	switch {
	case permission:
		return KindPermission
	case unauthorized:
		return KindUnauthorized
	case rateLimited:
		return KindRateLimited
	case allRetryable:
		return KindTransient
	default:
		return KindRejected
	}
}

// describeErrors copies the errors' codes and first message into e.
func describeErrors(e *Error, errs []gqlError) {
	for _, ge := range errs {
		if code := extString(ge.Extensions, "code"); code != "" {
			e.Codes = append(e.Codes, oneLine(code, 64))
		}
	}
	if len(errs) == 0 {
		return
	}
	msg := errs[0].Message
	if msg == "" {
		msg = "error without a message"
	}
	if len(errs) > 1 {
		msg = fmt.Sprintf("%s (and %d more errors)", msg, len(errs)-1)
	}
	e.Message = redact.Text(msg)
}

func defaultMessage(e *Error, msg string) {
	if e.Message == "" {
		e.Message = msg
	}
}

// bodySnippet describes a body that is not JSON, for operators: its start, redacted.
func bodySnippet(body []byte, parseErr error) string {
	switch {
	case len(bytes.TrimSpace(body)) == 0:
		return " (empty body)"
	case parseErr == nil:
		return ""
	default:
		return ": " + strconv.Quote(oneLine(redact.Text(string(body)), 120))
	}
}

func extString(ext map[string]any, key string) string {
	s, _ := ext[key].(string)
	return s
}

func extInt(ext map[string]any, keys ...string) int {
	for _, k := range keys {
		switch v := ext[k].(type) {
		case float64:
			return int(v)
		case string:
			if n, err := strconv.Atoi(v); err == nil {
				return n
			}
		}
	}
	return 0
}

func extBool(ext map[string]any, keys ...string) bool {
	for _, k := range keys {
		if b, _ := ext[k].(bool); b {
			return true
		}
	}
	return false
}

// maxRetryAfter bounds a Retry-After value; longer waits are the caller's to cap further.
const maxRetryAfter = 24 * time.Hour

// parseRetryAfter reads a Retry-After header in seconds or HTTP-date form; 0 when absent,
// malformed or in the past.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		switch {
		case math.IsNaN(secs) || secs <= 0:
			return 0
		case secs >= maxRetryAfter.Seconds():
			return maxRetryAfter
		}
		return time.Duration(math.Ceil(secs * float64(time.Second)))
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0
	}
	d := t.Sub(now)
	if d <= 0 {
		return 0
	}
	return min(d, maxRetryAfter)
}

// classifyTokenError classifies a failed token fetch. The error text of an
// *oauth2.RetrieveError holds the endpoint's body and is never printed.
func classifyTokenError(op string, err error, now time.Time) *Error {
	e := &Error{Op: op + " token", Err: err}
	re, ok := errors.AsType[*oauth2.RetrieveError](err)
	if !ok {
		e.Kind = KindTransient
		e.Message = "fetching a token: " + redact.Text(err.Error())
		return e
	}
	if re.Response != nil {
		e.Status = re.Response.StatusCode
	}
	code := strings.ToLower(re.ErrorCode)
	if code != "" {
		e.Codes = []string{oneLine(code, 64)}
	}
	switch {
	case e.Status == http.StatusTooManyRequests:
		e.Kind = KindRateLimited
		if re.Response != nil {
			e.RetryAfter = parseRetryAfter(re.Response.Header.Get("Retry-After"), now)
		}
		e.Message = "the token endpoint is rate limiting"
	case code == "temporarily_unavailable" || code == "server_error" || e.Status >= 500:
		e.Kind = KindTransient
		e.Message = "the token endpoint failed"
	case e.Status >= 300 && e.Status < 400:
		// Systemic until an operator sets the token URL right, as refused credentials are.
		e.Kind = KindUnauthorized
		e.Message = "the token endpoint answered " + redirected(e.Status, re.Response) +
			"; redirects are not followed, so that the client secret goes nowhere else: set the token URL to the endpoint itself"
	case e.Status == http.StatusBadRequest || e.Status == http.StatusUnauthorized ||
		e.Status == http.StatusForbidden || (e.Status < 300 && code != ""):
		e.Kind = KindUnauthorized
		e.Message = "the token endpoint refused the client credentials; check the client id and secret"
	default:
		e.Kind = KindTransient
		e.Message = "the token endpoint answered unexpectedly"
	}
	return e
}
