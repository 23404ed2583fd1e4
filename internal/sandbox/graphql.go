package sandbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"
)

// maxRequestBytes bounds a GraphQL request body.
const maxRequestBytes = 1 << 20

// Error codes the sandbox puts in extensions.code.
const (
	codeParseFailed      = "GRAPHQL_PARSE_FAILED"
	codeValidationFailed = "GRAPHQL_VALIDATION_FAILED"
	codeBadUserInput     = "BAD_USER_INPUT"
	codeDuplicateName    = "DUPLICATE_ASSET_NAME"
)

// reply is an HTTP answer: a status, extra headers, and a body written as JSON.
type reply struct {
	status int
	header http.Header
	body   any
}

// errorReply answers status with {"errors":[{"message": message, "extensions":{"code": code}}]}
// (no extensions when code is "").
func errorReply(status int, message, code string) *reply {
	e := &gqlerror.Error{Message: message}
	if code != "" {
		e.Extensions = map[string]any{"code": code}
	}
	return &reply{status: status, body: response{Errors: gqlerror.List{e}}}
}

// listReply answers status with errs, each given code unless it has one.
func listReply(status int, errs gqlerror.List, code string) *reply {
	for _, e := range errs {
		if e.Extensions == nil {
			e.Extensions = map[string]any{}
		}
		if _, ok := e.Extensions["code"]; !ok {
			e.Extensions["code"] = code
		}
	}
	return &reply{status: status, body: response{Errors: errs}}
}

// response is a GraphQL response body.
type response struct {
	Data   any           `json:"data,omitempty"`
	Errors gqlerror.List `json:"errors,omitempty"`
}

// graphQLRequest is the body of a POST, or the parameters of a GET.
type graphQLRequest struct {
	Query         string         `json:"query"`
	OperationName string         `json:"operationName"`
	Variables     map[string]any `json:"variables"`
}

// serveGraphQL answers POST and GET /graphql and records the request.
func (s *Server) serveGraphQL(w http.ResponseWriter, r *http.Request) {
	rec := s.stats.begin(r, s.now())
	rep := s.answerGraphQL(r, rec)
	if rep == nil {
		s.log.Debug("graphql request abandoned by the client", "operation", rec.OperationName)
		return
	}
	s.stats.answered(rec, rep.status)
	s.log.Debug("graphql request", "operation", rec.OperationName, "root_fields", rec.RootFields,
		"status", rep.status)
	writeJSON(w, rep.status, rep.header, rep.body)
}

// answerGraphQL runs the steps of one request in order: latency, authentication, rate limit,
// decoding, validation, faults, execution. nil means the client gave up.
func (s *Server) answerGraphQL(r *http.Request, rec *Request) *reply {
	ctx := r.Context()
	if !s.wait(ctx.Done(), s.opts.Latency) {
		return s.interrupted(ctx)
	}
	now := s.now()
	key, ok := s.tokens.authenticate(r.Header.Get("Authorization"), now)
	if !ok {
		rep := errorReply(http.StatusUnauthorized, "Unauthorized", "")
		rep.header = http.Header{"Www-Authenticate": {"Bearer"}}
		return rep
	}
	s.stats.countWindow(now)
	if ok, wait := s.limiter.allow(key, now); !ok {
		s.stats.update(func(st *Stats) { st.RateLimited++ })
		rep := errorReply(http.StatusTooManyRequests, "Too many requests: rate limit exceeded", "")
		if s.opts.RetryAfterHeader {
			rep.header = http.Header{"Retry-After": {strconv.Itoa(retryAfterSeconds(wait))}}
		}
		return rep
	}
	req, rawVars, err := decodeRequest(r)
	if err != nil {
		return errorReply(http.StatusBadRequest, err.Error(), codeBadUserInput)
	}
	s.stats.describe(rec, req.OperationName, rawVars)
	ex, rep := s.prepare(req, r.Method)
	if rep != nil {
		return rep
	}
	s.stats.parsed(rec, ex.op.Name, ex.rootFieldNames(), ex.createAssetNames())
	if rep := s.overComplexity(ex); rep != nil {
		return rep
	}
	if ex.op.Operation == ast.Mutation && s.opts.FieldTime > 0 {
		ex.fieldTime = func() { s.wait(nil, s.opts.FieldTime) }
	}
	run := func() *reply { return s.execute(ex) }
	if names := ex.createAssetNames(); len(names) > 1 {
		if f, ok := s.faults.take(names); ok {
			return s.answerMembers(ctx, ex, f, run)
		}
	} else if f, ok := s.faults.take(names); ok {
		return s.faultReply(ctx, f, run)
	}
	return run()
}

