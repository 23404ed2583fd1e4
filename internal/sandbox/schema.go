package sandbox

import (
	_ "embed"
	"fmt"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
)

// schemaSource is a copy of the module's schema.graphql (go:embed cannot reach a parent
// directory); TestSchemaCopyInSync fails when the two differ.
//
//go:embed schema.graphql
var schemaSource string

// loadSchema parses and validates the embedded schema.
func loadSchema() (*ast.Schema, error) {
	schema, err := gqlparser.LoadSchema(&ast.Source{Name: "schema.graphql", Input: schemaSource})
	if err != nil {
		return nil, fmt.Errorf("loading the embedded schema.graphql: %w", err)
	}
	return schema, nil
}
