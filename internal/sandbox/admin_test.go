package sandbox_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/sandbox"
)

func TestAdminFaults(t *testing.T) {
	t.Parallel()
	env := newEnv(t, sandbox.Options{})
	tok := env.token(t)

	status, body := env.admin(t, http.MethodPost, "/sandbox/faults", `{"match":"adm","times":1,"status":503,"delay":"1ms"}`)
	if status != http.StatusOK {
		t.Fatalf("POST /sandbox/faults: %d %s", status, body)
	}
	state := env.state(t)
	want := []sandbox.Fault{{Match: "adm", Times: 1, Status: 503, Delay: time.Millisecond}}
	if diff := cmp.Diff(want, state.Faults); diff != "" {
		t.Errorf("faults in the state (-want +got):\n%s", diff)
	}
	if ans := env.post(t, tok, createMutation, map[string]any{"input": assetInput("adm-1")}); ans.Status != http.StatusServiceUnavailable {
		t.Errorf("the fault set over HTTP: status %d, want 503", ans.Status)
	}
	if got := env.state(t).Faults; len(got) != 0 {
		t.Errorf("a spent fault remains: %+v", got)
	}

	for _, bad := range []string{`{"status":42}`, `{"unknown":1}`, `not json`, `{}`, `{"match":"x","times":2}`, `{"code":"BAD_USER_INPUT"}`} {
		if status, _ := env.admin(t, http.MethodPost, "/sandbox/faults", bad); status != http.StatusBadRequest {
			t.Errorf("POST /sandbox/faults %s: status %d, want 400", bad, status)
		}
	}

	env.admin(t, http.MethodPost, "/sandbox/faults", `{"status":500}`)
	if status, _ := env.admin(t, http.MethodDelete, "/sandbox/faults", ""); status != http.StatusOK {
		t.Errorf("DELETE /sandbox/faults: status %d", status)
	}
	if ans := env.post(t, tok, `{ __typename }`, nil); ans.Status != http.StatusOK {
		t.Errorf("after DELETE /sandbox/faults: status %d, want 200", ans.Status)
	}
}

func TestAdminCredentialsAndReset(t *testing.T) {
	t.Parallel()
	env := newEnv(t, sandbox.Options{})
	tok := env.token(t)
	env.create(t, tok, "kept-until-reset")

	if status, body := env.admin(t, http.MethodPost, "/sandbox/credentials", `{"valid":false}`); status != http.StatusOK {
		t.Fatalf("POST /sandbox/credentials: %d %s", status, body)
	}
	if ans := env.post(t, tok, `{ __typename }`, nil); ans.Status != http.StatusUnauthorized {
		t.Errorf("with credentials refused: status %d, want 401", ans.Status)
	}
	if env.state(t).CredentialsValid {
		t.Error("state says the credentials are valid")
	}
	if status, _ := env.admin(t, http.MethodPost, "/sandbox/credentials", `{}`); status != http.StatusBadRequest {
		t.Errorf("POST /sandbox/credentials {}: status %d, want 400", status)
	}

	status, body := env.admin(t, http.MethodPost, "/sandbox/reset", "")
	if status != http.StatusOK {
		t.Fatalf("POST /sandbox/reset: %d %s", status, body)
	}
	state := env.state(t)
	if !state.CredentialsValid || len(state.Assets) != 0 || state.Stats.GraphQLRequests != 0 {
		t.Errorf("state after reset = %+v, want valid credentials, no assets, no requests", state)
	}
	if ans := env.post(t, tok, `{ __typename }`, nil); ans.Status != http.StatusOK {
		t.Errorf("the token issued before the reset: status %d, want 200", ans.Status)
	}
	if len(env.srv.Requests()) != 1 {
		t.Errorf("%d requests recorded after reset and one request, want 1", len(env.srv.Requests()))
	}
}

