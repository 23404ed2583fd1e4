// Package ledger is the record that gives each event an exactly-once effect on Amplience: one
// key-value entry per event key holding its claim or its result, changed only with atomic
// create-if-absent and compare-and-set (SPEC "The ledger").
//
// An entry moves from [StatePending] (claimed: a createAsset call may be in flight or may have
// happened) to [StateCreated] (the asset exists; the completion event is stored byte for byte)
// or [StateDead] (dead-lettered; a replay with a higher replay count may claim it again). The
// bucket also holds an index entry per created asset id naming the event that recorded it, so
// reconciliation never adopts another event's asset, and the completion event published for
// it.
package ledger

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// State is the state of one event's entry.
type State string

// The states of an entry.
const (
	StatePending State = "pending"
	StateCreated State = "created"
	StateDead    State = "dead"
)

// Entry is one event's record. Times are UTC.
type Entry struct {
	State State `json:"state"`

	// Owner names the replica that holds a pending claim; Heartbeat is when it last refreshed it.
	Owner     string    `json:"owner,omitempty"`
	Heartbeat time.Time `json:"heartbeat,omitzero"`

	// Attempts counts the attempts charged against the budget (INGEST_MAX_ATTEMPTS) since the
	// last replay, counted before each call; an attempt given back (a 429, a pause, a call
	// never sent) is taken off again.
	Attempts int `json:"attempts"`
	// Calls counts the createAsset calls made since the last replay: every attempt charged,
	// plus the calls whose attempt was given back although they may have created the asset
	// (a transport error or a timeout followed by a failed probe). Completion events and dead
	// letters report it. Calls is never below Attempts, so an entry without it (written before
	// it existed, or with no call made) reads with Calls = Attempts.
	Calls int `json:"calls,omitempty"`
	// FirstAttempt is when the first call for this event was claimed; reconciliation searches
	// for assets created since then.
	FirstAttempt time.Time `json:"first_attempt,omitzero"`
	// ReplayCount is the replay count of the delivery that last claimed the entry: its
	// Ingest-Replay-Count, raised above the entry's earlier count when that is not higher
	// (a replay whose count was forged or unreadable), so it only grows.
	ReplayCount int `json:"replay_count"`
	// ReplayOf is the Ingest-Replay-Of of the replay that set ReplayCount: it tells that
	// replay's own messages from older ones when its count was forged or unreadable.
	ReplayOf string `json:"replay_of,omitempty"`
	// MayExist records that a call was made whose outcome is unknown (a timeout, a 5xx, a
	// crash), even when its attempt was given back because the system was down: the next
	// delivery reconciles before calling again. It is never cleared while the entry is pending.
	MayExist bool `json:"may_exist,omitempty"`

	// AssetID and Completion are set once created: Completion is the asset.ingested event,
	// byte for byte, so a duplicate delivery republishes exactly the same event.
	AssetID    string `json:"asset_id,omitempty"`
	Completion []byte `json:"completion,omitempty"`

	// The dead-letter record: class, one-line error, decision time and the dead letter's
	// sequence in the dead-letter stream.
	Class       string    `json:"class,omitempty"`
	Error       string    `json:"error,omitempty"`
	FailedAt    time.Time `json:"failed_at,omitzero"`
	DLQSequence uint64    `json:"dlq_sequence,omitempty"`
}

// Errors of the ledger. Any other error is a failure to reach or write the bucket, which the
// pipeline treats as systemic.
var (
	// ErrNotFound: the event has no entry (never claimed, or aged out).
	ErrNotFound = errors.New("ledger: no entry")
	// ErrExists: Claim found an entry already there.
	ErrExists = errors.New("ledger: entry exists")
	// ErrConflict: the entry changed since it was read; read it again and decide again.
	ErrConflict = errors.New("ledger: entry changed since it was read")
	// ErrCorrupt: the entry is not one this service wrote (not valid JSON, or no known state).
	ErrCorrupt = errors.New("ledger: entry is unreadable")
	// ErrAssetTaken: the asset id is already recorded for another event.
	ErrAssetTaken = errors.New("ledger: asset recorded by another event")
)

// Ledger reads and writes entries in one key-value bucket.
type Ledger struct {
	kv jetstream.KeyValue
}

// New returns a ledger over the bucket kv.
func New(kv jetstream.KeyValue) *Ledger {
	return &Ledger{kv: kv}
}

// Get returns the event's entry and its revision, or ErrNotFound.
func (l *Ledger) Get(ctx context.Context, eventKey string) (Entry, uint64, error) {
	kve, err := l.kv.Get(ctx, entryKey(eventKey))
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return Entry{}, 0, ErrNotFound
	}
	if err != nil {
		return Entry{}, 0, fmt.Errorf("reading ledger entry: %w", err)
	}
	// Unmarshal leaves a field the JSON does not hold as it was: Calls stays -1 in an entry
	// written before it existed.
	e := Entry{Calls: -1}
	if err := json.Unmarshal(kve.Value(), &e); err != nil {
		return Entry{}, kve.Revision(), fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	if e.Calls < 0 {
		e.Calls = e.Attempts
	}
	switch e.State {
	case StatePending, StateCreated, StateDead:
	default:
		return Entry{}, kve.Revision(), fmt.Errorf("%w: unknown state %q", ErrCorrupt, e.State)
	}
	return e, kve.Revision(), nil
}

