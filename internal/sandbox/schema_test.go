package sandbox_test

import (
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The sandbox embeds its own copy of schema.graphql (go:embed cannot reach ../..). This fails
// when the copy drifts from the module's schema: copy ../../schema.graphql over it.
func TestSchemaCopyInSync(t *testing.T) {
	t.Parallel()
	want, err := os.ReadFile("../../schema.graphql")
	if err != nil {
		t.Fatalf("reading the module's schema: %v", err)
	}
	got, err := os.ReadFile("schema.graphql")
	if err != nil {
		t.Fatalf("reading the sandbox's copy: %v", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("internal/sandbox/schema.graphql differs from schema.graphql; run cp schema.graphql internal/sandbox/ (-module +copy):\n%s", diff)
	}
}
