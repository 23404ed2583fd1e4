// Package gqlapi is the consumer's client of Amplience's GraphQL Asset Management API.
//
// It owns everything that touches the API: the operations (operations.graphql) and the code
// genqlient generates from them (generated.go), authentication (OAuth2 client credentials with
// a cached, refreshable token, or a personal access token), tracing of each call, and the
// classification of every answer into one of a small set of kinds (see Kind). Nothing outside
// this package parses an API answer or an error string: callers branch on KindOf and
// RetryAfter.
//
// A Client is safe for concurrent use.
package gqlapi

//go:generate go tool genqlient