func TestAdminExpireTokens(t *testing.T) {
	t.Parallel()
	env := newEnv(t, sandbox.Options{})
	tok := env.token(t)
	if ans := env.post(t, tok, `{ __typename }`, nil); ans.Status != http.StatusOK {
		t.Fatalf("before the tokens expire: status %d, want 200", ans.Status)
	}
	status, body := env.admin(t, http.MethodPost, "/sandbox/tokens/expire", "")
	if status != http.StatusOK || string(body) != `{"expired":1}`+"\n" {
		t.Fatalf("POST /sandbox/tokens/expire: %d %q, want 200 {\"expired\":1}", status, body)
	}
	if ans := env.post(t, tok, `{ __typename }`, nil); ans.Status != http.StatusUnauthorized {
		t.Errorf("the expired token: status %d, want 401", ans.Status)
	}
	if ans := env.post(t, env.token(t), `{ __typename }`, nil); ans.Status != http.StatusOK {
		t.Errorf("a token fetched after the expiry: status %d, want 200", ans.Status)
	}
	if _, body := env.admin(t, http.MethodPost, "/sandbox/tokens/expire", ""); string(body) != `{"expired":1}`+"\n" {
		t.Errorf("second expiry answered %q, want only the new token expired", body)
	}
}

func TestAdminStateAndRequests(t *testing.T) {
	t.Parallel()
	env := newEnv(t, sandbox.Options{DuplicateNames: sandbox.DuplicatesReject})
	tok := env.token(t)
	id := env.create(t, tok, "listed")

	state := env.state(t)
	if len(state.Assets) != 1 || state.Assets[0].ID != id || state.Assets[0].Name != "listed" {
		t.Errorf("state assets = %+v, want the created asset", state.Assets)
	}
	if state.DuplicateNames != "reject" || state.Stats.CreateAssetCalls["listed"] != 1 {
		t.Errorf("state = %+v", state)
	}

	status, body := env.admin(t, http.MethodGet, "/sandbox/requests", "")
	var reqs []sandbox.Request
	if err := json.Unmarshal(body, &reqs); status != http.StatusOK || err != nil {
		t.Fatalf("GET /sandbox/requests: %d %v %s", status, err, body)
	}
	if len(reqs) != 1 || reqs[0].OperationName != "CreateAsset" || reqs[0].Status != http.StatusOK {
		t.Errorf("requests = %+v", reqs)
	}
	if status, _ := env.admin(t, http.MethodPost, "/sandbox/state", ""); status != http.StatusMethodNotAllowed {
		t.Errorf("POST /sandbox/state: status %d, want 405", status)
	}
}

// state reads GET /sandbox/state.
func (e *sandboxEnv) state(tb testing.TB) sandbox.State {
	tb.Helper()
	status, body := e.admin(tb, http.MethodGet, "/sandbox/state", "")
	if status != http.StatusOK {
		tb.Fatalf("GET /sandbox/state: %d %s", status, body)
	}
	var s sandbox.State
	if err := json.Unmarshal(body, &s); err != nil {
		tb.Fatalf("decoding the state: %v: %s", err, body)
	}
	return s
}

func TestHealthz(t *testing.T) {
	t.Parallel()
	env := newEnv(t, sandbox.Options{})
	if status, body := env.admin(t, http.MethodGet, "/healthz", ""); status != http.StatusOK {
		t.Errorf("GET /healthz: %d %s, want 200", status, body)
	}
	if status, _ := env.admin(t, http.MethodPost, "/healthz", ""); status != http.StatusMethodNotAllowed {
		t.Errorf("POST /healthz: %d, want 405", status)
	}
}

func TestAdminRefusesAFaultThatChangesNothing(t *testing.T) {
	t.Parallel()
	env := newEnv(t, sandbox.DefaultOptions())
	status, body := env.admin(t, http.MethodPost, "/sandbox/faults", `{}`)
	if status != http.StatusBadRequest || !strings.Contains(string(body), "a fault must change the answer: set status, graphqlError") {
		t.Errorf("POST {}: %d %s, want 400 naming the fields that act", status, body)
	}
	if got := env.state(t).Faults; len(got) != 0 {
		t.Errorf("a refused fault was added: %+v", got)
	}
}
