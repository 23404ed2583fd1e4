package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestVersionShowsTheCommit is not parallel: it sets the commit a build
// would stamp with -ldflags "-X main.commit=...".
func TestVersionShowsTheCommit(t *testing.T) {
	saved := commit
	t.Cleanup(func() { commit = saved })
	for _, tc := range []struct{ name, commit, want string }{
		{"stamped", "0123456789abcdef0123456789abcdef01234567", "commit: 0123456789abcdef0123456789abcdef01234567\n"},
		{"none", "", "commit: unknown (the build recorded none"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			commit = tc.commit
			var out bytes.Buffer
			if err := run(context.Background(), []string{"version"}, noEnv, &out, &out); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out.String(), tc.want) {
				t.Errorf("version output lacks %q:\n%s", tc.want, out.String())
			}
		})
	}
}
