package dlq

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/natstest"
)

// lateJS is a JetStream whose streams write one more dead letter right
// after the first message is read: it happens while a scan runs.
type lateJS struct {
	jetstream.JetStream
	add func()
}

func (j *lateJS) Stream(ctx context.Context, name string) (jetstream.Stream, error) {
	s, err := j.JetStream.Stream(ctx, name)
	if err != nil {
		return nil, err
	}
	return &lateStream{Stream: s, add: j.add}, nil
}

type lateStream struct {
	jetstream.Stream
	once sync.Once
	add  func()
}

func (s *lateStream) GetMsg(ctx context.Context, seq uint64, opts ...jetstream.GetMsgOpt) (*jetstream.RawStreamMsg, error) {
	m, err := s.Stream.GetMsg(ctx, seq, opts...)
	s.once.Do(s.add)
	return m, err
}

func TestScanStopsAtTheSnapshot(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	s := threeLetters(t, e)
	var late uint64
	tool, _, _ := e.tool("")
	tool.JS = &lateJS{JetStream: e.js, add: func() { late = e.addDeadLetter(t, sampleLetter("late")) }}
	var rows []uint64
	err := tool.each(context.Background(), mustStream(t, tool), Selection{}, func(l *Letter) error {
		rows = append(rows, l.Sequence)
		return nil
	}, func(uint64) {})
	if err != nil {
		t.Fatalf("each: %v", err)
	}
	if late == 0 || len(rows) != len(s) || rows[len(rows)-1] != s[2] {
		t.Errorf("visited %v with %d added during the scan, want %v", rows, late, s)
	}
}

func mustStream(tb testing.TB, tool *Tool) jetstream.Stream {
	tb.Helper()
	st, err := tool.dlq(context.Background())
	if err != nil {
		tb.Fatalf("looking up the dead-letter stream: %v", err)
	}
	return st
}

// restricted starts a server with an admin user and a user who may read
// the dead-letter stream but neither publish to the inbound stream nor
// delete, and returns the env (as admin) and a JetStream as that user.
func restricted(t *testing.T) (*env, jetstream.JetStream) {
	t.Helper()
	e := newEnv(t, func(o *server.Options) {
		o.Users = []*server.User{
			{Username: "admin", Password: "admin-pw"},
			{Username: "reader", Password: "reader-pw", Permissions: &server.Permissions{
				Publish: &server.SubjectPermission{Allow: []string{
					"$JS.API.INFO", "$JS.API.STREAM.INFO.*", "$JS.API.STREAM.MSG.GET.*", "$JS.API.DIRECT.GET.>",
				}},
				Subscribe: &server.SubjectPermission{Allow: []string{"_INBOX.>"}},
			}},
			{Username: "nobody", Password: "nobody-pw", Permissions: &server.Permissions{
				Publish:   &server.SubjectPermission{Allow: []string{"nothing"}},
				Subscribe: &server.SubjectPermission{Allow: []string{"_INBOX.>"}},
			}},
		}
	}, nats.UserInfo("admin", "admin-pw"))
	return e, connectAs(t, e.srv, "reader", "reader-pw")
}

func connectAs(t *testing.T, s *server.Server, user, pw string) jetstream.JetStream {
	t.Helper()
	nc, _ := natstest.Connect(t, s, nats.UserInfo(user, pw))
	js, err := jetstream.New(nc, jetstream.WithDefaultTimeout(300*time.Millisecond))
	if err != nil {
		t.Fatalf("JetStream: %v", err)
	}
	return js
}

func TestNoPermission(t *testing.T) {
	t.Parallel()
	e, reader := restricted(t)
	seq := e.addDeadLetter(t, sampleLetter("ev-1"))

	t.Run("reader lists", func(t *testing.T) {
		tool, out, _ := e.tool("")
		tool.JS = reader
		if err := tool.List(context.Background(), Selection{}, ListOptions{JSON: true}); err != nil {
			t.Fatalf("List as reader: %v", err)
		}
		if strings.Count(out.String(), "\n") != 1 {
			t.Errorf("listed %q, want one row", out)
		}
	})
	t.Run("reader cannot replay", func(t *testing.T) {
		tool, _, errOut := e.tool("")
		tool.JS = reader
		rep, err := tool.Replay(context.Background(), Selection{Seqs: []uint64{seq}}, ReplayOptions{})
		if !errors.Is(err, ErrIncomplete) || rep.Failed != 1 {
			t.Errorf("Replay as reader: %+v, %v; want one failure", rep, err)
		}
		if !strings.Contains(errOut.String(), "no permission") || !strings.Contains(errOut.String(), "assets.published.akeneo") {
			t.Errorf("stderr does not say permission was missing:\n%s", errOut)
		}
		if n := len(e.messages(t, "ASSETS_DLQ")); n != 1 {
			t.Errorf("%d dead letters left, want 1", n)
		}
	})
	t.Run("nobody cannot read", func(t *testing.T) {
		tool, _, _ := e.tool("")
		tool.JS = connectAs(t, e.srv, "nobody", "nobody-pw")
		err := tool.List(context.Background(), Selection{}, ListOptions{})
		if !errors.Is(err, ErrPermission) {
			t.Errorf("List as nobody: error = %v, want ErrPermission", err)
		}
		if strings.Contains(err.Error(), "nobody-pw") {
			t.Errorf("error reveals the password: %v", err)
		}
	})
}
