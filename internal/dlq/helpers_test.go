package dlq

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/events"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/natstest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testNow is the clock of every Tool in the tests.
var testNow = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// env is one embedded server holding the ASSETS and ASSETS_DLQ streams.
type env struct {
	srv *server.Server
	js  jetstream.JetStream
}

// newEnv starts a server (changed by opt when not nil) and connects with
// connOpts.
func newEnv(tb testing.TB, opt func(*server.Options), connOpts ...nats.Option) *env {
	tb.Helper()
	var opts []func(*server.Options)
	if opt != nil {
		opts = append(opts, opt)
	}
	s := natstest.RunServer(tb, opts...)
	_, js := natstest.Connect(tb, s, connOpts...)
	createStreams(tb, js)
	return &env{srv: s, js: js}
}

func createStreams(tb testing.TB, js jetstream.JetStream) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, c := range []jetstream.StreamConfig{
		{Name: "ASSETS", Subjects: []string{"assets.published.>"}, Duplicates: 2 * time.Minute},
		{Name: "ASSETS_DLQ", Subjects: []string{"assets.dlq.>"}},
	} {
		if _, err := js.CreateStream(ctx, c); err != nil {
			tb.Fatalf("creating stream %s: %v", c.Name, err)
		}
	}
}

// tool returns a Tool on e's streams reading answers from in, and its
// outputs.
func (e *env) tool(in string) (*Tool, *bytes.Buffer, *bytes.Buffer) {
	var out, errOut bytes.Buffer
	return &Tool{
		JS: e.js, DLQStream: "ASSETS_DLQ", InboundStream: "ASSETS",
		Out: &out, Err: &errOut, In: strings.NewReader(in),
		Now: func() time.Time { return testNow },
	}, &out, &errOut
}

// letter describes a dead letter to write.
type letter struct {
	subject  string // original subject
	class    events.Class
	err      string
	id       string
	failedAt time.Time
	header   nats.Header // original headers
	extra    nats.Header // set on the dead letter's headers after building them
	body     string
}

// addDeadLetter writes l to ASSETS_DLQ as the service would and returns its
// sequence.
func (e *env) addDeadLetter(tb testing.TB, l letter) uint64 {
	tb.Helper()
	origSeq := uint64(1000)
	h := events.DeadLetterHeader(l.header, events.DeadLetter{
		Stream: "ASSETS", Sequence: origSeq, Subject: l.subject,
		PublishedAt: l.failedAt.Add(-time.Minute), FailedAt: l.failedAt,
		Class: l.class, Err: l.err, Attempts: 3,
		EventID: l.id, EventSource: "pim://akeneo/prod",
		Traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
	})
	// Nats-Msg-Id is per inbound message; make each test letter unique.
	h.Set(events.HeaderMsgID, "ASSETS:"+l.id+l.subject)
	for k, vs := range l.extra {
		h[k] = vs
	}
	msg := nats.NewMsg(events.DLQSubject(events.SourceToken(l.subject)))
	msg.Header = h
	msg.Data = []byte(l.body)
	ack, err := e.js.PublishMsg(context.Background(), msg)
	if err != nil {
		tb.Fatalf("publishing dead letter: %v", err)
	}
	return ack.Sequence
}

// sampleLetter is a valid dead letter for event id.
func sampleLetter(id string) letter {
	return letter{
		subject: "assets.published.akeneo", class: events.ClassRejected, err: "name: already taken",
		id: id, failedAt: testNow.Add(-time.Hour),
		header: nats.Header{"traceparent": {"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}},
		body:   `{"specversion":"1.0","id":"` + id + `","data":{"name":"n"}}`,
	}
}

// messages returns every message in stream name, in order.
func (e *env) messages(tb testing.TB, name string) []*jetstream.RawStreamMsg {
	tb.Helper()
	ctx := context.Background()
	s, err := e.js.Stream(ctx, name)
	if err != nil {
		tb.Fatalf("looking up %s: %v", name, err)
	}
	var out []*jetstream.RawStreamMsg
	for seq := uint64(1); ; {
		m, err := s.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(">"))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return out
		}
		if err != nil {
			tb.Fatalf("reading %s: %v", name, err)
		}
		out = append(out, m)
		seq = m.Sequence + 1
	}
}

// seqsOf returns the sequences of ms.
func seqsOf(ms []*jetstream.RawStreamMsg) []uint64 {
	out := []uint64{}
	for _, m := range ms {
		out = append(out, m.Sequence)
	}
	return out
}

// readerFunc is an io.Reader calling a function: to act at the moment the
// tool reads the answer to its question.
type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// cancelAfter is an Out that cancels a context once it has been written
// lines lines containing marker.
type cancelAfter struct {
	mu     sync.Mutex
	marker string
	lines  int
	cancel context.CancelFunc
	buf    bytes.Buffer
}

func (c *cancelAfter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if bytes.Contains(p, []byte(c.marker)) {
		c.lines--
		if c.lines == 0 {
			c.cancel()
		}
	}
	return c.buf.Write(p)
}
