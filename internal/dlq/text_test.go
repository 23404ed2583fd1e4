package dlq

import (
	"testing"
	"time"
)

func TestEscape(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in, want, body string }{
		{"plain", "héllo wörld", "héllo wörld", "héllo wörld"},
		{"terminal escape", "a\x1b[2Jb", `a\x1b[2Jb`, `a\x1b[2Jb`},
		{"line breaks", "a\nb\tc\rd", `a\nb\tc\rd`, "a\nb\tc\\rd"},
		{"bidi override", "abc\u202edef", `abc\u202edef`, `abc\u202edef`},
		{"C1 control", "a\u0085b", `a\u0085b`, `a\u0085b`},
		{"invalid UTF-8", "a\xffb", `a\xffb`, `a\xffb`},
		{"NUL and DEL", "a\x00b\x7f", `a\x00b\x7f`, `a\x00b\x7f`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := Escape(tt.in); got != tt.want {
				t.Errorf("Escape(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if got := escapeBody(tt.in); got != tt.body {
				t.Errorf("escapeBody(%q) = %q, want %q", tt.in, got, tt.body)
			}
		})
	}
}

func TestShorten(t *testing.T) {
	t.Parallel()
	if got, want := shorten("abcdefghij", 5), "abcd…"; got != want {
		t.Errorf("shorten = %q, want %q", got, want)
	}
	if got, want := shorten("abc", 5), "abc"; got != want {
		t.Errorf("shorten = %q, want %q", got, want)
	}
}

func TestParseTime(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"2026-11-27T09:30:00Z", time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC), true},
		{"24h", testNow.Add(-24 * time.Hour), true},
		{"90m", testNow.Add(-90 * time.Minute), true},
		{"7d", testNow.Add(-7 * 24 * time.Hour), true},
		{"-1h", time.Time{}, false},
		{"yesterday", time.Time{}, false},
		{"xd", time.Time{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParseTime(tt.in, testNow)
			if (err == nil) != tt.ok || !got.Equal(tt.want) {
				t.Errorf("ParseTime(%q) = %v, %v; want %v (ok %v)", tt.in, got, err, tt.want, tt.ok)
			}
		})
	}
}
