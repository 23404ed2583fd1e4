package events

import (
	"cmp"
	"math"
	"net/textproto"
	"slices"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"
)

// MaxHeaderBytes is the largest header block JetStream stores: nats-server refuses a larger
// one with err_code 10097, "header size exceeds maximum allowed of 64k" (server/stream.go,
// len(hdr) > math.MaxUint16). The server limits headers by size only, not by count.
const MaxHeaderBytes = math.MaxUint16

// MaxDroppedHeadersBytes bounds the value of Ingest-Dropped-Headers: a longer list is cut
// after a whole name and ends with ",...".
const MaxDroppedHeadersBytes = 4096

// droppedTail ends a cut Ingest-Dropped-Headers list. A name in the list is always quoted, so
// the bare dots cannot be read as one.
const droppedTail = ",..."

// bodyOmittedBytes is the most Ingest-Body-Omitted adds to a header block.
var bodyOmittedBytes = len(HeaderBodyOmitted) + len(": \r\n") + len(strconv.Itoa(math.MaxInt64))

// ownHeaders are the headers the service writes in a dead letter: they stay when the copy
// must shrink. Every other header is the publisher's.
var ownHeaders = map[string]bool{
	HeaderMsgID: true, HeaderErrorClass: true, HeaderError: true, HeaderAttempts: true,
	HeaderOriginalSubject: true, HeaderOriginalStream: true, HeaderOriginalSequence: true,
	HeaderEventID: true, HeaderEventSource: true, HeaderEventKey: true,
	HeaderPublishedAt: true, HeaderFailedAt: true,
	HeaderReplayCount: true, HeaderReplayOf: true, HeaderReplayTraceparent: true,
	HeaderTraceparent: true, HeaderTracestate: true,
	HeaderDroppedHeaders: true, HeaderBodyOmitted: true,
}

// eventAttributeHeaders are the service's headers that carry the publisher's CloudEvents
// attributes, whose size the publisher chooses. They are left out only when the copy does not
// fit without any original header.
var eventAttributeHeaders = []string{HeaderEventID, HeaderEventSource}

// HeaderBytes returns the size of h's header block as the NATS client encodes it (nats.go
// Msg.headerSize): 0 when h is empty.
func HeaderBytes(h nats.Header) int {
	if len(h) == 0 {
		return 0
	}
	n := len("NATS/1.0\r\n\r\n")
	for k, vs := range h {
		n += headerEntryBytes(k, vs)
	}
	return n
}

// headerEntryBytes is what the name k with values vs adds to an encoded header block.
func headerEntryBytes(k string, vs []string) int {
	n := 0
	for _, v := range vs {
		n += len(k) + len(textproto.TrimString(v)) + len(": \r\n")
	}
	return n
}

// FitDeadLetter makes a dead letter with headers h (built by [DeadLetterHeader]) and body
// fit what the server stores, and returns the body to publish. reserve is the header space
// kept free for what publishing adds (the trace context); maxPayload is the server's maximum
// message size (0: none).
//
//   - Header names the NATS client refuses are dropped.
//   - While the header block exceeds [MaxHeaderBytes] (or maxPayload, if smaller), the
//     publisher's headers are left out, largest first; if it still does not fit,
//     Ingest-Event-Id and Ingest-Event-Source, whose size the publisher chose too. The
//     service's other headers always stay.
//   - Every name dropped is listed in Ingest-Dropped-Headers: Go-quoted in ASCII,
//     comma-separated, the refused names sorted and then the others in the order they were
//     left out, cut to [MaxDroppedHeadersBytes].
//   - A body that would make the message exceed maxPayload is left out with
//     Ingest-Body-Omitted: <bytes>.
func FitDeadLetter(h nats.Header, body []byte, reserve int, maxPayload int64) []byte {
	dropped := dropUnsendable(h)
	limit := MaxHeaderBytes
	if maxPayload > 0 && maxPayload < int64(limit) {
		limit = int(maxPayload)
	}
	limit -= reserve + bodyOmittedBytes

	size := HeaderBytes(h)
	var list droppedListBound
	for _, k := range dropped {
		list = list.add(k)
	}
	over := func() bool {
		n := size
		if list > 0 {
			n += len(HeaderDroppedHeaders) + len(": \r\n") + list.bytes()
		}
		return n > limit
	}
	for _, tier := range [][]string{originalHeaders(h), eventAttributeHeaders} {
		for _, k := range bySizeDescending(h, tier) {
			if !over() {
				break
			}
			size -= headerEntryBytes(k, h[k])
			delete(h, k)
			dropped = append(dropped, k)
			list = list.add(k)
		}
	}
	if len(dropped) > 0 {
		h.Set(HeaderDroppedHeaders, droppedList(dropped))
	}
	if maxPayload > 0 && int64(HeaderBytes(h)+reserve+len(body)) > maxPayload {
		h.Set(HeaderBodyOmitted, strconv.Itoa(len(body)))
		return nil
	}
	return body
}

// originalHeaders returns the names in h that the service does not write itself.
func originalHeaders(h nats.Header) []string {
	var out []string
	for k := range h {
		if !ownHeaders[k] {
			out = append(out, k)
		}
	}
	return out
}

// bySizeDescending returns the names of names present in h, the largest encoded entry first
// (ties by name, so the result is deterministic).
func bySizeDescending(h nats.Header, names []string) []string {
	out := make([]string, 0, len(names))
	for _, k := range names {
		if _, ok := h[k]; ok {
			out = append(out, k)
		}
	}
	slices.SortFunc(out, func(a, b string) int {
		if c := cmp.Compare(headerEntryBytes(b, h[b]), headerEntryBytes(a, h[a])); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	return out
}

// droppedList is the value of Ingest-Dropped-Headers naming names: each Go-quoted in ASCII,
// comma-separated. A list longer than MaxDroppedHeadersBytes is cut after a whole name and
// ends with droppedTail, within that bound.
func droppedList(names []string) string {
	quoted := make([]string, len(names))
	for i, k := range names {
		quoted[i] = strconv.QuoteToASCII(k)
	}
	full := strings.Join(quoted, ",")
	if len(full) <= MaxDroppedHeadersBytes {
		return full
	}
	n := 0
	for i, q := range quoted {
		next := n + len(q)
		if i > 0 {
			next++
		}
		if next+len(droppedTail) > MaxDroppedHeadersBytes {
			if i == 0 {
				return droppedTail[1:]
			}
			return full[:n] + droppedTail
		}
		n = next
	}
	return full
}

// droppedListBound is an upper bound of len(droppedList(names)) kept as names grow: add
// returns it after one more name.
type droppedListBound int

func (b droppedListBound) add(name string) droppedListBound {
	n := int(b) + len(strconv.QuoteToASCII(name))
	if b > 0 {
		n++
	}
	return droppedListBound(n)
}

func (b droppedListBound) bytes() int { return min(int(b), MaxDroppedHeadersBytes) }
