package broker

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRedactURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{
		{"no user-info", "nats://nats.example.com:4222", "nats://nats.example.com:4222"},
		{"user and password", "nats://svc:" + testPassword + "@nats.example.com:4222", "nats://[REDACTED]@nats.example.com:4222"},
		{"token", "tls://" + testToken + "@nats.example.com", "tls://[REDACTED]@nats.example.com"},
		{"no scheme", "svc:" + testPassword + "@nats:4222", "[REDACTED]@nats:4222"},
		{"list", "nats://a:" + testPassword + "@h1:4222, nats://h2:4222,nats://" + testToken + "@h3",
			"nats://[REDACTED]@h1:4222,nats://h2:4222,nats://[REDACTED]@h3"},
		{"at sign in password", "nats://svc:p@ss" + testPassword + "@h:4222", "nats://[REDACTED]@h:4222"},
		{"at sign in path only", "ws://h:8080/a@b", "ws://h:8080/a@b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, RedactURL(tt.in)); diff != "" {
				t.Errorf("RedactURL (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRedactorRemovesSecretsFromErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		o    ConnectOptions
		msg  string
		want string
	}{
		{"password option", ConnectOptions{Password: testPassword}, "bad " + testPassword, "bad [REDACTED]"},
		{"token option", ConnectOptions{Token: testToken}, "x" + testToken + "x", "x[REDACTED]x"},
		{"URL password, raw and decoded", ConnectOptions{URL: "nats://svc:pw%40" + testPassword + "@h"},
			"raw pw%40" + testPassword + " decoded pw@" + testPassword, "raw [REDACTED] decoded [REDACTED]"},
		{"URL user-info whole", ConnectOptions{URL: "nats://svc:" + testPassword + "@h"},
			`parse "nats://svc:` + testPassword + `@h"`, `parse "nats://[REDACTED]@h"`},
		{"URL token", ConnectOptions{URL: "nats://" + testToken + "@h"}, "token " + testToken, "token [REDACTED]"},
		{"user name is not secret", ConnectOptions{URL: "nats://svc:" + testPassword + "@h"}, "user svc", "user svc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			base := errors.New(tt.msg)
			err := newRedactor(tt.o).err(fmt.Errorf("wrapped: %w", base))
			if diff := cmp.Diff("wrapped: "+tt.want, err.Error()); diff != "" {
				t.Errorf("message (-want +got):\n%s", diff)
			}
			if !errors.Is(err, base) {
				t.Error("redacted error no longer matches the original with errors.Is")
			}
			if errors.Unwrap(err) != nil {
				t.Error("redacted error unwraps to an error that still holds the secret")
			}
		})
	}
}

func TestRedactorKeepsNilAndContextErrors(t *testing.T) {
	t.Parallel()
	r := newRedactor(ConnectOptions{Password: testPassword})
	if err := r.err(nil); err != nil {
		t.Errorf("r.err(nil) = %v, want nil", err)
	}
	if err := r.err(fmt.Errorf("waiting: %w", context.Canceled)); !errors.Is(err, context.Canceled) {
		t.Errorf("r.err(...) = %v, want it to match context.Canceled", err)
	}
}
