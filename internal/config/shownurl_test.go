package config

import (
	"strings"
	"testing"
)

// TestURLProblemsHideSecrets: a problem that quotes an Amplience URL shows it without its
// user-info, query string or fragment.
func TestURLProblemsHideSecrets(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, url, want string
	}{
		{"plain http", "http://svc:pw-6c1d@sandbox:8090/graphql?token=tok-9e2a#frag-4b7f", `"http://sandbox:8090/graphql"`},
		{"not http(s)", "ftp://svc:pw-6c1d@sandbox/graphql?token=tok-9e2a", `"ftp://sandbox/graphql"`},
		{"unparsable", "https://svc:pw-6c1d@[::1/graphql?token=tok-9e2a", `"(unparsable)"`},
		{"empty", "", `AMPLIENCE_API_URL ""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var found []string
			for _, p := range (Config{AmplienceAPIURL: tt.url}).Check(false) {
				if strings.HasPrefix(p, "AMPLIENCE_API_URL ") {
					found = append(found, p)
				}
			}
			if len(found) != 1 || !strings.Contains(found[0], tt.want) {
				t.Fatalf("AMPLIENCE_API_URL problems = %q, want one quoting %s", found, tt.want)
			}
			for _, secret := range []string{"pw-6c1d", "tok-9e2a", "frag-4b7f"} {
				if strings.Contains(found[0], secret) {
					t.Errorf("problem %q shows %q", found[0], secret)
				}
			}
		})
	}
}
