package sandbox_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/sandbox"
)

// batchMutation returns a mutation of n aliased createAsset fields m0..m<n-1> and its
// variables, for the names.
func batchMutation(names ...string) (string, map[string]any) {
	var defs, fields []string
	vars := map[string]any{}
	for i, n := range names {
		defs = append(defs, fmt.Sprintf("$in%d: CreateAssetInput!", i))
		fields = append(fields, fmt.Sprintf("m%d: createAsset(input: $in%d) { id }", i, i))
		vars[fmt.Sprint("in", i)] = assetInput(n)
	}
	return "mutation CreateAssets(" + strings.Join(defs, ", ") + ") { " + strings.Join(fields, " ") + " }", vars
}

// memberAnswer is what a test reads of one field of a batch answer: whether it has an id, and
// its error's message and code.
type memberAnswer struct {
	ID    bool
	Error string
	Code  string
}

func members(t *testing.T, ans gqlAnswer, n int) []memberAnswer {
	t.Helper()
	out := make([]memberAnswer, n)
	if len(ans.Data) > 0 && string(ans.Data) != "null" {
		var data map[string]*struct{ ID string }
		decodeData(t, ans, &data)
		for i := range n {
			if d := data[fmt.Sprint("m", i)]; d != nil && d.ID != "" {
				out[i].ID = true
			}
		}
	}
	for _, e := range ans.Errors {
		if len(e.Path) != 1 {
			t.Fatalf("error %+v does not name one field", e)
		}
		var i int
		if _, err := fmt.Sscanf(e.Path[0].(string), "m%d", &i); err != nil {
			t.Fatalf("error path %v", e.Path)
		}
		code, _ := e.Extensions["code"].(string)
		out[i].Error, out[i].Code = e.Message, code
	}
	return out
}

func TestBatchFieldFaults(t *testing.T) {
	t.Parallel()
	ok := memberAnswer{ID: true}
	tests := []struct {
		name       string
		opts       sandbox.Options
		faults     []sandbox.Fault
		wantStatus int
		want       []memberAnswer // nil: the whole request failed
		wantAssets []string
	}{
		{name: "no fault", wantStatus: 200, want: []memberAnswer{ok, ok, ok}, wantAssets: []string{"a-1", "b-2", "c-3"}},
		{name: "a GraphQL error fails its field alone",
			faults:     []sandbox.Fault{{Match: "b-2", GraphQLError: "refused", Code: "BAD_USER_INPUT"}},
			wantStatus: 200, want: []memberAnswer{ok, {Error: "refused", Code: "BAD_USER_INPUT"}, ok}, wantAssets: []string{"a-1", "c-3"}},
		{name: "answered 400 when set so",
			opts:       sandbox.Options{PartialFailureStatus: 400},
			faults:     []sandbox.Fault{{Match: "a-1", GraphQLError: "refused"}},
			wantStatus: 400, want: []memberAnswer{{Error: "refused"}, ok, ok}, wantAssets: []string{"b-2", "c-3"}},
		{name: "two fields, two faults",
			faults:     []sandbox.Fault{{Match: "c-3", GraphQLError: "no c"}, {Match: "a-1", Status: 403}},
			wantStatus: 200, want: []memberAnswer{{Error: "Forbidden"}, ok, {Error: "no c"}}, wantAssets: []string{"b-2"}},
		{name: "created but the field's answer lost",
			faults:     []sandbox.Fault{{Match: "b-2", CreateThenFail: true}},
			wantStatus: 200, want: []memberAnswer{ok, {}, ok}, wantAssets: []string{"a-1", "b-2", "c-3"}},
		{name: "a 5xx fails the whole request",
			faults:     []sandbox.Fault{{Match: "b-2", Status: 503}},
			wantStatus: 503},
		{name: "a 429 fails the whole request",
			faults:     []sandbox.Fault{{Match: "c-3", Status: 429}},
			wantStatus: 429},
		{name: "created then 500 for the whole request",
			faults:     []sandbox.Fault{{Match: "c-3", Status: 500, CreateThenFail: true}},
			wantStatus: 500, wantAssets: []string{"a-1", "b-2", "c-3"}},
		{name: "a delay holds the whole request",
			faults:     []sandbox.Fault{{Match: "a-1", Delay: 10 * time.Millisecond}},
			wantStatus: 200, want: []memberAnswer{ok, ok, ok}, wantAssets: []string{"a-1", "b-2", "c-3"}},
		{name: "over the complexity limit: nothing executed",
			opts:       sandbox.Options{ComplexityLimit: 5},
			wantStatus: 400},
		{name: "within the complexity limit",
			opts:       sandbox.Options{ComplexityLimit: 6},
			wantStatus: 200, want: []memberAnswer{ok, ok, ok}, wantAssets: []string{"a-1", "b-2", "c-3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, tt.opts)
			for _, f := range tt.faults {
				e.srv.AddFault(f)
			}
			q, vars := batchMutation("a-1", "b-2", "c-3")
			ans := e.post(t, e.token(t), q, vars)
			if ans.Status != tt.wantStatus {
				t.Fatalf("status %d, want %d: %+v", ans.Status, tt.wantStatus, ans.Errors)
			}
			if tt.want != nil {
				if diff := cmp.Diff(tt.want, members(t, ans, 3)); diff != "" {
					t.Errorf("fields (-want +got):\n%s", diff)
				}
			} else if len(ans.Data) > 0 && string(ans.Data) != "null" {
				t.Errorf("a failed request answered data %s", ans.Data)
			}
			if diff := cmp.Diff(tt.wantAssets, names(e.srv.Assets()), cmp.Comparer(func(a, b []string) bool {
				return strings.Join(a, ",") == strings.Join(b, ",")
			})); diff != "" {
				t.Errorf("assets (-want +got):\n%s", diff)
			}
		})
	}
}

