package redact

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSecretsReplace(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		secrets []string
		in      string
		want    string
	}{
		{"none", nil, "bad " + testPassword, "bad " + testPassword},
		{"every occurrence", []string{testPassword}, testPassword + " and " + testPassword, "[REDACTED] and [REDACTED]"},
		{"inside a word", []string{testToken}, "x" + testToken + "x", "x[REDACTED]x"},
		{"empty values ignored", []string{"", testToken}, "a " + testToken, "a [REDACTED]"},
		{"a secret containing another is removed whole", []string{"pw", "svc:pw-long"}, "svc:pw-long and pw",
			"[REDACTED] and [REDACTED]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, NewSecrets(tt.secrets...).Replace(tt.in)); diff != "" {
				t.Errorf("Replace (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSecretsErr(t *testing.T) {
	t.Parallel()
	s := NewSecrets(testPassword)
	base := errors.New("bad " + testPassword)
	err := s.Err(fmt.Errorf("wrapped: %w", base))
	if diff := cmp.Diff("wrapped: bad [REDACTED]", err.Error()); diff != "" {
		t.Errorf("message (-want +got):\n%s", diff)
	}
	if !errors.Is(err, base) {
		t.Error("redacted error no longer matches the original with errors.Is")
	}
	if errors.Unwrap(err) != nil {
		t.Error("redacted error unwraps to an error that still holds the secret")
	}
	if err := s.Err(nil); err != nil {
		t.Errorf("Err(nil) = %v, want nil", err)
	}
	if err := s.Err(fmt.Errorf("waiting: %w", context.Canceled)); !errors.Is(err, context.Canceled) {
		t.Errorf("Err(...) = %v, want it to match context.Canceled", err)
	}
}
