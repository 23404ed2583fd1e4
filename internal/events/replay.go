package events

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"
)

// ErrReplayRefused is wrapped by every error of ReplayTarget: the dead
// letter must not be replayed, the reason is in the message.
var ErrReplayRefused = errors.New("replay refused")

// ReplayTarget returns the subject a dead letter with headers dl is replayed
// to: its Ingest-Original-Subject (any case, exactly one value), provided
// that subject is a literal subject (no wildcard, no empty token, no
// whitespace), does not start with "$" and matches one of inboundSubjects,
// the inbound stream's subject filters ("*" matches one token, ">" one or
// more trailing tokens). Otherwise the error, wrapping ErrReplayRefused,
// says why.
func ReplayTarget(dl nats.Header, inboundSubjects []string) (string, error) {
	vs := headerValues(dl, HeaderOriginalSubject)
	switch len(vs) {
	case 0:
		return "", fmt.Errorf("%w: the dead letter has no %s header", ErrReplayRefused, HeaderOriginalSubject)
	case 1:
	default:
		return "", fmt.Errorf("%w: the dead letter has %d %s values, want one", ErrReplayRefused, len(vs), HeaderOriginalSubject)
	}
	subj := vs[0]
	shown := quote(subj)
	switch {
	case strings.HasPrefix(subj, "$"):
		return "", fmt.Errorf("%w: subject %s starts with '$' (a system subject)", ErrReplayRefused, shown)
	case !literalSubject(subj):
		return "", fmt.Errorf("%w: %s is not a literal NATS subject", ErrReplayRefused, shown)
	}
	for _, f := range inboundSubjects {
		if subjectMatches(f, subj) {
			return subj, nil
		}
	}
	return "", fmt.Errorf("%w: subject %s matches none of the inbound stream's subjects %q",
		ErrReplayRefused, shown, inboundSubjects)
}

// literalSubject reports whether s is a publishable subject: non-empty
// tokens, no wildcard tokens, no whitespace or control characters.
func literalSubject(s string) bool {
	if s == "" {
		return false
	}
	for _, t := range strings.Split(s, ".") {
		if t == "" || t == "*" || t == ">" {
			return false
		}
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f {
			return false
		}
	}
	return true
}

// subjectMatches reports whether the literal subject subj matches the
// subject filter filter.
func subjectMatches(filter, subj string) bool {
	ft := strings.Split(filter, ".")
	st := strings.Split(subj, ".")
	for i, f := range ft {
		if f == ">" {
			return i == len(ft)-1 && len(st) > i
		}
		if i >= len(st) || (f != "*" && f != st[i]) {
			return false
		}
	}
	return len(ft) == len(st)
}

// ReplayHeader returns the headers of the replay of a dead letter that has
// headers dl and is message dlqSeq of stream dlqStream (dl is not modified;
// the body to send is the dead letter's, unchanged):
//
//   - dl's headers minus every Nats-*, Ingest-*, traceparent and tracestate
//     header (names in any case);
//   - Ingest-Original-Traceparent and -Tracestate restored as traceparent
//     and tracestate (nothing when absent);
//   - Ingest-Replay-Count: 1 + dl's Ingest-Replay-Count, taken as 0 when
//     absent or malformed (so a first replay says 1);
//   - Ingest-Replay-Of "<dlqStream>:<dlqSeq>";
//   - Ingest-Replay-Traceparent: dl's traceparent when single and valid;
//   - Nats-Msg-Id "replay:<dlqStream>:<dlqSeq>", so a repeated replay within
//     the inbound stream's duplicate window is dropped by JetStream.
func ReplayHeader(dl nats.Header, dlqStream string, dlqSeq uint64) nats.Header {
	out := nats.Header{}
	for _, k := range sortedKeys(dl) {
		switch {
		case foldPrefix(k, natsPrefix), foldPrefix(k, ingestPrefix),
			strings.EqualFold(k, HeaderTraceparent), strings.EqualFold(k, HeaderTracestate):
		default:
			addValues(out, k, dl[k])
		}
	}
	if vs := headerValues(dl, HeaderOriginalTraceparent); len(vs) > 0 {
		addValues(out, HeaderTraceparent, vs)
	}
	if vs := headerValues(dl, HeaderOriginalTracestate); len(vs) > 0 {
		addValues(out, HeaderTracestate, vs)
	}
	count := 0
	if v, ok := singleHeader(dl, HeaderReplayCount); ok {
		count, _ = parseReplayCount(v)
	}
	of := dlqStream + ":" + strconv.FormatUint(dlqSeq, 10)
	out.Set(HeaderReplayCount, strconv.Itoa(count+1))
	out.Set(HeaderReplayOf, of)
	if tp, ok := singleHeader(dl, HeaderTraceparent); ok && ValidTraceparent(tp) {
		out.Set(HeaderReplayTraceparent, tp)
	}
	out.Set(HeaderMsgID, "replay:"+of)
	return out
}
