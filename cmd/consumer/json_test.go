package main

import (
	"bytes"
	"context"
	"encoding/json"
	"runtime"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestJSONOutput: every command that prints a result prints, with --json, one JSON object on
// stdout and nothing else there, with the stable field names scripts rely on.
func TestJSONOutput(t *testing.T) {
	t.Parallel()
	type result struct {
		Sequence uint64 `json:"sequence"`
		Outcome  string `json:"outcome"`
	}
	// out holds the fields checked; every command's JSON decodes into it.
	type out struct {
		Version          string              `json:"version"`
		Go               string              `json:"go"`
		Sequence         uint64              `json:"sequence"`
		Class            string              `json:"class"`
		Stream           string              `json:"stream"`
		OriginalSequence uint64              `json:"originalSequence"`
		Headers          map[string][]string `json:"headers"`
		Body             *string             `json:"body"`
		Command          string              `json:"command"`
		DryRun           bool                `json:"dryRun"`
		Selected         int                 `json:"selected"`
		Missing          int                 `json:"missing"`
		Done             int                 `json:"done"`
		Results          []result            `json:"results"`
	}
	body := `{"id":"ev"}`
	tests := []struct {
		name     string
		args     []string
		wantCode int
		want     out
	}{
		{name: "version", args: []string{"version", "--json"},
			want: out{Version: "dev", Go: runtime.Version()}},
		{name: "dlq show", args: []string{"dlq", "show", "1", "--json"},
			want: out{Sequence: 1, Class: "rejected", Stream: "ASSETS_DLQ", OriginalSequence: 1, Body: &body}},
		{name: "dlq replay dry run", args: []string{"dlq", "replay", "--all", "--dry-run", "--json"},
			want: out{Command: "replay", DryRun: true, Selected: 2, Done: 2, Results: []result{{1, "done"}, {2, "done"}}}},
		{name: "dlq purge with a missing sequence", args: []string{"dlq", "purge", "2", "99", "--yes", "--json"}, wantCode: 1,
			want: out{Command: "purge", Selected: 1, Missing: 1, Done: 1, Results: []result{{99, "missing"}, {2, "done"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			getenv, _ := dlqServer(t)
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), tt.args, getenv, &stdout, &stderr)
			if code := exitCode(err, &stderr); code != tt.wantCode {
				t.Fatalf("exit code %d, want %d; stderr:\n%s", code, tt.wantCode, stderr.String())
			}
			dec := json.NewDecoder(&stdout)
			var got out
			if err := dec.Decode(&got); err != nil {
				t.Fatalf("stdout is not JSON: %v\n%s", err, stdout.String())
			}
			if dec.More() {
				t.Errorf("stdout holds more than one JSON object")
			}
			if tt.name == "dlq show" && got.Headers["Ingest-Error-Class"] == nil {
				t.Errorf("headers lack Ingest-Error-Class: %v", got.Headers)
			}
			got.Headers = nil
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("JSON (-want +got):\n%s", diff)
			}
		})
	}
}