// decodeRequest reads the query, operation name and variables from a POST body or GET query
// string. It also returns a second copy of the variables, which coercion leaves untouched.
func decodeRequest(r *http.Request) (graphQLRequest, map[string]any, error) {
	var req graphQLRequest
	var rawVars []byte
	if r.Method == http.MethodGet {
		q := r.URL.Query()
		req.Query, req.OperationName = q.Get("query"), q.Get("operationName")
		rawVars = []byte(q.Get("variables"))
	} else {
		body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBytes+1))
		if err != nil {
			return req, nil, fmt.Errorf("reading the request body: %w", err)
		}
		if len(body) > maxRequestBytes {
			return req, nil, fmt.Errorf("the request body is larger than %d bytes", maxRequestBytes)
		}
		var envelope struct {
			graphQLRequest
			Variables json.RawMessage `json:"variables"`
		}
		if err := json.Unmarshal(body, &envelope); err != nil {
			return req, nil, fmt.Errorf("the request body is not a JSON GraphQL request: %w", err)
		}
		req = envelope.graphQLRequest
		rawVars = envelope.Variables
	}
	if len(bytes.TrimSpace(rawVars)) == 0 || bytes.Equal(bytes.TrimSpace(rawVars), []byte("null")) {
		return req, nil, nil
	}
	var recorded map[string]any
	if err := json.Unmarshal(rawVars, &req.Variables); err != nil {
		return req, nil, fmt.Errorf("variables must be a JSON object: %w", err)
	}
	_ = json.Unmarshal(rawVars, &recorded) // the same bytes decoded once already
	return req, recorded, nil
}

// prepare parses and validates the query, picks the operation and coerces the variables. A
// non-nil reply is the error answer.
func (s *Server) prepare(req graphQLRequest, method string) (*execution, *reply) {
	if req.Query == "" {
		return nil, errorReply(http.StatusBadRequest, "GraphQL operations must contain a non-empty `query`.", codeBadUserInput)
	}
	doc, err := parser.ParseQuery(&ast.Source{Input: req.Query})
	if err != nil {
		var ge *gqlerror.Error
		if !errors.As(err, &ge) {
			ge = gqlerror.Wrap(err)
		}
		return nil, listReply(http.StatusBadRequest, gqlerror.List{ge}, codeParseFailed)
	}
	if errs := validator.ValidateWithRules(s.schema, doc, s.rules); len(errs) > 0 {
		return nil, listReply(http.StatusBadRequest, errs, codeValidationFailed)
	}
	op, rep := pickOperation(doc, req.OperationName)
	if rep != nil {
		return nil, rep
	}
	if method == http.MethodGet && op.Operation != ast.Query {
		rep := errorReply(http.StatusMethodNotAllowed, "GET requests may only run queries; send mutations with POST", codeBadUserInput)
		rep.header = http.Header{"Allow": {http.MethodPost}}
		return nil, rep
	}
	vars, err := validator.VariableValues(s.schema, op, req.Variables)
	if err != nil {
		var ge *gqlerror.Error
		if !errors.As(err, &ge) {
			ge = gqlerror.Wrap(err)
		}
		if len(ge.Path) > 0 {
			ge.Message = ge.Path.String() + " " + ge.Message // "variable.input.name must be defined"
		}
		return nil, listReply(http.StatusBadRequest, gqlerror.List{ge}, codeBadUserInput)
	}
	return newExecution(s.schema, op, vars), nil
}

// pickOperation returns the operation named name, or the only one when name is "".
func pickOperation(doc *ast.QueryDocument, name string) (*ast.OperationDefinition, *reply) {
	if name == "" {
		if len(doc.Operations) != 1 {
			return nil, errorReply(http.StatusBadRequest, "Must provide operation name if query contains multiple operations.", codeBadUserInput)
		}
		return doc.Operations[0], nil
	}
	op := doc.Operations.ForName(name)
	if op == nil {
		return nil, errorReply(http.StatusBadRequest, fmt.Sprintf("Unknown operation named %q.", name), codeBadUserInput)
	}
	return op, nil
}

// writeJSON writes body as JSON with status and the extra headers.
func writeJSON(w http.ResponseWriter, status int, header http.Header, body any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(body); err != nil {
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"errors":[{"message":"the sandbox could not encode its answer"}]}` + "\n")
	}
	for k, vs := range header {
		w.Header()[k] = vs
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
