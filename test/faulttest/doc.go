// Package faulttest proves, under faults, the service's central promise: every asset.published
// event ends either ingested or dead-lettered, and never creates a second asset.
//
// Its tests (there is no non-test code) run the real service against an embedded JetStream
// server and the Amplience sandbox over HTTP, inject one kind of fault each, and then account
// for every event: exactly one sandbox asset per ingested event's name (no name twice), exactly
// one asset.ingested naming that asset, and the expected dead letters and asset.ingest_failed
// events, nothing else. The faults:
//
//   - the consumer process (the `consumer run` binary, built once per test run) killed with
//     SIGKILL at random points, repeatedly, while events flow;
//   - a SIGKILL after Amplience created an asset and before its answer arrived (the ledger
//     claim and reconciliation must find that asset rather than create another), also when
//     that was the event's last attempt and the first lookup after the restart fails;
//   - a SIGKILL in the middle of an always-failing event's attempts (attempts are counted before
//     each call, so crashes count: exactly INGEST_MAX_ATTEMPTS calls, then `exhausted`);
//   - the NATS server stopped and restarted on the same port and store mid-flow;
//   - the API answering 5xx for a while, 429 storms with Retry-After, calls that hang past
//     INGEST_ACK_WAIT (cut by AMPLIENCE_TIMEOUT, never two calls for one event at once);
//   - access tokens expiring during a run, and credentials refused then restored.
//
// Each test takes a few seconds; they run in parallel and in CI with the rest of the suite.
package faulttest
