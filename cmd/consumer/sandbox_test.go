package main

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/sandbox"
)

// TestSandboxHelpFaultExamplesWork: every `curl -d '<body>'` example of
// `sandbox --help` is a fault a real sandbox accepts.
func TestSandboxHelpFaultExamplesWork(t *testing.T) {
	t.Parallel()
	o := sandbox.DefaultOptions()
	o.ClientID, o.ClientSecret = "id", "secret"
	sb, err := sandbox.New(o)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sb.Handler())
	t.Cleanup(func() { srv.Close(); sb.Close() })
	examples := regexp.MustCompile(`curl -d '([^']+)' http://127\.0\.0\.1:8090/sandbox/faults`).FindAllStringSubmatch(sandboxSynopsis, -1)
	if len(examples) < 2 {
		t.Fatalf("sandbox --help shows %d fault examples, want at least 2", len(examples))
	}
	for _, ex := range examples {
		resp, err := http.Post(srv.URL+"/sandbox/faults", "application/json", strings.NewReader(ex[1]))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("example %s: status %d, want 200", ex[1], resp.StatusCode)
		}
	}
	if got := len(sb.State().Faults); got != len(examples) {
		t.Errorf("%d faults set, want %d", got, len(examples))
	}
}
