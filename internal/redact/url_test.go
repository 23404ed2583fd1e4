package redact

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

const (
	testPassword = "pw-7f3a9c1e"
	testToken    = "tok-5b2d8e4f"
)

func TestURL(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in, want string }{
		{"query and fragment", "https://cdn.example.com/a/b.jpg?X-Amz-Signature=s3cr3t#frag", "https://cdn.example.com/a/b.jpg"},
		{"user-info", "https://u:p@cdn.example.com/b.jpg", "https://cdn.example.com/b.jpg"},
		{"empty query", "https://cdn.example.com/b.jpg?", "https://cdn.example.com/b.jpg"},
		{"escaped path kept", "https://cdn.example.com/My%20File.jpg?s=1", "https://cdn.example.com/My%20File.jpg"},
		{"opaque", "https:cdn.example.com?s=1", "https:cdn.example.com"},
		{"relative", "a/b?c=d", "a/b"},
		{"empty", "", ""},
		{"unparsable", "https://cdn.example.com/%zz?s=secret", ""},
		{"control character", "https://cdn.example.com/\x00?s=secret", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, URL(tt.in)); diff != "" {
				t.Errorf("URL(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestURLList(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in, want string }{
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
			if diff := cmp.Diff(tt.want, URLList(tt.in)); diff != "" {
				t.Errorf("URLList (-want +got):\n%s", diff)
			}
		})
	}
}

func TestUserInfo(t *testing.T) {
	t.Parallel()
	type result struct {
		Info string
		OK   bool
	}
	tests := []struct {
		name, in string
		want     result
	}{
		{"none", "nats://h:4222", result{"", false}},
		{"user and password as written", "nats://svc:pw%40x@h", result{"svc:pw%40x", true}},
		{"token", "tls://" + testToken + "@h", result{testToken, true}},
		{"no scheme", "svc:pw@h:4222", result{"svc:pw", true}},
		{"at sign in password", "nats://svc:p@ss@h", result{"svc:p@ss", true}},
		{"at sign after the authority", "ws://h/a@b?c@d#e@f", result{"", false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			info, ok := UserInfo(tt.in)
			if diff := cmp.Diff(tt.want, result{info, ok}); diff != "" {
				t.Errorf("UserInfo(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}
