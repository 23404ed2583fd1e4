package gqlapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestCallerCancellationIsNotAnError(t *testing.T) {
	t.Parallel()
	f := newFakeAmplience(t)
	started := make(chan struct{})
	f.setAPI(func(w http.ResponseWriter, r *http.Request, _ apiRequest) {
		close(started)
		<-r.Context().Done()
	})
	c := newTestClient(t, f, nil)
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		<-started
		cancel()
	}()

	_, err := c.CreateAsset(ctx, testInput)

	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v, want one wrapping context.Canceled", err)
	}
	if _, ok := errors.AsType[*Error](err); ok {
		t.Errorf("error %v is an *Error; the caller's own cancellation must not be classified", err)
	}
	if KindOf(err) != KindTransient {
		t.Errorf("KindOf = %v, want transient", KindOf(err))
	}
}

func TestLimiterRefusal(t *testing.T) {
	t.Parallel()
	f := newFakeAmplience(t)
	lim := &fakeLimiter{err: errors.New("would exceed the deadline")}
	c := newTestClient(t, f, func(o *Options) { o.Limiter = lim })

	_, err := c.CreateAsset(t.Context(), testInput)

	if KindOf(err) != KindRateLimited {
		t.Errorf("KindOf(%v) = %v, want rate_limited", err, KindOf(err))
	}
	if n := len(f.requests()); n != 0 {
		t.Errorf("API requests = %d, want none", n)
	}
}

// A limiter that refuses because the service is stopping says so with ErrNotSent: the caller
// learns nothing was sent, not that the API is rate limiting it.
func TestLimiterClosedIsNotSent(t *testing.T) {
	t.Parallel()
	f := newFakeAmplience(t)
	lim := &fakeLimiter{err: fmt.Errorf("%w: the service is stopping", ErrNotSent)}
	c := newTestClient(t, f, func(o *Options) { o.Limiter = lim })

	_, err := c.CreateAsset(t.Context(), testInput)

	if !errors.Is(err, ErrNotSent) {
		t.Errorf("CreateAsset error = %v, want ErrNotSent", err)
	}
	if _, ok := errors.AsType[*Error](err); ok {
		t.Errorf("CreateAsset error = %v, want no *Error (nothing reached the API)", err)
	}
	if n := len(f.requests()); n != 0 {
		t.Errorf("API requests = %d, want none", n)
	}
}

// A limiter that cannot read the shared budget says so with its own *Error of KindUnavailable:
// the caller learns that nothing was sent and that the budget, not the API, failed, whether the
// call went alone or waited in a batch.
func TestLimiterUnavailable(t *testing.T) {
	t.Parallel()
	store := errors.New("the budget's store does not answer")
	for _, batched := range []bool{false, true} {
		t.Run(fmt.Sprintf("batched=%v", batched), func(t *testing.T) {
			t.Parallel()
			f := newFakeAmplience(t)
			lim := &fakeLimiter{err: &Error{Kind: KindUnavailable, Message: "the shared request budget cannot be read", Err: store}}
			c := newTestClient(t, f, func(o *Options) { o.Limiter = lim })
			var err error
			if batched {
				b, berr := NewBatcher(c, BatchOptions{Size: 25})
				if berr != nil {
					t.Fatal(berr)
				}
				_, err = b.CreateAsset(t.Context(), testInput)
			} else {
				_, err = c.CreateAsset(t.Context(), testInput)
			}
			if KindOf(err) != KindUnavailable || !errors.Is(err, store) {
				t.Errorf("CreateAsset error = %v (kind %v), want budget_unavailable wrapping the limiter's error", err, KindOf(err))
			}
			if e, ok := errors.AsType[*Error](err); !ok || e.Op != "CreateAsset" {
				t.Errorf("CreateAsset error = %#v, want an *Error of operation CreateAsset", err)
			}
			if n := len(f.requests()); n != 0 {
				t.Errorf("API requests = %d, want none", n)
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC)
	tests := []struct {
		name, value string
		want        time.Duration
	}{
		{"absent", "", 0},
		{"seconds", "120", 2 * time.Minute},
		{"fractional seconds", "1.5", 1500 * time.Millisecond},
		{"zero", "0", 0},
		{"negative", "-5", 0},
		{"huge", "99999999999", maxRetryAfter},
		{"NaN", "NaN", 0},
		{"HTTP date", now.Add(time.Hour).Format(http.TimeFormat), time.Hour},
		{"HTTP date in the past", now.Add(-time.Hour).Format(http.TimeFormat), 0},
		{"garbage", "soon", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := parseRetryAfter(tt.value, now); got != tt.want {
				t.Errorf("parseRetryAfter(%q) = %v, want %v", tt.value, got, tt.want)
			}
		})
	}
}

func TestErrorText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  *Error
		want string
	}{
		{
			name: "full",
			err: &Error{Kind: KindRateLimited, Op: "CreateAsset", Status: 429, Codes: []string{"X"},
				RetryAfter: 7 * time.Second, Message: "slow\ndown"},
			want: "amplience CreateAsset: rate_limited (HTTP 429, X, retry after 7s): slow down",
		},
		{
			name: "underlying error when no message",
			err:  &Error{Kind: KindTransient, Op: "Probe", Err: errors.New("dial tcp: refused")},
			want: "amplience Probe: transient: dial tcp: refused",
		},
		{
			name: "truncated",
			err:  &Error{Kind: KindRejected, Op: "CreateAsset", Message: strings.Repeat("é", 400)},
			want: "amplience CreateAsset: rejected: " + strings.Repeat("é", 238) + "...",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, tt.err.Error()); diff != "" {
				t.Errorf("Error() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
