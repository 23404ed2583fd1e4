package gqlapi

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/validator"
)

// selected lists the fields a selection set selects, at every depth, as dotted paths, with
// fragments expanded.
func selected(set ast.SelectionSet, prefix string) []string {
	var out []string
	for _, sel := range set {
		switch sel := sel.(type) {
		case *ast.Field:
			out = append(out, prefix+sel.Name)
			out = append(out, selected(sel.SelectionSet, prefix+sel.Name+".")...)
		case *ast.FragmentSpread:
			out = append(out, selected(sel.Definition.SelectionSet, prefix)...)
		case *ast.InlineFragment:
			out = append(out, selected(sel.SelectionSet, prefix)...)
		}
	}
	return out
}

func TestSearchesDocumentIsValid(t *testing.T) {
	t.Parallel()
	s := testSchema(t)
	one := validOperation(t, s, FindAssetsByName_Operation).SelectionSet[0].(*ast.Field)
	for _, n := range []int{1, 2, 25, MaxBatchSize} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			op := validOperation(t, s, searchesDocument(n))
			if op.Operation != ast.Query || op.Name != searchOp || len(op.SelectionSet) != n || len(op.VariableDefinitions) != 2*n {
				t.Fatalf("operation %s %q with %d fields and %d variables", op.Operation, op.Name, len(op.SelectionSet), len(op.VariableDefinitions))
			}
			vars := map[string]any{}
			for i, sel := range op.SelectionSet {
				f := sel.(*ast.Field)
				if f.Name != "assetSearch" || f.Alias != alias(i) {
					t.Errorf("field %d: %s: %s", i, f.Alias, f.Name)
				}
				if kw := f.Arguments.ForName("keyword").Value; kw.Kind != ast.Variable || kw.Raw != fmt.Sprint("name", i) {
					t.Errorf("field %d: keyword: %s", i, kw)
				}
				for _, arg := range []string{"first", "sort"} {
					if got, want := f.Arguments.ForName(arg).Value.String(), one.Arguments.ForName(arg).Value.String(); got != want {
						t.Errorf("field %d: %s: %s, want %s as FindAssetsByName", i, arg, got, want)
					}
				}
				if got, want := f.Arguments.ForName("filters").Value.String(), fmt.Sprintf("{assetRepositoryId:[$repo%d]}", i); got != want {
					t.Errorf("field %d: filters: %s, want %s", i, got, want)
				}
				if f.Arguments.ForName("after") != nil {
					t.Errorf("field %d reads a page after a cursor", i)
				}
				if diff := cmp.Diff(selected(one.SelectionSet, ""), selected(f.SelectionSet, "")); diff != "" {
					t.Errorf("field %d selects other fields than FindAssetsByName (-want +got):\n%s", i, diff)
				}
				vars[fmt.Sprint("repo", i)] = "UmVwbzox"
				vars[fmt.Sprint("name", i)] = fmt.Sprint("n", i)
			}
			if _, err := validator.VariableValues(s, op, vars); err != nil {
				t.Errorf("variables do not validate: %v", err)
			}
		})
	}
}

// searchAPI answers searches with one asset per name, id "id-<name>" (and a second page for
// names starting with "many": "id-<name>-2"), and createAsset fields as assetsAPI does.
func searchAPI(w http.ResponseWriter, r *http.Request, req apiRequest) {
	node := func(id, name string) string {
		return fmt.Sprintf(`{"node":{"id":%q,"assetId":"u","name":%q,"assetRepositoryId":"UmVwbzox","createdDate":"2026-01-02T03:04:05Z"}}`, id, name)
	}
	page := func(name string, cursor any) string {
		switch {
		case cursor == "c1":
			return `{"pageInfo":{"hasNextPage":false},"edges":[` + node("id-"+name+"-2", name) + `]}`
		case strings.HasPrefix(name, "many"):
			return `{"pageInfo":{"hasNextPage":true,"endCursor":"c1"},"edges":[` + node("id-"+name, name) + `]}`
		}
		return `{"pageInfo":{"hasNextPage":false},"edges":[` + node("id-"+name, name) + `]}`
	}
	switch req.OperationName {
	case "FindAssetsByName":
		writeJSON(w, 200, `{"data":{"assetSearch":`+page(req.Variables["name"].(string), req.Variables["cursor"])+`}}`)
	case searchOp:
		var parts []string
		for i := range len(req.Variables) / 2 {
			parts = append(parts, fmt.Sprintf(`"m%d":%s`, i, page(req.Variables[fmt.Sprint("name", i)].(string), nil)))
		}
		writeJSON(w, 200, `{"data":{`+strings.Join(parts, ",")+`}}`)
	default:
		assetsAPI(0)(w, r, req)
	}
}

