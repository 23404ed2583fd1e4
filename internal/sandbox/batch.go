package sandbox

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// codeComplexity refuses a request whose complexity is over Options.ComplexityLimit.
const codeComplexity = "COMPLEXITY_LIMIT_EXCEEDED"

// complexity is the request's score as the sandbox counts it: one point per field selected,
// at every depth (fragments counted where they are spread).
func (e *execution) complexity() int {
	var count func(set ast.SelectionSet) int
	count = func(set ast.SelectionSet) int {
		n := 0
		for _, sel := range set {
			switch sel := sel.(type) {
			case *ast.Field:
				n += 1 + count(sel.SelectionSet)
			case *ast.InlineFragment:
				n += count(sel.SelectionSet)
			case *ast.FragmentSpread:
				if sel.Definition != nil {
					n += count(sel.Definition.SelectionSet)
				}
			}
		}
		return n
	}
	return count(e.op.SelectionSet)
}

// overComplexity answers HTTP 400 COMPLEXITY_LIMIT_EXCEEDED, executing nothing, when the request
// scores over the limit; nil otherwise.
func (s *Server) overComplexity(e *execution) *reply {
	if s.opts.ComplexityLimit <= 0 {
		return nil
	}
	if c := e.complexity(); c > s.opts.ComplexityLimit {
		s.stats.update(func(st *Stats) { st.ComplexityRefused++ })
		return errorReply(http.StatusBadRequest,
			fmt.Sprintf("Query complexity of %d exceeds the maximum of %d", c, s.opts.ComplexityLimit), codeComplexity)
	}
	return nil
}

// createAssetField is one createAsset root field: its response key and its input's name.
type createAssetField struct{ key, name string }

func (e *execution) createAssetFields() []createAssetField {
	var out []createAssetField
	for _, g := range e.root {
		if f := g.fields[0]; f.Name == "createAsset" {
			input, _ := f.ArgumentMap(e.vars)["input"].(map[string]any)
			name, _ := input["name"].(string)
			out = append(out, createAssetField{key: g.key, name: name})
		}
	}
	return out
}

// wholeRequest reports whether f fails a request as a whole even when it carries several
// createAsset fields: a 5xx, a 429, a 401, a hang or a delay, or a fault matching every
// request. Any other fault (a GraphQL error, another 4xx, "created but the answer was lost")
// fails only the fields whose names it matches.
func (f Fault) wholeRequest() bool {
	return f.Match == "" || f.Hang || f.Delay > 0 || f.Status >= 500 ||
		f.Status == http.StatusTooManyRequests || f.Status == http.StatusUnauthorized
}

// answerMembers answers a request carrying several createAsset fields whose first matching
// fault is f: a whole-request fault is answered as for any request; otherwise f fails the
// first field it matches, and each other field takes the first field fault matching its name.
func (s *Server) answerMembers(ctx context.Context, e *execution, f Fault, run func() *reply) *reply {
	if f.wholeRequest() {
		return s.faultReply(ctx, f, run)
	}
	e.fieldFaults = map[string]Fault{}
	for _, fl := range e.createAssetFields() {
		switch {
		case len(e.fieldFaults) == 0 && strings.Contains(fl.name, f.Match):
			e.fieldFaults[fl.key] = f
		default:
			if g, ok := s.faults.takeField(fl.name); ok {
				e.fieldFaults[fl.key] = g
			}
		}
	}
	s.stats.update(func(st *Stats) { st.FaultsApplied += len(e.fieldFaults) })
	for key, f := range e.fieldFaults {
		s.log.Info("fault applied to one field", "field", key, "match", f.Match, "status", f.Status,
			"create_then_fail", f.CreateThenFail, "graphql_error", f.GraphQLError)
	}
	rep := run()
	if rep.status == http.StatusOK && s.opts.PartialFailureStatus != 0 {
		rep.status = s.opts.PartialFailureStatus
	}
	return rep
}

// takeField returns the first field fault (not a whole-request one) matching name, spending
// one of its Times.
func (s *faultSet) takeField(name string) (Fault, bool) {
	return s.takeIf(func(f Fault) bool { return !f.wholeRequest() && f.matches([]string{name}) })
}

// fieldFault applies a field fault to the root field at path on obj: "created but the answer
// was lost" creates the asset and answers null without an error; otherwise the field fails with
// the fault's error (after creating the asset with CreateThenFail).
func (e *execution) fieldFault(obj object, f Fault, field *ast.Field, path ast.Path) {
	if f.CreateThenFail {
		_, _ = obj.resolve(field.Name, field.ArgumentMap(e.vars))
		if f.GraphQLError == "" && f.Status == 0 {
			return
		}
	}
	ge := &gqlerror.Error{Message: cmp.Or(f.GraphQLError, http.StatusText(f.Status), "field failed"), Path: path}
	ext := map[string]any{}
	if f.Code != "" {
		ext["code"] = f.Code
	}
	if f.Status != 0 {
		ext["status"] = f.Status
	}
	if len(ext) > 0 {
		ge.Extensions = ext
	}
	e.errs = append(e.errs, ge)
}
