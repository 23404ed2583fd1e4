package soak_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/servicetest"
)

// hostileHeader marks a hostile message on the inbound stream with its kind.
const hostileHeader = "Soak-Hostile"

// eventName names valid event i.
func eventName(i int) string { return fmt.Sprintf("soak-%06d", i) }

// eventMsg is valid event i, deduplicated by its id if a publish is retried.
func eventMsg(i int) *nats.Msg {
	m := servicetest.NewEvent(eventName(i)).Msg()
	m.Header.Set(jetstream.MsgIDHeader, "event-"+eventName(i))
	return m
}

// Kinds of hostile message.
const (
	hostileInvalid = "hostile invalid event"
	hostileJunk    = "hostile binary junk"
	hostileHuge    = "hostile huge headers"
)

// hostileMsg builds hostile message n of kind. A huge-headers message is an invalid event whose
// header block, encoded, is headerBytes long (up to 2 KiB each; JetStream stores at most 65535).
func hostileMsg(rng *rand.Rand, kind string, n, headerBytes int) *nats.Msg {
	id := fmt.Sprintf("hostile-%06d", n)
	m := nats.NewMsg("assets.published.akeneo")
	m.Header.Set(hostileHeader, kind)
	m.Header.Set(jetstream.MsgIDHeader, id)
	event := func(typ string, data any) []byte {
		b, _ := json.Marshal(map[string]any{"specversion": "1.0", "id": id, "source": "pim://akeneo/soak", "type": typ, "data": data})
		return b
	}
	switch kind {
	case hostileInvalid:
		switch rng.IntN(5) {
		case 0: // no src
			m.Data = event("asset.published", map[string]any{"name": id})
		case 1: // another type
			m.Data = event("asset.deleted", map[string]any{"name": id, "src": "https://media.example-pim.com/" + id + ".jpg"})
		case 2: // data not an object
			m.Data = event("asset.published", []int{1, 2, 3})
		case 3: // a src the service must not fetch from
			m.Data = event("asset.published", map[string]any{"name": id, "src": "http://localhost/" + id + ".jpg"})
		default: // not JSON at all
			m.Data = []byte(`{"specversion":"1.0","id":"` + id + `","data":`)
		}
	case hostileJunk:
		m.Data = make([]byte, 1+rng.IntN(4096))
		for i := range m.Data {
			m.Data[i] = byte(rng.Uint32())
		}
		if rng.IntN(2) == 0 { // binary mode, junk attributes
			m.Header.Set("ce-specversion", "1.0")
			m.Header.Set("ce-id", string(m.Data[:min(len(m.Data), 16)]))
		}
	case hostileHuge:
		m.Data = event("asset.published", map[string]any{"name": id})
		left := headerBytes - headerLen(m.Header)
		for i := 0; left > 2048+64; i++ {
			k := fmt.Sprintf("X-Soak-Pad-%d", i)
			v := junkText(rng, 1+rng.IntN(2048))
			m.Header.Set(k, v)
			left -= len(k) + len(v) + 4
		}
		// One header takes the rest, so that the whole block is headerBytes long.
		m.Header.Set("X-Soak-Last", junkText(rng, max(1, left-len("X-Soak-Last")-4)))
	}
	return m
}

// headerLen is the length of h encoded as NATS sends it, the "NATS/1.0" line and the blank line
// included.
func headerLen(h nats.Header) int {
	n := len("NATS/1.0\r\n") + len("\r\n")
	for k, vs := range h {
		for _, v := range vs {
			n += len(k) + len(": ") + len(v) + len("\r\n")
		}
	}
	return n
}

// junkText is n printable bytes.
func junkText(rng *rand.Rand, n int) string {
	const chars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~"
	b := make([]byte, n)
	for i := range b {
		b[i] = chars[rng.IntN(len(chars))]
	}
	return string(b)
}

// errRefused wraps a publish JetStream refused because of the message itself.
var errRefused = errors.New("JetStream refused the message")

// publish publishes msg, retrying through NATS node restarts until JetStream stores it (the
// message id makes a retry of a stored message a duplicate), refuses it for what it is
// (errRefused), or a minute passes. It returns the stored sequence.
func publish(ctx context.Context, js jetstream.JetStream, msg *nats.Msg) (uint64, error) {
	deadline := time.Now().Add(time.Minute)
	for {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		ack, err := js.PublishMsg(pctx, msg)
		cancel()
		if err == nil {
			return ack.Sequence, nil
		}
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) && (apiErr.ErrorCode == 10097 || apiErr.ErrorCode == jetstream.JSErrCodeStreamMessageExceedsMaximum) {
			return 0, fmt.Errorf("%w: %v", errRefused, err)
		}
		if errors.Is(err, nats.ErrMaxPayload) {
			return 0, fmt.Errorf("%w: %v", errRefused, err)
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return 0, fmt.Errorf("publishing to %s: %w", msg.Subject, err)
		}
		time.Sleep(100 * time.Millisecond) // the cluster is electing or a node restarting
	}
}
