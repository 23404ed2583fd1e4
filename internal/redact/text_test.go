package redact

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestText(t *testing.T) {
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
		{"presigned URL in an API message", "could not fetch https://pim.example/x.jpg?X-Amz-Signature=abc",
			"could not fetch https://pim.example/x.jpg"},
		{"URL in a JSON body", `{"src":"https://pim.example/x.jpg?sig=abc","n":1}`, `{"src":"https://pim.example/x.jpg","n":1}`},
		{"query with a JSON escape", `cannot fetch https://pim.example/x.jpg?X-Amz-Algorithm=AWS4\u0026X-Amz-Signature=deadbeef: 403`,
			`cannot fetch https://pim.example/x.jpg 403`},
		{"query with a control character", "https://pim.example/x.jpg?a=1\x01sig=SECRET end", "https://pim.example/x.jpg end"},
		{"backslash ends a URL without a query", `path https://pim.example/x.jpg\n next`, `path https://pim.example/x.jpg\n next`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, Text(tt.in)); diff != "" {
				t.Errorf("Text(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}
