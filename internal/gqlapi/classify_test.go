package gqlapi

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// classified is the part of an *Error the classification table compares.
type classified struct {
	Kind       Kind
	Op         string
	Status     int
	Codes      []string
	RetryAfter time.Duration
}

func TestClassification(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC)
	errorsBody := func(parts ...string) string { return `{"errors":[` + strings.Join(parts, ",") + `]}` }

	tests := []struct {
		name  string
		api   func(http.ResponseWriter, *http.Request, apiRequest)
		token http.HandlerFunc // nil: tokens are issued
		want  classified
		// wantMessage is a substring of the error's text.
		wantMessage string
		// wantRequests and wantTokens count the requests the fake received (0: not checked).
		wantRequests, wantTokens int
		wantReports              []time.Duration
	}{
		{
			name:        "transport error",
			api:         func(w http.ResponseWriter, _ *http.Request, _ apiRequest) { hangUp(w) },
			want:        classified{Kind: KindTransient, Op: "CreateAsset"},
			wantMessage: "EOF",
		},
		{
			name: "timeout",
			api: func(w http.ResponseWriter, r *http.Request, _ apiRequest) {
				<-r.Context().Done() // ends when the client gives up
			},
			want:        classified{Kind: KindTransient, Op: "CreateAsset"},
			wantMessage: "no answer within 200ms",
		},
		{
			name:         "HTTP 500 with GraphQL errors",
			api:          answer(500, errorsBody(`{"message":"boom","extensions":{"code":"INTERNAL_SERVER_ERROR"}}`)),
			want:         classified{Kind: KindTransient, Op: "CreateAsset", Status: 500, Codes: []string{"INTERNAL_SERVER_ERROR"}},
			wantMessage:  "boom",
			wantRequests: 1,
		},
		{
			name:        "HTTP 502 with an HTML body",
			api:         answer(502, "<html><body>Bad Gateway</body></html>"),
			want:        classified{Kind: KindTransient, Op: "CreateAsset", Status: 502},
			wantMessage: "Bad Gateway",
		},
		{
			name:        "HTTP 503 with an empty body",
			api:         answer(503, ""),
			want:        classified{Kind: KindTransient, Op: "CreateAsset", Status: 503},
			wantMessage: "empty body",
		},
		{
			name: "429 with Retry-After in seconds",
			api: func(w http.ResponseWriter, _ *http.Request, _ apiRequest) {
				w.Header().Set("Retry-After", "7")
				writeJSON(w, 429, `{"errors":[{"message":"Too many requests"}]}`)
			},
			want:        classified{Kind: KindRateLimited, Op: "CreateAsset", Status: 429, RetryAfter: 7 * time.Second},
			wantMessage: "Too many requests",
			wantReports: []time.Duration{7 * time.Second},
		},
		{
			name: "429 with Retry-After as an HTTP date",
			api: func(w http.ResponseWriter, _ *http.Request, _ apiRequest) {
				w.Header().Set("Retry-After", now.Add(90*time.Second).Format(http.TimeFormat))
				writeJSON(w, 429, "")
			},
			want:        classified{Kind: KindRateLimited, Op: "CreateAsset", Status: 429, RetryAfter: 90 * time.Second},
			wantReports: []time.Duration{90 * time.Second},
		},
		{
			name:        "429 without Retry-After",
			api:         answer(429, "rate limit exceeded, slow down"),
			want:        classified{Kind: KindRateLimited, Op: "CreateAsset", Status: 429},
			wantMessage: "rate limit exceeded",
			wantReports: []time.Duration{0},
		},
		{
			name:        "400 validation error",
			api:         answer(400, errorsBody(`{"message":"Cannot query field \"nope\" on type \"Asset\".","locations":[{"line":5,"column":7}],"extensions":{"code":"GRAPHQL_VALIDATION_FAILED"}}`)),
			want:        classified{Kind: KindRejected, Op: "CreateAsset", Status: 400, Codes: []string{"GRAPHQL_VALIDATION_FAILED"}},
			wantMessage: `Cannot query field "nope"`,
		},
		{
			name:        "400 complexity limit exceeded",
			api:         answer(400, errorsBody(`{"message":"Query complexity of 12000 exceeds 10000","extensions":{"code":"COMPLEXITY_LIMIT_EXCEEDED"}}`)),
			want:        classified{Kind: KindRejected, Op: "CreateAsset", Status: 400, Codes: []string{"COMPLEXITY_LIMIT_EXCEEDED"}},
			wantMessage: "exceeds 10000",
		},
		{
			name:        "400 that is not JSON",
			api:         answer(400, "Bad Request"),
			want:        classified{Kind: KindRejected, Op: "CreateAsset", Status: 400},
			wantMessage: "not a GraphQL JSON object",
		},
		{
			name: "200 with errors and more than one",
			api: answer(200, `{"data":{"createAsset":null},"errors":[`+
				`{"message":"name already exists","extensions":{"code":"BAD_USER_INPUT"}},`+
				`{"message":"second","extensions":{"code":"OTHER"}}]}`),
			want:        classified{Kind: KindRejected, Op: "CreateAsset", Status: 200, Codes: []string{"BAD_USER_INPUT", "OTHER"}},
			wantMessage: "name already exists (and 1 more errors)",
		},
		{
			name:        "200 with a message naming 403 and no code",
			api:         answer(200, errorsBody(`{"message":"Request failed with status code 403"}`)),
			want:        classified{Kind: KindPermission, Op: "CreateAsset", Status: 200},
			wantMessage: "status code 403",
		},
		{
			name: "200 with a forbidden message and no code",
			api:  answer(200, errorsBody(`{"message":"Forbidden"}`)),
			want: classified{Kind: KindPermission, Op: "CreateAsset", Status: 200},
		},
		{
			name: "200 with a permission message and no code",
			api:  answer(200, errorsBody(`{"message":"User lacks the DAM permission to create assets"}`)),
			want: classified{Kind: KindPermission, Op: "CreateAsset", Status: 200},
		},
		{
			name: "200 with a FORBIDDEN code",
			api:  answer(200, errorsBody(`{"message":"no","extensions":{"code":"FORBIDDEN"}}`)),
			want: classified{Kind: KindPermission, Op: "CreateAsset", Status: 200, Codes: []string{"FORBIDDEN"}},
		},
		{
			name: "200 with a validation code whose message mentions permission: the code wins",
			api:  answer(200, errorsBody(`{"message":"invalid permission group","extensions":{"code":"BAD_USER_INPUT"}}`)),
			want: classified{Kind: KindRejected, Op: "CreateAsset", Status: 200, Codes: []string{"BAD_USER_INPUT"}},
		},
		{
			name: "200 with partial data without an asset id and errors: errors win",
			api: answer(200, `{"data":{"createAsset":{"assetId":"1","name":"n"}},`+
				`"errors":[{"message":"could not fetch https://pim.example/x.jpg?X-Amz-Signature=abc","path":["createAsset","file"]}]}`),
			want:        classified{Kind: KindRejected, Op: "CreateAsset", Status: 200},
			wantMessage: "could not fetch https://pim.example/x.jpg",
		},
		{
			name: "200 with INTERNAL_SERVER_ERROR",
			api:  answer(200, errorsBody(`{"message":"oops","extensions":{"code":"INTERNAL_SERVER_ERROR"}}`)),
			want: classified{Kind: KindTransient, Op: "CreateAsset", Status: 200, Codes: []string{"INTERNAL_SERVER_ERROR"}},
		},
		{
			name: "200 with SERVICE_UNAVAILABLE and TIMEOUT",
			api: answer(200, errorsBody(`{"message":"a","extensions":{"code":"SERVICE_UNAVAILABLE"}}`,
				`{"message":"b","extensions":{"code":"TIMEOUT"}}`)),
			want: classified{Kind: KindTransient, Op: "CreateAsset", Status: 200, Codes: []string{"SERVICE_UNAVAILABLE", "TIMEOUT"}},
		},
		{
			name: "200 with a retryable extension",
			api:  answer(200, errorsBody(`{"message":"try again","extensions":{"code":"UPSTREAM","retryable":true}}`)),
			want: classified{Kind: KindTransient, Op: "CreateAsset", Status: 200, Codes: []string{"UPSTREAM"}},
		},
		{
			name: "200 with a retryable and a validation error",
			api: answer(200, errorsBody(`{"message":"a","extensions":{"code":"INTERNAL_SERVER_ERROR"}}`,
				`{"message":"b","extensions":{"code":"BAD_USER_INPUT"}}`)),
			want: classified{Kind: KindRejected, Op: "CreateAsset", Status: 200, Codes: []string{"INTERNAL_SERVER_ERROR", "BAD_USER_INPUT"}},
		},
		{
			name:        "200 with a rate-limit code",
			api:         answer(200, errorsBody(`{"message":"slow down","extensions":{"code":"RATE_LIMITED"}}`)),
			want:        classified{Kind: KindRateLimited, Op: "CreateAsset", Status: 200, Codes: []string{"RATE_LIMITED"}},
			wantReports: []time.Duration{0},
		},
		{
			name:        "200 that is not JSON",
			api:         answer(200, "<html>captive portal</html>"),
			want:        classified{Kind: KindTransient, Op: "CreateAsset", Status: 200},
			wantMessage: "captive portal",
		},
		{
			name:        "200 with neither data nor errors",
			api:         answer(200, `{"data":null}`),
			want:        classified{Kind: KindTransient, Op: "CreateAsset", Status: 200},
			wantMessage: "neither data nor errors",
		},
		{
			name:        "200 whose data does not fit the operation",
			api:         answer(200, `{"data":{"createAsset":"not an object"}}`),
			want:        classified{Kind: KindTransient, Op: "CreateAsset", Status: 200},
			wantMessage: "decoding",
		},
		{
			name:        "404 from a wrong URL",
			api:         answer(404, "404 page not found"),
			want:        classified{Kind: KindTransient, Op: "CreateAsset", Status: 404},
			wantMessage: "unexpected HTTP status",
		},
		{
			name: "403",
			api:  answer(403, `{"errors":[{"message":"Forbidden"}]}`),
			want: classified{Kind: KindPermission, Op: "CreateAsset", Status: 403},
		},
		{
			name:         "401 after one refresh and one repeat",
			api:          answer(401, `{"message":"Unauthorized"}`),
			want:         classified{Kind: KindUnauthorized, Op: "CreateAsset", Status: 401},
			wantMessage:  "after one token refresh",
			wantRequests: 2,
			wantTokens:   2,
		},
		{
			name:         "UNAUTHENTICATED in a 200 after one refresh and one repeat",
			api:          answer(200, errorsBody(`{"message":"token expired","extensions":{"code":"UNAUTHENTICATED"}}`)),
			want:         classified{Kind: KindUnauthorized, Op: "CreateAsset", Status: 200, Codes: []string{"UNAUTHENTICATED"}},
			wantRequests: 2,
			wantTokens:   2,
		},
		{
			name: "UNAUTHENTICATED with a null createAsset after one refresh and one repeat",
			api: answer(200, `{"data":{"createAsset":null},"errors":[`+
				`{"message":"token expired","path":["createAsset"],"extensions":{"code":"UNAUTHENTICATED"}}]}`),
			want:         classified{Kind: KindUnauthorized, Op: "CreateAsset", Status: 200, Codes: []string{"UNAUTHENTICATED"}},
			wantRequests: 2,
			wantTokens:   2,
		},
		{
			name: "token endpoint 400",
			token: func(w http.ResponseWriter, r *http.Request) {
				// An endpoint that echoes what it was sent must not leak it into the error.
				writeJSON(w, 400, `{"error":"invalid_client","error_description":"bad secret `+r.PostFormValue("client_secret")+`"}`)
			},
			want:         classified{Kind: KindUnauthorized, Op: "CreateAsset token", Status: 400, Codes: []string{"invalid_client"}},
			wantMessage:  "refused the client credentials",
			wantRequests: -1,
		},
		{
			name:         "token endpoint 401",
			token:        func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 401, `{"error":"unauthorized"}`) },
			want:         classified{Kind: KindUnauthorized, Op: "CreateAsset token", Status: 401, Codes: []string{"unauthorized"}},
			wantRequests: -1,
		},
		{
			name:         "token endpoint 503",
			token:        func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 503, "unavailable") },
			want:         classified{Kind: KindTransient, Op: "CreateAsset token", Status: 503},
			wantRequests: -1,
		},
		{
			name:         "token endpoint transport error",
			token:        func(w http.ResponseWriter, _ *http.Request) { hangUp(w) },
			want:         classified{Kind: KindTransient, Op: "CreateAsset token"},
			wantMessage:  "fetching a token",
			wantRequests: -1,
		},
		{
			name:         "token endpoint 200 that is not JSON",
			token:        func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, "<html>") },
			want:         classified{Kind: KindTransient, Op: "CreateAsset token"},
			wantRequests: -1,
		},
		{
			name: "token endpoint timeout",
			token: func(w http.ResponseWriter, r *http.Request) {
				<-r.Context().Done()
			},
			want:         classified{Kind: KindTransient, Op: "CreateAsset token"},
			wantMessage:  "no answer within 200ms",
			wantRequests: -1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeAmplience(t)
			f.set(func(f *fakeAmplience) { f.api, f.token = tt.api, tt.token })
			lim := &fakeLimiter{}
			c := newTestClient(t, f, func(o *Options) {
				o.Timeout = 200 * time.Millisecond
				o.Limiter = lim
				o.Clock = func() time.Time { return now }
			})

			_, err := c.CreateAsset(t.Context(), testInput)

			e, ok := errors.AsType[*Error](err)
			if !ok {
				t.Fatalf("CreateAsset error = %v (%T), want an *Error", err, err)
			}
			got := classified{Kind: e.Kind, Op: e.Op, Status: e.Status, Codes: e.Codes, RetryAfter: e.RetryAfter}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("classification mismatch (-want +got):\n%s\nerror: %v", diff, err)
			}
			if KindOf(err) != tt.want.Kind || RetryAfter(err) != tt.want.RetryAfter {
				t.Errorf("KindOf, RetryAfter = %v, %v; want %v, %v", KindOf(err), RetryAfter(err), tt.want.Kind, tt.want.RetryAfter)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.wantMessage) {
				t.Errorf("error %q does not contain %q", msg, tt.wantMessage)
			}
			assertNoSecrets(t, msg)
			if strings.ContainsAny(msg, "\r\n") {
				t.Errorf("error %q is not one line", msg)
			}
			reqs := len(f.requests())
			switch {
			case tt.wantRequests == -1 && reqs != 0:
				t.Errorf("API requests = %d, want none", reqs)
			case tt.wantRequests > 0 && reqs != tt.wantRequests:
				t.Errorf("API requests = %d, want %d", reqs, tt.wantRequests)
			}
			if tt.wantTokens > 0 && f.tokenCount() != tt.wantTokens {
				t.Errorf("token requests = %d, want %d", f.tokenCount(), tt.wantTokens)
			}
			waits, reports := lim.calls()
			if tt.wantRequests != -1 && waits != reqs {
				t.Errorf("Limiter.Wait calls = %d, want one per API request (%d)", waits, reqs)
			}
			if diff := cmp.Diff(tt.wantReports, reports); diff != "" {
				t.Errorf("Report429 calls mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// assertNoSecrets fails when s holds the client secret or a token the fake issued.
func assertNoSecrets(tb testing.TB, s string) {
	tb.Helper()
	for _, secret := range []string{testClientSecret, "tok-1", "tok-2", "amp_pat_", "X-Amz-Signature"} {
		if strings.Contains(s, secret) {
			tb.Errorf("%q contains a secret (%q)", s, secret)
		}
	}
}
