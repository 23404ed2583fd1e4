package sandbox

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Fault changes how the sandbox answers the GraphQL requests it matches. A request is matched
// after it was authenticated, rate-limited and validated; the first matching fault, in the order
// added, applies, and each application spends one of its Times.
//
// The answer: after Delay, a Hang holds the request until the client gives up or the server
// closes (then 503). Otherwise, with CreateThenFail the request is executed (assets are created)
// and its answer discarded. Then GraphQLError answers {"errors":[{"message":GraphQLError,
// "extensions":{"code":Code}}]} with Status (200 when 0); else a non-zero Status answers that
// status with {"errors":[{"message":"<status text>"}]}; else CreateThenFail answers 500; else
// (a Delay alone) the request is answered normally. RetryAfter, when set, is sent as the
// Retry-After header.
//
// In JSON (POST /sandbox/faults) the fields are lower camel case and delay is a Go duration
// string: {"match":"sku-1","times":2,"status":503,"delay":"250ms"}.
type Fault struct {
	// Match limits the fault to requests with a createAsset whose input.name contains Match;
	// "" matches every GraphQL request.
	Match string `json:"match,omitempty"`
	// Times is how many requests the fault applies to; 0 means until cleared.
	Times int `json:"times,omitempty"`
	// Status is the HTTP status to answer (500, 503, 429, 401, 403, 400...).
	Status int `json:"status,omitempty"`
	// RetryAfter is the Retry-After header value ("2" or an HTTP date); "" sends none.
	RetryAfter string `json:"retryAfter,omitempty"`
	// GraphQLError is the message of a GraphQL error to answer, such as
	// "Request failed with status code 403".
	GraphQLError string `json:"graphqlError,omitempty"`
	// Code is the error's extensions.code; "" leaves extensions out.
	Code string `json:"code,omitempty"`
	// Hang holds the request until the client gives up or the server closes.
	Hang bool `json:"hang,omitempty"`
	// Delay is waited before anything else.
	Delay time.Duration `json:"-"`
	// CreateThenFail executes the request, then answers the failure: "created, but the answer
	// was lost".
	CreateThenFail bool `json:"createThenFail,omitempty"`
}

// faultJSON is Fault's JSON form, with Delay as a duration string.
type faultJSON struct {
	plainFault
	Delay string `json:"delay,omitempty"`
}

type plainFault Fault // Fault without its JSON methods.

// MarshalJSON writes the JSON form described on Fault.
func (f Fault) MarshalJSON() ([]byte, error) {
	j := faultJSON{plainFault: plainFault(f)}
	if f.Delay != 0 {
		j.Delay = f.Delay.String()
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads the JSON form described on Fault and refuses unknown fields or values
// that make no sense (negative times or delay, a status outside 100-599).
func (f *Fault) UnmarshalJSON(b []byte) error {
	var j faultJSON
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return fmt.Errorf("decoding fault: %w", err)
	}
	out := Fault(j.plainFault)
	if j.Delay != "" {
		d, err := time.ParseDuration(j.Delay)
		if err != nil {
			return fmt.Errorf("fault delay %q: %w", j.Delay, err)
		}
		out.Delay = d
	}
	if err := out.check(); err != nil {
		return err
	}
	*f = out
	return nil
}

func (f Fault) check() error {
	switch {
	case !f.acts():
		return errors.New(`a fault must change the answer: set status, graphqlError (with code), hang, delay or createThenFail; ` +
			`match and times only say which requests it applies to, e.g. {"status":503} or {"match":"sku-9","graphqlError":"name taken","code":"BAD_USER_INPUT"}`)
	case f.Code != "" && f.GraphQLError == "":
		return errors.New("fault code is the extensions.code of graphqlError; set graphqlError too")
	case f.Times < 0:
		return errors.New("fault times must not be negative")
	case f.Delay < 0:
		return errors.New("fault delay must not be negative")
	case f.Status != 0 && (f.Status < 100 || f.Status > 599):
		return fmt.Errorf("fault status %d is not an HTTP status", f.Status)
	}
	return nil
}

// acts reports whether f changes an answer at all.
func (f Fault) acts() bool {
	return f.Status != 0 || f.GraphQLError != "" || f.Hang || f.Delay != 0 || f.CreateThenFail
}

// AddFault adds f after the faults already set.
func (s *Server) AddFault(f Fault) { s.faults.add(f) }

// Faults returns the active faults in order; Times is what remains of each.
func (s *Server) Faults() []Fault { return s.faults.list() }

// ClearFaults removes every fault.
func (s *Server) ClearFaults() { s.faults.clear() }

// faultSet holds the active faults in the order added.
type faultSet struct {
	mu     sync.Mutex
	faults []Fault // Times counts down; 0 means unlimited
}

func (s *faultSet) add(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, f)
}

func (s *faultSet) clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

func (s *faultSet) list() []Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Fault{}, s.faults...)
}

// take returns the first fault matching a request whose createAsset names are names, spending
// one of its Times.
func (s *faultSet) take(names []string) (Fault, bool) {
	return s.takeIf(func(f Fault) bool { return f.matches(names) })
}

// takeIf returns the first fault for which ok holds, spending one of its Times.
func (s *faultSet) takeIf(ok func(Fault) bool) (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if !ok(f) {
			continue
		}
		switch {
		case f.Times == 1:
			s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
		case f.Times > 1:
			s.faults[i].Times--
		}
		return f, true
	}
	return Fault{}, false
}

func (f Fault) matches(names []string) bool {
	if f.Match == "" {
		return true
	}
	for _, n := range names {
		if strings.Contains(n, f.Match) {
			return true
		}
	}
	return false
}

// faultReply answers a request as f says; run executes the request normally. It returns nil
// when the client gave up, so there is nothing to answer.
func (s *Server) faultReply(ctx context.Context, f Fault, run func() *reply) *reply {
	s.stats.update(func(st *Stats) { st.FaultsApplied++ })
	s.log.Info("fault applied", "match", f.Match, "status", f.Status, "hang", f.Hang,
		"delay", f.Delay, "create_then_fail", f.CreateThenFail, "graphql_error", f.GraphQLError)
	if !s.wait(ctx.Done(), f.Delay) {
		return s.interrupted(ctx)
	}
	if f.Hang {
		select {
		case <-ctx.Done():
		case <-s.closing:
		}
		return s.interrupted(ctx)
	}
	if f.CreateThenFail {
		run() // the asset is created; its answer is lost
	} else if f.GraphQLError == "" && f.Status == 0 {
		return run() // a delay alone
	}
	var r *reply
	switch {
	case f.GraphQLError != "":
		e := map[string]any{"message": f.GraphQLError}
		if f.Code != "" {
			e["extensions"] = map[string]any{"code": f.Code}
		}
		r = &reply{status: cmp.Or(f.Status, http.StatusOK), body: map[string]any{"errors": []any{e}}}
	case f.Status != 0:
		r = errorReply(f.Status, http.StatusText(f.Status), "")
	default:
		r = errorReply(http.StatusInternalServerError, http.StatusText(http.StatusInternalServerError), "")
	}
	if f.RetryAfter != "" {
		r.header = http.Header{"Retry-After": {f.RetryAfter}}
	}
	return r
}

// interrupted is the answer to a request whose wait ended early: nothing when the client gave
// up, 503 when the server is closing.
func (s *Server) interrupted(ctx context.Context) *reply {
	if ctx.Err() != nil {
		return nil
	}
	return errorReply(http.StatusServiceUnavailable, "the sandbox is shutting down", "")
}
