// Package redact is where the service removes secrets from what it shows: log records, error
// messages, dead-letter headers, completion events and configuration problems.
//
// Two kinds of secret are handled. A URL can be one: a presigned source URL carries its
// signature in the query string, an API or server URL can carry a password or a token in its
// user-info. [URL] and [Text] drop the user-info, query string and fragment of one URL or of
// every http(s) URL inside free text; [URLList] replaces the user-info of each URL of a NATS
// server list. The other kind is a value known to be secret (a password, a token, a client
// secret): [Secrets] replaces every occurrence of the values it was given, in strings and in
// error messages.
//
// The package has no dependency on the rest of the service, so that every part can use it.
package redact

// Marker is what [URLList] and [Secrets] put in place of a secret.
const Marker = "[REDACTED]"
