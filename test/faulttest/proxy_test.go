package faulttest_test

import (
	"bytes"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// apiCall is one createAsset call (a request, or one field of a request carrying several
// events) that went through the proxy.
type apiCall struct {
	Name       string
	Start, End time.Time // End is zero while the call is in flight
	Status     int       // what the sandbox answered; 0 when the answer was held or the client gave up
}

// holdSpec makes the proxy withhold the sandbox's answer to the nth createAsset call for name
// (counting from 1): the sandbox executes it (creating the asset, or answering its fault), and
// the client never hears back. held is closed once that call's answer is being withheld.
type holdSpec struct {
	name string
	nth  int
	held chan struct{}
}

// apiProxy stands between the service and the sandbox. It delays each GraphQL request by a
// random latency so that kills land in the middle of calls, records every createAsset call
// (name, start, end, status), and can withhold one answer (see holdSpec) until the client goes
// away: "the asset was created, then the process died before it heard so".
type apiProxy struct {
	minLatency, maxLatency time.Duration
	done                   chan struct{} // closed when the test ends: held answers give up

	mu    sync.Mutex
	next  http.Handler
	rng   *rand.Rand
	calls []*apiCall
	holds []*holdSpec

	batches         int // requests carrying more than one createAsset field
	batchesInFlight int
}

// newAPIProxy serves a proxy over HTTP for the rest of the test; call setNext before the first
// request. It returns the proxy and its base URL.
func newAPIProxy(tb testing.TB, minLatency, maxLatency time.Duration, seed uint64) (*apiProxy, string) {
	tb.Helper()
	p := &apiProxy{
		minLatency: minLatency, maxLatency: maxLatency, done: make(chan struct{}),
		rng: rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15)),
	}
	srv := httptest.NewServer(p)
	tb.Cleanup(srv.Close)
	// Runs before srv.Close, which waits for held requests to return.
	tb.Cleanup(func() { close(p.done) })
	return p, srv.URL
}

// setNext sets the handler the proxy forwards to (the sandbox's).
func (p *apiProxy) setNext(h http.Handler) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.next = h
}

// hold withholds the answer to the nth createAsset call for name; see holdSpec. The returned
// channel is closed once it is withheld.
func (p *apiProxy) hold(name string, nth int) <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	h := &holdSpec{name: name, nth: nth, held: make(chan struct{})}
	p.holds = append(p.holds, h)
	return h.held
}

func (p *apiProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	next := p.next
	latency := p.minLatency
	if p.maxLatency > p.minLatency {
		latency += time.Duration(p.rng.Int64N(int64(p.maxLatency - p.minLatency)))
	}
	p.mu.Unlock()
	if next == nil {
		http.Error(w, "the test proxy has no sandbox yet", http.StatusServiceUnavailable)
		return
	}
	if r.URL.Path != "/graphql" {
		next.ServeHTTP(w, r)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return // the client went away
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	t := time.NewTimer(latency)
	select {
	case <-t.C:
	case <-r.Context().Done():
		t.Stop()
		return
	}
	names, ok := createAssetNames(body)
	if !ok {
		next.ServeHTTP(w, r)
		return
	}

	calls, held := p.begin(names)
	rec := httptest.NewRecorder()
	next.ServeHTTP(rec, r)
	if held != nil {
		close(held.held)
		select {
		case <-r.Context().Done(): // the client died or gave up: the answer is lost
		case <-p.done:
		}
		p.end(calls, 0)
		return
	}
	status := rec.Code
	if r.Context().Err() != nil {
		status = 0 // the client gave up (a hang cut by its timeout): nothing reached it
	}
	for k, vs := range rec.Header() {
		w.Header()[k] = vs
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
	p.end(calls, status)
}

// begin records a createAsset call for each name of one request and reports whether the
// request's answer is to be held.
func (p *apiProxy) begin(names []string) ([]*apiCall, *holdSpec) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var calls []*apiCall
	var held *holdSpec
	if len(names) > 1 {
		p.batches++
		p.batchesInFlight++
	}
	for _, name := range names {
		c := &apiCall{Name: name, Start: time.Now()}
		p.calls = append(p.calls, c)
		calls = append(calls, c)
		n := 0
		for _, prev := range p.calls {
			if prev.Name == name {
				n++
			}
		}
		for i, h := range p.holds {
			if held == nil && h.name == name && h.nth == n {
				p.holds = append(p.holds[:i:i], p.holds[i+1:]...)
				held = h
				break
			}
		}
	}
	return calls, held
}

func (p *apiProxy) end(calls []*apiCall, status int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(calls) > 1 {
		p.batchesInFlight--
	}
	for _, c := range calls {
		c.End, c.Status = time.Now(), status
	}
}

// batchCounts returns how many requests carrying several createAsset fields went through the
// proxy, and how many of them are in flight.
func (p *apiProxy) batchCounts() (total, inFlight int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.batches, p.batchesInFlight
}

// createCalls returns how many createAsset calls reached the proxy so far.
func (p *apiProxy) createCalls() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.calls)
}

// callsByName returns the createAsset calls recorded so far, by name, in the order they began.
func (p *apiProxy) callsByName() map[string][]apiCall {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string][]apiCall{}
	for _, c := range p.calls {
		out[c.Name] = append(out[c.Name], *c)
	}
	return out
}

// createAssetNames returns the input names of a GraphQL request body's createAsset fields: the
// $input of one, or $in0, $in1... of several; ok is false for any other request.
func createAssetNames(body []byte) (names []string, ok bool) {
	type input struct {
		Name string `json:"name"`
	}
	var req struct {
		Query     string           `json:"query"`
		Variables map[string]input `json:"variables"`
	}
	if json.Unmarshal(body, &req) != nil || !strings.Contains(req.Query, "createAsset(") {
		return nil, false
	}
	if in, ok := req.Variables["input"]; ok {
		return []string{in.Name}, true
	}
	for i := 0; ; i++ {
		in, ok := req.Variables["in"+strconv.Itoa(i)]
		if !ok {
			return names, true
		}
		names = append(names, in.Name)
	}
}
