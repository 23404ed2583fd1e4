package dlq

import (
	"context"
	"errors"

	"github.com/nats-io/nats.go/jetstream"
)

// PurgeOptions are the settings of Purge.
type PurgeOptions struct {
	// DryRun prints what would be deleted, changing nothing.
	DryRun bool
	// Yes skips the confirmation asked when more than one dead letter is
	// selected.
	Yes bool
	// JSON prints one JSON object when the run finishes, as for Replay.
	JSON bool
}

// Purge deletes each dead letter sel selects from the dead-letter stream,
// for good. Selection, confirmation, the Report and the errors are as for
// Replay; a dead letter already deleted by someone else counts as Gone.
func (t *Tool) Purge(ctx context.Context, sel Selection, o PurgeOptions) (Report, error) {
	return t.run(ctx, sel, batch{
		verb:     "purge",
		question: "Delete %d dead letters from " + t.DLQStream + " for good?",
		dryRun:   o.DryRun,
		yes:      o.Yes,
		json:     reportIf(o.JSON),
		one: func(ctx context.Context, s jetstream.Stream, seq uint64) (outcome, string) {
			if o.DryRun {
				return done, "would delete it"
			}
			err := t.delete(ctx, s, seq)
			switch {
			case errors.Is(err, ErrNotFound):
				return gone, "no longer in " + t.DLQStream + " (replayed or purged meanwhile); skipped"
			case err != nil:
				return failed, err.Error()
			}
			return done, "deleted"
		},
	})
}
