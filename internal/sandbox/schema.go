package sandbox

import (
	"fmt"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	schema "github.com/amplience-ingest/asset-ingest-consumer"
)

// loadSchema parses and validates the embedded schema.
func loadSchema() (*ast.Schema, error) {
	s, err := gqlparser.LoadSchema(&ast.Source{Name: "schema.graphql", Input: schema.GraphQL})
	if err != nil {
		return nil, fmt.Errorf("loading the embedded schema.graphql: %w", err)
	}
	return s, nil
}
