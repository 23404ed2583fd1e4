package events

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

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
