package conformance

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/events"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/sandbox"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/servicetest"
)

// The shapes of hostile message hostileMessage builds.
const (
	shapeManyHeaders    = iota // hundreds to thousands of headers, many of them Nats-* (renamed, so they grow)
	shapeHugeHeader            // one header value filling the header block
	shapeValid                 // a valid event under a header block near the limit: ingested
	shapeRejected              // the same, refused by the API: rejected
	shapeBigBody               // a body up to the maximum payload
	shapeJunk                  // binary junk in header names and values
	shapeBare                  // no header at all, the body as given
	shapeHugeAttributes        // an invalid event whose id, source and name fill the body
	shapeHugeValid             // a valid event at the limits of its attributes and of the payload: ingested
	shapeCount
)

// rejectMarker in an event's name makes the sandbox refuse its createAsset (see hostileEnv).
const rejectMarker = "hostile-reject-me"

// hostileMsg is a message as a hostile publisher sends it.
type hostileMsg struct {
	header string // raw header lines, each "name: value\r\n"
	body   []byte
	id     string // the event id of a valid event; empty for the others
	// ingest: the event must be ingested (otherwise either outcome will do).
	ingest bool
}

// hostileMessage builds a message of shape kind%shapeCount from the fuzzer's name, value and
// body, with rng choosing counts and sizes; the header block stays within the server's limit
// and the whole message within maxPayload, so that the inbound stream stores it.
func hostileMessage(kind uint8, rng *rand.Rand, name, value string, body []byte, maxPayload int, uniq string) hostileMsg {
	name = strings.Map(func(r rune) rune {
		if r == ':' || r == '\r' || r == '\n' {
			return -1
		}
		return r
	}, name)
	value = strings.NewReplacer("\r", "", "\n", "").Replace(value)
	if name == "" {
		name = "X"
	}
	if value == "" {
		value = "v"
	}
	hdrRoom := min(events.MaxHeaderBytes, maxPayload) - len("NATS/1.0\r\n\r\n")
	var b strings.Builder
	add := func(k, v string) bool {
		line := k + ": " + v + "\r\n"
		if b.Len()+len(line) > hdrRoom {
			return false
		}
		b.WriteString(line)
		return true
	}
	fill := func(room int) {
		for i := 0; b.Len() < room; i++ {
			k := name + strconv.Itoa(i)
			if rng.IntN(2) == 0 {
				k = "Nats-" + k
			}
			if !add(k, repeat(value, 1+rng.IntN(64))) {
				return
			}
		}
	}
	m := hostileMsg{body: body}
	switch kind % shapeCount {
	case shapeManyHeaders:
		fill(rng.IntN(hdrRoom + 1))
	case shapeHugeHeader:
		add("Nats-"+name, repeat(value, hdrRoom-len(name)-len("Nats-: \r\n")-rng.IntN(64)))
	case shapeValid, shapeRejected:
		m.id = "hostile-" + uniq
		asset := "hostile-" + uniq
		if kind%shapeCount == shapeRejected {
			asset += "-" + rejectMarker
		}
		m.ingest = kind%shapeCount == shapeValid
		add("ce-specversion", "1.0")
		add("ce-id", m.id)
		add("ce-source", "pim://akeneo/hostile")
		add("ce-type", "asset.published")
		add("content-type", "application/json")
		m.body, _ = json.Marshal(map[string]string{"src": "https://media.example-pim.com/" + asset + ".jpg", "name": asset})
		fill(hdrRoom - rng.IntN(256))
	case shapeBigBody:
		fill(rng.IntN(1024))
		m.body = []byte(repeat(string(body)+value, maxPayload-b.Len()-len("NATS/1.0\r\n\r\n")-rng.IntN(4096)))
	case shapeJunk:
		for range rng.IntN(200) {
			k := junk(rng, 1+rng.IntN(40), ":\r\n")
			if strings.TrimLeft(k, " \t") == "" {
				continue
			}
			if !add(k, junk(rng, rng.IntN(200), "\r\n")) {
				break
			}
		}
	case shapeBare:
		return m
	case shapeHugeAttributes:
		n := (maxPayload - 4096) / 4
		m.body, _ = json.Marshal(map[string]any{
			"specversion": "1.0", "id": repeat(value, n/3), "source": repeat(name, n/3), "type": "not.ours",
			"data": map[string]string{"name": repeat("<"+value, n/3), "src": "https://x.example.com/a.jpg"},
		})
	case shapeHugeValid:
		m.id, m.ingest = repeat("id"+uniq+"-", events.MaxAttributeBytes), true
		m.body, _ = json.Marshal(map[string]any{
			"specversion": "1.0", "id": m.id, "source": repeat("pim://akeneo/"+alnum(name), events.MaxAttributeBytes),
			"type": "asset.published", "padding": repeat(alnum(value)+"p", maxPayload-3*events.MaxAttributeBytes),
			"data": map[string]string{"name": "hostile-" + uniq, "src": "https://media.example-pim.com/h.jpg"},
		})
		fill(rng.IntN(2048))
	}
	m.header = b.String()
	if b.Len() == 0 && m.header == "" && kind%shapeCount != shapeBare {
		add("X", "1")
		m.header = b.String()
	}
	if room := maxPayload - len(m.header) - len("NATS/1.0\r\n\r\n"); len(m.body) > room {
		m.body = m.body[:max(room, 0)]
	}
	return m
}

