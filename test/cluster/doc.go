// Package cluster holds the scale-out tests of the asset ingest consumer: a three-node
// JetStream cluster of in-process nats-server instances on random ports, streams and the
// ledger with three replicas, and several service replicas sharing the durable consumer and
// the Amplience request budget while a node and a replica stop mid-run.
//
// It has no code outside its tests; the helpers in its _test files start the cluster
// (startCluster) and the replicas (startReplica).
package cluster
