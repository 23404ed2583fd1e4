// Package dlq holds the operators' dead-letter tools behind `consumer dlq`:
// list, show, replay and purge the dead letters of the dead-letter stream
// (ASSETS_DLQ by default), reading and writing through JetStream with the
// operator's own credentials.
//
// Dead letters are read by sequence with the stream "get message" API
// (direct get when the stream allows it): scanning asks for the next message
// at or after a sequence (next_by_subj ">") one at a time, so a scan holds
// one body in memory, creates no consumer on the server and needs no
// permission beyond reading messages. Commands that act on many dead letters
// take a snapshot of the stream's last sequence when they start and never go
// past it: a dead letter written while a replay runs is left for the next
// run.
//
// What a replay sends is decided by internal/events ([events.ReplayTarget],
// [events.ReplayHeader]); this package decides when it is sent and when the
// dead letter may go: only after the inbound stream acknowledged the replay.
// Because every replay of dead letter N carries Nats-Msg-Id
// "replay:<dlq stream>:N", running a replay again after an interruption is
// safe: what was already stored is dropped as a duplicate by the inbound
// stream (within its duplicate window) and only then deleted here.
//
// Text that comes from events or dead letters is printed with control
// characters escaped (see [Escape]).
package dlq
