package gqlapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/validator"
	"github.com/vektah/gqlparser/v2/validator/rules"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/amplience-ingest/asset-ingest-consumer"
)

// testSchema is schema.graphql, parsed.
func testSchema(tb testing.TB) *ast.Schema {
	tb.Helper()
	s, err := gqlparser.LoadSchema(&ast.Source{Name: "schema.graphql", Input: schema.GraphQL})
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// validOperation validates doc against s with the default rules and returns its operation.
func validOperation(tb testing.TB, s *ast.Schema, doc string) *ast.OperationDefinition {
	tb.Helper()
	q, errs := gqlparser.LoadQueryWithRules(s, doc, rules.NewDefaultRules())
	if len(errs) > 0 {
		tb.Fatalf("the document does not validate: %v\n%s", errs, doc)
	}
	return q.Operations[0]
}

func TestCreateAssetsDocumentIsValid(t *testing.T) {
	t.Parallel()
	s := testSchema(t)
	for _, n := range []int{1, 2, 25, MaxBatchSize} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			op := validOperation(t, s, createAssetsDocument(n))
			if op.Operation != ast.Mutation || op.Name != batchOp || len(op.SelectionSet) != n || len(op.VariableDefinitions) != n {
				t.Fatalf("operation %s %q with %d fields and %d variables", op.Operation, op.Name, len(op.SelectionSet), len(op.VariableDefinitions))
			}
			vars := map[string]any{}
			for i, sel := range op.SelectionSet {
				f := sel.(*ast.Field)
				v := f.Arguments.ForName("input").Value
				if f.Name != "createAsset" || f.Alias != alias(i) || v.Kind != ast.Variable || v.Raw != fmt.Sprintf("in%d", i) {
					t.Errorf("field %d: %s: %s(input: $%s)", i, f.Alias, f.Name, v.Raw)
				}
				vars[v.Raw] = map[string]any{"name": fmt.Sprint("n", i), "filename": "f.jpg", "type": "IMAGE", "assetRepositoryId": "UmVwbzox"}
			}
			if _, err := validator.VariableValues(s, op, vars); err != nil {
				t.Errorf("variables do not validate: %v", err)
			}
		})
	}
}

func TestMemberIndex(t *testing.T) {
	t.Parallel()
	for key, want := range map[string]int{"m0": 0, "m2": 2, "m3": -1, "m01": -1, "m": -1, "x1": -1, "m-1": -1, "createAsset": -1} {
		if got := memberIndex(key, 3); got != want {
			t.Errorf("memberIndex(%q, 3) = %d, want %d", key, got, want)
		}
	}
}

// memberOutcome is what a test expects of one member: its asset id, or its error's kind.
type memberOutcome struct {
	ID   string
	Kind string
}

func outcomes(rs []BatchResult) []memberOutcome {
	out := make([]memberOutcome, len(rs))
	for i, r := range rs {
		out[i] = memberOutcome{ID: r.Asset.ID}
		if r.Err != nil {
			out[i].Kind = KindOf(r.Err).String()
		}
	}
	return out
}

