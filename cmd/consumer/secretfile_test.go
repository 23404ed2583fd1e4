package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/natstest"
)

// The operators' tools read the NATS_* secrets as 'run' does: NATS_TOKEN_FILE and
// NATS_PASSWORD_FILE are honoured, and a missing file is a configuration problem (exit 2).
func TestOperatorToolsReadNATSSecretFiles(t *testing.T) {
	t.Parallel()
	const token = "s3cret-operator-token"
	s := natstest.RunServer(t, func(o *server.Options) { o.Authorization = token })
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		env    map[string]string
		args   []string
		code   int
		stderr string
	}{
		{name: "publish with NATS_TOKEN_FILE", env: map[string]string{"NATS_TOKEN_FILE": file},
			args: []string{"publish", "--subject", "assets.published.akeneo"}, code: 1, stderr: "no response from stream"},
		{name: "dlq list with NATS_TOKEN_FILE", env: map[string]string{"NATS_TOKEN_FILE": file},
			args: []string{"dlq", "list"}, code: 1, stderr: "there is no dead-letter stream"},
		{name: "a problem of another part is not the tool's", env: map[string]string{"NATS_TOKEN_FILE": file, "AMPLIENCE_TIMEOUT": "ten"},
			args: []string{"dlq", "list"}, code: 1, stderr: "there is no dead-letter stream"},
		{name: "missing token file", env: map[string]string{"NATS_TOKEN_FILE": file + ".missing"},
			args: []string{"dlq", "list"}, code: 2, stderr: "NATS_TOKEN_FILE: the secret file"},
		{name: "without the token", args: []string{"dlq", "list"}, code: 1, stderr: "unreachable or refused"},
		{name: "a user without a password", env: map[string]string{"NATS_USER": "u"},
			args: []string{"dlq", "list"}, code: 2, stderr: "NATS_USER is set but NATS_PASSWORD is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{"NATS_URL": s.ClientURL()}
			for k, v := range tt.env {
				env[k] = v
			}
			getenv := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), tt.args, getenv, &stdout, &stderr)
			if code := exitCode(err, &stderr); code != tt.code {
				t.Errorf("exit code %d, want %d (error %v); stderr:\n%s", code, tt.code, err, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.stderr) {
				t.Errorf("stderr lacks %q:\n%s", tt.stderr, stderr.String())
			}
			if strings.Contains(stderr.String()+stdout.String(), token) {
				t.Error("the token reached the output")
			}
		})
	}
}
