package ledger

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go/jetstream"
)

// RecordDeadLetter records that the inbound message stream:seq was dead-lettered at dlqSeq,
// for messages that have no event entry of their own (an invalid event: its key, if any, may
// also name a valid event). It is idempotent.
func (l *Ledger) RecordDeadLetter(ctx context.Context, stream string, seq, dlqSeq uint64) error {
	if _, err := l.kv.Put(ctx, messageKey(stream, seq), []byte(strconv.FormatUint(dlqSeq, 10))); err != nil {
		return fmt.Errorf("recording the dead letter in the ledger: %w", err)
	}
	return nil
}

// DeadLetterOf returns the dead-letter sequence RecordDeadLetter recorded for stream:seq, or
// ErrNotFound.
func (l *Ledger) DeadLetterOf(ctx context.Context, stream string, seq uint64) (uint64, error) {
	kve, err := l.kv.Get(ctx, messageKey(stream, seq))
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return 0, ErrNotFound
	}
	if err != nil {
		return 0, fmt.Errorf("reading the ledger's dead-letter record: %w", err)
	}
	n, err := strconv.ParseUint(string(kve.Value()), 10, 64)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("%w: dead-letter record %q", ErrCorrupt, kve.Value())
	}
	return n, nil
}

// messageKey is the key of an inbound message's dead-letter record; stream names may hold
// characters a key cannot, so "<stream>:<sequence>" is hashed.
func messageKey(stream string, seq uint64) string {
	sum := sha256.Sum256([]byte(stream + ":" + strconv.FormatUint(seq, 10)))
	return "message." + hex.EncodeToString(sum[:])
}
