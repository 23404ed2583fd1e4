package redact

import "strings"

// Text removes the user-info, query string and fragment of every http or https URL inside
// free text (an error message, an answer's body). The scheme is matched in any case. A URL
// ends at whitespace, a quote, '<', '>', a backslash or a control character; everything from
// its first '?' or '#' to that end is removed, as is any "user:password@" in its authority.
// The rest of the text is unchanged.
func Text(s string) string {
	lower := asciiLower(s)
	var b strings.Builder
	last := 0
	for i := 0; i < len(s); {
		start := nextURL(lower, i)
		if start < 0 {
			break
		}
		end := start + urlTokenLen(s[start:])
		if q := strings.IndexAny(s[start:end], "?#"); q >= 0 {
			// A query or fragment ends only at a space, a quote or an angle bracket: an escape
			// inside it (a JSON "\u0026", a control character) does not end what is removed.
			end = start + q + queryLen(s[start+q:])
		}
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

// nextURL returns the index in lower (a lowercased text) of the next "http://" or "https://"
// at or after from, or -1.
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

// queryLen is the length of the query or fragment at the start of s.
func queryLen(s string) int {
	for i, r := range s {
		switch {
		case r == ' ', r == '\t', r == '\r', r == '\n', r == '\f', r == '\v', r == '"', r == '\'', r == '`',
			r == '<', r == '>':
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

// redactURLToken drops the user-info, query and fragment of one URL token that starts with
// its scheme.
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
