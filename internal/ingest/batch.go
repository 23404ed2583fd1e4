package ingest

import (
	"context"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/gqlapi"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/ledger"
)

// alone marks the call of an event whose earlier attempt failed to be sent in a request of its
// own. A request carrying several events that fails as a whole (a 5xx, a timeout) fails each of
// them; were the cause one event's input, sharing its retries would spend the others' attempts
// again, until they were dead-lettered for it.
func alone(ctx context.Context, entry ledger.Entry) context.Context {
	if entry.Attempts > 1 {
		return gqlapi.Alone(ctx)
	}
	return ctx
}
