package sandbox_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/sandbox"
)

func TestFaultKinds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name           string
		fault          sandbox.Fault
		wantStatus     int
		wantError      *gqlError // nil: no errors
		wantRetryAfter string
		wantAssets     int
		minDuration    time.Duration
	}{
		{
			name: "server error", fault: sandbox.Fault{Status: 503},
			wantStatus: 503, wantError: &gqlError{Message: "Service Unavailable"},
		},
		{
			name: "unauthorized", fault: sandbox.Fault{Status: 401},
			wantStatus: 401, wantError: &gqlError{Message: "Unauthorized"},
		},
		{
			name: "permission error in a 200", fault: sandbox.Fault{GraphQLError: "Request failed with status code 403"},
			wantStatus: 200, wantError: &gqlError{Message: "Request failed with status code 403"},
		},
		{
			name:       "error with a code and status",
			fault:      sandbox.Fault{Status: 400, GraphQLError: "too complex", Code: "COMPLEXITY_LIMIT_EXCEEDED"},
			wantStatus: 400, wantError: &gqlError{Message: "too complex", Extensions: map[string]any{"code": "COMPLEXITY_LIMIT_EXCEEDED"}},
		},
		{
			name: "429 with Retry-After", fault: sandbox.Fault{Status: 429, RetryAfter: "2"},
			wantStatus: 429, wantError: &gqlError{Message: "Too Many Requests"}, wantRetryAfter: "2",
		},
		{
			name: "429 without Retry-After", fault: sandbox.Fault{Status: 429},
			wantStatus: 429, wantError: &gqlError{Message: "Too Many Requests"},
		},
		{
			name: "created then failed", fault: sandbox.Fault{CreateThenFail: true},
			wantStatus: 500, wantError: &gqlError{Message: "Internal Server Error"}, wantAssets: 1,
		},
		{
			name: "created then 503", fault: sandbox.Fault{CreateThenFail: true, Status: 503},
			wantStatus: 503, wantError: &gqlError{Message: "Service Unavailable"}, wantAssets: 1,
		},
		{
			name: "delay alone", fault: sandbox.Fault{Delay: 30 * time.Millisecond},
			wantStatus: 200, wantAssets: 1, minDuration: 30 * time.Millisecond,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := newEnv(t, sandbox.Options{})
			tok := env.token(t)
			env.srv.AddFault(tt.fault)
			start := time.Now()
			ans := env.post(t, tok, createMutation, map[string]any{"input": assetInput("faulty")})
			if elapsed := time.Since(start); elapsed < tt.minDuration {
				t.Errorf("answered after %v, want at least %v", elapsed, tt.minDuration)
			}
			if ans.Status != tt.wantStatus {
				t.Errorf("status %d, want %d", ans.Status, tt.wantStatus)
			}
			var want []gqlError
			if tt.wantError != nil {
				want = []gqlError{*tt.wantError}
			}
			if diff := cmp.Diff(want, ans.Errors); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
			if got := ans.Header.Get("Retry-After"); got != tt.wantRetryAfter {
				t.Errorf("Retry-After %q, want %q", got, tt.wantRetryAfter)
			}
			if got := len(env.srv.Assets()); got != tt.wantAssets {
				t.Errorf("%d assets, want %d", got, tt.wantAssets)
			}
			if got := env.srv.Stats().FaultsApplied; got != 1 {
				t.Errorf("FaultsApplied %d, want 1", got)
			}
			// The fault has no Times limit: it still applies.
			if again := env.post(t, tok, createMutation, map[string]any{"input": assetInput("again")}); again.Status != tt.wantStatus {
				t.Errorf("second request: status %d, want %d", again.Status, tt.wantStatus)
			}
			env.srv.ClearFaults()
			if after := env.post(t, tok, createMutation, map[string]any{"input": assetInput("cleared")}); after.Status != http.StatusOK || len(after.Errors) > 0 {
				t.Errorf("after ClearFaults: status %d errors %+v", after.Status, after.Errors)
			}
		})
	}
}

