package redact

import (
	"net/url"
	"strings"
)

// URL returns raw without its user-info, query string and fragment, so that a presigned URL
// can be logged or published. It returns "" for an empty or unparsable raw: the caller then
// has nothing safe to show.
func URL(raw string) string {
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

// URLList returns list, one server URL or a comma-separated list of them (as NATS_URL takes
// it), with the user-info of every URL replaced by [Marker] and the spaces around each URL
// removed; everything else is kept. NATS accepts a token as the user name of a URL, so the
// whole user-info goes, not only the password.
func URLList(list string) string {
	parts := strings.Split(list, ",")
	for i, p := range parts {
		p = strings.TrimSpace(p)
		if start, end, ok := userInfoSpan(p); ok {
			p = p[:start] + Marker + p[end:]
		}
		parts[i] = p
	}
	return strings.Join(parts, ",")
}

// UserInfo returns the user-info of one URL exactly as written (before percent-decoding,
// "user:password" or "token"), and whether it has any. A URL without a scheme is read as
// nats.go reads one: its authority starts at once.
func UserInfo(u string) (string, bool) {
	start, end, ok := userInfoSpan(u)
	return u[start:end], ok
}

// userInfoSpan locates the user-info of one URL as written: u[start:end], and whether there
// is any.
func userInfoSpan(u string) (start, end int, ok bool) {
	if i := strings.Index(u, "://"); i >= 0 {
		start = i + 3
	}
	authority := u[start:]
	if i := strings.IndexAny(authority, "/?#"); i >= 0 {
		authority = authority[:i]
	}
	at := strings.LastIndex(authority, "@")
	if at < 0 {
		return 0, 0, false
	}
	return start, start + at, true
}

// cutAny returns s up to the first byte that is one of chars.
func cutAny(s, chars string) string {
	if i := strings.IndexAny(s, chars); i >= 0 {
		return s[:i]
	}
	return s
}
