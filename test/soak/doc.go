// Package soak holds the soak test of the service's promise: every event stored on the inbound
// stream ends as exactly one asset or exactly one dead letter, whatever happens meanwhile.
//
// TestSoak (there is no non-test code) runs three `consumer run` processes against a
// three-node JetStream cluster (in-process nats-servers, streams with three replicas) and the
// Amplience sandbox over HTTP. It publishes -soak.events events evenly over -soak.duration and,
// for as long as events flow, injects faults at random intervals (mean -soak.fault-every), from a
// seeded generator whose seed it prints (-soak.seed repeats a run's choices):
//
//   - a replica killed with SIGKILL, restarted after up to two seconds;
//   - a NATS node shut down and restarted on its port and store after up to five seconds (one
//     node at a time, the next only once the cluster is whole again);
//   - the API answering 5xx, answering 5xx after it created the asset (the answer lost),
//     answering 429 storms with Retry-After, or hanging until the client's timeout;
//   - every access token expiring at once;
//   - hostile messages: invalid events, binary junk, and invalid events carrying a header block of
//     -soak.header-bytes bytes.
//
// Then it heals everything, waits until the consumer holds nothing, and checks, from the
// inbound stream, the sandbox's assets, the dead-letter stream and the results stream: every
// valid event has exactly one asset or exactly one dead letter (never both), with its completion
// event; every hostile message stored has exactly one dead letter; no asset is created twice or
// for a name never published; no dead letter points at a message that was not stored. It prints
// the faults injected per kind, the totals and the outcomes.
//
// The test is skipped unless -soak is given; see the README for the commands.
package soak
