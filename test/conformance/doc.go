// Package conformance proves the external contract (SPEC.md) sentence by sentence: one test per
// statement that can be observed from outside the service, each named after the SPEC section it
// proves (TestSpec_<Section>_<Statement>) and each failing when the behaviour it names is removed.
//
// The tests run the whole service in-process through internal/servicetest (an embedded
// JetStream server and the Amplience sandbox per test) and observe only what users, publishers,
// subscribers and operators see: streams, consumers and key-value entries in JetStream, dead
// letters and completion events, requests that reached the sandbox, the HTTP endpoints, spans,
// logs and the `consumer` binary's exit codes. Where a state cannot be reached from outside in a
// test's time (a crash between two writes, a claim held by another replica), the test writes
// the ledger entry directly, in the ledger's own JSON, and then observes what a delivery does.
//
// The package has no non-test code besides this comment.
package conformance
