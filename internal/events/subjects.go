package events

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Subject prefixes of the streams the service publishes to; the last token is
// the inbound subject's token (the publishing system).
const (
	IngestedSubjectPrefix = "assets.ingested."
	FailedSubjectPrefix   = "assets.failed."
	DLQSubjectPrefix      = "assets.dlq."
)

// IngestedSubject is the subject of asset.ingested for an event that came in
// with subject token token: "assets.ingested.<token>".
func IngestedSubject(token string) string { return IngestedSubjectPrefix + token }

// FailedSubject is the subject of asset.ingest_failed: "assets.failed.<token>".
func FailedSubject(token string) string { return FailedSubjectPrefix + token }

// DLQSubject is the subject of a dead letter: "assets.dlq.<token>".
func DLQSubject(token string) string { return DLQSubjectPrefix + token }

// SourceToken returns the last token of a NATS subject, which names the
// publishing system ("assets.published.akeneo" -> "akeneo"). A subject
// without a '.' is its own last token.
func SourceToken(subject string) string {
	return subject[strings.LastIndexByte(subject, '.')+1:]
}

// Key returns the event key: the lowercase hex SHA-256 of
// "<token> NUL <source> NUL <id>". It keys the ledger and names the
// completion events. Callers pass only an id and source that are non-empty
// and free of NUL bytes (see [Published.Key]), so the key is unambiguous.
func Key(token, source, id string) string {
	h := sha256.New()
	h.Write([]byte(token))
	h.Write([]byte{0})
	h.Write([]byte(source))
	h.Write([]byte{0})
	h.Write([]byte(id))
	return hex.EncodeToString(h.Sum(nil))
}

// usableAttribute reports whether an id or source can be part of a key and
// of the Ingest-Event-* headers: non-empty, no NUL byte.
func usableAttribute(s string) bool {
	return s != "" && strings.IndexByte(s, 0) < 0
}
