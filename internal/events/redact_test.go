package events

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRedactURL(t *testing.T) {
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
			if diff := cmp.Diff(tt.want, RedactURL(tt.in)); diff != "" {
				t.Errorf("RedactURL(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestRedactText(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in, want string }{
		{"no URL", "plain error", "plain error"},
		{"Go client error", `Post "https://api.example.com/graphql?token=abc": EOF`, `Post "https://api.example.com/graphql": EOF`},
		{"two URLs, upper-case scheme", "HTTPS://a.example/x?s=1 and http://b.example/?t=2#f end", "HTTPS://a.example/x and http://b.example/ end"},
		{"user-info", "fetch https://user:pw@a.example/x failed", "fetch https://a.example/x failed"},
		{"fragment only", "see https://a.example/x#token=1", "see https://a.example/x"},
		{"URL at the end", "src=https://a.example/x?y", "src=https://a.example/x"},
		{"multi-byte text around", "é https://a.example/é?k=v é", "é https://a.example/é é"},
		{"at sign in path kept", "https://a.example/@scope/pkg?x=1", "https://a.example/@scope/pkg"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, RedactText(tt.in)); diff != "" {
				t.Errorf("RedactText(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestOneLine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		max  int
		want string
	}{
		{"CR and LF", "a\r\nb\nc", 0, "a  b c"},
		{"short enough", "abc", 3, "abc"},
		{"cut", "abcdef", 4, "abcd"},
		{"cut on a rune boundary", "aéé", 4, "aé"},
		{"cut before a 4-byte rune", "a😀", 4, "a"},
		{"no limit", strings.Repeat("x", 5000), 0, strings.Repeat("x", 5000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, OneLine(tt.in, tt.max)); diff != "" {
				t.Errorf("OneLine(%q, %d) (-want +got):\n%s", tt.in, tt.max, diff)
			}
		})
	}
}