// alnum keeps the ASCII letters and digits of s.
func alnum(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x80 && (r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return r
		}
		return -1
	}, s)
}

func repeat(s string, n int) string {
	if n <= 0 || s == "" {
		return ""
	}
	return strings.Repeat(s, n/len(s)+1)[:n]
}

// junk returns n random bytes, none of them in not.
func junk(rng *rand.Rand, n int, not string) string {
	out := make([]byte, 0, n)
	for len(out) < n {
		c := byte(rng.UintN(256))
		if strings.IndexByte(not, c) < 0 {
			out = append(out, c)
		}
	}
	return string(out)
}

// hostileEnv is a running service with a raw publisher and a record of every dead letter and
// ingested completion the service publishes.
type hostileEnv struct {
	*servicetest.Env
	raw        *rawPublisher
	maxPayload int

	mu       sync.Mutex
	dead     map[string]int // Ingest-Original-Sequence -> dead letters seen
	ingested map[string]int // event id -> asset.ingested seen
}

func startHostile(tb testing.TB) *hostileEnv {
	tb.Helper()
	e := servicetest.Start(tb, servicetest.Options{Env: map[string]string{"LOG_LEVEL": "warn"}})
	e.Sandbox.AddFault(sandbox.Fault{Match: rejectMarker, Status: 400, GraphQLError: "refused by the API", Code: "BAD_USER_INPUT"})
	h := &hostileEnv{Env: e, maxPayload: int(e.NC.MaxPayload()), dead: map[string]int{}, ingested: map[string]int{}}
	sub, err := e.NC.Subscribe("assets.>", func(m *nats.Msg) {
		h.mu.Lock()
		defer h.mu.Unlock()
		switch {
		case strings.HasPrefix(m.Subject, "assets.dlq."):
			h.dead[m.Header.Get(events.HeaderOriginalSequence)]++
		case strings.HasPrefix(m.Subject, "assets.ingested."):
			var c completion
			if json.Unmarshal(m.Data, &c) == nil {
				h.ingested[c.Data.EventID]++
			}
		}
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = sub.Unsubscribe() })
	h.raw = newRawPublisher(tb, e)
	return h
}

