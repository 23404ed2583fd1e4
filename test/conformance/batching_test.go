package conformance

import (
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/sandbox"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/servicetest"
)

// backlog starts the service with the default batch size (whatever the suite runs with), two
// requests a second, env and sb; adds the faults; then has one event ingested, so that the
// next slot of the budget is half a second away, and publishes one event per name at once: they
// wait for the budget together, so they share requests.
func backlog(t *testing.T, env map[string]string, sb func(*sandbox.Options), faults []sandbox.Fault, names ...string) *servicetest.Env {
	t.Helper()
	all := map[string]string{"AMPLIENCE_RATE_LIMIT": "2/s", "AMPLIENCE_BATCH_SIZE": "25"}
	maps.Copy(all, env)
	e := start(t, all, sb)
	for _, f := range faults {
		e.Sandbox.AddFault(f)
	}
	e.Publish(servicetest.NewEvent("warm-up").Msg())
	waitCompletions(t, e, "assets.ingested.", 1)
	for _, n := range names {
		e.Publish(servicetest.NewEvent(n).Msg())
	}
	return e
}

// eventNames returns n names: prefix-00, prefix-01, ...
func eventNames(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%02d", prefix, i)
	}
	return out
}

// createRequest is a createAsset request the sandbox received: the input names of its fields,
// in order, and its answer's status.
type createRequest struct {
	Names  []string
	Fields []string // root fields
	Vars   []string // variable names, sorted
	Status int
}

func createRequests(e *servicetest.Env) []createRequest {
	var out []createRequest
	for _, r := range e.Sandbox.Requests() {
		if !slices.Contains(r.RootFields, "createAsset") {
			continue
		}
		out = append(out, createRequest{Names: inputNames(r), Fields: r.RootFields, Status: r.Status,
			Vars: slices.Sorted(maps.Keys(r.Variables))})
	}
	return out
}

// inputNames returns the names of the createAsset inputs r carries, in order: its one input,
// or the inputs of a batch's fields.
func inputNames(r sandbox.Request) []string {
	var names []string
	if in, ok := r.Variables["input"].(map[string]any); ok {
		names = []string{in["name"].(string)}
	}
	for i := 0; ; i++ {
		in, ok := r.Variables["in"+strconv.Itoa(i)].(map[string]any)
		if !ok {
			return names
		}
		names = append(names, in["name"].(string))
	}
}

// requestOf returns the first createAsset request carrying name.
func requestOf(t *testing.T, e *servicetest.Env, name string) createRequest {
	t.Helper()
	for _, r := range createRequests(e) {
		if slices.Contains(r.Names, name) {
			return r
		}
	}
	t.Fatalf("no createAsset request carried %s", name)
	return createRequest{}
}

// assetsPerName counts the sandbox's assets by name.
func assetsPerName(e *servicetest.Env) map[string]int {
	out := map[string]int{}
	for _, a := range e.Sandbox.Assets() {
		out[a.Name]++
	}
	return out
}

// outcome is what a test reads of one event's completion: its class ("" when ingested) and
// attempts.
type outcome struct {
	Class    string
	Attempts int
}

// settle waits for a completion of each name and returns the outcomes by name.
func settle(t *testing.T, e *servicetest.Env, names []string) map[string]outcome {
	t.Helper()
	out := map[string]outcome{}
	e.WaitFor(wait, "a completion event for each event", func() bool {
		for _, c := range completions(t, e, "assets.") {
			out[c.Data.Name] = outcome{Class: c.Data.ErrorClass, Attempts: c.Data.Attempts}
		}
		for _, n := range names {
			if _, ok := out[n]; !ok {
				return false
			}
		}
		return true
	})
	return out
}

// oneAssetEach checks that the sandbox holds exactly one asset for each name in want.
func oneAssetEach(t *testing.T, e *servicetest.Env, want []string) {
	t.Helper()
	got := assetsPerName(e)
	for _, n := range want {
		if got[n] != 1 {
			t.Errorf("%s: %d assets, want exactly 1", n, got[n])
		}
	}
}