func TestFaultMatchAndTimes(t *testing.T) {
	t.Parallel()
	env := newEnv(t, sandbox.Options{})
	tok := env.token(t)
	env.srv.AddFault(sandbox.Fault{Match: "sku-9", Times: 2, Status: 503})
	env.srv.AddFault(sandbox.Fault{Match: "sku-9", Times: 1, GraphQLError: "second fault"})

	steps := []struct {
		name       string
		wantStatus int
	}{
		{name: "sku-1", wantStatus: 200},
		{name: "sku-9-a", wantStatus: 503},
		{name: "x-sku-9", wantStatus: 503},
		// The first fault is spent: only the second is left.
		{name: "sku-9-b", wantStatus: 200}, // the second fault: a GraphQL error in a 200
		{name: "sku-9-c", wantStatus: 200},
	}
	var gotStatuses, wantStatuses []int
	for _, s := range steps {
		if s.name == "sku-9-b" {
			want := []sandbox.Fault{{Match: "sku-9", Times: 1, GraphQLError: "second fault"}}
			if diff := cmp.Diff(want, env.srv.Faults()); diff != "" {
				t.Errorf("active faults after the first was spent (-want +got):\n%s", diff)
			}
		}
		ans := env.post(t, tok, createMutation, map[string]any{"input": assetInput(s.name)})
		gotStatuses = append(gotStatuses, ans.Status)
		wantStatuses = append(wantStatuses, s.wantStatus)
	}
	if diff := cmp.Diff(wantStatuses, gotStatuses); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	if ans := env.post(t, tok, `{ __typename }`, nil); ans.Status != http.StatusOK {
		t.Errorf("a request without createAsset matched a Match fault: %d", ans.Status)
	}
	if diff := cmp.Diff([]string{"sku-1", "sku-9-c"}, names(env.srv.Assets())); diff != "" {
		t.Errorf("assets created (-want +got):\n%s", diff)
	}
	if got := env.srv.Stats().CreateAssetCalls["sku-9-a"]; got != 1 {
		t.Errorf("CreateAssetCalls[sku-9-a] = %d, want 1 (faulted calls count)", got)
	}

	env.srv.AddFault(sandbox.Fault{Times: 1, Status: 500})
	if ans := env.post(t, tok, `{ __typename }`, nil); ans.Status != http.StatusInternalServerError {
		t.Errorf("a fault without Match: status %d, want 500", ans.Status)
	}
	if ans := env.post(t, tok, `{ __typename }`, nil); ans.Status != http.StatusOK {
		t.Errorf("after its one time: status %d, want 200", ans.Status)
	}
}

func TestHangReleasedByClientTimeout(t *testing.T) {
	t.Parallel()
	env := newEnv(t, sandbox.Options{})
	tok := env.token(t)
	env.srv.AddFault(sandbox.Fault{Hang: true, Times: 1})

	client := *env.ts.Client()
	client.Timeout = 100 * time.Millisecond
	body, _ := json.Marshal(map[string]any{"query": createMutation, "variables": map[string]any{"input": assetInput("hung")}})
	req, err := http.NewRequest(http.MethodPost, env.ts.URL+"/graphql", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	start := time.Now()
	resp, err := client.Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("a hung request was answered: %d", resp.StatusCode)
	}
	if elapsed := time.Since(start); elapsed < 100*time.Millisecond {
		t.Errorf("the client gave up after %v, before its timeout", elapsed)
	}
	if len(env.srv.Assets()) != 0 {
		t.Error("a hung createAsset created an asset")
	}
	if ans := env.post(t, tok, createMutation, map[string]any{"input": assetInput("after")}); ans.Status != http.StatusOK {
		t.Errorf("the request after the hang: status %d, want 200", ans.Status)
	}
}

func TestHangReleasedByClose(t *testing.T) {
	t.Parallel()
	env := newEnv(t, sandbox.Options{})
	tok := env.token(t)
	env.srv.AddFault(sandbox.Fault{Hang: true})

	got := make(chan int, 1)
	go func() {
		body, _ := json.Marshal(map[string]any{"query": "{ __typename }"})
		req, _ := http.NewRequest(http.MethodPost, env.ts.URL+"/graphql", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := env.ts.Client().Do(req)
		if err != nil {
			got <- -1
			return
		}
		resp.Body.Close()
		got <- resp.StatusCode
	}()
	waitFor(t, "the request to hang", func() bool { return env.srv.Stats().FaultsApplied == 1 })
	env.srv.Close()
	select {
	case status := <-got:
		if status != http.StatusServiceUnavailable {
			t.Errorf("status %d after Close, want 503", status)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not release the hung request")
	}
}

func TestLatency(t *testing.T) {
	t.Parallel()
	env := newEnv(t, sandbox.Options{Latency: 40 * time.Millisecond})
	tok := env.token(t)
	start := time.Now()
	if ans := env.post(t, tok, `{ __typename }`, nil); ans.Status != http.StatusOK {
		t.Fatalf("status %d", ans.Status)
	}
	if elapsed := time.Since(start); elapsed < 40*time.Millisecond {
		t.Errorf("answered after %v, want at least the 40ms latency", elapsed)
	}
}

func TestFaultJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		json    string
		want    sandbox.Fault
		wantErr bool
	}{
		{
			name: "all fields",
			json: `{"match":"m","times":2,"status":429,"retryAfter":"3","graphqlError":"e","code":"C","hang":true,"delay":"1.5s","createThenFail":true}`,
			want: sandbox.Fault{Match: "m", Times: 2, Status: 429, RetryAfter: "3", GraphQLError: "e", Code: "C", Hang: true, Delay: 1500 * time.Millisecond, CreateThenFail: true},
		},
		{name: "unknown field", json: `{"statuss":500}`, wantErr: true},
		{name: "bad delay", json: `{"delay":"soon"}`, wantErr: true},
		{name: "negative times", json: `{"times":-1}`, wantErr: true},
		{name: "not a status", json: `{"status":42}`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var f sandbox.Fault
			err := json.Unmarshal([]byte(tt.json), &f)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if diff := cmp.Diff(tt.want, f); diff != "" {
				t.Errorf("decoded (-want +got):\n%s", diff)
			}
			b, err := json.Marshal(f)
			if err != nil {
				t.Fatal(err)
			}
			var back sandbox.Fault
			if err := json.Unmarshal(b, &back); err != nil || !cmp.Equal(f, back) {
				t.Errorf("round trip %s = %+v, %v", b, back, err)
			}
		})
	}
}

// waitFor polls cond until it holds or a deadline passes.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
