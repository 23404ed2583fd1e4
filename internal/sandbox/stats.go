package sandbox

import (
	"maps"
	"net/http"
	"strings"
	"sync"
	"time"
)

// maxRecordedRequests bounds the memory Requests uses: older requests are forgotten.
const maxRecordedRequests = 10_000

// maxRecordedWindows bounds Stats.Windows the same way.
const maxRecordedWindows = 1_000

// Stats counts what the sandbox saw since New or the last Reset.
type Stats struct {
	TokenRequests int `json:"tokenRequests"` // POST /oauth/token, whatever the answer
	TokensIssued  int `json:"tokensIssued"`
	TokensRefused int `json:"tokensRefused"` // answered 400

	GraphQLRequests int `json:"graphqlRequests"` // every request to /graphql
	Unauthorized    int `json:"unauthorized"`    // answered 401: a missing, unknown, expired or revoked token, or a fault
	TooManyRequests int `json:"tooManyRequests"` // answered 429, by the rate limit or a fault
	RateLimited     int `json:"rateLimited"`     // of those, refused by the rate limit
	FaultsApplied   int `json:"faultsApplied"`
	// ComplexityRefused counts requests refused with COMPLEXITY_LIMIT_EXCEEDED.
	ComplexityRefused int `json:"complexityRefused"`

	// ByOperation counts valid requests by operation name ("" for an anonymous operation).
	ByOperation map[string]int `json:"byOperation"`
	// ByRootField counts root fields of valid requests by field name ("createAsset", "node"...).
	ByRootField map[string]int `json:"byRootField"`
	// CreateAssetCalls counts createAsset fields of valid requests by input.name, including
	// those a fault then failed or a duplicate-name check refused.
	CreateAssetCalls map[string]int `json:"createAssetCalls"`

	// Windows counts authenticated GraphQL requests (refused ones included) per fixed window of
	// Options.RateWindow, oldest first, across all API keys.
	Windows []WindowCount `json:"windows"`
	// MaxPerWindow is the most requests seen in any one window.
	MaxPerWindow int `json:"maxPerWindow"`
}

// WindowCount is the number of requests in the window that starts at Start.
type WindowCount struct {
	Start    time.Time `json:"start"`
	Requests int       `json:"requests"`
}

// Request is one recorded GraphQL request.
type Request struct {
	Time   time.Time `json:"time"`
	Method string    `json:"method"`
	// Header holds the request's headers; Authorization keeps only its scheme
	// ("Bearer [REDACTED]").
	Header        http.Header    `json:"header"`
	OperationName string         `json:"operationName"`
	Variables     map[string]any `json:"variables"`
	// RootFields are the root fields selected, in order, when the query was valid.
	RootFields []string `json:"rootFields"`
	// Status is the HTTP status answered; 0 while the request is in flight or when the client
	// gave up first.
	Status int `json:"status"`
}

// recorder keeps the Stats and the recorded requests.
type recorder struct {
	window time.Duration

	mu    sync.Mutex
	stats Stats
	reqs  []*Request
}

func newRecorder(window time.Duration) *recorder {
	r := &recorder{window: window}
	r.reset()
	return r
}

func (r *recorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stats = Stats{
		ByOperation:      map[string]int{},
		ByRootField:      map[string]int{},
		CreateAssetCalls: map[string]int{},
	}
	r.reqs = nil
}

func (r *recorder) update(f func(*Stats)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f(&r.stats)
}

func (r *recorder) tokenRequested() { r.update(func(s *Stats) { s.TokenRequests++ }) }
func (r *recorder) tokenIssued()    { r.update(func(s *Stats) { s.TokensIssued++ }) }
func (r *recorder) tokenRefused()   { r.update(func(s *Stats) { s.TokensRefused++ }) }

// countWindow counts one authenticated request in the window holding now.
func (r *recorder) countWindow(now time.Time) {
	start := now.Truncate(r.window)
	r.update(func(s *Stats) {
		i := len(s.Windows) - 1
		for i >= 0 && !s.Windows[i].Start.Equal(start) {
			i--
		}
		if i < 0 {
			s.Windows = append(s.Windows, WindowCount{Start: start})
			i = len(s.Windows) - 1
			if len(s.Windows) > maxRecordedWindows {
				s.Windows = s.Windows[1:]
				i--
			}
		}
		s.Windows[i].Requests++
		s.MaxPerWindow = max(s.MaxPerWindow, s.Windows[i].Requests)
	})
}

// begin records a request as it arrives and returns the record to complete.
func (r *recorder) begin(req *http.Request, now time.Time) *Request {
	h := req.Header.Clone()
	if auth := h.Get("Authorization"); auth != "" {
		scheme, _, _ := strings.Cut(auth, " ")
		h.Set("Authorization", scheme+" [REDACTED]")
	}
	rec := &Request{Time: now, Method: req.Method, Header: h}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stats.GraphQLRequests++
	r.reqs = append(r.reqs, rec)
	if len(r.reqs) > maxRecordedRequests {
		r.reqs = r.reqs[len(r.reqs)-maxRecordedRequests:]
	}
	return rec
}

// describe records the operation name and variables a request sent.
func (r *recorder) describe(rec *Request, op string, vars map[string]any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rec.OperationName = op
	rec.Variables = vars
}

// parsed completes rec with what a valid request asked for and counts it.
func (r *recorder) parsed(rec *Request, op string, fields []string, names []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rec.OperationName = op
	rec.RootFields = fields
	r.stats.ByOperation[op]++
	for _, f := range fields {
		r.stats.ByRootField[f]++
	}
	for _, n := range names {
		r.stats.CreateAssetCalls[n]++
	}
}

// answered records the status sent for rec.
func (r *recorder) answered(rec *Request, status int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rec.Status = status
	switch status {
	case http.StatusUnauthorized:
		r.stats.Unauthorized++
	case http.StatusTooManyRequests:
		r.stats.TooManyRequests++
	}
}

func (r *recorder) snapshot() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.stats
	s.ByOperation = maps.Clone(s.ByOperation)
	s.ByRootField = maps.Clone(s.ByRootField)
	s.CreateAssetCalls = maps.Clone(s.CreateAssetCalls)
	s.Windows = append([]WindowCount(nil), s.Windows...)
	return s
}

func (r *recorder) requests() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Request, len(r.reqs))
	for i, rec := range r.reqs {
		out[i] = *rec
		out[i].Header = rec.Header.Clone()
		out[i].RootFields = append([]string(nil), rec.RootFields...)
		out[i].Variables = maps.Clone(rec.Variables)
	}
	return out
}
