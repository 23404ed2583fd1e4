package gqlapi

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestCreateAsset(t *testing.T) {
	t.Parallel()
	f := newFakeAmplience(t)
	f.setAPI(answer(200, `{"data":{"createAsset":{"id":"QXNzZXQ6MQ=="}}}`))
	lim := &fakeLimiter{}
	c := newTestClient(t, f, func(o *Options) { o.Limiter = lim })

	in := testInput
	in.Tags = []string{"sku-1042"}
	got, err := c.CreateAsset(t.Context(), in)
	if err != nil {
		t.Fatal(err)
	}

	want := Asset{ID: "QXNzZXQ6MQ=="}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("asset mismatch (-want +got):\n%s", diff)
	}
	reqs := f.requests()
	if len(reqs) != 1 {
		t.Fatalf("API requests = %d, want 1", len(reqs))
	}
	req := reqs[0]
	if req.OperationName != "CreateAsset" || !strings.HasPrefix(strings.TrimSpace(req.Query), "mutation CreateAsset") {
		t.Errorf("operation = %q, query = %q", req.OperationName, req.Query)
	}
	// Like every known caller, the mutation selects only the id.
	if sel := req.Query[strings.Index(req.Query, "createAsset"):]; strings.Contains(sel, "assetId") || strings.Contains(sel, "createdDate") {
		t.Errorf("createAsset selects more than its id: %q", req.Query)
	}
	// Optional fields that are empty are left out, not sent as "" or null.
	wantVars := map[string]any{"input": map[string]any{
		"src": testInput.Src, "type": "IMAGE", "name": testInput.Name, "filename": testInput.Filename,
		"assetRepositoryId": testInput.AssetRepositoryID, "tags": []any{"sku-1042"},
	}}
	if diff := cmp.Diff(wantVars, req.Variables); diff != "" {
		t.Errorf("variables mismatch (-want +got):\n%s", diff)
	}
	wantHeaders := map[string]string{
		"Content-Type":  "application/json",
		"User-Agent":    testUserAgent,
		"Authorization": "Bearer tok-1",
	}
	for name, want := range wantHeaders {
		if got := req.Header.Get(name); got != want {
			t.Errorf("header %s = %q, want %q", name, got, want)
		}
	}
	if waits, _ := lim.calls(); waits != 1 {
		t.Errorf("Limiter.Wait calls = %d, want 1", waits)
	}
}

func TestCreateAssetNullWithoutErrors(t *testing.T) {
	t.Parallel()
	f := newFakeAmplience(t)
	f.setAPI(answer(200, `{"data":{"createAsset":null}}`))
	c := newTestClient(t, f, nil)

	_, err := c.CreateAsset(t.Context(), testInput)

	if KindOf(err) != KindTransient || err == nil {
		t.Errorf("CreateAsset error = %v (kind %v), want a transient error", err, KindOf(err))
	}
}

// An answer holding both the created asset's id and errors means the asset exists: it is a
// success carrying the errors, and it is never repeated (a repeat would create a second
// asset), not even when an error says the token was refused.
func TestCreateAssetIdWithErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		body      string
		wantCodes []string
	}{
		{
			name:      "a field of the asset failed",
			body:      `{"data":{"createAsset":{"id":"QXNzZXQ6MQ=="}},"errors":[{"message":"thumbnail failed","path":["createAsset","thumbFile"],"extensions":{"code":"BAD_USER_INPUT"}}]}`,
			wantCodes: []string{"BAD_USER_INPUT"},
		},
		{
			name:      "an error naming authentication",
			body:      `{"data":{"createAsset":{"id":"QXNzZXQ6MQ=="}},"errors":[{"message":"token expired","extensions":{"code":"UNAUTHENTICATED"}}]}`,
			wantCodes: []string{"UNAUTHENTICATED"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeAmplience(t)
			f.setAPI(answer(200, tt.body))
			c := newTestClient(t, f, nil)

			got, err := c.CreateAsset(t.Context(), testInput)

			if err != nil {
				t.Fatalf("CreateAsset error = %v, want the asset", err)
			}
			if got.ID != "QXNzZXQ6MQ==" || got.Errors == nil {
				t.Fatalf("asset = %+v, want id QXNzZXQ6MQ== with the errors", got)
			}
			if diff := cmp.Diff(tt.wantCodes, got.Errors.Codes); diff != "" {
				t.Errorf("error codes (-want +got):\n%s", diff)
			}
			if n := len(f.requests()); n != 1 {
				t.Errorf("%d requests, want 1", n)
			}
		})
	}
}

// searchPage is one page the fake assetSearch answers.
type searchPage struct {
	cursor string // the after argument it answers; "" for the first page
	next   string // endCursor; "" on the last page
	nodes  []string
}

func node(id, name, created string) string {
	return fmt.Sprintf(`{"id":%q,"assetId":%q,"name":%q,"assetRepositoryId":"UmVwbzox","createdDate":%q}`, id, id, name, created)
}

