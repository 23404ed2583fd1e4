package conformance

import (
	"strings"
	"testing"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/servicetest"
)

// SPEC "What happens": failures to write the ledger, results or dead letters are systemic: the
// replica pauses instead of spending an attempt, and nothing is acked or terminated before what
// it depends on is durable. Here the stream the outcome goes to is missing for a while.
func TestSpec_Paused_FailedResultOrDeadLetterWritePauses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		stream string
		ev     servicetest.Event
	}{
		{"dead-letter stream missing", dlqStream, invalidEvent("no-dlq")},
		{"results stream missing", resultsStream, servicetest.NewEvent("no-results")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := start(t, nil, nil)
			s, err := e.JS.Stream(t.Context(), tc.stream)
			if err != nil {
				t.Fatal(err)
			}
			cfg := s.CachedInfo().Config
			if err := e.JS.DeleteStream(t.Context(), tc.stream); err != nil {
				t.Fatal(err)
			}
			e.Publish(tc.ev.Msg())
			e.WaitFor(wait, "/readyz to report the pause", func() bool {
				code, body := e.Get("/readyz")
				return code == 503 && strings.Contains(body, "paused")
			})
			if ci := consumerInfo(t, e); ci.AckFloor.Stream != 0 {
				t.Fatalf("the message was settled although its outcome could not be written")
			}
			if _, err := e.JS.CreateStream(t.Context(), cfg); err != nil {
				t.Fatal(err)
			}
			e.WaitFor(wait, "the outcome written once the stream is back", func() bool {
				return len(e.Messages(tc.stream)) > 0 && settled(t, e)
			})
			if tc.stream == resultsStream {
				c := completions(t, e, "assets.ingested.")
				if len(c) != 1 || c[0].Data.Attempts != 1 || len(e.Sandbox.Assets()) != 1 {
					t.Errorf("after the pause: %d completions, %d assets; want 1 of each with 1 attempt", len(c), len(e.Sandbox.Assets()))
				}
			}
		})
	}
}
