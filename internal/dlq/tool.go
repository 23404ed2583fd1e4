package dlq

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Errors of the tools. Every error a method returns wraps at most one of
// them and says, in its message, which stream, sequence or setting it is
// about.
var (
	// ErrUsage: the selection or options make no sense (no selection for
	// replay or purge, --all with sequences, a negative limit, ...).
	// Nothing was read or changed.
	ErrUsage = errors.New("bad usage")
	// ErrNoStream: the dead-letter or inbound stream does not exist.
	ErrNoStream = errors.New("no such stream")
	// ErrNotFound: no dead letter has the given sequence.
	ErrNotFound = errors.New("no such dead letter")
	// ErrPermission: the server refused the operator's credentials for a
	// JetStream API call or a publish (permissions violation).
	ErrPermission = errors.New("no permission")
	// ErrUnreachable: NATS or JetStream did not answer (connection closed,
	// no responders, timeout without a permissions violation).
	ErrUnreachable = errors.New("NATS unreachable")
	// ErrNotConfirmed: the operator did not confirm; nothing was changed.
	ErrNotConfirmed = errors.New("not confirmed")
	// ErrIncomplete: a replay or purge refused or failed at least one dead
	// letter; the others were handled and each problem was reported.
	ErrIncomplete = errors.New("not all selected dead letters were handled")
)

// Tool acts on one dead-letter stream and the inbound stream its dead
// letters are replayed to. The zero value is not usable: JS, DLQStream, Out
// and Err are required; InboundStream is required by Replay; In is read only
// to confirm (nil: nothing is ever confirmed, pass Yes); Now defaults to
// time.Now. A Tool is used by one command at a time.
type Tool struct {
	JS            jetstream.JetStream
	DLQStream     string
	InboundStream string
	// Out receives what the operator asked for (rows, details, one line per
	// dead letter acted on); Err receives progress, questions and problems.
	Out, Err io.Writer
	In       io.Reader
	Now      func() time.Time
}

func (t *Tool) now() time.Time {
	if t.Now == nil {
		return time.Now()
	}
	return t.Now()
}

// dlq looks up the dead-letter stream; its cached info is the snapshot the
// command works on.
func (t *Tool) dlq(ctx context.Context) (jetstream.Stream, error) {
	s, err := t.JS.Stream(ctx, t.DLQStream)
	if err != nil {
		return nil, t.explain("reading dead-letter stream "+t.DLQStream, err,
			t.noDLQ())
	}
	return s, nil
}

// inbound looks up the inbound stream and returns its subject filters.
func (t *Tool) inbound(ctx context.Context) ([]string, error) {
	s, err := t.JS.Stream(ctx, t.InboundStream)
	if err != nil {
		return nil, t.explain("reading inbound stream "+t.InboundStream, err,
			t.noInbound())
	}
	return s.CachedInfo().Config.Subjects, nil
}

// explain wraps err, which happened while doing what, with the kind of
// problem it is: ErrNoStream (saying noStream), ErrPermission,
// ErrUnreachable, or none.
func (t *Tool) explain(what string, err error, noStream string) error {
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		return fmt.Errorf("%s: %w", noStream, ErrNoStream)
	case errors.Is(err, nats.ErrPermissionViolation):
		return fmt.Errorf("%s: %w: %w", what, ErrPermission, err)
	case errors.Is(err, nats.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		// A request the server refused for lack of permission is dropped:
		// the client only times out, and the reason arrives separately.
		if last := t.lastConnError(); errors.Is(last, nats.ErrPermissionViolation) {
			return fmt.Errorf("%s: %w: %w", what, ErrPermission, last)
		}
		return fmt.Errorf("%s: %w: no answer in time: %w", what, ErrUnreachable, err)
	case errors.Is(err, nats.ErrNoResponders), errors.Is(err, jetstream.ErrJetStreamNotEnabled),
		errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount):
		return fmt.Errorf("%s: %w: JetStream does not answer (not enabled for this account, or no permission for its API): %w",
			what, ErrUnreachable, err)
	case errors.Is(err, nats.ErrConnectionClosed), errors.Is(err, nats.ErrDisconnected),
		errors.Is(err, nats.ErrNoServers), errors.Is(err, nats.ErrConnectionReconnecting):
		return fmt.Errorf("%s: %w: %w", what, ErrUnreachable, err)
	}
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && apiErr.Code == 403 {
		return fmt.Errorf("%s: %w: %w", what, ErrPermission, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

func (t *Tool) noDLQ() string {
	return "there is no dead-letter stream " + t.DLQStream + " (DLQ_STREAM names it)"
}

func (t *Tool) noInbound() string {
	return "there is no inbound stream " + t.InboundStream + " (INGEST_STREAM names it)"
}

func (t *Tool) lastConnError() error {
	if t.JS == nil || t.JS.Conn() == nil {
		return nil
	}
	return t.JS.Conn().LastError()
}