// check publishes m and waits until it ends as one outcome; it fails tb when it ends as none
// or several, or when the replica paused.
func (h *hostileEnv) check(tb testing.TB, m hostileMsg) {
	tb.Helper()
	seq, ok := h.raw.publish(tb, "assets.published.akeneo", m.header, m.body)
	if !ok {
		return // refused by the inbound stream: nothing to settle
	}
	key := strconv.FormatUint(seq, 10)
	outcomes := func() int {
		h.mu.Lock()
		defer h.mu.Unlock()
		n := h.dead[key]
		if m.id != "" {
			n += h.ingested[m.id]
		}
		return n
	}
	servicetest.WaitFor(tb, wait, "an outcome for inbound message "+key, func() bool { return outcomes() > 0 }, h.Logs)
	if n := outcomes(); n != 1 {
		tb.Errorf("inbound message %s ended as %d outcomes, want 1", key, n)
	}
	h.mu.Lock()
	ingested := h.ingested[m.id]
	h.mu.Unlock()
	if m.ingest && ingested != 1 {
		tb.Errorf("the valid event of inbound message %s was not ingested", key)
	}
	for _, line := range strings.Split(h.Logs.String(), "\n") {
		if strings.Contains(line, `"msg":"systemic failure"`) {
			tb.Fatalf("the replica paused: %.2000s", line)
		}
	}
}

// TestSpec_NoMessageStopsTheService publishes hostile messages of every shape, with sizes and
// counts chosen by a seeded generator: each ends as ingested or exactly one dead letter, and
// the replica never pauses (SPEC "No message can stop the service").
func TestSpec_NoMessageStopsTheService(t *testing.T) {
	t.Parallel()
	h := startHostile(t)
	rng := rand.New(rand.NewPCG(12, 1))
	for i := range 3 * shapeCount {
		kind := uint8(i % shapeCount)
		t.Run(fmt.Sprintf("shape%d-%d", kind, i), func(t *testing.T) {
			m := hostileMessage(kind, rng, junk(rng, 1+rng.IntN(12), ""), junk(rng, 1+rng.IntN(12), ""),
				[]byte(junk(rng, rng.IntN(64), "")), h.maxPayload, strconv.Itoa(i))
			h.check(t, m)
		})
	}
	if code, body := h.Get("/readyz"); code != 200 {
		t.Errorf("/readyz %d %s after the hostile messages", code, body)
	}
	// Every dead letter stored is the only one of its inbound message.
	seen := map[string]int{}
	for _, m := range h.Messages(dlqStream) {
		seen[m.Header.Get(events.HeaderOriginalSequence)]++
	}
	for seq, n := range seen {
		if n != 1 {
			t.Errorf("the dead-letter stream holds %d dead letters of inbound message %s", n, seq)
		}
	}
}

// FuzzNoMessageStopsTheService is TestSpec_NoMessageStopsTheService driven by the fuzzer:
// go test ./test/conformance -run '^$' -fuzz FuzzNoMessageStopsTheService -fuzztime 2m
func FuzzNoMessageStopsTheService(f *testing.F) {
	for kind := range uint8(shapeCount) {
		f.Add(kind, uint64(kind), "Name", "value", []byte(`{"specversion":"1.0"}`))
	}
	h := startHostile(f)
	var n int
	f.Fuzz(func(t *testing.T, kind uint8, seed uint64, name, value string, body []byte) {
		n++
		rng := rand.New(rand.NewPCG(seed, 2))
		h.check(t, hostileMessage(kind, rng, name, value, body, h.maxPayload, "fuzz-"+strconv.Itoa(n)+"-"+strconv.FormatUint(seed, 16)))
	})
}

// rawPublisher publishes header blocks as written, through the NATS protocol, as a publisher
// whose client checks nothing would, and reads the stream's acknowledgement.
type rawPublisher struct {
	mu    sync.Mutex
	conn  net.Conn
	r     *bufio.Reader
	inbox string
	acks  chan *nats.Msg
}

