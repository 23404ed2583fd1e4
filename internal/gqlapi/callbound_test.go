package gqlapi

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"
)

// TestTimeoutBoundsTheRepeatAfter401: the timeout bounds the whole call, so a 401 answered
// slowly leaves the repeat only what remains of it, not a timeout of its own.
func TestTimeoutBoundsTheRepeatAfter401(t *testing.T) {
	t.Parallel()
	const timeout, delay = 600 * time.Millisecond, 400 * time.Millisecond
	f := newFakeAmplience(t)
	f.setAPI(func(w http.ResponseWriter, r *http.Request, req apiRequest) {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
		if req.Token == "tok-1" {
			writeJSON(w, http.StatusUnauthorized, `{"message":"Unauthorized"}`)
			return
		}
		writeJSON(w, http.StatusOK, `{"data":{"createAsset":{"id":"QXNzZXQ6MQ=="}}}`)
	})
	c := newTestClient(t, f, func(o *Options) { o.Timeout = timeout })

	_, err := c.CreateAsset(t.Context(), testInput)

	if err == nil {
		t.Fatalf("the call succeeded after two answers of %s each; the timeout of %s must bound both", delay, timeout)
	}
	if KindOf(err) != KindTransient || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error = %v (%v), want the call's timeout", err, KindOf(err))
	}
	if n := len(f.requests()); n != 2 {
		t.Errorf("API requests = %d, want the call and its repeat", n)
	}
}

// TestStartCheck: the start check runs after the wait for the request budget, and its error
// keeps the request from being sent: no token fetch, no API request, and an error that says
// nothing was sent.
func TestStartCheck(t *testing.T) {
	t.Parallel()
	errStale := errors.New("the claim is stale")
	tests := []struct {
		name      string
		checkErr  error
		wantSent  int
		wantError error
	}{
		{name: "passes", wantSent: 1},
		{name: "refuses", checkErr: errStale, wantError: errStale},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeAmplience(t)
			f.setAPI(answer(http.StatusOK, `{"data":{"createAsset":{"id":"QXNzZXQ6MQ=="}}}`))
			lim := &fakeLimiter{}
			c := newTestClient(t, f, func(o *Options) { o.Limiter = lim })
			waitsAtCheck := -1
			ctx := WithStartCheck(t.Context(), func() error {
				waitsAtCheck, _ = lim.calls()
				return tt.checkErr
			})

			_, err := c.CreateAsset(ctx, testInput)

			if waitsAtCheck != 1 {
				t.Errorf("the check ran after %d waits for the budget, want 1", waitsAtCheck)
			}
			if n := len(f.requests()); n != tt.wantSent {
				t.Errorf("API requests = %d, want %d", n, tt.wantSent)
			}
			if tt.wantError == nil {
				if err != nil {
					t.Errorf("CreateAsset: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrNotSent) || !errors.Is(err, tt.wantError) {
				t.Errorf("error = %v, want one wrapping ErrNotSent and %v", err, tt.wantError)
			}
			if f.tokenCount() != 0 {
				t.Errorf("token requests = %d, want none", f.tokenCount())
			}
		})
	}
}
