// Package schema holds schema.graphql, the subset of Amplience's GraphQL schema that the client
// is generated from (internal/gqlapi) and that the sandbox validates every request against
// (internal/sandbox). It lives at the module root so both read the one file.
package schema

import _ "embed"

// GraphQL is the text of schema.graphql.
//
//go:embed schema.graphql
var GraphQL string