func newRawPublisher(tb testing.TB, e *servicetest.Env) *rawPublisher {
	tb.Helper()
	p := &rawPublisher{inbox: nats.NewInbox(), acks: make(chan *nats.Msg, 1)}
	sub, err := e.NC.ChanSubscribe(p.inbox, p.acks)
	if err != nil {
		tb.Fatal(err)
	}
	if err := e.NC.Flush(); err != nil {
		tb.Fatal(err)
	}
	conn, err := net.Dial("tcp", e.Server.Addr().String())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = sub.Unsubscribe(); _ = conn.Close() })
	p.conn, p.r = conn, bufio.NewReader(conn)
	if _, err := p.r.ReadString('\n'); err != nil { // INFO
		tb.Fatal(err)
	}
	fmt.Fprintf(conn, "CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,\"protocol\":1}\r\n")
	return p
}

// publish sends one message and returns its inbound sequence; ok is false when the stream
// refused it.
func (p *rawPublisher) publish(tb testing.TB, subject, headerLines string, body []byte) (seq uint64, ok bool) {
	tb.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	hdr := "NATS/1.0\r\n" + headerLines + "\r\n"
	_ = p.conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(p.conn, "HPUB %s %s %d %d\r\n%s%s\r\nPING\r\n", subject, p.inbox, len(hdr), len(hdr)+len(body), hdr, body)
	for {
		line, err := p.r.ReadString('\n')
		if err != nil || strings.HasPrefix(line, "-ERR") {
			tb.Fatalf("raw publish: %q %v", line, err)
		}
		if strings.HasPrefix(line, "PONG") {
			break
		}
		if strings.HasPrefix(line, "PING") {
			fmt.Fprintf(p.conn, "PONG\r\n")
		}
		// INFO updates and anything else the server says are not the answer.
	}
	select {
	case m := <-p.acks:
		var ack struct {
			Seq   uint64          `json:"seq"`
			Error json.RawMessage `json:"error"`
		}
		if err := json.Unmarshal(m.Data, &ack); err != nil {
			tb.Fatalf("stream acknowledgement %q: %v", m.Data, err)
		}
		return ack.Seq, ack.Error == nil && ack.Seq > 0
	case <-time.After(10 * time.Second):
		tb.Fatal("no acknowledgement from the inbound stream")
		return 0, false
	}
}

// SPEC "No message can stop the service", on the advisory path: an event JetStream gave up on
// (a 429 storm spends no attempt, so only MaxDeliver stops it) whose headers fill the server's
// header limit is dead-lettered as exhausted, its largest original headers left out and listed,
// and the replica never pauses.
func TestSpec_NoMessageStopsTheService_AdvisoryPath(t *testing.T) {
	t.Parallel()
	e := prepared(t, inboundConfig(), nil)
	e.Config.MaxDeliver, e.Config.MaxAttempts = 3, 3
	e.StartService()
	e.Sandbox.AddFault(sandbox.Fault{Match: "storm-headers", Status: 429})
	ev := servicetest.NewEvent("storm-headers")
	ev.Header = nats.Header{}
	for i := 0; len(ev.Header)*120 < events.MaxHeaderBytes-2048; i++ {
		ev.Header.Set("Nats-Pad-"+strconv.Itoa(i), strings.Repeat("p", 100))
	}
	seq := e.Publish(ev.Msg())
	dl := waitDeadLetterOf(t, e, seq)
	if got := dl.Header.Get("Ingest-Error-Class"); got != "exhausted" {
		t.Errorf("Ingest-Error-Class %q, want exhausted", got)
	}
	if !strings.HasPrefix(dl.Header.Get("Ingest-Dropped-Headers"), `"Ingest-Original-Nats-Pad-`) {
		t.Errorf("Ingest-Dropped-Headers %.200q does not list the left-out headers", dl.Header.Get("Ingest-Dropped-Headers"))
	}
	if strings.Contains(e.Logs.String(), `"msg":"systemic failure"`) {
		t.Errorf("the message paused the replica")
	}
}
