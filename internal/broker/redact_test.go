package broker

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestConnectSecretsRemovedFromErrors(t *testing.T) {
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
		{"second URL of a list", ConnectOptions{URL: "nats://h1, nats://" + testToken + "@h2"}, "token " + testToken, "token [REDACTED]"},
		{"user name is not secret", ConnectOptions{URL: "nats://svc:" + testPassword + "@h"}, "user svc", "user svc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			base := errors.New(tt.msg)
			err := connectSecrets(tt.o).Err(fmt.Errorf("wrapped: %w", base))
			if diff := cmp.Diff("wrapped: "+tt.want, err.Error()); diff != "" {
				t.Errorf("message (-want +got):\n%s", diff)
			}
			if !errors.Is(err, base) {
				t.Error("redacted error no longer matches the original with errors.Is")
			}
		})
	}
}
