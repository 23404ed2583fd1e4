// Package events owns the event contract of the asset ingest consumer: the
// inbound asset.published CloudEvent (decoding and validation in either mode
// of the CloudEvents NATS binding), the event key, the subjects the service
// publishes on, the headers of dead letters and replays, and the completion
// events asset.ingested and asset.ingest_failed.
//
// Everything here is pure: no I/O, no clock, no goroutines. The pipeline in
// internal/ingest and the operator tools in cmd decide when to call these
// functions; this package decides what the bytes and headers look like, so
// that the contract in SPEC.md is written down in exactly one place.
//
// Header names are matched case-insensitively wherever this package reads
// them (nats.Header itself is case-sensitive); the names it writes are the
// constants in headers.go and, for the CloudEvents NATS binding, binding.go.
//
// Secrets never leave through this package: error texts never quote the src
// URL (presigned URLs are credentials), [redact.URL] and [redact.Text] strip
// query strings and user-info, and [OneLine] keeps header values on one line.
package events
