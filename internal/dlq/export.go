package dlq

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// Exported is the JSON file Export writes beside each body: the fields of
// [Row], the time the dead letter was stored, every header as stored, and
// the name of the body file.
type Exported struct {
	Row
	Stored   time.Time           `json:"stored"`
	Headers  map[string][]string `json:"headers"`
	BodyFile string              `json:"bodyFile"`
}

// Export writes each dead letter sel selects (all of them when sel selects
// nothing explicitly) into dir, created when missing: <seq>.body holds the
// body byte for byte and <seq>.json an [Exported]. Files are readable by
// the owner only, as dead letters may carry personal data. It prints one
// line per dead letter and a total; it never deletes a dead letter. A
// sequence of sel.Seqs that is not in the stream is reported and makes
// Export return an error wrapping ErrNotFound after writing the others.
func (t *Tool) Export(ctx context.Context, sel Selection, dir string) error {
	if err := sel.Check(false); err != nil {
		return err
	}
	if dir == "" {
		return fmt.Errorf("%w: give the directory to export to", ErrUsage)
	}
	s, err := t.dlq(ctx)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating the export directory: %w", err)
	}
	var missing []uint64
	n := 0
	err = t.each(ctx, s, sel, func(l *Letter) error {
		base := strconv.FormatUint(l.Sequence, 10)
		meta, err := json.MarshalIndent(Exported{Row: l.Row(), Stored: l.Stored.UTC(), Headers: l.Header, BodyFile: base + ".body"}, "", "  ")
		if err != nil {
			return fmt.Errorf("encoding dead letter %d: %w", l.Sequence, err)
		}
		if err := os.WriteFile(filepath.Join(dir, base+".body"), l.Data, 0o600); err != nil {
			return fmt.Errorf("exporting dead letter %d: %w", l.Sequence, err)
		}
		if err := os.WriteFile(filepath.Join(dir, base+".json"), append(meta, '\n'), 0o600); err != nil {
			return fmt.Errorf("exporting dead letter %d: %w", l.Sequence, err)
		}
		n++
		fmt.Fprintf(t.Out, "%d: %s.body (%d bytes), %s.json\n", l.Sequence, base, len(l.Data), base)
		return nil
	}, func(seq uint64) {
		missing = append(missing, seq)
		fmt.Fprintf(t.Err, "no dead letter %d in %s\n", seq, t.DLQStream)
	})
	if err == nil && n == 0 && len(missing) == 0 {
		err = t.typo(ctx, s, sel)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(t.Out, "exported %d dead letters from %s to %s (nothing was deleted)\n", n, t.DLQStream, dir)
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s holds no sequence %s", ErrNotFound, t.DLQStream, joinSeqs(missing))
	}
	return nil
}
