package dlq

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// letter reads dead letter seq of the dead-letter stream; errors: as for get and Tool.
func (t *Tool) letter(ctx context.Context, seq uint64) (*Letter, error) {
	s, err := t.dlq(ctx)
	if err != nil {
		return nil, err
	}
	return t.get(ctx, s, seq)
}

// get reads dead letter seq of s. The error wraps ErrNotFound when the
// stream holds no message with that sequence.
func (t *Tool) get(ctx context.Context, s jetstream.Stream, seq uint64) (*Letter, error) {
	m, err := s.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, fmt.Errorf("%w: sequence %d is not in %s", ErrNotFound, seq, t.DLQStream)
	}
	if err != nil {
		return nil, t.explain(fmt.Sprintf("reading dead letter %d of %s", seq, t.DLQStream), err,
			t.noDLQ())
	}
	return newLetter(m), nil
}

// next reads the first dead letter of s at or after seq, or returns nil when
// there is none.
func (t *Tool) next(ctx context.Context, s jetstream.Stream, seq uint64) (*Letter, error) {
	m, err := s.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(">"))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, t.explain(fmt.Sprintf("reading %s from sequence %d", t.DLQStream, seq), err,
			t.noDLQ())
	}
	return newLetter(m), nil
}

// each calls fn with every dead letter of s that sel selects, in sequence
// order, reading them one at a time; it stops after sel.Limit of them.
// Without sel.Seqs it visits the sequences from the stream's first to its
// last as they were when s was looked up (the snapshot): later dead letters
// are not visited. With sel.Seqs, each sequence the stream does not hold is
// passed to missing instead. A long scan reports progress on Err. An error
// of fn stops the visit and is returned as is.
func (t *Tool) each(ctx context.Context, s jetstream.Stream, sel Selection, fn func(*Letter) error, missing func(uint64)) error {
	n := 0
	visit := func(l *Letter) (bool, error) {
		if !sel.match(l) {
			return true, nil
		}
		if err := fn(l); err != nil {
			return false, err
		}
		n++
		return sel.Limit == 0 || n < sel.Limit, nil
	}
	if len(sel.Seqs) > 0 {
		for _, seq := range sel.seqs() {
			l, err := t.get(ctx, s, seq)
			if errors.Is(err, ErrNotFound) {
				missing(seq)
				continue
			}
			if err != nil {
				return err
			}
			if more, err := visit(l); !more || err != nil {
				return err
			}
		}
		return nil
	}
	state := s.CachedInfo().State
	if state.Msgs == 0 {
		return nil
	}
	last := t.now()
	for seq := max(state.FirstSeq, 1); seq <= state.LastSeq; {
		if err := ctx.Err(); err != nil {
			return err
		}
		if now := t.now(); now.Sub(last) >= progressEvery {
			last = now
			fmt.Fprintf(t.Err, "reading %s: at sequence %d of %d, %d selected\n", t.DLQStream, seq, state.LastSeq, n)
		}
		l, err := t.next(ctx, s, seq)
		if err != nil {
			return err
		}
		if l == nil || l.Sequence > state.LastSeq {
			return nil
		}
		if more, err := visit(l); !more || err != nil {
			return err
		}
		seq = l.Sequence + 1
	}
	return nil
}
