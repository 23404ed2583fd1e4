package events

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"
)

func TestReplayTarget(t *testing.T) {
	t.Parallel()
	inbound := []string{"assets.published.>", "legacy.*.assets"}
	tests := []struct {
		name    string
		dl      nats.Header
		want    string
		wantErr string
	}{
		{name: "matches >", dl: nats.Header{"Ingest-Original-Subject": {testSubject}}, want: testSubject},
		{name: "matches > over several tokens", dl: nats.Header{"ingest-original-subject": {"assets.published.a.b"}}, want: "assets.published.a.b"},
		{name: "matches *", dl: nats.Header{"INGEST-ORIGINAL-SUBJECT": {"legacy.x.assets"}}, want: "legacy.x.assets"},
		{name: "missing", dl: nats.Header{"Ingest-Original-Stream": {"ASSETS"}}, wantErr: "replay refused: the dead letter has no Ingest-Original-Subject header"},
		{name: "two values", dl: nats.Header{"Ingest-Original-Subject": {testSubject}, "ingest-original-subject": {testSubject}}, wantErr: "replay refused: the dead letter has 2 Ingest-Original-Subject values, want one"},
		{name: "system subject", dl: nats.Header{"Ingest-Original-Subject": {"$JS.API.STREAM.DELETE.ASSETS"}}, wantErr: `replay refused: subject "$JS.API.STREAM.DELETE.ASSETS" starts with '$' (a system subject)`},
		{name: "not matching", dl: nats.Header{"Ingest-Original-Subject": {"assets.ingested.akeneo"}}, wantErr: `replay refused: subject "assets.ingested.akeneo" matches none of the inbound stream's subjects ["assets.published.>" "legacy.*.assets"]`},
		{name: "> needs a token", dl: nats.Header{"Ingest-Original-Subject": {"assets.published"}}, wantErr: `replay refused: subject "assets.published" matches none of the inbound stream's subjects ["assets.published.>" "legacy.*.assets"]`},
		{name: "* is one token", dl: nats.Header{"Ingest-Original-Subject": {"legacy.x.y.assets"}}, wantErr: `replay refused: subject "legacy.x.y.assets" matches none of the inbound stream's subjects ["assets.published.>" "legacy.*.assets"]`},
		{name: "wildcard", dl: nats.Header{"Ingest-Original-Subject": {"assets.published.*"}}, wantErr: `replay refused: "assets.published.*" is not a literal NATS subject`},
		{name: "empty token", dl: nats.Header{"Ingest-Original-Subject": {"assets..published.x"}}, wantErr: `replay refused: "assets..published.x" is not a literal NATS subject`},
		{name: "whitespace", dl: nats.Header{"Ingest-Original-Subject": {"assets.published.a b"}}, wantErr: `replay refused: "assets.published.a b" is not a literal NATS subject`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ReplayTarget(tt.dl, inbound)
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
				if !errors.Is(err, ErrReplayRefused) {
					t.Errorf("error %v does not wrap ErrReplayRefused", err)
				}
			}
			if diff := cmp.Diff(tt.wantErr, gotErr); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
			if got != tt.want {
				t.Errorf("subject = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestReplayHeader(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		dl   nats.Header
		want nats.Header
	}{
		{
			name: "from a dead letter of an original delivery",
			dl: DeadLetterHeader(nats.Header{
				"Traceparent": {pubTraceparent}, "tracestate": {"vendor=1"}, "Nats-TTL": {"1s"},
				"ce-id": {testID}, "X-Custom": {"a", "b"},
			}, testDeadLetter()),
			want: nats.Header{
				"ce-id": {testID}, "X-Custom": {"a", "b"},
				"traceparent": {pubTraceparent}, "tracestate": {"vendor=1"},
				"Ingest-Replay-Count": {"1"}, "Ingest-Replay-Of": {"ASSETS_DLQ:9"},
				"Ingest-Replay-Traceparent": {failTraceparent}, "Nats-Msg-Id": {"replay:ASSETS_DLQ:9"},
			},
		},
		{
			name: "second replay counts on, odd spellings removed",
			dl: nats.Header{
				"ingest-replay-count": {"1"}, "NATS-MSG-ID": {"ASSETS:42"}, "nats-expected-stream": {"X"},
				"INGEST-ERROR": {"e"}, "TRACEPARENT": {failTraceparent}, "TraceState": {"ours=1"},
				"ingest-original-traceparent": {pubTraceparent},
			},
			want: nats.Header{
				"traceparent":         {pubTraceparent},
				"Ingest-Replay-Count": {"2"}, "Ingest-Replay-Of": {"ASSETS_DLQ:9"},
				"Ingest-Replay-Traceparent": {failTraceparent}, "Nats-Msg-Id": {"replay:ASSETS_DLQ:9"},
			},
		},
		{
			name: "malformed count and trace treated as absent",
			dl:   nats.Header{"Ingest-Replay-Count": {"x"}, "traceparent": {"garbage"}},
			want: nats.Header{
				"Ingest-Replay-Count": {"1"}, "Ingest-Replay-Of": {"ASSETS_DLQ:9"},
				"Nats-Msg-Id": {"replay:ASSETS_DLQ:9"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := ReplayHeader(tt.dl, "ASSETS_DLQ", 9)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ReplayHeader (-want +got):\n%s", diff)
			}
		})
	}
}

// TestReplayRoundTrip follows an event through dead letter, replay and a
// second dead letter: the replay context survives and is read back.
func TestReplayRoundTrip(t *testing.T) {
	t.Parallel()
	dl := DeadLetterHeader(nats.Header{"traceparent": {pubTraceparent}}, testDeadLetter())
	replay := ReplayHeader(dl, "ASSETS_DLQ", 9)
	want := ReplayContext{Count: 1, Of: "ASSETS_DLQ:9", Traceparent: failTraceparent}
	if diff := cmp.Diff(want, ReplayInfo(replay)); diff != "" {
		t.Errorf("ReplayInfo of the replay (-want +got):\n%s", diff)
	}
	dl2 := DeadLetterHeader(replay, testDeadLetter())
	if diff := cmp.Diff(want, ReplayInfo(dl2)); diff != "" {
		t.Errorf("ReplayInfo of the second dead letter (-want +got):\n%s", diff)
	}
	if got := ReplayHeader(dl2, "ASSETS_DLQ", 10).Get(HeaderReplayCount); got != "2" {
		t.Errorf("second replay count = %q, want 2", got)
	}
}

func TestReplayInfo(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		h    nats.Header
		want ReplayContext
	}{
		{"absent", nil, ReplayContext{}},
		{"all valid, odd case", nats.Header{"INGEST-REPLAY-COUNT": {"3"}, "ingest-replay-of": {"DLQ:12"}, "Ingest-Replay-Traceparent": {pubTraceparent}}, ReplayContext{3, "DLQ:12", pubTraceparent}},
		{"zero count", nats.Header{"Ingest-Replay-Count": {"0"}}, ReplayContext{}},
		{"signed count", nats.Header{"Ingest-Replay-Count": {"+3"}}, ReplayContext{}},
		{"count overflow", nats.Header{"Ingest-Replay-Count": {"99999999999999999999"}}, ReplayContext{}},
		{"count twice", nats.Header{"Ingest-Replay-Count": {"1", "1"}}, ReplayContext{}},
		{"of without sequence", nats.Header{"Ingest-Replay-Of": {"DLQ:"}}, ReplayContext{}},
		{"of sequence zero", nats.Header{"Ingest-Replay-Of": {"DLQ:0"}}, ReplayContext{}},
		{"of bad stream", nats.Header{"Ingest-Replay-Of": {"a.b:1"}}, ReplayContext{}},
		{"traceparent uppercase hex", nats.Header{"Ingest-Replay-Traceparent": {"00-0AF7651916CD43DD8448EB211C80319C-B7AD6B7169203331-01"}}, ReplayContext{}},
		{"traceparent zero trace id", nats.Header{"Ingest-Replay-Traceparent": {"00-00000000000000000000000000000000-b7ad6b7169203331-01"}}, ReplayContext{}},
		{"traceparent version ff", nats.Header{"Ingest-Replay-Traceparent": {"ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}}, ReplayContext{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, ReplayInfo(tt.h)); diff != "" {
				t.Errorf("ReplayInfo (-want +got):\n%s", diff)
			}
		})
	}
}
