package ingest

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func TestRefusedForItsContent(t *testing.T) {
	t.Parallel()
	apiErr := func(code jetstream.ErrorCode) error {
		return fmt.Errorf("publishing to assets.dlq.akeneo: %w", &jetstream.APIError{Code: 400, ErrorCode: code})
	}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"client: maximum payload", fmt.Errorf("publishing: %w", nats.ErrMaxPayload), true},
		{"client: header name", nats.ErrBadHeaderMsg, true},
		{"stream: header over 64k (10097)", apiErr(10097), true},
		{"stream: message over its maximum (10054)", apiErr(jetstream.JSErrCodeStreamMessageExceedsMaximum), true},
		{"no stream answers", jetstream.ErrNoStreamResponse, false},
		{"timeout", context.DeadlineExceeded, false},
		{"connection closed", nats.ErrConnectionClosed, false},
		{"other API error", apiErr(jetstream.JSErrCodeStreamNotFound), false},
		{"nil", nil, false},
		{"plain", errors.New("boom"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := refusedForItsContent(tt.err); got != tt.want {
				t.Errorf("refusedForItsContent(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}
