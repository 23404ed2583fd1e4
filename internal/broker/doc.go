// Package broker connects the service to NATS and makes sure the JetStream
// resources it depends on exist with the settings the SPEC gives them.
//
// Connect dials NATS with the configured credentials and TLS, waits for a
// server that is down at start-up, and reconnects forever afterwards, logging
// every connection event without credentials.
//
// Ensure looks up the inbound stream, the results, dead-letter and advisory
// streams, the durable pull consumer and the ledger bucket. When asked to, it
// creates what is missing and brings a drifted consumer back in line; it
// never changes an existing stream. What it may not or cannot fix is reported
// as one *ConfigError listing every problem, which the command maps to exit
// code 2.
package broker
