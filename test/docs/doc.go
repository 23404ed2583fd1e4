// Package docs holds no code: its tests keep the documents a user reads first honest. They fail
// when the README's configuration table drifts from [config.Variables] and [config.Defaults],
// when its metrics table drifts from the instruments the code creates, when its quick start's
// test command drifts from CI's, or when docker-compose.yml or the Dockerfile set a variable
// the service does not read, name a `consumer` command that does not exist, or wire services
// in the wrong order. (cmd/consumer's tests run each documented command line with --help to
// check its flags.)
//
// [config.Variables]: github.com/amplience-ingest/asset-ingest-consumer/internal/config.Variables
// [config.Defaults]: github.com/amplience-ingest/asset-ingest-consumer/internal/config.Defaults
package docs