// SPEC "Batching": a batch is one GraphQL request carrying up to AMPLIENCE_BATCH_SIZE aliased
// createAsset fields, each with its own input variable; each member's id under its alias is its
// asset.
func TestSpec_Batching_RequestCarriesAliasedFields(t *testing.T) {
	t.Parallel()
	names := eventNames("aliased", 12)
	e := backlog(t, map[string]string{"AMPLIENCE_BATCH_SIZE": "5"}, nil, nil, names...)
	got := settle(t, e, names)
	batched := 0
	for _, r := range createRequests(e) {
		n := len(r.Names)
		if n > 5 || n != len(r.Fields) {
			t.Errorf("a request carried %d events in %d fields; AMPLIENCE_BATCH_SIZE is 5", n, len(r.Fields))
		}
		if n > 1 {
			batched++
			want := make([]string, n)
			for i := range want {
				want[i] = "in" + strconv.Itoa(i)
			}
			slices.Sort(want)
			if diff := cmp.Diff(want, r.Vars); diff != "" {
				t.Errorf("a request's variables are not one per field (-want +got):\n%s", diff)
			}
		}
	}
	if batched == 0 {
		t.Errorf("no request carried more than one event: %+v", createRequests(e))
	}
	for _, n := range names {
		if got[n] != (outcome{Attempts: 1}) {
			t.Errorf("%s: %+v, want ingested after 1 attempt", n, got[n])
		}
	}
	oneAssetEach(t, e, names)
}

// SPEC "Batching": a batch forms only from calls that are waiting anyway, so a lone event is sent
// at once and never held back to fill a batch.
func TestSpec_Batching_LoneEventSentAtOnce(t *testing.T) {
	t.Parallel()
	e := start(t, map[string]string{"AMPLIENCE_BATCH_SIZE": "25"}, nil)
	at := time.Now()
	e.Publish(servicetest.NewEvent("lone").Msg())
	waitCompletions(t, e, "assets.ingested.", 1)
	if took := time.Since(at); took > 2*time.Second {
		t.Errorf("a lone event took %v", took)
	}
	if diff := cmp.Diff([]string{"lone"}, requestOf(t, e, "lone").Names); diff != "" {
		t.Errorf("the lone event's request (-want +got):\n%s", diff)
	}
}

// SPEC "Batching": AMPLIENCE_BATCH_SIZE=1 sends one event per request.
func TestSpec_Batching_SizeOneSendsOneEventPerRequest(t *testing.T) {
	t.Parallel()
	names := eventNames("single", 6)
	e := backlog(t, map[string]string{"AMPLIENCE_BATCH_SIZE": "1"}, nil, nil, names...)
	settle(t, e, names)
	for _, r := range createRequests(e) {
		if len(r.Names) != 1 {
			t.Errorf("a request carried %v", r.Names)
		}
	}
	oneAssetEach(t, e, names)
}

// SPEC "Batching": each event keeps everything it has alone: its claim and attempt count,
// outcome, completion event, and its own process span; SPEC "Tracing": a span for its part of
// the request (its alias and the batch size), linked to the request's one client span, whose
// context is the traceparent sent.
func TestSpec_Batching_EachEventKeepsItsOwn(t *testing.T) {
	t.Parallel()
	names := eventNames("own", 6)
	e := backlog(t, nil, nil, nil, names...)
	settle(t, e, names)
	clients := map[trace.SpanID]bool{}
	for _, s := range spansNamed(e, "CreateAssets", "") {
		clients[s.SpanContext.SpanID()] = true
	}
	sent := map[string]bool{}
	for _, r := range e.Sandbox.Requests() {
		if r.OperationName == "CreateAssets" {
			sent[http.Header(r.Header).Get("Traceparent")] = true
		}
	}
	for _, s := range spansNamed(e, "CreateAssets", "") {
		if !sent["00-"+s.SpanContext.TraceID().String()+"-"+s.SpanContext.SpanID().String()+"-01"] {
			t.Errorf("the client span %s is not the traceparent sent", s.SpanContext.SpanID())
		}
	}
	for _, ev := range names {
		t.Run(ev, func(t *testing.T) {
			entry, ok := getEntry(t, e, keyOf(servicetest.NewEvent(ev)))
			if !ok || entry.State != "created" || entry.Attempts != 1 {
				t.Errorf("ledger entry %+v, want created after 1 attempt", entry)
			}
			var process, member *tracetest.SpanStub
			for _, s := range e.Spans.GetSpans() {
				if s.SpanKind == trace.SpanKindConsumer && attrs(s.Attributes)["messaging.message.id"] == "id-"+ev {
					process = &s
				}
			}
			if process == nil {
				t.Fatalf("no process span for %s", ev)
			}
			for _, s := range e.Spans.GetSpans() {
				if s.Name == "CreateAsset member" && s.Parent.SpanID() == process.SpanContext.SpanID() {
					member = &s
				}
			}
			if member == nil {
				t.Fatalf("no member span under %s's process span", ev)
			}
			a := attrs(member.Attributes)
			size, _ := a["amplience.batch.size"].(int64)
			alias, _ := a["graphql.alias"].(string)
			req := requestOf(t, e, ev)
			if int(size) != len(req.Names) {
				t.Errorf("member span batch size %d, the request carried %d", size, len(req.Names))
			}
			if len(req.Names) > 1 {
				if want := "m" + strconv.Itoa(slices.Index(req.Names, ev)); alias != want {
					t.Errorf("member span alias %q, want %q", alias, want)
				}
				if len(member.Links) != 1 || !clients[member.Links[0].SpanContext.SpanID()] {
					t.Errorf("member span links %v, want the request's one client span", member.Links)
				}
			}
		})
	}
}

