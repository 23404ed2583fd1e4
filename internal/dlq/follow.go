package dlq

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// followEvery is how often List with Follow looks for new dead letters.
const followEvery = time.Second

// follow prints, one line each (a text row, or a Row in JSON), the dead
// letters sel selects that are stored after the snapshot of s, until ctx
// ends; a text header first unless headerShown. Like the scans it reads by
// sequence and creates no consumer.
func (t *Tool) follow(ctx context.Context, s jetstream.Stream, sel Selection, asJSON, headerShown bool) error {
	seq := s.CachedInfo().State.LastSeq + 1
	fmt.Fprintf(t.Err, "following %s from sequence %d; new dead letters appear as they arrive (Ctrl-C stops)\n", t.DLQStream, seq)
	enc := json.NewEncoder(t.Out)
	enc.SetEscapeHTML(false)
	header := asJSON || headerShown
	wait := time.NewTimer(0)
	defer wait.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-wait.C:
		}
		for {
			l, err := t.next(ctx, s, seq)
			if ctx.Err() != nil {
				return nil
			}
			if err != nil {
				return err
			}
			if l == nil {
				break
			}
			seq = l.Sequence + 1
			if !sel.match(l) {
				continue
			}
			if asJSON {
				err = enc.Encode(l.Row())
			} else {
				if !header {
					header = true
					_, err = fmt.Fprintln(t.Out, alignedRow(strings.Split(rowHeader, "\t")))
				}
				if err == nil {
					_, err = fmt.Fprintln(t.Out, alignedRow(rowFields(l.Row())))
				}
			}
			if err != nil {
				return fmt.Errorf("writing: %w", err)
			}
		}
		wait.Reset(followEvery)
	}
}
