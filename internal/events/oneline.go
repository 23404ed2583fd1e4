package events

import (
	"strings"
	"unicode/utf8"
)

// OneLine makes s fit a header value or a log line: CR and LF become spaces
// and the result is cut to at most max bytes, on a rune boundary. max <= 0
// means no limit.
func OneLine(s string, max int) string {
	if strings.ContainsAny(s, "\r\n") {
		s = strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
	}
	if max <= 0 || len(s) <= max {
		return s
	}
	cut := max
	for back := 0; back < utf8.UTFMax-1 && cut > 0 && !utf8.RuneStart(s[cut]); back++ {
		cut--
	}
	return s[:cut]
}
