// Package bench measures the service end to end: the consumer against an in-process JetStream
// server (internal/natstest) and the Amplience sandbox (internal/sandbox) over real HTTP, each
// beside two baselines with the same concurrency, measured in the same run: a minimal loop
// that does only what any consumer must (pull, createAsset, publish the completion and wait for
// its acknowledgement, ack), and the same loop with the ledger writes SPEC requires of every
// event (claim, asset index, created entry). BenchmarkProcesses runs the binaries instead, each
// its own process, as they are deployed.
//
// The package holds no code of its own: everything is in its tests. The benchmarks print
// figures and never fail on timing:
//
//	go test -run '^$' -bench 'ZeroLatency|Latency50ms' -benchtime 2000x ./test/bench/
//	go test -run '^$' -bench 'EndToEnd' -benchtime 2000x ./test/bench/
//	go test -run '^$' -bench 'SharedBudget' -benchtime 200x ./test/bench/
//	go test -run '^$' -bench 'Backlog' -benchtime 20000x ./test/bench/ -backlog 1000000
//	go test -run '^$' -bench 'Processes/budget' -benchtime 200x ./test/bench/
//	go test -run '^$' -bench 'Processes/restart' -benchtime 1x ./test/bench/
//	go test -run '^$' -bench 'Processes/backlog' -benchtime 30000x ./test/bench/
//	go test -run '^$' -bench 'Processes/bulk' -benchtime 3000x ./test/bench/
//
// The custom metrics are
//
//   - events/s: events completed per second of wall time;
//   - cpu-ms/event: user plus system CPU time of the whole test process (service or minimal
//     loop, the JetStream server, the sandbox and the load generator alike) per event, from
//     getrusage;
//   - p50-ms, p99-ms: from the inbound message's JetStream timestamp to the arrival of its
//     asset.ingested event at a subscriber;
//   - peak-rss-MB: the process's VmHWM, reset at the start of each run (whole process, as
//     above); rss-1s-MB, rss-max-MB, rss-peak-MB: in BenchmarkProcesses, the replica process's
//     VmRSS one second after it started and at most of the samples taken each second, and its
//     VmHWM at the end (the peak between samples too);
//   - budget-used, 429s: in the shared-budget benchmark, createAsset calls per second over the
//     configured AMPLIENCE_RATE_LIMIT, and the 429 answers the sandbox gave;
//   - events/request: createAsset fields per createAsset request (the minimal loops send one);
//   - max-assets/name, names/event: in Processes/bulk, the most assets of one event name, and
//     the names with an asset over the events (1 and 1: exactly one asset per event).
//
// allocs/op and B/op count every allocation of the process per event, the server's and the
// sandbox's included, so they compare the service with the minimal loop rather than stand
// alone.
//
// Plain `go test ./test/bench/` runs only the light checks: that the in-flight window
// bounds goroutines and the messages a replica holds.
package bench