// Claim creates the event's entry if it has none (atomic create-if-absent) and returns its
// revision; ErrExists when another delivery got there first.
func (l *Ledger) Claim(ctx context.Context, eventKey string, e Entry) (uint64, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return 0, fmt.Errorf("encoding ledger entry: %w", err)
	}
	rev, err := l.kv.Create(ctx, entryKey(eventKey), b)
	if errors.Is(err, jetstream.ErrKeyExists) {
		return 0, ErrExists
	}
	if err != nil {
		return 0, fmt.Errorf("claiming ledger entry: %w", err)
	}
	return rev, nil
}

// Update replaces the entry read at revision rev (compare-and-set) and returns the new
// revision; ErrConflict when it changed in between.
func (l *Ledger) Update(ctx context.Context, eventKey string, e Entry, rev uint64) (uint64, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return 0, fmt.Errorf("encoding ledger entry: %w", err)
	}
	next, err := l.kv.Update(ctx, entryKey(eventKey), b, rev)
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyExists) {
		return 0, ErrConflict
	}
	if err != nil {
		return 0, fmt.Errorf("updating ledger entry: %w", err)
	}
	return next, nil
}

// assetRecord is the value of an asset's index entry. Completion is the asset.ingested event
// the recording event publishes for it: a delivery that finds the asset again after a crash
// (or a failed write) between the completion's publish and the created entry publishes the
// same bytes, not a new completion with another time. Entries written before the completion
// was kept hold the bare event key.
type assetRecord struct {
	Event string `json:"event"`
	// Completion is kept as bytes (base64 in the JSON), as in Entry: embedded as JSON, the
	// encoder would escape &, < and > in it, and the bytes would no longer be the same.
	Completion []byte `json:"completion,omitempty"`
}

// RecordAsset writes the index entry naming eventKey as the event that created assetID, with
// the completion event it is about to publish. It is idempotent for the same event: when the
// entry exists for eventKey it returns the completion recorded there (nil if none was), which
// the caller publishes instead of its own. It returns ErrAssetTaken when another event
// recorded the asset.
func (l *Ledger) RecordAsset(ctx context.Context, assetID, eventKey string, completion []byte) ([]byte, error) {
	b, err := json.Marshal(assetRecord{Event: eventKey, Completion: completion})
	if err != nil {
		return nil, fmt.Errorf("encoding the asset index entry: %w", err)
	}
	for {
		_, err = l.kv.Create(ctx, assetKey(assetID), b)
		if err == nil {
			return completion, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return nil, fmt.Errorf("recording asset in the ledger: %w", err)
		}
		rec, err := l.assetRecord(ctx, assetID)
		if errors.Is(err, ErrNotFound) {
			continue // removed since the Create: create it again
		}
		if err != nil {
			return nil, err
		}
		if rec.Event != eventKey {
			return nil, ErrAssetTaken
		}
		return rec.Completion, nil
	}
}

// AssetOwner returns the event key recorded for assetID, or ErrNotFound.
func (l *Ledger) AssetOwner(ctx context.Context, assetID string) (string, error) {
	rec, err := l.assetRecord(ctx, assetID)
	return rec.Event, err
}

func (l *Ledger) assetRecord(ctx context.Context, assetID string) (assetRecord, error) {
	kve, err := l.kv.Get(ctx, assetKey(assetID))
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return assetRecord{}, ErrNotFound
	}
	if err != nil {
		return assetRecord{}, fmt.Errorf("reading ledger asset index: %w", err)
	}
	v := kve.Value()
	if len(v) == 0 || v[0] != '{' {
		return assetRecord{Event: string(v)}, nil // the bare event key
	}
	var rec assetRecord
	if err := json.Unmarshal(v, &rec); err != nil || rec.Event == "" {
		// Not written by this service: its owner is unknown, so no event may adopt the asset.
		return assetRecord{Event: string(v)}, nil
	}
	return rec, nil
}

// Check reports whether the bucket answers; the pause probe uses it.
func (l *Ledger) Check(ctx context.Context) error {
	if _, err := l.kv.Status(ctx); err != nil {
		return fmt.Errorf("reading ledger bucket status: %w", err)
	}
	return nil
}

// entryKey is the key of an event's entry: "event.<event key>" (the event key is hex).
func entryKey(eventKey string) string { return "event." + eventKey }

// assetKey is the key of an asset's index entry; asset ids are base64 and may hold characters
// a key cannot, so the id is hashed.
func assetKey(assetID string) string {
	sum := sha256.Sum256([]byte(assetID))
	return "asset." + hex.EncodeToString(sum[:])
}