func serveSearch(tb testing.TB, pages []searchPage) func(http.ResponseWriter, *http.Request, apiRequest) {
	return func(w http.ResponseWriter, _ *http.Request, req apiRequest) {
		cursor, _ := req.Variables["cursor"].(string)
		for _, p := range pages {
			if p.cursor != cursor {
				continue
			}
			edges := make([]string, len(p.nodes))
			for i, n := range p.nodes {
				edges[i] = `{"cursor":"x","node":` + n + `}`
			}
			writeJSON(w, 200, fmt.Sprintf(`{"data":{"assetSearch":{"total":99,"pageInfo":{"hasNextPage":%t,"endCursor":%q},"edges":[%s]}}}`,
				p.next != "", p.next, strings.Join(edges, ",")))
			return
		}
		tb.Errorf("search asked for unknown cursor %q", cursor)
		writeJSON(w, 400, `{"errors":[{"message":"bad cursor"}]}`)
	}
}

// ids returns the assets' ids in order; nil for none.
func ids(assets []Asset) []string {
	var out []string
	for _, a := range assets {
		out = append(out, a.ID)
	}
	return out
}

func TestFindByName(t *testing.T) {
	t.Parallel()
	f := newFakeAmplience(t)
	f.setAPI(serveSearch(t, []searchPage{
		{cursor: "", next: "c1", nodes: []string{
			node("newest", "sku-1", "2026-11-27T10:00:00Z"),
			node("other-case", "SKU-1", "2026-11-27T09:40:00Z"),
			node("longer", "sku-1-back", "2026-11-27T09:40:00Z"),
			`null`,
		}},
		{cursor: "c1", next: "c2", nodes: []string{
			node("too-old", "sku-1", "2026-11-27T08:59:59Z"),
			node("oldest", "sku-1", "2026-11-27T09:00:00Z"),
			node("no-date", "sku-1", ""),
		}},
		{cursor: "c2", nodes: []string{
			node("middle", "sku-1", "2026-11-27T09:30:00.5+01:00"), // 08:30:00.5Z: too old
			node("middle2", "sku-1", "2026-11-27T09:30:00Z"),
			node("newest", "sku-1", "2026-11-27T10:00:00Z"), // seen on page 1
		}},
	}))
	c := newTestClient(t, f, nil)
	since := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)

	got, err := c.FindByName(t.Context(), "UmVwbzox", "sku-1", since)
	if err != nil {
		t.Fatal(err)
	}

	if diff := cmp.Diff([]string{"oldest", "middle2", "newest"}, ids(got)); diff != "" {
		t.Errorf("assets mismatch (-want +got):\n%s", diff)
	}
	var gotVars []map[string]any
	for _, r := range f.requests() {
		gotVars = append(gotVars, r.Variables)
		compact := strings.Join(strings.Fields(r.Query), "")
		if !strings.Contains(compact, "filters:{assetRepositoryId:[$repositoryId]}") || !strings.Contains(compact, "first:100") {
			t.Errorf("query does not use inline filters and first: 100:\n%s", r.Query)
		}
	}
	wantVars := []map[string]any{
		{"repositoryId": "UmVwbzox", "name": "sku-1"}, // no cursor at all on the first page
		{"repositoryId": "UmVwbzox", "name": "sku-1", "cursor": "c1"},
		{"repositoryId": "UmVwbzox", "name": "sku-1", "cursor": "c2"},
	}
	if diff := cmp.Diff(wantVars, gotVars); diff != "" {
		t.Errorf("request variables mismatch (-want +got):\n%s", diff)
	}
}

// searchPages returns n pages of assets whose names all contain "sku-1", newest first, one
// minute apart from newest down; the exact match "sku-1" is the third asset of page 0.
func searchPages(n int, newest time.Time) []searchPage {
	var out []searchPage
	at := newest
	for i := range n {
		p := searchPage{next: fmt.Sprintf("c%d", i+1)}
		if i > 0 {
			p.cursor = fmt.Sprintf("c%d", i)
		}
		if i == n-1 {
			p.next = ""
		}
		for j := range 100 {
			name := fmt.Sprintf("sku-1-%d-%d", i, j)
			if i == 0 && j == 2 {
				name = "sku-1"
			}
			p.nodes = append(p.nodes, node(fmt.Sprintf("id-%d-%d", i, j), name, at.Format(time.RFC3339)))
			at = at.Add(-time.Minute)
		}
		out = append(out, p)
	}
	return out
}

