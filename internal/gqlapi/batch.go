package gqlapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Khan/genqlient/graphql"
	"go.opentelemetry.io/otel/trace"
)

// MaxBatchSize is the most createAsset fields one request carries.
const MaxBatchSize = 100

// batchOp is the operation name of a request carrying several createAsset fields.
const batchOp = "CreateAssets"

// codeComplexity is the error code of a request refused for its query complexity; nothing of
// it was executed.
const codeComplexity = "COMPLEXITY_LIMIT_EXCEEDED"

// documents caches createAssetsDocument's results, one per size.
var documents sync.Map // int -> string

// createAssetsDocument returns the mutation creating n assets in one request: n aliased
// createAsset fields m0..m<n-1>, each with its own input variable $in0..$in<n-1>. GraphQL runs
// the root fields of a mutation one after another, in document order.
func createAssetsDocument(n int) string {
	return batchDocument(&documents, n, "mutation "+batchOp,
		func(i string) string { return "$in" + i + ": CreateAssetInput!" },
		func(i string) string { return "createAsset(input: $in" + i + ") { id }" })
}

// batchDocument returns, from cache when built before, the document of operation head (its
// kind and name) carrying n members: for each member i, the variables vars(i) declare and the
// root field field(i), under the alias of member i.
func batchDocument(cache *sync.Map, n int, head string, vars, field func(i string) string) string {
	if d, ok := cache.Load(n); ok {
		return d.(string)
	}
	defs, fields := make([]string, n), make([]string, n)
	for i := range n {
		defs[i], fields[i] = vars(strconv.Itoa(i)), alias(i)+": "+field(strconv.Itoa(i))
	}
	d, _ := cache.LoadOrStore(n, head+"("+strings.Join(defs, ", ")+") { "+strings.Join(fields, " ")+" }")
	return d.(string)
}

// alias is the response key of the i-th member of a batch.
func alias(i int) string { return "m" + strconv.Itoa(i) }

// memberIndex returns the member a response key names, or -1.
func memberIndex(key string, n int) int {
	rest, ok := strings.CutPrefix(key, "m")
	if !ok || rest == "" || (len(rest) > 1 && rest[0] == '0') {
		return -1
	}
	i, err := strconv.Atoi(rest)
	if err != nil || i < 0 || i >= n {
		return -1
	}
	return i
}

// BatchResult is one member's outcome of a request carrying several createAsset fields: the
// created asset, or an error classified as for a single CreateAsset call.
type BatchResult struct {
	Asset Asset
	Err   error
}

// errRefused marks a request refused before execution (HTTP 400 or 403 naming no member, or
// COMPLEXITY_LIMIT_EXCEEDED): nothing was executed, so its members may be sent again. A 403
// of the whole request cannot say which member the key may not write: smaller requests tell.
type errRefused struct {
	err        *Error
	complexity bool // COMPLEXITY_LIMIT_EXCEEDED: the request was too large
}

func (e errRefused) Error() string { return e.err.Error() }
func (e errRefused) Unwrap() error { return e.err }

// batchAnswer is an answer to a CreateAssets request.
type batchAnswer struct {
	Data   map[string]*struct{ ID string } `json:"data"`
	Errors []memberError                   `json:"errors"`
}

// memberError is one entry of a batch answer's errors, with its path.
type memberError struct {
	gqlError
	Path []any `json:"path"`
}

// member returns the index of the member the error's path names, or -1.
func (e memberError) member(n int) int {
	if len(e.Path) == 0 {
		return -1
	}
	key, _ := e.Path[0].(string)
	return memberIndex(key, n)
}

// batchClassifier classifies the HTTP answer of a CreateAssets request of n members: an answer
// that speaks of its members (data, or an error whose path names one) is returned whole, for
// createAssets to read member by member; any other answer is classified as for a single call
// (a failure of the whole request).
func batchClassifier(n int) answerClassifier {
	return func(op string, status int, header http.Header, body []byte, now time.Time) (json.RawMessage, *Error) {
		data, e := classifyAnswer(op, status, header, body, now)
		if e == nil {
			return body, nil
		}
		switch status {
		case http.StatusOK, http.StatusBadRequest, http.StatusUnprocessableEntity:
		default:
			return data, e
		}
		var a batchAnswer
		if json.Unmarshal(body, &a) != nil {
			return nil, e
		}
		if len(a.Data) > 0 {
			return body, nil
		}
		for _, me := range a.Errors {
			if me.member(n) >= 0 {
				return body, nil
			}
		}
		return nil, e
	}
}

// createAssets sends one request creating len(ins) assets (at least two) and returns each
// member's result. A failure of the whole request (transport, timeout, 5xx, 429, 401 after one
// refresh) is returned as err, for every member; a request refused before execution returns an
// error wrapping errRefused. Otherwise, for each member: an id under its alias is the created
// asset (even beside errors); an error whose path names its alias is its failure, classified
// as for a single call; neither is KindTransient (it may have been created).
func (c *Client) createAssets(ctx context.Context, ins []CreateAssetInput) ([]BatchResult, error) {
	n := len(ins)
	vars := make(map[string]any, n)
	for i, in := range ins {
		vars["in"+strconv.Itoa(i)] = in
	}
	body, err := c.sendBatch(ctx, batchOp, createAssetsDocument(n), vars, n)
	if err != nil {
		return nil, err
	}
	return readBatch(body, n)
}

