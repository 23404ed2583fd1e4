package redact

import (
	"errors"
	"slices"
	"strings"
)

// Secrets replaces known secret values with [Marker]. The zero Secrets replaces nothing.
type Secrets struct {
	values []string // longest first
}

// NewSecrets returns a Secrets for values; empty values are ignored.
func NewSecrets(values ...string) Secrets {
	var s Secrets
	for _, v := range values {
		if v != "" {
			s.values = append(s.values, v)
		}
	}
	// Longest first, so that a secret containing another is removed whole.
	slices.SortStableFunc(s.values, func(a, b string) int { return len(b) - len(a) })
	return s
}

// Replace returns text with every occurrence of every secret replaced by [Marker].
func (s Secrets) Replace(text string) string {
	for _, v := range s.values {
		text = strings.ReplaceAll(text, v, Marker)
	}
	return text
}

// Err returns err with the secrets removed from its message, or nil for nil. The result
// matches errors.Is against whatever err matched (nats.ErrAuthorization,
// context.DeadlineExceeded and the like), but deliberately does not unwrap: the wrapped
// errors' messages still hold the secrets.
func (s Secrets) Err(err error) error {
	if err == nil {
		return nil
	}
	return &redactedError{msg: s.Replace(err.Error()), err: err}
}

// redactedError is an error whose message had secrets removed.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }

// Is reports whether the original error matches target.
func (e *redactedError) Is(target error) bool { return errors.Is(e.err, target) }