func TestCreateAssetsOutcomes(t *testing.T) {
	t.Parallel()
	ok := func(id string) memberOutcome { return memberOutcome{ID: id} }
	failed := func(k Kind) memberOutcome { return memberOutcome{Kind: k.String()} }
	tests := []struct {
		name    string
		status  int
		body    string
		want    []memberOutcome // nil: the whole request failed
		wantErr string          // the kind of the whole request's error, or "refused"
	}{
		{name: "ids", status: 200, body: `{"data":{"m0":{"id":"a"},"m1":{"id":"b"},"m2":{"id":"c"}}}`,
			want: []memberOutcome{ok("a"), ok("b"), ok("c")}},
		{name: "200 with a member's error", status: 200,
			body: `{"data":{"m0":{"id":"a"},"m1":null,"m2":{"id":"c"}},"errors":[{"message":"dup","path":["m1"],"extensions":{"code":"DUPLICATE_ASSET_NAME"}}]}`,
			want: []memberOutcome{ok("a"), failed(KindRejected), ok("c")}},
		{name: "400 with a member's error", status: 400,
			body: `{"errors":[{"message":"bad","path":["m2"],"extensions":{"code":"BAD_USER_INPUT"}}]}`,
			want: []memberOutcome{failed(KindTransient), failed(KindTransient), failed(KindRejected)}},
		{name: "retryable error of a member", status: 200,
			body: `{"data":{"m0":{"id":"a"},"m1":null,"m2":{"id":"c"}},"errors":[{"message":"oops","path":["m1"],"extensions":{"code":"INTERNAL_SERVER_ERROR"}}]}`,
			want: []memberOutcome{ok("a"), failed(KindTransient), ok("c")}},
		{name: "permission error of a member", status: 200,
			body: `{"data":{"m0":{"id":"a"},"m1":{"id":"b"},"m2":null},"errors":[{"message":"Request failed with status code 403","path":["m2"]}]}`,
			want: []memberOutcome{ok("a"), ok("b"), failed(KindPermission)}},
		{name: "a complexity error beside created assets", status: 200,
			body: `{"data":{"m0":{"id":"a"},"m1":null,"m2":{"id":"c"}},"errors":[{"message":"too complex","path":["m1"],"extensions":{"code":"COMPLEXITY_LIMIT_EXCEEDED"}}]}`,
			want: []memberOutcome{ok("a"), failed(KindRejected), ok("c")}},
		{name: "no answer for a member", status: 200, body: `{"data":{"m0":{"id":"a"},"m2":{"id":"c"}}}`,
			want: []memberOutcome{ok("a"), failed(KindTransient), ok("c")}},
		{name: "an id beside its error", status: 200,
			body: `{"data":{"m0":{"id":"a"},"m1":{"id":"b"},"m2":{"id":"c"}},"errors":[{"message":"warn","path":["m1","id"]}]}`,
			want: []memberOutcome{ok("a"), ok("b"), ok("c")}},
		{name: "500", status: 500, body: `{"errors":[{"message":"boom"}]}`, wantErr: "transient"},
		{name: "429", status: 429, body: `{"errors":[{"message":"slow down"}]}`, wantErr: "rate_limited"},
		{name: "403", status: 403, body: `{"errors":[{"message":"no"}]}`, wantErr: "refused"},
		{name: "200 with a request error", status: 200, body: `{"errors":[{"message":"x","extensions":{"code":"SERVICE_UNAVAILABLE"}}]}`, wantErr: "transient"},
		{name: "400 naming no member", status: 400, body: `{"errors":[{"message":"Variable \"$in1\" got invalid value"}]}`, wantErr: "refused"},
		{name: "complexity", status: 400, body: `{"errors":[{"message":"too complex","extensions":{"code":"COMPLEXITY_LIMIT_EXCEEDED"}}]}`, wantErr: "refused"},
		{name: "complexity with data", status: 200, body: `{"data":{"m0":null},"errors":[{"message":"too complex","path":["m0"],"extensions":{"code":"COMPLEXITY_LIMIT_EXCEEDED"}}]}`, wantErr: "refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeAmplience(t)
			f.setAPI(answer(tt.status, tt.body))
			lim := &fakeLimiter{}
			c := newTestClient(t, f, func(o *Options) { o.Limiter = lim })
			got, err := c.createAssets(t.Context(), []CreateAssetInput{testInput, testInput, testInput})
			if wantMembers(t, tt.wantErr, err) {
				if diff := cmp.Diff(tt.want, outcomes(got)); diff != "" {
					t.Errorf("member outcomes (-want +got):\n%s", diff)
				}
			}
			reqs := f.requests()
			if len(reqs) != 1 || reqs[0].OperationName != batchOp || len(reqs[0].Variables) != 3 {
				t.Errorf("requests %+v, want one CreateAssets request with 3 variables", reqs)
			}
			if waits, _ := lim.calls(); waits != 1 {
				t.Errorf("Limiter.Wait calls = %d, want 1", waits)
			}
		})
	}
}

// wantMembers checks the error of a batch request against wantErr: "refused" (refused before
// execution), a kind (a failure of the whole request) or "" (none). It reports whether the
// members' outcomes are left to check.
func wantMembers(t *testing.T, wantErr string, err error) bool {
	t.Helper()
	switch {
	case wantErr == "refused":
		if _, ok := errors.AsType[errRefused](err); !ok {
			t.Fatalf("error %v, want a refusal before execution", err)
		}
	case wantErr != "":
		if err == nil || KindOf(err).String() != wantErr {
			t.Fatalf("error %v, want a %s failure of the whole request", err, wantErr)
		}
	case err != nil:
		t.Fatalf("the request failed: %v", err)
	default:
		return true
	}
	return false
}