func TestComplexityRefusalSaysWhy(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{ComplexityLimit: 3})
	q, vars := batchMutation("a-1", "b-2")
	ans := e.post(t, e.token(t), q, vars)
	if ans.Status != http.StatusBadRequest || len(ans.Errors) != 1 || ans.Errors[0].Extensions["code"] != "COMPLEXITY_LIMIT_EXCEEDED" || len(ans.Errors[0].Path) != 0 {
		t.Fatalf("answer %d %+v, want one COMPLEXITY_LIMIT_EXCEEDED error naming no field", ans.Status, ans.Errors)
	}
	if st := e.srv.Stats(); st.ComplexityRefused != 1 || len(e.srv.Assets()) != 0 {
		t.Errorf("stats %+v, %d assets: want one refusal and nothing created", st, len(e.srv.Assets()))
	}
	// One field fits.
	e.create(t, e.token(t), "c-3")
}

func TestMutationFieldsRunOneAfterAnother(t *testing.T) {
	t.Parallel()
	const fieldTime = 40 * time.Millisecond
	e := newEnv(t, sandbox.Options{FieldTime: fieldTime, Clock: time.Now})
	q, vars := batchMutation("a-1", "b-2", "c-3")
	token := e.token(t)
	start := time.Now()
	ans := e.post(t, token, q, vars)
	took := time.Since(start)
	if ans.Status != http.StatusOK {
		t.Fatalf("status %d: %+v", ans.Status, ans.Errors)
	}
	if took < 3*fieldTime {
		t.Errorf("three fields took %v, want at least %v", took, 3*fieldTime)
	}
	as := e.srv.Assets()
	if len(as) != 3 || !as[0].CreatedDate.Before(as[1].CreatedDate) || !as[1].CreatedDate.Before(as[2].CreatedDate) {
		t.Errorf("assets %+v were not created one after another, in document order", as)
	}
}

func TestRateLimitCountsRequestsNotFields(t *testing.T) {
	t.Parallel()
	e := newEnv(t, sandbox.Options{RateLimit: 1})
	token := e.token(t)
	q, vars := batchMutation("a-1", "b-2", "c-3", "d-4")
	if ans := e.post(t, token, q, vars); ans.Status != http.StatusOK {
		t.Fatalf("a request of four fields within a limit of one request: status %d", ans.Status)
	}
	if ans := e.post(t, token, q, vars); ans.Status != http.StatusTooManyRequests {
		t.Errorf("the second request: status %d, want 429", ans.Status)
	}
	if n := len(e.srv.Assets()); n != 4 {
		t.Errorf("%d assets, want 4", n)
	}
}

// Several aliased assetSearch fields in one query are each resolved, and the request counts
// once against the rate limit.
func TestBatchSearchesAreOneRequest(t *testing.T) {
	t.Parallel()
	env := newEnv(t, sandbox.Options{RateLimit: 3, RateWindow: time.Minute})
	tok := env.token(t)
	ids := []string{env.create(t, tok, "a-1"), env.create(t, tok, "b-2")}
	var defs, fields []string
	vars := map[string]any{}
	for i, n := range []string{"a-1", "b-2", "none"} {
		defs = append(defs, fmt.Sprintf("$repo%d: ID!, $name%d: String!", i, i))
		fields = append(fields, fmt.Sprintf("m%d: assetSearch(keyword: $name%d, first: 100, filters: {assetRepositoryId: [$repo%d]}, sort: {createdDate: DESC}) "+
			"{ pageInfo { hasNextPage } edges { node { id name } } }", i, i, i))
		vars[fmt.Sprint("repo", i)], vars[fmt.Sprint("name", i)] = testRepo, n
	}
	ans := env.post(t, tok, "query FindAssetsByNames("+strings.Join(defs, ", ")+") { "+strings.Join(fields, " ")+" }", vars)
	if ans.Status != http.StatusOK || len(ans.Errors) > 0 {
		t.Fatalf("status %d, errors %+v", ans.Status, ans.Errors)
	}
	var data map[string]struct {
		Edges []struct{ Node struct{ ID string } }
	}
	decodeData(t, ans, &data)
	got := map[string][]string{}
	for key, conn := range data {
		got[key] = []string{}
		for _, e := range conn.Edges {
			got[key] = append(got[key], e.Node.ID)
		}
	}
	if diff := cmp.Diff(map[string][]string{"m0": {ids[0]}, "m1": {ids[1]}, "m2": {}}, got); diff != "" {
		t.Errorf("found (-want +got):\n%s", diff)
	}
	if st := env.srv.Stats(); st.MaxPerWindow != 3 || st.RateLimited != 0 {
		t.Errorf("%d requests in the window, %d rate limited; want 3 (two creates and one search), none limited", st.MaxPerWindow, st.RateLimited)
	}
	if limited := env.post(t, tok, `{ __typename }`, nil); limited.Status != http.StatusTooManyRequests {
		t.Errorf("the fourth request answered %d, want 429", limited.Status)
	}
}
