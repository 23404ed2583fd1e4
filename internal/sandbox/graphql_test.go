package sandbox_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/sandbox"
)

// The documentation's example of a mistyped query answers its documented shape: message,
// locations, extensions. (The suggestions are gqlparser's, which also offers "type".)
func TestValidationErrorShape(t *testing.T) {
	t.Parallel()
	env := newEnv(t, sandbox.Options{})
	query := "query {\n" +
		"  node(id: \"x\") {\n" +
		"    ... on Asset {\n" +
		"      id\n" +
		"      mimetype\n" +
		"    }\n" +
		"  }\n" +
		"}"
	ans := env.post(t, env.token(t), query, nil)
	want := []gqlError{{
		Message:    `Cannot query field "mimetype" on type "Asset". Did you mean "mimeType" or "type"?`,
		Locations:  []location{{Line: 5, Column: 7}},
		Extensions: map[string]any{"code": "GRAPHQL_VALIDATION_FAILED"},
	}}
	if ans.Status != http.StatusBadRequest {
		t.Errorf("status %d, want 400", ans.Status)
	}
	if diff := cmp.Diff(want, ans.Errors); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
	if len(ans.Data) != 0 {
		t.Errorf("a validation failure carries data: %s", ans.Data)
	}
}

func TestRequestErrors(t *testing.T) {
	t.Parallel()
	env := newEnv(t, sandbox.Options{})
	tok := env.token(t)
	input := assetInput("bad")
	lowerType := assetInput("lower")
	lowerType["type"] = "image"
	noName := assetInput("x")
	delete(noName, "name")
	badSrc := assetInput("src")
	badSrc["src"] = "ftp://example.com/a.jpg"
	tests := []struct {
		name     string
		query    string
		vars     map[string]any
		wantCode string
		wantMsg  string // when set, the first error's message
	}{
		{name: "syntax error", query: `{ node(id: "x") { id }`, wantCode: "GRAPHQL_PARSE_FAILED"},
		{name: "empty query", query: ``, wantCode: "BAD_USER_INPUT"},
		{name: "unknown argument", query: `{ assets(ids: ["x"]) { id } }`, wantCode: "GRAPHQL_VALIDATION_FAILED"},
		{name: "missing selection", query: `{ node(id: "x") }`, wantCode: "GRAPHQL_VALIDATION_FAILED"},
		{name: "undeclared variable", query: `{ node(id: $id) { id } }`, wantCode: "GRAPHQL_VALIDATION_FAILED"},
		{name: "missing variable", query: createMutation, vars: nil, wantCode: "BAD_USER_INPUT"},
		{
			name: "missing required input field", query: createMutation, vars: map[string]any{"input": noName},
			wantCode: "BAD_USER_INPUT", wantMsg: "variable.input.name must be defined",
		},
		{name: "unknown input field", query: createMutation, vars: map[string]any{"input": withField(input, "colour", "red")}, wantCode: "BAD_USER_INPUT"},
		{
			name: "enum in the wrong case", query: createMutation, vars: map[string]any{"input": lowerType},
			wantCode: "BAD_USER_INPUT", wantMsg: `input.type: value "image" does not exist in "AssetType" enum`,
		},
		{name: "src not http", query: createMutation, vars: map[string]any{"input": badSrc}, wantCode: "BAD_USER_INPUT"},
		{name: "two operations without a name", query: `query A { __typename } query B { __typename }`, wantCode: "BAD_USER_INPUT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ans := env.post(t, tok, tt.query, tt.vars)
			if ans.Status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400 (errors %+v)", ans.Status, ans.Errors)
			}
			if len(ans.Errors) == 0 || ans.Errors[0].Message == "" {
				t.Fatalf("errors = %+v, want at least one with a message", ans.Errors)
			}
			if tt.wantMsg != "" && ans.Errors[0].Message != tt.wantMsg {
				t.Errorf("message %q, want %q", ans.Errors[0].Message, tt.wantMsg)
			}
			if got := ans.Errors[0].Extensions["code"]; got != tt.wantCode {
				t.Errorf("extensions.code = %v, want %s", got, tt.wantCode)
			}
		})
	}
	if got := len(env.srv.Assets()); got != 0 {
		t.Errorf("refused requests created %d assets", got)
	}
}

