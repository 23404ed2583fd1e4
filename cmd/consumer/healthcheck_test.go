package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestHealthcheckReady: without --ready the command asks /healthz (liveness), with --ready it
// asks /readyz and reports why the service is not ready.
func TestHealthcheckReady(t *testing.T) {
	t.Parallel()
	notReady := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz":
			_, _ = w.Write([]byte(`{"status":"ok"}` + "\n"))
		case "/readyz":
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"reasons":["connecting to NATS"],"status":"not ready"}` + "\n"))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(notReady.Close)
	ready := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"status":"ready"}` + "\n"))
	}))
	t.Cleanup(ready.Close)

	tests := []struct {
		name     string
		server   *httptest.Server
		args     []string
		wantCode int
		wantErr  string // a substring of stderr
	}{
		{name: "liveness while not ready", server: notReady, args: nil, wantCode: 0},
		{name: "readiness while not ready", server: notReady, args: []string{"--ready"}, wantCode: 1,
			wantErr: `/readyz answered 503 Service Unavailable: {"reasons":["connecting to NATS"],"status":"not ready"}`},
		{name: "readiness when ready", server: ready, args: []string{"--ready"}, wantCode: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			addr := strings.TrimPrefix(tt.server.URL, "http://")
			getenv := func(k string) (string, bool) { return addr, k == "HTTP_ADDR" }
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), append([]string{"healthcheck"}, tt.args...), getenv, &stdout, &stderr)
			if diff := cmp.Diff(tt.wantCode, exitCode(err, &stderr)); diff != "" {
				t.Errorf("exit code (-want +got):\n%s\nstderr: %s", diff, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.wantErr) {
				t.Errorf("stderr %q, want it to contain %q", stderr.String(), tt.wantErr)
			}
			if tt.wantCode == 0 && stdout.String() != "ok\n" {
				t.Errorf("stdout %q, want ok", stdout.String())
			}
		})
	}
}
