// Package ingest is the pipeline: what happens to one delivery of an asset.published event.
//
// The contract of [Pipeline.Handle], written once here: every delivery ends in exactly one of
//
//   - [OutcomeIngested]: createAsset succeeded, or the ledger or Amplience already has this
//     event's asset. The ledger entry becomes created (naming the asset under the event's
//     key), then asset.ingested is published; once both are confirmed the message is acked.
//   - [OutcomeRetry]: a transient failure of this event's call. The message is handed back with
//     NakWithDelay: exponential backoff with full jitter from the ledger's attempt count, never
//     shorter than a Retry-After.
//   - [OutcomeDeadLettered]: a permanent failure (invalid_event, rejected) or the attempt budget
//     spent (exhausted). The ledger entry becomes dead, the dead letter is published and
//     confirmed, then asset.ingest_failed, then the message is terminated.
//   - [OutcomeHandedBack]: nothing was decided about the event: the replica is paused, another
//     replica holds a live claim, the API asked to slow down (429), or the service is stopping.
//     The message is handed back without spending an attempt.
//
// Nothing is acked or terminated before what it depends on is durable, and a failure to write
// the ledger, the results or the dead letters pauses the replica (see [Pauser]) instead of
// spending an attempt.
//
// Each stage of a delivery does the work its decision depends on and returns a verdict
// (outcome, delay, reason, class); settle, in settle.go, is the one place that pauses the
// replica, acks, naks or terminates, ends the process span, records the outcome metric and
// writes the delivery's one outcome log line. What the ledger entry says a delivery does
// (planFor) and what a failed request calls for (judge) are plain functions of their inputs. [Runner] feeds deliveries to the pipeline with at most the configured
// number in flight, keeps each alive with InProgress, and drains on shutdown; [Advisories]
// handles the deliveries JetStream gave up on.
package ingest