// findAll makes one FindByName call for each name, concurrently, and returns the ids found (or
// the error's kind) by name.
func findAll(t *testing.T, b *Batcher, names ...string) map[string][]string {
	var mu sync.Mutex
	out := map[string][]string{}
	var wg sync.WaitGroup
	for _, name := range names {
		wg.Go(func() {
			found, err := b.FindByName(t.Context(), "UmVwbzox", name, time.Time{})
			var ids []string
			for _, a := range found {
				ids = append(ids, a.ID)
			}
			if err != nil {
				ids = []string{KindOf(err).String()}
			}
			mu.Lock()
			out[name] = ids
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}

// searchRequests describes each search request f received, in order: a single search by its
// name and cursor, a request of several first pages by their number.
func searchRequests(f *fakeAmplience) []string {
	var out []string
	for _, r := range f.requests() {
		switch r.OperationName {
		case "FindAssetsByName":
			out = append(out, fmt.Sprint(r.Variables["name"], " ", r.Variables["cursor"]))
		case searchOp:
			out = append(out, fmt.Sprint(len(r.Variables)/2, " searches"))
		}
	}
	return out
}

func TestBatcherSearches(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		names []string
		want  map[string][]string
		reqs  []string
		// refuseOver refuses requests of more searches as too complex (0: none)
		refuseOver int
	}{
		{name: "a lone search is sent at once", names: []string{"a"},
			want: map[string][]string{"a": {"id-a"}}, reqs: []string{"a <nil>"}},
		{name: "searches waiting for the budget share a request", names: []string{"a", "b", "c", "d", "e", "f"},
			want: map[string][]string{"a": {"id-a"}, "b": {"id-b"}, "c": {"id-c"}, "d": {"id-d"}, "e": {"id-e"}, "f": {"id-f"}},
			reqs: []string{"4 searches", "2 searches"}},
		{name: "a later page is a request of its own", names: []string{"a", "many"},
			want: map[string][]string{"a": {"id-a"}, "many": {"id-many", "id-many-2"}},
			reqs: []string{"2 searches", "many c1"}},
		{name: "a refused request is split", names: []string{"a", "b", "c", "d", "e", "f"}, refuseOver: 2,
			want: map[string][]string{"a": {"id-a"}, "b": {"id-b"}, "c": {"id-c"}, "d": {"id-d"}, "e": {"id-e"}, "f": {"id-f"}},
			reqs: []string{"4 searches", "2 searches", "2 searches", "2 searches"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeAmplience(t)
			f.setAPI(func(w http.ResponseWriter, r *http.Request, req apiRequest) {
				if tt.refuseOver > 0 && req.OperationName == searchOp && len(req.Variables)/2 > tt.refuseOver {
					writeJSON(w, 400, `{"errors":[{"message":"Query is too complex","extensions":{"code":"COMPLEXITY_LIMIT_EXCEEDED"}}]}`)
					return
				}
				searchAPI(w, r, req)
			})
			g := newGate()
			c := newTestClient(t, f, func(o *Options) { o.Limiter = g })
			b, err := NewBatcher(c, BatchOptions{Size: 4})
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan map[string][]string)
			go func() { done <- findAll(t, b, tt.names...) }()
			queued(t, b, len(tt.names))
			close(g.open)
			if diff := cmp.Diff(tt.want, <-done); diff != "" {
				t.Errorf("found (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.reqs, searchRequests(f)); diff != "" {
				t.Errorf("search requests (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBatcherNeverMixesSearchesAndCreates(t *testing.T) {
	t.Parallel()
	f := newFakeAmplience(t)
	f.setAPI(searchAPI)
	g := newGate()
	c := newTestClient(t, f, func(o *Options) { o.Limiter = g })
	b, err := NewBatcher(c, BatchOptions{Size: 10})
	if err != nil {
		t.Fatal(err)
	}
	found, created := make(chan map[string][]string), make(chan map[string]BatchResult)
	go func() { found <- findAll(t, b, "a", "b", "c") }()
	go func() { created <- callAll(t.Context(), b, 3) }()
	queued(t, b, 6)
	close(g.open)
	if diff := cmp.Diff(map[string][]string{"a": {"id-a"}, "b": {"id-b"}, "c": {"id-c"}}, <-found); diff != "" {
		t.Errorf("found (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantIDs(3), <-created); diff != "" {
		t.Errorf("created (-want +got):\n%s", diff)
	}
	var ops []string
	for _, r := range f.requests() {
		ops = append(ops, fmt.Sprint(r.OperationName, " ", len(r.Variables)))
	}
	if len(ops) != 2 || !strings.Contains(strings.Join(ops, ","), batchOp+" 3") || !strings.Contains(strings.Join(ops, ","), searchOp+" 6") {
		t.Errorf("requests %v, want one %s of 3 creates and one %s of 3 searches", ops, batchOp, searchOp)
	}
}

func TestFirstPagesOutcomes(t *testing.T) {
	t.Parallel()
	const empty = `{"pageInfo":{"hasNextPage":false},"edges":[]}`
	page := func() memberOutcome { return memberOutcome{ID: "page"} }
	failed := func(k Kind) memberOutcome { return memberOutcome{Kind: k.String()} }
	tests := []struct {
		name    string
		status  int
		body    string
		want    []memberOutcome // nil: the whole request failed
		wantErr string          // the kind of the whole request's error, or "refused"
	}{
		{name: "pages", status: 200, body: `{"data":{"m0":` + empty + `,"m1":` + empty + `,"m2":` + empty + `}}`,
			want: []memberOutcome{page(), page(), page()}},
		{name: "200 with a member's error", status: 200,
			body: `{"data":{"m0":` + empty + `,"m1":null,"m2":` + empty + `},"errors":[{"message":"bad","path":["m1"],"extensions":{"code":"BAD_USER_INPUT"}}]}`,
			want: []memberOutcome{page(), failed(KindRejected), page()}},
		{name: "retryable error of a member", status: 200,
			body: `{"data":{"m0":` + empty + `,"m1":` + empty + `,"m2":null},"errors":[{"message":"oops","path":["m2","edges"],"extensions":{"code":"INTERNAL_SERVER_ERROR"}}]}`,
			want: []memberOutcome{page(), page(), failed(KindTransient)}},
		{name: "400 with a member's error", status: 400,
			body: `{"errors":[{"message":"bad","path":["m0"],"extensions":{"code":"BAD_USER_INPUT"}}]}`,
			want: []memberOutcome{failed(KindRejected), failed(KindTransient), failed(KindTransient)}},
		{name: "no answer for a member", status: 200, body: `{"data":{"m0":` + empty + `,"m2":` + empty + `}}`,
			want: []memberOutcome{page(), failed(KindTransient), page()}},
		{name: "500", status: 500, body: `{"errors":[{"message":"boom"}]}`, wantErr: "transient"},
		{name: "429", status: 429, body: `{"errors":[{"message":"slow down"}]}`, wantErr: "rate_limited"},
		{name: "400 naming no member", status: 400, body: `{"errors":[{"message":"Variable \"$name1\" got invalid value"}]}`, wantErr: "refused"},
		{name: "complexity", status: 400, body: `{"errors":[{"message":"too complex","extensions":{"code":"COMPLEXITY_LIMIT_EXCEEDED"}}]}`, wantErr: "refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeAmplience(t)
			f.setAPI(answer(tt.status, tt.body))
			c := newTestClient(t, f, nil)
			got, err := c.firstPages(t.Context(), []searchArgs{{"UmVwbzox", "a"}, {"UmVwbzox", "b"}, {"UmVwbzox", "c"}})
			if wantMembers(t, tt.wantErr, err) {
				outs := make([]memberOutcome, len(got))
				for i, p := range got {
					if p.page != nil {
						outs[i].ID = "page"
					}
					if p.err != nil {
						outs[i].Kind = KindOf(p.err).String()
					}
				}
				if diff := cmp.Diff(tt.want, outs); diff != "" {
					t.Errorf("member outcomes (-want +got):\n%s", diff)
				}
			}
			if reqs := f.requests(); len(reqs) != 1 || reqs[0].OperationName != searchOp || len(reqs[0].Variables) != 6 {
				t.Errorf("requests %+v, want one %s request with 6 variables", reqs, searchOp)
			}
		})
	}
}