func TestCreateAssetsUnauthorizedRefreshesOnce(t *testing.T) {
	t.Parallel()
	f := newFakeAmplience(t)
	f.setAPI(answer(401, `{"errors":[{"message":"Unauthorized"}]}`))
	c := newTestClient(t, f, nil)
	_, err := c.createAssets(t.Context(), []CreateAssetInput{testInput, testInput})
	if KindOf(err) != KindUnauthorized {
		t.Fatalf("error %v, want unauthorized", err)
	}
	if n := len(f.requests()); n != 2 {
		t.Errorf("%d requests, want 2 (one repeat after a token refresh)", n)
	}
}

func TestCreateAssetsTimeout(t *testing.T) {
	t.Parallel()
	f := newFakeAmplience(t)
	f.setAPI(func(_ http.ResponseWriter, r *http.Request, _ apiRequest) { <-r.Context().Done() })
	c := newTestClient(t, f, func(o *Options) { o.Timeout = 100 * time.Millisecond })
	_, err := c.createAssets(t.Context(), []CreateAssetInput{testInput, testInput})
	if KindOf(err) != KindTransient || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v, want a transient timeout", err)
	}
}

// gate is a Limiter whose Wait blocks until opened.
type gate struct {
	mu    sync.Mutex
	open  chan struct{}
	waits int
}

func newGate() *gate { return &gate{open: make(chan struct{})} }

func (g *gate) Wait(ctx context.Context) error {
	g.mu.Lock()
	g.waits++
	g.mu.Unlock()
	select {
	case <-g.open:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g *gate) Report429(time.Duration) {}

func (g *gate) waiting() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.waits
}

// assetsAPI answers createAsset fields with ids named after their input's name, and refuses
// requests of more than maxFields fields as too complex (0: no limit).
func assetsAPI(maxFields int) func(http.ResponseWriter, *http.Request, apiRequest) {
	return func(w http.ResponseWriter, _ *http.Request, req apiRequest) {
		if req.OperationName == "CreateAsset" {
			in := req.Variables["input"].(map[string]any)
			writeJSON(w, 200, fmt.Sprintf(`{"data":{"createAsset":{"id":"id-%s"}}}`, in["name"]))
			return
		}
		if maxFields > 0 && len(req.Variables) > maxFields {
			writeJSON(w, 400, `{"errors":[{"message":"Query is too complex","extensions":{"code":"COMPLEXITY_LIMIT_EXCEEDED"}}]}`)
			return
		}
		var parts []string
		for i := range len(req.Variables) {
			in := req.Variables[fmt.Sprint("in", i)].(map[string]any)
			parts = append(parts, fmt.Sprintf(`"m%d":{"id":"id-%s"}`, i, in["name"]))
		}
		writeJSON(w, 200, `{"data":{`+strings.Join(parts, ",")+`}}`)
	}
}

// callAll makes n concurrent Batcher calls named e0..e<n-1> and returns their results by name.
func callAll(ctx context.Context, b *Batcher, n int) map[string]BatchResult {
	var mu sync.Mutex
	out := map[string]BatchResult{}
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			in := testInput
			in.Name = fmt.Sprint("e", i)
			a, err := b.CreateAsset(ctx, in)
			mu.Lock()
			out[in.Name] = BatchResult{Asset: a, Err: err}
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}

func wantIDs(n int) map[string]BatchResult {
	out := map[string]BatchResult{}
	for i := range n {
		out[fmt.Sprint("e", i)] = BatchResult{Asset: Asset{ID: fmt.Sprint("id-e", i)}}
	}
	return out
}

