package ingest

import (
	"strconv"
	"strings"
	"time"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/events"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/ledger"
)

// replays reports whether a delivery with replay context r is a replay the entry has not taken
// yet, which gets a fresh attempt budget after reconciling:
//
//   - its Ingest-Replay-Count is higher than the entry's replay count (SPEC "The ledger"); or
//   - the entry is dead, records its dead letter's sequence, and the delivery's
//     Ingest-Replay-Of names that sequence: it replays the very dead letter the entry
//     records, whatever its count says.
//
// The second rule keeps an event replayable when a publisher forged a huge count: the dead
// letter copies the count, the replay's count (one more) no longer parses and reads as 0, and
// a comparison of counts alone would repeat the dead letter forever. A redelivery of the
// message that was dead-lettered (a crash before its terminate) names an older dead letter or
// none, so it still repeats the decision.
func replays(r events.ReplayContext, e ledger.Entry) bool {
	if r.Count > e.ReplayCount {
		return true
	}
	return e.State == ledger.StateDead && e.DLQSequence != 0 && replayOfSequence(r.Of) == e.DLQSequence
}

// takeReplay resets the entry for the replay d carries: pending again when it was dead, no
// attempt charged and no call made since it, and a replay count above every count the entry held, so the ids of its completion
// events stay distinct even when the delivery's count was forged or unreadable. The delivery
// takes that count.
func takeReplay(d *delivery, e *ledger.Entry) {
	if e.State == ledger.StateDead {
		e.State = ledger.StatePending
		e.Class, e.Error, e.FailedAt, e.DLQSequence = "", "", time.Time{}, 0
	}
	e.Attempts, e.Calls = 0, 0
	e.ReplayCount = max(d.replay.Count, e.ReplayCount+1)
	e.ReplayOf = d.replay.Of
	d.replay.Count = e.ReplayCount
}

// superseded reports whether a newer replay than the one a delivery with replay context r
// carries has taken the entry since: its count is below the entry's, and it is not the
// message of the replay the entry took last (whose count the entry may have raised above the
// message's own, when that was forged or unreadable).
func superseded(r events.ReplayContext, e ledger.Entry) bool {
	if r.Count >= e.ReplayCount {
		return false
	}
	return r.Of == "" || r.Of != e.ReplayOf
}

// replayOfSequence is the dead-letter sequence an Ingest-Replay-Of value "<stream>:<sequence>"
// names; 0 when there is none.
func replayOfSequence(of string) uint64 {
	i := strings.LastIndexByte(of, ':')
	if i < 0 {
		return 0
	}
	n, _ := strconv.ParseUint(of[i+1:], 10, 64)
	return n
}
