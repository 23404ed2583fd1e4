package service

import (
	"errors"
	"testing"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/gqlapi"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/ratelimit"
)

// A budget that cannot be read is the system's failure, not the API's: the client sees
// gqlapi.KindUnavailable, and the limiter's own error stays visible.
func TestBudgetUnavailable(t *testing.T) {
	t.Parallel()
	// A limit without a period cannot be kept: every Wait fails with ErrUnavailable.
	b := budget{ratelimit.New(nil, "amplience", ratelimit.Limit{Requests: 5}, ratelimit.Options{})}
	err := b.Wait(t.Context())
	if gqlapi.KindOf(err) != gqlapi.KindUnavailable {
		t.Errorf("Wait = %v (kind %v), want %v", err, gqlapi.KindOf(err), gqlapi.KindUnavailable)
	}
	if !errors.Is(err, ratelimit.ErrUnavailable) {
		t.Errorf("Wait = %v, want it to wrap ratelimit.ErrUnavailable", err)
	}
	if errors.Is(err, gqlapi.ErrNotSent) {
		t.Errorf("Wait = %v: an unreadable budget is a failure, not a stop", err)
	}
}