func TestBatcherLoneCallIsSentAtOnce(t *testing.T) {
	t.Parallel()
	f := newFakeAmplience(t)
	f.setAPI(assetsAPI(0))
	lim := &fakeLimiter{}
	c := newTestClient(t, f, func(o *Options) { o.Limiter = lim })
	b, err := NewBatcher(c, BatchOptions{Size: 25})
	if err != nil {
		t.Fatal(err)
	}
	got := callAll(t.Context(), b, 1)
	if diff := cmp.Diff(wantIDs(1), got); diff != "" {
		t.Errorf("results (-want +got):\n%s", diff)
	}
	if reqs := f.requests(); len(reqs) != 1 || reqs[0].OperationName != "CreateAsset" {
		t.Errorf("requests %+v, want one CreateAsset", reqs)
	}
	if waits, _ := lim.calls(); waits != 1 {
		t.Errorf("Limiter.Wait calls = %d, want 1", waits)
	}
}

// gatedBatcher returns a Batcher of size sending through a fake API (see assetsAPI) whose
// request budget opens with the returned gate; tp (nil: the global one) traces it.
func gatedBatcher(t *testing.T, maxFields, size int, tp trace.TracerProvider) (*fakeAmplience, *gate, *Batcher) {
	t.Helper()
	f := newFakeAmplience(t)
	f.setAPI(assetsAPI(maxFields))
	g := newGate()
	c := newTestClient(t, f, func(o *Options) { o.Limiter, o.TracerProvider = g, tp })
	b, err := NewBatcher(c, BatchOptions{Size: size, TracerProvider: tp})
	if err != nil {
		t.Fatal(err)
	}
	return f, g, b
}

// queued waits until n calls wait in b's queue.
func queued(t *testing.T, b *Batcher, n int) {
	t.Helper()
	waitFor(t, func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return len(b.queue) == n
	})
}

// callAllQueued makes n calls while the budget is closed, opens it once all are queued, and
// returns their results.
func callAllQueued(t *testing.T, ctx context.Context, g *gate, b *Batcher, n int) map[string]BatchResult {
	t.Helper()
	done := make(chan map[string]BatchResult)
	go func() { done <- callAll(ctx, b, n) }()
	queued(t, b, n)
	close(g.open)
	return <-done
}

// requestNames returns the input names of each request f received, in order.
func requestNames(f *fakeAmplience) [][]string {
	var out [][]string
	for _, r := range f.requests() {
		if in, ok := r.Variables["input"].(map[string]any); ok {
			out = append(out, []string{in["name"].(string)})
			continue
		}
		var names []string
		for i := range len(r.Variables) {
			names = append(names, r.Variables[fmt.Sprint("in", i)].(map[string]any)["name"].(string))
		}
		out = append(out, names)
	}
	return out
}

func requestSizes(f *fakeAmplience) []int {
	var sizes []int
	for _, names := range requestNames(f) {
		sizes = append(sizes, len(names))
	}
	return sizes
}

func TestBatcherCallsWaitingForTheBudgetShareARequest(t *testing.T) {
	t.Parallel()
	f, g, b := gatedBatcher(t, 0, 4, nil)
	got := callAllQueued(t, t.Context(), g, b, 10)
	if diff := cmp.Diff(wantIDs(10), got); diff != "" {
		t.Errorf("results (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int{4, 4, 2}, requestSizes(f)); diff != "" {
		t.Errorf("events per request (-want +got):\n%s", diff)
	}
	if g.waiting() != 3 {
		t.Errorf("%d waits for the budget, want one per request", g.waiting())
	}
}

func TestBatcherSplitsRefusedRequests(t *testing.T) {
	t.Parallel()
	f, g, b := gatedBatcher(t, 3, 8, nil)
	got := callAllQueued(t, t.Context(), g, b, 8)
	if diff := cmp.Diff(wantIDs(8), got); diff != "" {
		t.Errorf("results (-want +got):\n%s", diff)
	}
	// 8 refused, then 4 refused, then requests of 2.
	if diff := cmp.Diff([]int{8, 4, 2, 2, 2, 2}, requestSizes(f)); diff != "" {
		t.Errorf("events per request (-want +got):\n%s", diff)
	}
	if b.Size() != 2 {
		t.Errorf("batch size %d after refusals, want 2", b.Size())
	}
}

func TestBatcherWithdrawsUnsentCalls(t *testing.T) {
	t.Parallel()
	f, _, b := gatedBatcher(t, 0, 4, nil)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan map[string]BatchResult)
	go func() { done <- callAll(ctx, b, 3) }()
	queued(t, b, 3)
	cancel()
	for name, r := range <-done {
		if !errors.Is(r.Err, ErrNotSent) {
			t.Errorf("%s: error %v, want one wrapping ErrNotSent", name, r.Err)
		}
	}
	waitFor(t, func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return !b.running
	})
	if n := len(f.requests()); n != 0 {
		t.Errorf("%d requests sent, want none", n)
	}
}

