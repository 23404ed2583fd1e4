package sandbox_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/sandbox"
)

func TestRateLimit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name           string
		retryAfter     bool
		wantRetryAfter string
	}{
		// The clock starts at 09:30:10: the one-minute window ends in 50 s.
		{name: "with Retry-After", retryAfter: true, wantRetryAfter: "50"},
		{name: "without Retry-After", retryAfter: false, wantRetryAfter: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := newEnv(t, sandbox.Options{RateLimit: 2, RateWindow: time.Minute, RetryAfterHeader: tt.retryAfter})
			tok := env.token(t)
			var statuses []int
			for range 3 {
				statuses = append(statuses, env.post(t, tok, `{ __typename }`, nil).Status)
			}
			limited := env.post(t, tok, `{ __typename }`, nil)
			statuses = append(statuses, limited.Status)
			if got := limited.Header.Get("Retry-After"); got != tt.wantRetryAfter {
				t.Errorf("Retry-After %q, want %q", got, tt.wantRetryAfter)
			}
			if len(limited.Errors) != 1 || limited.Errors[0].Message == "" {
				t.Errorf("429 errors = %+v, want one with a message", limited.Errors)
			}
			// A PAT is another API key with its own budget.
			statuses = append(statuses, env.post(t, testPAT, `{ __typename }`, nil).Status)

			env.clock.Advance(50 * time.Second) // the next window
			statuses = append(statuses, env.post(t, tok, `{ __typename }`, nil).Status)

			want := []int{200, 200, 429, 429, 200, 200}
			if diff := cmp.Diff(want, statuses); diff != "" {
				t.Errorf("statuses (-want +got):\n%s", diff)
			}
			st := env.srv.Stats()
			start := time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC)
			wantWindows := []sandbox.WindowCount{{Start: start, Requests: 5}, {Start: start.Add(time.Minute), Requests: 1}}
			if diff := cmp.Diff(wantWindows, st.Windows); diff != "" {
				t.Errorf("windows (-want +got):\n%s", diff)
			}
			got := [3]int{st.MaxPerWindow, st.RateLimited, st.TooManyRequests}
			if diff := cmp.Diff([3]int{5, 2, 2}, got); diff != "" {
				t.Errorf("(max per window, rate limited, 429s) (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNoRateLimitByDefault(t *testing.T) {
	t.Parallel()
	env := newEnv(t, sandbox.Options{})
	tok := env.token(t)
	for i := range 100 {
		if ans := env.post(t, tok, `{ __typename }`, nil); ans.Status != http.StatusOK {
			t.Fatalf("request %d: status %d", i, ans.Status)
		}
	}
	if st := env.srv.Stats(); st.MaxPerWindow != 100 || st.GraphQLRequests != 100 {
		t.Errorf("max per window %d, requests %d; want 100 and 100", st.MaxPerWindow, st.GraphQLRequests)
	}
}

func TestDefaultOptions(t *testing.T) {
	t.Parallel()
	o := sandbox.DefaultOptions()
	if !o.RetryAfterHeader || o.TokenTTL != 300*time.Second || o.RateWindow != time.Minute {
		t.Errorf("DefaultOptions() = %+v", o)
	}
}
