package dlq

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Escape returns s safe to print on a terminal: control characters (C0,
// DEL, C1), bidirectional formatting characters and the bytes of invalid
// UTF-8 are written as Go escapes (\n, \x1b, \u202e), so that text from a
// publisher cannot move the cursor, rewrite the screen or reorder a line.
// Everything else, backslashes included, is left as is.
func Escape(s string) string { return escape(s, false) }

// escapeBody is Escape that keeps line feeds and tabs, for multi-line
// bodies.
func escapeBody(s string) string { return escape(s, true) }

func escape(s string, keepLines bool) string {
	clean := true
	for _, r := range s {
		if unsafeRune(r) && !(keepLines && (r == '\n' || r == '\t')) {
			clean = false
			break
		}
	}
	if clean && utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case keepLines && (r == '\n' || r == '\t'):
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case unsafeRune(r) && r < 0x80:
			fmt.Fprintf(&b, `\x%02x`, r)
		case unsafeRune(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
		i += size
	}
	return b.String()
}

// unsafeRune reports whether r is a control character or a bidirectional
// formatting character (LRM, RLM, ALM, the embeddings, overrides and
// isolates).
func unsafeRune(r rune) bool {
	if unicode.IsControl(r) {
		return true
	}
	switch {
	case r == 0x200e, r == 0x200f, r == 0x061c:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true
	}
	return false
}

// shorten returns s escaped and cut to at most n runes, marking a cut with
// "…".
func shorten(s string, n int) string {
	s = Escape(s)
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