// waitFor polls cond until it holds, failing the test after 5 seconds.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestBatcherSendsAloneCallsInRequestsOfTheirOwn(t *testing.T) {
	t.Parallel()
	f, g, b := gatedBatcher(t, 0, 25, nil)
	var wg sync.WaitGroup
	for i, name := range []string{"a", "retry-1", "b", "retry-2", "c"} {
		wg.Go(func() {
			ctx := t.Context()
			if strings.HasPrefix(name, "retry") {
				ctx = Alone(ctx)
			}
			in := testInput
			in.Name = name
			queued(t, b, i) // queued in this order
			if _, err := b.CreateAsset(ctx, in); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		})
	}
	queued(t, b, 5)
	close(g.open)
	wg.Wait()
	if diff := cmp.Diff([][]string{{"a", "b", "c"}, {"retry-1"}, {"retry-2"}}, requestNames(f)); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
}

func TestBatcherMemberSpans(t *testing.T) {
	t.Parallel()
	recorder := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(recorder))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	_, g, b := gatedBatcher(t, 0, 25, tp)
	callAllQueued(t, t.Context(), g, b, 3)

	var client trace.SpanContext
	var members []sdktrace.ReadOnlySpan
	for _, s := range recorder.Ended() {
		switch s.Name() {
		case batchOp:
			client = s.SpanContext()
		case "CreateAsset member":
			members = append(members, s)
		}
	}
	if !client.IsValid() || len(members) != 3 {
		t.Fatalf("client span %v, %d member spans; want one client span and 3 members", client, len(members))
	}
	var aliases []string
	for _, m := range members {
		var size int64
		for _, a := range m.Attributes() {
			switch a.Key {
			case "graphql.alias":
				aliases = append(aliases, a.Value.AsString())
			case "amplience.batch.size":
				size = a.Value.AsInt64()
			}
		}
		if size != 3 {
			t.Errorf("member span batch size %d, want 3", size)
		}
		if l := m.Links(); len(l) != 1 || l[0].SpanContext.SpanID() != client.SpanID() {
			t.Errorf("member span links %v, want the request's client span %s", l, client.SpanID())
		}
	}
	slices.Sort(aliases)
	if diff := cmp.Diff([]string{"m0", "m1", "m2"}, aliases); diff != "" {
		t.Errorf("aliases (-want +got):\n%s", diff)
	}
}

// A member whose start check refuses once the budget is granted is not sent, and gets an error
// wrapping ErrNotSent; the others share the request.
func TestBatcherChecksEachMemberBeforeSending(t *testing.T) {
	t.Parallel()
	f, g, b := gatedBatcher(t, 0, 25, nil)
	refused := errors.New("claim no longer confirmed")
	var mu sync.Mutex
	got := map[string]error{}
	var wg sync.WaitGroup
	for i, name := range []string{"a", "stale", "c"} {
		wg.Go(func() {
			ctx := t.Context()
			if name == "stale" {
				ctx = WithStartCheck(ctx, func() error { return refused })
			}
			in := testInput
			in.Name = name
			queued(t, b, i)
			_, err := b.CreateAsset(ctx, in)
			mu.Lock()
			got[name] = err
			mu.Unlock()
		})
	}
	queued(t, b, 3)
	close(g.open)
	wg.Wait()
	if got["a"] != nil || got["c"] != nil {
		t.Errorf("errors of the checked members: a %v, c %v; want none", got["a"], got["c"])
	}
	if err := got["stale"]; !errors.Is(err, ErrNotSent) || !errors.Is(err, refused) {
		t.Errorf("error of the refused member = %v, want one wrapping ErrNotSent and the check's error", err)
	}
	if diff := cmp.Diff([][]string{{"a", "c"}}, requestNames(f)); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
}