func withField(m map[string]any, k string, v any) map[string]any {
	out := map[string]any{k: v}
	for key, val := range m {
		out[key] = val
	}
	return out
}

func TestGetQuery(t *testing.T) {
	t.Parallel()
	env := newEnv(t, sandbox.Options{})
	tok := env.token(t)
	id := env.create(t, tok, "via-get")
	tests := []struct {
		name       string
		params     url.Values
		wantStatus int
		wantData   string
	}{
		{
			name:       "query",
			params:     url.Values{"query": {`query Find($id: ID!) { node(id: $id) { ... on Asset { name } } }`}, "variables": {`{"id":"` + id + `"}`}},
			wantStatus: http.StatusOK, wantData: `{"node":{"name":"via-get"}}`,
		},
		{
			name:       "operation name",
			params:     url.Values{"query": {`query A { a: __typename } query B { b: __typename }`}, "operationName": {"B"}},
			wantStatus: http.StatusOK, wantData: `{"b":"Query"}`,
		},
		{
			name:       "mutation refused",
			params:     url.Values{"query": {`mutation { createAsset(input: {type: IMAGE, name: "n", filename: "f.jpg", assetRepositoryId: "r"}) { id } }`}},
			wantStatus: http.StatusMethodNotAllowed,
		},
		{name: "no query", params: url.Values{}, wantStatus: http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequest(http.MethodGet, env.ts.URL+"/graphql?"+tt.params.Encode(), nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+tok)
			ans := env.do(t, req)
			if ans.Status != tt.wantStatus {
				t.Fatalf("status %d, want %d (errors %+v)", ans.Status, tt.wantStatus, ans.Errors)
			}
			if tt.wantData != "" && string(ans.Data) != tt.wantData {
				t.Errorf("data %s, want %s", ans.Data, tt.wantData)
			}
		})
	}
	if got := len(env.srv.Assets()); got != 1 {
		t.Errorf("%d assets after a GET mutation, want the 1 created by POST", got)
	}
}

func TestRequestsRecorded(t *testing.T) {
	t.Parallel()
	env := newEnv(t, sandbox.Options{})
	tok := env.token(t)
	const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	env.post(t, tok, createMutation, map[string]any{"input": assetInput("recorded")},
		"traceparent", traceparent, "User-Agent", "asset-ingest-consumer/test")

	reqs := env.srv.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests recorded, want 1", len(reqs))
	}
	r := reqs[0]
	got := []string{r.Method, r.OperationName, strings.Join(r.RootFields, ","), r.Header.Get("Traceparent"),
		r.Header.Get("User-Agent"), r.Header.Get("Authorization")}
	want := []string{"POST", "CreateAsset", "createAsset", traceparent, "asset-ingest-consumer/test", "Bearer [REDACTED]"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("recorded request (-want +got):\n%s", diff)
	}
	if r.Status != http.StatusOK || !r.Time.Equal(env.clock.Now()) {
		t.Errorf("status %d at %v, want 200 at %v", r.Status, r.Time, env.clock.Now())
	}
	input, _ := r.Variables["input"].(map[string]any)
	if input["name"] != "recorded" {
		t.Errorf("recorded variables %v, want the input", r.Variables)
	}
	all, err := json.Marshal(env.srv.Requests())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(all), tok) {
		t.Error("the recorded requests hold the access token")
	}
	st := env.srv.Stats()
	if st.ByOperation["CreateAsset"] != 1 || st.ByRootField["createAsset"] != 1 || st.CreateAssetCalls["recorded"] != 1 {
		t.Errorf("stats %+v do not count the createAsset call", st)
	}
}