// SPEC "Batching": an error whose path names a member's alias is that member's failure,
// classified as for a single call: a rejection dead-letters that member alone, whether the
// partial failure is answered with HTTP 200 or 400.
func TestSpec_Batching_RejectedMemberDeadLetteredAlone(t *testing.T) {
	t.Parallel()
	for _, status := range []int{200, 400} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			t.Parallel()
			names := eventNames("member", 5)
			bad := names[2]
			e := backlog(t, nil, func(o *sandbox.Options) { o.PartialFailureStatus = status },
				[]sandbox.Fault{{Match: bad, GraphQLError: "input.src cannot be fetched", Code: "BAD_USER_INPUT"}}, names...)
			got := settle(t, e, names)
			for _, n := range names {
				want := outcome{Attempts: 1}
				if n == bad {
					want.Class = "rejected"
				}
				if got[n] != want {
					t.Errorf("%s: %+v, want %+v", n, got[n], want)
				}
			}
			if r := requestOf(t, e, bad); len(r.Names) < 2 || r.Status != status {
				t.Errorf("%s was sent in %v answered %d, want a shared request answered %d", bad, r.Names, r.Status, status)
			}
			if n := len(waitDeadLetters(t, e, 1)); n != 1 {
				t.Errorf("%d dead letters, want 1", n)
			}
			oneAssetEach(t, e, slices.DeleteFunc(slices.Clone(names), func(n string) bool { return n == bad }))
		})
	}
}

// SPEC "Batching": a failure of the request as a whole (timeout, 5xx, 429) is every member's,
// handled as for a single call (a 429 spends no attempt); a member with neither an id nor an
// error of its own may have been created: it is reconciled before it is called again. No
// duplicate asset, no dead letter.
func TestSpec_Batching_WholeRequestFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		fault func(target string) sandbox.Fault
		// attempts of the target's request members other than the target, and of the target
		attempts, targetAttempts int
		reconciles               bool
	}{
		{"500", func(n string) sandbox.Fault { return sandbox.Fault{Match: n, Status: 500, Times: 1} }, 2, 2, true},
		{"429", func(n string) sandbox.Fault { return sandbox.Fault{Match: n, Status: 429, RetryAfter: "1", Times: 1} }, 1, 1, false},
		// AMPLIENCE_TIMEOUT is 2s: the whole request times out after its fields executed.
		{"timeout", func(n string) sandbox.Fault {
			return sandbox.Fault{Match: n, Status: 503, CreateThenFail: true, Delay: 3 * time.Second, Times: 1}
		}, 2, 2, true},
		{"no answer for one member", func(n string) sandbox.Fault { return sandbox.Fault{Match: n, CreateThenFail: true, Times: 1} }, 1, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			names := eventNames("whole", 5)
			target := names[3]
			e := backlog(t, nil, nil, []sandbox.Fault{tt.fault(target)}, names...)
			got := settle(t, e, names)
			r := requestOf(t, e, target)
			if len(r.Names) < 2 {
				t.Fatalf("%s was sent alone: %v", target, createRequests(e))
			}
			for _, n := range r.Names {
				want := outcome{Attempts: tt.attempts}
				if n == target {
					want.Attempts = tt.targetAttempts
				}
				if got[n] != want {
					t.Errorf("%s: %+v, want ingested after %d attempts", n, got[n], want.Attempts)
				}
			}
			// A call after a failed one goes in a request of its own, so that an input failing
			// whole requests cannot fail the others again.
			for _, later := range createRequests(e) {
				if len(later.Names) > 1 && !slices.Equal(later.Names, r.Names) && slices.ContainsFunc(later.Names, func(n string) bool {
					return slices.Contains(r.Names, n) && got[n].Attempts > 1
				}) {
					t.Errorf("a retry shared a request: %v", later.Names)
				}
			}
			if searches := len(reconciliations(e)); tt.reconciles != (searches > 0) {
				t.Errorf("%d reconciliation searches; want some: %v", searches, tt.reconciles)
			}
			if n := len(e.Messages(dlqStream)); n != 0 {
				t.Errorf("%d dead letters, want none", n)
			}
			oneAssetEach(t, e, names)
		})
	}
}