// sendBatch sends one request of n members and returns its answer for the caller to read
// member by member, or the failure of the whole request: an error wrapping errRefused when it
// was refused before execution.
func (c *Client) sendBatch(ctx context.Context, op, doc string, vars map[string]any, n int) (json.RawMessage, error) {
	var body json.RawMessage
	ctx = withClassifier(ctx, batchClassifier(n))
	err := c.gql.MakeRequest(ctx, &graphql.Request{OpName: op, Query: doc, Variables: vars}, &graphql.Response{Data: &body})
	if err != nil {
		var e *Error
		if errors.As(err, &e) && e.Op == op && (e.Kind == KindRejected || e.Kind == KindPermission) {
			return nil, errRefused{err: e, complexity: slices.ContainsFunc(e.Codes, func(c string) bool {
				return strings.EqualFold(c, codeComplexity)
			})}
		}
		return nil, err
	}
	return body, nil
}

// readMembers decodes the answer of a request of n members: each member's field (nil when
// absent or null) and its own errors, those whose path names it. A COMPLEXITY_LIMIT_EXCEEDED
// among the errors, with no member's field answered, means nothing was executed: it returns an
// errRefused.
func readMembers[T any](op string, body []byte, n int) ([]*T, [][]gqlError, error) {
	var a struct {
		Data   map[string]*T `json:"data"`
		Errors []memberError `json:"errors"`
	}
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, nil, &Error{Kind: KindTransient, Op: op, Status: http.StatusOK, Message: "decoding the answer", Err: err}
	}
	executed := slices.ContainsFunc(slices.Collect(maps.Values(a.Data)), func(d *T) bool { return d != nil })
	own := make([][]gqlError, n)
	for _, me := range a.Errors {
		// A complexity refusal executed nothing; beside an answered field (a created asset) it
		// was not a refusal of the whole request, and sending the members again would create
		// that asset twice.
		if code := strings.ToUpper(extString(me.Extensions, "code")); code == codeComplexity && !executed {
			e := &Error{Kind: KindRejected, Op: op, Status: http.StatusBadRequest}
			describeErrors(e, []gqlError{me.gqlError})
			return nil, nil, errRefused{err: e, complexity: true}
		}
		if i := me.member(n); i >= 0 {
			own[i] = append(own[i], me.gqlError)
		}
	}
	fields := make([]*T, n)
	for i := range n {
		fields[i] = a.Data[alias(i)]
	}
	return fields, own, nil
}

// memberFailure returns the error of a member whose field answered no value: its own errors,
// classified as for a single call of op, or KindTransient when it has none.
func memberFailure(op string, own []gqlError, missing string) error {
	if len(own) > 0 {
		e := &Error{Op: op, Kind: kindOfErrors(own)}
		describeErrors(e, own)
		return e
	}
	return &Error{Kind: KindTransient, Op: op, Message: missing}
}

// readBatch reads a batch answer member by member; see createAssets.
func readBatch(body []byte, n int) ([]BatchResult, error) {
	fields, own, err := readMembers[struct{ ID string }](batchOp, body, n)
	if err != nil {
		return nil, err
	}
	out := make([]BatchResult, n)
	for i, d := range fields {
		if d != nil && d.ID != "" {
			out[i].Asset = Asset{ID: d.ID}
			continue
		}
		out[i].Err = memberFailure("CreateAsset", own[i],
			"the answer has neither an id nor an error for this asset; it may have been created")
	}
	return out, nil
}

// answerClassifier classifies one HTTP answer; classifyAnswer is the default.
type answerClassifier func(op string, status int, header http.Header, body []byte, now time.Time) (json.RawMessage, *Error)

type classifierKey struct{}

func withClassifier(ctx context.Context, f answerClassifier) context.Context {
	return context.WithValue(ctx, classifierKey{}, f)
}

// classifierFrom returns the classifier ctx carries, or classifyAnswer.
func classifierFrom(ctx context.Context) answerClassifier {
	if f, ok := ctx.Value(classifierKey{}).(answerClassifier); ok {
		return f
	}
	return classifyAnswer
}

type budgetKey struct{}

// withBudgetTaken marks ctx's next request as holding a slot of the request budget already:
// it does not wait for the Limiter again (a repeat after a 401 does).
func withBudgetTaken(ctx context.Context) context.Context {
	taken := new(atomic.Bool)
	taken.Store(true)
	return context.WithValue(ctx, budgetKey{}, taken)
}

// budgetTaken reports, once, whether ctx's request holds a budget slot already.
func budgetTaken(ctx context.Context) bool {
	taken, ok := ctx.Value(budgetKey{}).(*atomic.Bool)
	return ok && taken.Swap(false)
}

type clientSpansKey struct{}

// clientSpans collects the client spans of the requests made with a context.
type clientSpans struct {
	mu    sync.Mutex
	spans []trace.SpanContext
}

func withClientSpans(ctx context.Context, s *clientSpans) context.Context {
	return context.WithValue(ctx, clientSpansKey{}, s)
}

// noteClientSpan records sc with the collector ctx carries, if any.
func noteClientSpan(ctx context.Context, sc trace.SpanContext) {
	if s, ok := ctx.Value(clientSpansKey{}).(*clientSpans); ok && sc.IsValid() {
		s.mu.Lock()
		s.spans = append(s.spans, sc)
		s.mu.Unlock()
	}
}

func (s *clientSpans) links() []trace.Link {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]trace.Link, len(s.spans))
	for i, sc := range s.spans {
		out[i] = trace.Link{SpanContext: sc}
	}
	return out
}

// budgetError is the error of a wait for the request budget that the Limiter refused while the
// caller's context lasted.
func budgetError(op string, err error) error {
	if errors.Is(err, ErrNotSent) {
		// The service is stopping.
		return fmt.Errorf("%s waited for the request budget: %w", op, err)
	}
	if e, ok := errors.AsType[*Error](err); ok {
		// The Limiter classified its refusal itself (KindUnavailable).
		classified := *e
		classified.Op = op
		return &classified
	}
	return &Error{Kind: KindRateLimited, Op: op, Message: "waiting for the request budget", Err: err}
}