// The edge cases of FindByName. One reconciliation spends at most a few requests: the search
// is read newest first, stops at the first page that reaches assets older than createdSince,
// and gives up after three pages, however many assets match the keyword.
func TestFindByNameEdgeCases(t *testing.T) {
	t.Parallel()
	since := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		pages    []searchPage
		since    time.Time
		wantIDs  []string
		wantKind Kind  // checked when wantErr
		wantIs   error // checked when not nil
		wantErr  bool
		// wantRequests is the number of search requests; 0: not checked.
		wantRequests int
	}{
		{
			// 1,000 matches; the second page reaches assets created before since.
			name: "stops at createdSince", pages: searchPages(10, since.Add(150*time.Minute)), since: since,
			wantIDs: []string{"id-0-2"}, wantRequests: 2,
		},
		{
			name: "one page when the newest are older", pages: searchPages(50, since.Add(-time.Hour)), since: since,
			wantRequests: 1,
		},
		{
			// 5,000 matches, all created since: three pages, then a verdict.
			name: "gives up after three pages", pages: searchPages(50, since.Add(100*24*time.Hour)), since: since,
			wantErr: true, wantKind: KindRejected, wantIs: ErrSearchTooBroad, wantRequests: 3,
		},
		{
			name:    "no match",
			pages:   []searchPage{{nodes: []string{node("a", "sku-10", "2026-11-27T10:00:00Z")}}},
			wantIDs: nil,
		},
		{
			name: "zero since keeps every exact match, undated first",
			pages: []searchPage{{nodes: []string{
				node("b", "sku-1", "2026-11-27T10:00:00Z"),
				node("a", "sku-1", "not a date"),
				node("c", "sku-1", "2020-01-01T00:00:00"),
			}}},
			wantIDs: []string{"a", "c", "b"},
		},
		{
			name:     "cursor that does not advance",
			pages:    []searchPage{{next: "c1"}, {cursor: "c1", next: "c1"}},
			wantErr:  true,
			wantKind: KindTransient,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeAmplience(t)
			f.setAPI(serveSearch(t, tt.pages))
			c := newTestClient(t, f, nil)

			got, err := c.FindByName(t.Context(), "UmVwbzox", "sku-1", tt.since)

			reqs := f.requests()
			if tt.wantRequests != 0 && len(reqs) != tt.wantRequests {
				t.Errorf("%d search requests, want %d", len(reqs), tt.wantRequests)
			}
			for _, r := range reqs {
				if compact := strings.Join(strings.Fields(r.Query), ""); !strings.Contains(compact, "sort:{createdDate:DESC}") {
					t.Errorf("the search is not sorted newest first by an inline sort argument:\n%s", r.Query)
				}
			}
			if tt.wantErr {
				if err == nil || KindOf(err) != tt.wantKind || (tt.wantIs != nil && !errors.Is(err, tt.wantIs)) {
					t.Fatalf("error = %v (kind %v), want kind %v wrapping %v", err, KindOf(err), tt.wantKind, tt.wantIs)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.wantIDs, ids(got)); diff != "" {
				t.Errorf("assets mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestProbe(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		api      func(http.ResponseWriter, *http.Request, apiRequest)
		token    http.HandlerFunc
		wantKind Kind
		wantOK   bool
	}{
		{name: "healthy", wantOK: true},
		{name: "API down", api: answer(503, "down"), wantKind: KindTransient},
		{name: "permission lost", api: answer(200, `{"errors":[{"message":"status 403"}]}`), wantKind: KindPermission},
		{name: "empty answer", api: answer(200, `{"data":{}}`), wantKind: KindTransient},
		{
			name:     "credentials refused",
			token:    func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 400, `{"error":"invalid_client"}`) },
			wantKind: KindUnauthorized,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeAmplience(t)
			f.set(func(f *fakeAmplience) { f.api, f.token = tt.api, tt.token })
			c := newTestClient(t, f, nil)

			err := c.Probe(t.Context())

			if tt.wantOK {
				if err != nil {
					t.Fatalf("Probe: %v", err)
				}
			} else if err == nil || KindOf(err) != tt.wantKind {
				t.Fatalf("Probe error = %v (kind %v), want kind %v", err, KindOf(err), tt.wantKind)
			}
			for _, r := range f.requests() {
				if r.OperationName != "Probe" || !strings.Contains(r.Query, "__typename") {
					t.Errorf("probe sent operation %q, query %q", r.OperationName, r.Query)
				}
			}
		})
	}
}

func TestProbeFetchesAFreshToken(t *testing.T) {
	t.Parallel()
	f := newFakeAmplience(t)
	c := newTestClient(t, f, nil)

	for i := range 2 {
		if err := c.Probe(t.Context()); err != nil {
			t.Fatalf("Probe %d: %v", i, err)
		}
	}
	if err := probeQuery(t, c); err != nil { // an ordinary request reuses the probe's token
		t.Fatal(err)
	}

	var got []string
	for _, r := range f.requests() {
		got = append(got, r.Token)
	}
	if diff := cmp.Diff([]string{"tok-1", "tok-2", "tok-2"}, got); diff != "" {
		t.Errorf("bearer tokens mismatch (-want +got):\n%s", diff)
	}
}