// SPEC "Batching": a request refused before execution (COMPLEXITY_LIMIT_EXCEEDED) executed
// nothing: its members are sent again in smaller requests without spending another attempt, and
// the replica lowers its batch size.
func TestSpec_Batching_RefusedRequestIsSplit(t *testing.T) {
	t.Parallel()
	names := eventNames("complex", 8)
	// Each createAsset field scores 2 (the field and its id): at most 3 fields fit in 6.
	e := backlog(t, map[string]string{"AMPLIENCE_BATCH_SIZE": "8"}, func(o *sandbox.Options) { o.ComplexityLimit = 6 }, nil, names...)
	got := settle(t, e, names)
	for _, n := range names {
		if got[n] != (outcome{Attempts: 1}) {
			t.Errorf("%s: %+v, want ingested after 1 attempt", n, got[n])
		}
	}
	if e.Sandbox.Stats().ComplexityRefused == 0 {
		t.Fatalf("no request was refused: %v", createRequests(e))
	}
	for _, r := range createRequests(e) {
		if r.Status == http.StatusOK && len(r.Names) > 3 {
			t.Errorf("a request of %d fields was executed over the complexity limit", len(r.Names))
		}
	}
	oneAssetEach(t, e, names)
	_, body := e.Get("/metrics")
	m := regexp.MustCompile(`(?m)^amplience_client_batch_size(?:\{[^}]*\})? (\d+)$`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no amplience_client_batch_size in /metrics")
	}
	if size, _ := strconv.Atoi(m[1]); size > 3 || size < 1 {
		t.Errorf("batch size %d after refusals, want it lowered to at most 3", size)
	}
}

// SPEC "Batching": the request budget counts requests, whatever they carry: a backlog far
// larger than the budget drains without a 429.
func TestSpec_Batching_BudgetCountsRequests(t *testing.T) {
	t.Parallel()
	names := eventNames("budget", 30)
	e := backlog(t, nil, func(o *sandbox.Options) { o.RateLimit, o.RateWindow = 2, time.Second }, nil, names...)
	got := settle(t, e, names)
	for _, n := range names {
		if got[n] != (outcome{Attempts: 1}) {
			t.Errorf("%s: %+v, want ingested after 1 attempt", n, got[n])
		}
	}
	if st := e.Sandbox.Stats(); st.TooManyRequests != 0 {
		t.Errorf("%d answers 429", st.TooManyRequests)
	}
	if n := len(createRequests(e)); n >= len(names)/2 {
		t.Errorf("%d requests for %d events", n, len(names))
	}
	oneAssetEach(t, e, names)
}

// SPEC "Batching": reconciliation searches of several events may share a request the same
// way. Several events whose answers were lost are redelivered together: their searches share
// requests, and each finds its one asset.
func TestSpec_Batching_ReconciliationSearchesShareRequests(t *testing.T) {
	t.Parallel()
	names := eventNames("lost", 6)
	var faults []sandbox.Fault
	for _, n := range names {
		faults = append(faults, sandbox.Fault{Match: n, CreateThenFail: true, Times: 1})
	}
	e := backlog(t, nil, nil, faults, names...)
	got := settle(t, e, names)
	for _, n := range names {
		if got[n] != (outcome{Attempts: 1}) {
			t.Errorf("%s: %+v, want ingested after 1 attempt (reconciled)", n, got[n])
		}
	}
	searches := reconciliations(e)
	shared := 0
	for _, r := range searches {
		if r.OperationName == "FindAssetsByNames" {
			shared++
			if r.Status != http.StatusOK || len(r.RootFields) < 2 || slices.ContainsFunc(r.RootFields, func(f string) bool { return f != "assetSearch" }) {
				t.Errorf("a shared search request answered %d with root fields %v", r.Status, r.RootFields)
			}
		}
	}
	if shared == 0 || len(searches) >= len(names) {
		t.Errorf("%d search requests (%d shared) for %d events to reconcile, want fewer requests than events", len(searches), shared, len(names))
	}
	if n := len(createRequests(e)); n > 2 {
		t.Errorf("%d createAsset requests, want the lost ones not sent again", n)
	}
	if n := len(e.Messages(dlqStream)); n != 0 {
		t.Errorf("%d dead letters, want none", n)
	}
	oneAssetEach(t, e, names)
}
