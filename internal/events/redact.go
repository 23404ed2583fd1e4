package events

import (
	"net/url"
	"strings"
	"unicode/utf8"
)

// RedactURL returns raw without its user-info, query string and fragment,
// so that a presigned URL can be logged or published. It returns "" for an
// empty or unparsable raw: the caller then has nothing safe to show.
func RedactURL(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	u.User = nil
	u.RawQuery = ""
	u.ForceQuery = false
	u.Fragment = ""
	u.RawFragment = ""
	if u.Opaque != "" {
		// "https:host?q" parses as opaque; a '?' or '#' cannot remain in it,
		// but be defensive about what String will print.
		u.Opaque = cutAny(u.Opaque, "?#")
	}
	return u.String()
}

// RedactText removes the user-info, query string and fragment of every http
// or https URL inside free text (an error message, say). A URL ends at
// whitespace, a quote, '<', '>' or a backslash; everything from its first
// '?' or '#' to that end is removed, as is any "user:password@" in its
// authority. The rest of the text is unchanged.
func RedactText(s string) string {
	lower := asciiLower(s)
	var b strings.Builder
	last := 0
	for i := 0; i < len(s); {
		start := nextURL(lower, i)
		if start < 0 {
			break
		}
		end := start + urlTokenLen(s[start:])
		b.WriteString(s[last:start])
		b.WriteString(redactURLToken(s[start:end]))
		last, i = end, end
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// asciiLower lowercases ASCII letters only, so byte offsets stay valid.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
	return string(b)
}

// nextURL returns the index in lower (a lowercased text) of the next
// "http://" or "https://" at or after from, or -1.
func nextURL(lower string, from int) int {
	best := -1
	for _, scheme := range []string{"http://", "https://"} {
		if j := strings.Index(lower[from:], scheme); j >= 0 && (best < 0 || from+j < best) {
			best = from + j
		}
	}
	return best
}

// urlTokenLen is the length of the URL at the start of s.
func urlTokenLen(s string) int {
	for i, r := range s {
		switch {
		case r == ' ', r == '\t', r == '\r', r == '\n', r == '"', r == '\'', r == '`',
			r == '<', r == '>', r == '\\', r < 0x20, r == 0x7f:
			return i
		case r > 0x7f && isUnicodeSpace(r):
			return i
		}
	}
	return len(s)
}

func isUnicodeSpace(r rune) bool {
	return strings.ContainsRune("\u0085\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000", r)
}

// redactURLToken drops the user-info, query and fragment of one URL token
// that starts with its scheme.
func redactURLToken(tok string) string {
	tok = cutAny(tok, "?#")
	schemeEnd := strings.Index(tok, "://") + len("://")
	rest := tok[schemeEnd:]
	authority := rest
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		authority = rest[:i]
	}
	if at := strings.LastIndexByte(authority, '@'); at >= 0 {
		rest = rest[at+1:]
	}
	return tok[:schemeEnd] + rest
}

// cutAny returns s up to the first byte that is one of chars.
func cutAny(s, chars string) string {
	if i := strings.IndexAny(s, chars); i >= 0 {
		return s[:i]
	}
	return s
}

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