// heldBatcher returns a Batcher of 4 calls per request and 3 requests in flight, sending
// through a fake API that answers as assetsAPI(0) does but holds the first request until the
// returned function is called (at the latest when the test ends).
func heldBatcher(t *testing.T) (f *fakeAmplience, b *Batcher, release func()) {
	t.Helper()
	f = newFakeAmplience(t)
	held := make(chan struct{})
	release = sync.OnceFunc(func() { close(held) })
	t.Cleanup(release) // a failing test must not leave the held request behind
	var seen atomic.Bool
	answer := assetsAPI(0)
	f.setAPI(func(w http.ResponseWriter, r *http.Request, req apiRequest) {
		if !seen.Swap(true) {
			<-held
		}
		answer(w, r, req)
	})
	b, err := NewBatcher(newTestClient(t, f, nil), BatchOptions{Size: 4, MaxInFlight: 3})
	if err != nil {
		t.Fatal(err)
	}
	return f, b, release
}

// createAsync calls b.CreateAsset for an input named name and sends its result to out.
func createAsync(ctx context.Context, b *Batcher, name string, out chan<- BatchResult) {
	go func() {
		in := testInput
		in.Name = name
		a, err := b.CreateAsset(ctx, in)
		out <- BatchResult{Asset: a, Err: err}
	}()
}

// TestBatcherPartialRequestWaitsForTheOneInFlight: with no budget to wait for, calls that
// arrive while a shared request that is not full is in flight wait for it and share the next
// request, unless a full batch waits: that one goes beside it, up to MaxInFlight.
func TestBatcherPartialRequestWaitsForTheOneInFlight(t *testing.T) {
	t.Parallel()
	f, b, release := heldBatcher(t)
	results := make(chan BatchResult, 7)
	call := func(i int) { createAsync(t.Context(), b, fmt.Sprint("e", i), results) }

	call(0) // alone: sent at once, and held by the API
	waitFor(t, func() bool { return len(f.requests()) == 1 })
	call(1)
	call(2)
	queued(t, b, 2)
	if n := len(f.requests()); n != 1 {
		t.Fatalf("%d requests while the first is in flight and 2 calls wait, want 1", n)
	}
	for i := 3; i <= 6; i++ {
		call(i)
	}
	// A full batch of 4 goes beside the first request; the 2 calls left wait for it.
	waitFor(t, func() bool { return len(f.requests()) == 2 })
	queued(t, b, 2)
	if n := len(f.requests()); n != 2 {
		t.Fatalf("%d requests with the first still in flight, want 2 (it and one full batch)", n)
	}
	release()
	for range 7 {
		if r := <-results; r.Err != nil {
			t.Errorf("call failed: %v", r.Err)
		}
	}
	if diff := cmp.Diff([]int{1, 4, 2}, requestSizes(f)); diff != "" {
		t.Errorf("events per request (-want +got):\n%s", diff)
	}
}

// TestBatcherAloneCallsAndPartialRequestsDoNotWaitForEachOther: a call to be sent alone (a
// retry) does not wait for a shared request that is not full, and a shared request does not
// wait for a request sent alone.
func TestBatcherAloneCallsAndPartialRequestsDoNotWaitForEachOther(t *testing.T) {
	t.Parallel()
	for _, heldAlone := range []bool{false, true} {
		t.Run(fmt.Sprintf("held alone %v", heldAlone), func(t *testing.T) {
			t.Parallel()
			f, b, release := heldBatcher(t)
			done := make(chan BatchResult, 2)
			call := func(alone bool, name string) {
				ctx := t.Context()
				if alone {
					ctx = Alone(ctx)
				}
				createAsync(ctx, b, name, done)
			}

			call(heldAlone, "held") // held by the API
			waitFor(t, func() bool { return len(f.requests()) == 1 })
			call(!heldAlone, "beside")
			if r := <-done; r.Err != nil {
				t.Fatalf("the call beside the held request: %v", r.Err)
			}
			release()
			if r := <-done; r.Err != nil {
				t.Errorf("the held call: %v", r.Err)
			}
			if diff := cmp.Diff([][]string{{"held"}, {"beside"}}, requestNames(f)); diff != "" {
				t.Errorf("requests (-want +got):\n%s", diff)
			}
		})
	}
}
