package sandbox

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"slices"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// object is a value of a GraphQL object type: the executor selects fields from it.
type object interface {
	typeName() string
	// resolve returns the value of a field for its arguments: nil, a scalar (string, int,
	// float64, bool), a []string, an object or a []object.
	resolve(field string, args map[string]any) (any, error)
}

// apiError is an error a resolver answers. Status 400 refuses the whole request (a bad
// argument); otherwise the field is null and the error is listed beside the data.
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.message }

// badInput refuses the request with HTTP 400 and code BAD_USER_INPUT.
func badInput(message string) *apiError {
	return &apiError{status: 400, code: codeBadUserInput, message: message}
}

// execution runs one validated operation: a small executor for what schema.graphql needs
// (fields, aliases, __typename, inline fragments, fragment spreads, @skip and @include).
type execution struct {
	schema  *ast.Schema
	op      *ast.OperationDefinition
	vars    map[string]any // coerced
	root    []fieldGroup   // the operation's root fields
	errs    gqlerror.List
	refusal *gqlerror.Error // set when a resolver refused the request

	fieldTime   func()           // waits the time one root field of a mutation takes; nil: none
	fieldFaults map[string]Fault // faults of single root fields, by response key
}

// fieldGroup is the fields selected under one response key.
type fieldGroup struct {
	key    string
	fields []*ast.Field
}

func newExecution(schema *ast.Schema, op *ast.OperationDefinition, vars map[string]any) *execution {
	e := &execution{schema: schema, op: op, vars: vars}
	root := schema.Query
	if op.Operation == ast.Mutation {
		root = schema.Mutation
	}
	e.root = e.collect(root.Name, op.SelectionSet)
	return e
}

// rootFieldNames returns the names of the root fields, in order.
func (e *execution) rootFieldNames() []string {
	names := make([]string, 0, len(e.root))
	for _, g := range e.root {
		names = append(names, g.fields[0].Name)
	}
	return names
}

// createAssetNames returns input.name of every createAsset root field.
func (e *execution) createAssetNames() []string {
	var names []string
	for _, f := range e.createAssetFields() {
		names = append(names, f.name)
	}
	return names
}

// run selects the root fields from root and returns the answer.
func (e *execution) run(root object) *reply {
	data := e.selectGroups(root, e.root, nil)
	if e.refusal != nil {
		return &reply{status: 400, body: response{Errors: gqlerror.List{e.refusal}}}
	}
	return &reply{status: 200, body: response{Data: data, Errors: e.errs}}
}

// collect gathers the fields of set that apply to an object of type typeName, grouped by
// response key in order of first appearance.
func (e *execution) collect(typeName string, set ast.SelectionSet) []fieldGroup {
	var groups []fieldGroup
	index := map[string]int{}
	var walk func(ast.SelectionSet)
	walk = func(set ast.SelectionSet) {
		for _, sel := range set {
			switch sel := sel.(type) {
			case *ast.Field:
				if !e.included(sel.Directives) {
					continue
				}
				key := cmp.Or(sel.Alias, sel.Name)
				if i, ok := index[key]; ok {
					groups[i].fields = append(groups[i].fields, sel)
					continue
				}
				index[key] = len(groups)
				groups = append(groups, fieldGroup{key: key, fields: []*ast.Field{sel}})
			case *ast.InlineFragment:
				if e.included(sel.Directives) && e.applies(sel.TypeCondition, typeName) {
					walk(sel.SelectionSet)
				}
			case *ast.FragmentSpread:
				if e.included(sel.Directives) && sel.Definition != nil && e.applies(sel.Definition.TypeCondition, typeName) {
					walk(sel.Definition.SelectionSet)
				}
			}
		}
	}
	walk(set)
	return groups
}

// included applies @skip and @include.
func (e *execution) included(dirs ast.DirectiveList) bool {
	if d := dirs.ForName("skip"); d != nil && d.ArgumentMap(e.vars)["if"] == true {
		return false
	}
	if d := dirs.ForName("include"); d != nil && d.ArgumentMap(e.vars)["if"] == false {
		return false
	}
	return true
}

// applies reports whether a fragment on condition applies to an object of type typeName.
func (e *execution) applies(condition, typeName string) bool {
	if condition == "" || condition == typeName {
		return true
	}
	def := e.schema.Types[condition]
	if def == nil {
		return false
	}
	return slices.ContainsFunc(e.schema.GetPossibleTypes(def), func(d *ast.Definition) bool {
		return d.Name == typeName
	})
}

// selectGroups resolves each group on obj.
func (e *execution) selectGroups(obj object, groups []fieldGroup, path ast.Path) *orderedMap {
	out := &orderedMap{}
	for _, g := range groups {
		if e.refusal != nil {
			break
		}
		f := g.fields[0]
		fieldPath := slices.Concat(path, ast.Path{ast.PathName(g.key)})
		if f.Name == "__typename" {
			out.add(g.key, obj.typeName())
			continue
		}
		if path == nil && e.fieldTime != nil {
			e.fieldTime()
		}
		if fault, ok := e.fieldFaults[g.key]; ok && path == nil {
			e.fieldFault(obj, fault, f, fieldPath)
			out.add(g.key, nil)
			continue
		}
		v, err := obj.resolve(f.Name, f.ArgumentMap(e.vars))
		if err != nil {
			e.fail(err, f, fieldPath)
			out.add(g.key, nil)
			continue
		}
		var sub ast.SelectionSet
		for _, f := range g.fields {
			sub = append(sub, f.SelectionSet...)
		}
		out.add(g.key, e.complete(f.Definition.Type, v, sub, fieldPath))
	}
	return out
}

// complete shapes a resolved value as typ with the sub-selection set.
func (e *execution) complete(typ *ast.Type, v any, set ast.SelectionSet, path ast.Path) any {
	if v == nil {
		return nil
	}
	if typ.Elem != nil {
		list, ok := v.([]object)
		if !ok {
			return v // a list of scalars
		}
		out := make([]any, len(list))
		for i, item := range list {
			out[i] = e.complete(typ.Elem, item, set, slices.Concat(path, ast.Path{ast.PathIndex(i)}))
		}
		return out
	}
	obj, ok := v.(object)
	if !ok {
		return v // a scalar or enum value
	}
	return e.selectGroups(obj, e.collect(obj.typeName(), set), path)
}

// fail records a resolver's error for field f at path.
func (e *execution) fail(err error, f *ast.Field, path ast.Path) {
	ge := &gqlerror.Error{Message: err.Error(), Path: path}
	if f.Position != nil {
		ge.Locations = []gqlerror.Location{{Line: f.Position.Line, Column: f.Position.Column}}
	}
	var ae *apiError
	if errors.As(err, &ae) && ae.code != "" {
		ge.Extensions = map[string]any{"code": ae.code}
	}
	if ae != nil && ae.status == 400 {
		e.refusal = ge
		return
	}
	e.errs = append(e.errs, ge)
}

// orderedMap is a JSON object that keeps its keys in the order of the selection set.
type orderedMap struct {
	keys   []string
	values []any
}

func (m *orderedMap) add(key string, value any) {
	m.keys = append(m.keys, key)
	m.values = append(m.values, value)
}

// MarshalJSON writes the members in order.
func (m *orderedMap) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, k := range m.keys {
		if i > 0 {
			buf.WriteByte(',')
		}
		kb, err := json.Marshal(k)
		if err != nil {
			return nil, err
		}
		vb, err := json.Marshal(m.values[i])
		if err != nil {
			return nil, err
		}
		buf.Write(kb)
		buf.WriteByte(':')
		buf.Write(vb)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}
