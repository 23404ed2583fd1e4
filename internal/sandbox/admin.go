package sandbox

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// maxAdminBytes bounds an admin request body.
const maxAdminBytes = 64 << 10

// State is what GET /sandbox/state answers.
type State struct {
	CredentialsValid bool    `json:"credentialsValid"`
	DuplicateNames   string  `json:"duplicateNames"` // "accept" or "reject"
	Assets           []Asset `json:"assets"`         // oldest first
	Faults           []Fault `json:"faults"`         // active, in order; Times is what remains
	Stats            Stats   `json:"stats"`
}

// State returns the same snapshot as GET /sandbox/state.
func (s *Server) State() State {
	return State{
		CredentialsValid: s.tokens.valid(),
		DuplicateNames:   s.opts.DuplicateNames.String(),
		Assets:           s.store.all(),
		Faults:           s.faults.list(),
		Stats:            s.stats.snapshot(),
	}
}

func (s *Server) adminRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /sandbox/state", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, nil, s.State())
	})
	mux.HandleFunc("GET /sandbox/requests", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, nil, s.Requests())
	})
	mux.HandleFunc("POST /sandbox/faults", s.serveAddFault)
	mux.HandleFunc("DELETE /sandbox/faults", func(w http.ResponseWriter, _ *http.Request) {
		s.ClearFaults()
		s.log.Info("faults cleared")
		writeJSON(w, http.StatusOK, nil, map[string]any{"faults": []Fault{}})
	})
	mux.HandleFunc("POST /sandbox/credentials", s.serveCredentials)
	mux.HandleFunc("POST /sandbox/tokens/expire", func(w http.ResponseWriter, _ *http.Request) {
		n := s.ExpireTokens()
		s.log.Info("tokens expired", "count", n)
		writeJSON(w, http.StatusOK, nil, map[string]int{"expired": n})
	})
	mux.HandleFunc("POST /sandbox/reset", func(w http.ResponseWriter, _ *http.Request) {
		s.Reset()
		s.log.Info("sandbox reset")
		writeJSON(w, http.StatusOK, nil, s.State())
	})
}

// serveAddFault adds the Fault in the body and answers the active faults; 400 when the body is
// not a valid fault.
func (s *Server) serveAddFault(w http.ResponseWriter, r *http.Request) {
	var f Fault
	if err := decodeAdmin(w, r, &f); err != nil {
		writeJSON(w, http.StatusBadRequest, nil, map[string]string{"error": err.Error()})
		return
	}
	s.AddFault(f)
	s.log.Info("fault added", "match", f.Match, "times", f.Times, "status", f.Status)
	writeJSON(w, http.StatusOK, nil, map[string]any{"faults": s.faults.list()})
}

// serveCredentials applies {"valid": bool}.
func (s *Server) serveCredentials(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Valid *bool `json:"valid"`
	}
	if err := decodeAdmin(w, r, &body); err != nil || body.Valid == nil {
		writeJSON(w, http.StatusBadRequest, nil, map[string]string{"error": `send {"valid": true} or {"valid": false}`})
		return
	}
	s.SetCredentialsValid(*body.Valid)
	s.log.Info("credentials validity set", "valid", *body.Valid)
	writeJSON(w, http.StatusOK, nil, map[string]bool{"credentialsValid": *body.Valid})
}

func decodeAdmin(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxAdminBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decoding the request body: %w", err)
	}
	return nil
}
