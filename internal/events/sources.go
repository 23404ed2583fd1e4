package events

import (
	"fmt"
	"sort"
	"strings"
)

// Sources says which CloudEvents sources may publish on which subject token
// (INGEST_SOURCES): subject token -> allowed source patterns. A pattern is
// either a literal source, matched exactly, or ends in a single '*' and
// matches every source that starts with what precedes the '*' (so
// "pim://akeneo/*" allows "pim://akeneo/prod" and "pim://akeneo/prod/eu",
// not "pim://akeneo"). '*' anywhere else is refused by [ParseSources].
// Prefix matching was chosen over path.Match because sources are URI
// references in which '?', '[' and '\' are ordinary characters.
//
// A nil or empty Sources allows any source on any token.
type Sources map[string][]string

// ParseSources parses INGEST_SOURCES: comma-separated "token=pattern"
// entries, a token repeated for several patterns
// ("akeneo=pim://akeneo/*,salsify=pim://salsify/*"). Spaces around entries,
// tokens and patterns are ignored. An empty or blank s returns nil (any
// source allowed). The error names the entry at fault.
func ParseSources(s string) (Sources, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	out := Sources{}
	for i, entry := range strings.Split(s, ",") {
		entry = strings.TrimSpace(entry)
		where := fmt.Sprintf("INGEST_SOURCES entry %d (%q)", i+1, entry)
		if entry == "" {
			return nil, fmt.Errorf("INGEST_SOURCES entry %d is empty; remove the extra comma", i+1)
		}
		token, pattern, ok := strings.Cut(entry, "=")
		if !ok {
			return nil, fmt.Errorf("%s: want token=source-pattern", where)
		}
		token, pattern = strings.TrimSpace(token), strings.TrimSpace(pattern)
		if err := checkSubjectToken(token); err != nil {
			return nil, fmt.Errorf("%s: subject token %w", where, err)
		}
		if pattern == "" {
			return nil, fmt.Errorf("%s: source pattern is empty", where)
		}
		if strings.Contains(strings.TrimSuffix(pattern, "*"), "*") {
			return nil, fmt.Errorf("%s: '*' is allowed only at the end of a source pattern", where)
		}
		if strings.IndexByte(pattern, 0) >= 0 {
			return nil, fmt.Errorf("%s: source pattern contains a NUL byte", where)
		}
		out[token] = append(out[token], pattern)
	}
	return out, nil
}

// checkSubjectToken accepts what can be the last token of a literal NATS
// subject.
func checkSubjectToken(t string) error {
	switch {
	case t == "":
		return fmt.Errorf("is empty")
	case t == "*" || t == ">":
		return fmt.Errorf("%q is a wildcard; name one publishing system", t)
	case strings.ContainsAny(t, ".*> \t\r\n"):
		return fmt.Errorf("%q must not contain '.', '*', '>' or whitespace", t)
	}
	return nil
}

// Allows reports whether source may publish on subject token token. It is
// true for every pair when s is empty.
func (s Sources) Allows(token, source string) bool {
	if len(s) == 0 {
		return true
	}
	for _, p := range s[token] {
		if matchSource(p, source) {
			return true
		}
	}
	return false
}

func matchSource(pattern, source string) bool {
	if prefix, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(source, prefix) && len(source) > len(prefix)
	}
	return pattern == source
}

// String renders s in the form ParseSources reads, tokens sorted.
func (s Sources) String() string {
	tokens := make([]string, 0, len(s))
	for t := range s {
		tokens = append(tokens, t)
	}
	sort.Strings(tokens)
	var parts []string
	for _, t := range tokens {
		for _, p := range s[t] {
			parts = append(parts, t+"="+p)
		}
	}
	return strings.Join(parts, ",")
}
