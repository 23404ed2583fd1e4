package conformance

import (
	"strings"
	"testing"
	"time"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/sandbox"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/servicetest"
)

// probeGaps returns the time between consecutive Probe requests the sandbox received.
func probeGaps(e *servicetest.Env) []time.Duration {
	probes := requests(e, "Probe")
	var gaps []time.Duration
	for i := 1; i < len(probes); i++ {
		gaps = append(gaps, probes[i].Time.Sub(probes[i-1].Time))
	}
	return gaps
}

// SPEC "Paused": the service probes when calls fail in a way that may be systemic and pauses only
// if the probe fails too; while paused the replica reports not-ready with the reason, probes at
// most once per 5 seconds, and resumes by itself. No event is dead-lettered because the API was
// down, even one whose attempt budget the outage would otherwise spend.
func TestSpec_Paused_APIDownPausesProbesAndResumes(t *testing.T) {
	t.Parallel()
	e := start(t, map[string]string{"INGEST_MAX_ATTEMPTS": "2"}, nil)
	atStart := e.Sandbox.Stats().ByOperation["Probe"] // the verification before the first pull
	e.Sandbox.AddFault(sandbox.Fault{Status: 503})    // every request, the probe's included
	e.Publish(servicetest.NewEvent("outage").Msg())

	var reason string
	e.WaitFor(wait, "/readyz to report the pause", func() bool {
		code, body := e.Get("/readyz")
		reason = body
		return code == 503 && strings.Contains(body, "paused")
	})
	paused := time.Now()
	if !strings.Contains(strings.ToLower(reason), "probe") && !strings.Contains(reason, "503") {
		t.Errorf("/readyz gives no reason for the pause: %s", reason)
	}
	never(t, e, 2*time.Second, "an event was dead-lettered while the API was down", func() bool {
		return len(e.Messages(dlqStream)) > 0
	})
	if n, elapsed := e.Sandbox.Stats().ByOperation["Probe"]-atStart, time.Since(paused); n > 1+int(elapsed/(5*time.Second)) {
		t.Errorf("%d probes within %s of pausing, want at most one per 5s", n, elapsed)
	}
	e.Sandbox.ClearFaults()
	e.WaitFor(wait, "the event ingested after the API came back", func() bool {
		return len(completions(t, e, "assets.ingested.")) == 1
	})
	if code, _ := e.Get("/readyz"); code != 200 {
		t.Errorf("/readyz = %d after resuming", code)
	}
	if n := len(e.Messages(dlqStream)); n != 0 {
		t.Errorf("%d dead letters", n)
	}
	gaps := probeGaps(e)
	if len(gaps) == 0 {
		t.Fatalf("fewer than two probes: %v", operations(e))
	}
	for _, g := range gaps {
		if g < 5*time.Second-50*time.Millisecond {
			t.Errorf("probes %s apart, want at most one per 5s (gaps %v)", g, gaps)
		}
	}
}

// SPEC "Paused": while paused the replica hands back what it holds without spending an attempt;
// no event is dead-lettered because the credentials were refused.
func TestSpec_Paused_CredentialsRefusedSpendNoAttempt(t *testing.T) {
	t.Parallel()
	e := servicetest.Start(t, servicetest.Options{NoService: true})
	e.Sandbox.SetCredentialsValid(false)
	e.StartServiceUnready()
	for i := range 3 {
		e.Publish(servicetest.NewEvent("refused-" + itoa(i)).Msg())
	}
	e.WaitFor(wait, "/readyz to report the pause", func() bool {
		code, body := e.Get("/readyz")
		return code == 503 && strings.Contains(body, "paused")
	})
	e.Sandbox.SetCredentialsValid(true)
	for _, c := range waitCompletions(t, e, "assets.ingested.", 3) {
		if c.Data.Attempts != 1 {
			t.Errorf("%s: %d attempts; a pause must spend none", c.Data.Name, c.Data.Attempts)
		}
	}
	if n := len(e.Messages(dlqStream)); n != 0 {
		t.Errorf("%d dead letters while the credentials were refused", n)
	}
}
