package conformance

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/sandbox"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/servicetest"
)

// SPEC "HTTP": /healthz (process alive), /readyz (connected, consumer bound, not paused),
// /metrics (Prometheus text), including the age of the oldest unprocessed event and of the oldest
// dead letter. No endpoint changes state.
func TestSpec_HTTP_EndpointsAndBacklogMetrics(t *testing.T) {
	t.Parallel()
	e := start(t, nil, nil)
	seq := e.Publish(invalidEvent("metrics-dead").Msg())
	waitDeadLetterOf(t, e, seq)

	for _, tc := range []struct{ path, contains string }{
		{"/healthz", "ok"},
		{"/readyz", "ready"},
		{"/metrics", "ingest_oldest_unprocessed_age"},
		{"/metrics", "ingest_dead_letters_oldest_age"},
		{"/metrics", "ingest_dead_letters_depth"},
		{"/metrics", "ingest_events_outcomes"},
	} {
		t.Run("GET "+tc.path+" "+tc.contains, func(t *testing.T) {
			code, body := e.Get(tc.path)
			if code != http.StatusOK || !strings.Contains(body, tc.contains) {
				t.Errorf("GET %s = %d, want 200 with %q:\n%s", tc.path, code, tc.contains, body)
			}
		})
	}
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch} {
			req, _ := http.NewRequest(method, "http://"+e.HTTPAddr+path, strings.NewReader("{}"))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode < 400 {
				t.Errorf("%s %s = %d: an endpoint accepts a state change", method, path, resp.StatusCode)
			}
		}
	}
	_, body := e.Get("/metrics")
	if !strings.Contains(body, "ingest_dead_letters_depth") || metricValue(body, "ingest_dead_letters_depth") != "1" {
		t.Errorf("dead-letter depth is not 1:\n%s", grep(body, "dead_letters"))
	}
}

// metricValue returns the value of the first sample of metric name (any labels).
func metricValue(body, name string) string {
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, name+"{") || strings.HasPrefix(line, name+" ") {
			f := strings.Fields(line)
			return f[len(f)-1]
		}
	}
	return ""
}

func grep(body, s string) string {
	var out []string
	for _, line := range strings.Split(body, "\n") {
		if strings.Contains(line, s) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// SPEC "Configuration": secrets and the query strings of src URLs (presigned URLs are
// credentials) never appear in logs, errors, spans, metrics, completion events or the service's
// own dead-letter headers (a dead letter's body stays the publisher's bytes).
func TestSpec_Configuration_SecretsNeverLeak(t *testing.T) {
	t.Parallel()
	const pat = "amp_pat_secret-personal-token"
	for _, tc := range []struct {
		name   string
		env    map[string]string
		secret string
	}{
		{"client credentials", nil, servicetest.ClientSecret},
		{"personal access token", map[string]string{"AMPLIENCE_CLIENT_ID": "", "AMPLIENCE_CLIENT_SECRET": "", "AMPLIENCE_PAT": pat}, pat},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := start(t, tc.env, func(o *sandbox.Options) { o.PATs = []string{pat} })
			e.Sandbox.AddFault(sandbox.Fault{Match: "leak-rejected", Status: 400, Code: "BAD_USER_INPUT",
				GraphQLError: "cannot fetch https://media.example-pim.com/exports/leak-rejected.jpg?sig=secret-signature"})
			e.Sandbox.AddFault(sandbox.Fault{Match: "leak-retried", Times: 1, Status: 500})
			invalid := servicetest.NewEvent("leak-invalid")
			invalid.Data["src"] = "https://10.0.0.1/a.jpg?sig=secret-signature"
			for _, ev := range []servicetest.Event{servicetest.NewEvent("leak-ok"), servicetest.NewEvent("leak-rejected"), servicetest.NewEvent("leak-retried"), invalid} {
				e.Publish(ev.Msg())
			}
			waitCompletions(t, e, "assets.", 4)

			places := map[string]string{"logs": e.Logs.String()}
			_, places["metrics"] = e.Get("/metrics")
			for _, m := range e.Messages(resultsStream) {
				places["completion "+m.Subject] += string(m.Data) + fmt.Sprint(m.Header)
			}
			for _, m := range e.Messages(dlqStream) {
				places["dead-letter headers "+m.Subject] += fmt.Sprint(m.Header)
			}
			for _, s := range e.Spans.GetSpans() {
				places["spans"] += s.Name + fmt.Sprint(s.Attributes) + fmt.Sprint(s.Events) + s.Status.Description
			}
			for where, text := range places {
				for _, secret := range []string{tc.secret, "secret-signature"} {
					if strings.Contains(text, secret) {
						t.Errorf("%s contain %q", where, secret)
					}
				}
			}
			if !strings.Contains(places["logs"], "leak-rejected") {
				t.Errorf("the logs do not mention the events at all; the check proves nothing")
			}
		})
	}
}
