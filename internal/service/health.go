package service

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"

	"github.com/nats-io/nats.go"
)

// health holds what /readyz reports: connected to NATS, consumer bound, not paused (a replica
// starts paused until a first probe passed).
type health struct {
	mu          sync.Mutex
	nc          *nats.Conn // nil until connected
	bound       bool
	boundReason string
	paused      bool
	pauseReason string
	boundCh     chan struct{} // closed once bound the first time
	boundOnce   sync.Once
}

func newHealth() *health {
	return &health{boundReason: "consumer not bound yet", boundCh: make(chan struct{})}
}

// setConn records the NATS connection once it is made.
func (h *health) setConn(nc *nats.Conn) {
	h.mu.Lock()
	h.nc = nc
	h.mu.Unlock()
}

func (h *health) setBound(bound bool, reason string) {
	h.mu.Lock()
	h.bound, h.boundReason = bound, reason
	h.mu.Unlock()
	if bound {
		h.boundOnce.Do(func() { close(h.boundCh) })
	}
}

func (h *health) setPaused(paused bool, reason string) {
	h.mu.Lock()
	h.paused, h.pauseReason = paused, reason
	h.mu.Unlock()
}

// waitBound blocks until the consumer is bound (true) or ctx ends (false).
func (h *health) waitBound(ctx context.Context) bool {
	select {
	case <-h.boundCh:
		return true
	case <-ctx.Done():
		return false
	}
}

// ready reports readiness and, when not ready, every reason.
func (h *health) ready() (bool, []string) {
	var reasons []string
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.nc == nil:
		reasons = append(reasons, "connecting to NATS")
	case !h.nc.IsConnected():
		reasons = append(reasons, "not connected to NATS ("+h.nc.Status().String()+")")
	}
	if !h.bound {
		reasons = append(reasons, h.boundReason)
	}
	if h.paused {
		reasons = append(reasons, "paused: "+h.pauseReason)
	}
	return len(reasons) == 0, reasons
}

// handler serves /healthz (the process answers), /readyz (ready to take events; the reasons
// when not) and /metrics. No endpoint changes state.
func (h *health) handler(metrics http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}` + "\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		ok, reasons := h.ready()
		w.Header().Set("Content-Type", "application/json")
		if !ok {
			w.WriteHeader(http.StatusServiceUnavailable)
			_ = json.NewEncoder(w).Encode(map[string]any{"status": "not ready", "reasons": reasons})
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"status": "ready"})
	})
	mux.Handle("GET /metrics", metrics)
	return mux
}
