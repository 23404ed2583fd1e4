package broker

import (
	"errors"
	"net/url"
	"slices"
	"strings"
)

// redacted replaces secrets in messages.
const redacted = "[REDACTED]"

// RedactURL returns the NATS server URL list raw (comma-separated, as NATS_URL
// accepts it) with the user-info of every URL replaced by "[REDACTED]", so
// that it can be logged or printed. NATS accepts a token as the user name of a
// URL, so the whole user-info is removed, not only the password.
func RedactURL(raw string) string {
	parts := strings.Split(raw, ",")
	for i, p := range parts {
		p = strings.TrimSpace(p)
		if start, end, ok := userInfoSpan(p); ok {
			p = p[:start] + redacted + p[end:]
		}
		parts[i] = p
	}
	return strings.Join(parts, ",")
}

// userInfoSpan locates the user-info of one server URL exactly as written
// (before percent-decoding): p[start:end], and whether there is any. A URL
// without a scheme is a nats:// URL, as nats.go reads it.
func userInfoSpan(p string) (start, end int, ok bool) {
	if i := strings.Index(p, "://"); i >= 0 {
		start = i + 3
	}
	authority := p[start:]
	if i := strings.IndexAny(authority, "/?#"); i >= 0 {
		authority = authority[:i]
	}
	at := strings.LastIndex(authority, "@")
	if at < 0 {
		return 0, 0, false
	}
	return start, start + at, true
}

// redactor removes known secrets from error messages and log values.
type redactor struct {
	secrets []string
}

// newRedactor returns a redactor for the secrets of o: the password, the
// token, and the user-info of every URL (raw and decoded).
func newRedactor(o ConnectOptions) redactor {
	var r redactor
	r.add(o.Password, o.Token)
	for p := range strings.SplitSeq(o.URL, ",") {
		p = strings.TrimSpace(p)
		start, end, ok := userInfoSpan(p)
		if !ok {
			continue
		}
		info := p[start:end]
		r.add(info)
		// user:password, or a token alone: the user name of the first
		// form is not secret, the token of the second is.
		secret := info
		if _, pass, ok := strings.Cut(info, ":"); ok {
			secret = pass
		}
		r.add(secret)
		if dec, err := url.PathUnescape(secret); err == nil {
			r.add(dec)
		}
	}
	return r
}

func (r *redactor) add(secrets ...string) {
	for _, s := range secrets {
		if s != "" {
			r.secrets = append(r.secrets, s)
		}
	}
}

// string returns s with every secret replaced, longest secrets first so that
// a secret containing another is removed whole.
func (r redactor) string(s string) string {
	secrets := slices.Clone(r.secrets)
	slices.SortFunc(secrets, func(a, b string) int { return len(b) - len(a) })
	for _, sec := range secrets {
		s = strings.ReplaceAll(s, sec, redacted)
	}
	return s
}

// err returns err with secrets removed from its message, or nil for nil. The
// result matches errors.Is against whatever err matched, but deliberately
// does not unwrap: the wrapped errors' messages still hold the secrets.
func (r redactor) err(err error) error {
	if err == nil {
		return nil
	}
	return &redactedError{msg: r.string(err.Error()), err: err}
}

// redactedError is an error whose message had secrets removed.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }

// Is reports whether the original error matches target, so that callers can
// still test for nats.ErrAuthorization, context.DeadlineExceeded and the like.
func (e *redactedError) Is(target error) bool { return errors.Is(e.err, target) }
