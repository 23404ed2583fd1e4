package gqlapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// BatchOptions configures a [Batcher].
type BatchOptions struct {
	// Size is the most createAsset fields one request carries, 1 to MaxBatchSize; 0 means 1.
	Size int
	// MaxInFlight bounds the requests the Batcher has in flight at once; 0 means 1.
	MaxInFlight int
	// TracerProvider makes each member's span; nil means the global one.
	TracerProvider trace.TracerProvider
	// MeterProvider records the events per request and the batch size; nil means the global
	// one.
	MeterProvider metric.MeterProvider
	// Logger receives one record per request carrying more than one event; nil discards.
	Logger *slog.Logger
}

// growAfter is the number of requests executed in a row at a lowered batch size before it
// doubles again.
const growAfter = 8

// Batcher creates assets through a Client, sharing one request among the calls that wait at
// the same time: for a slot of the request budget, or for one of its bounded requests in
// flight. The first pages of searches (FindByName) share requests the same way; a request
// carries creates or searches, never both. A lone call is sent at once, never held back to
// fill a batch. It is safe for concurrent use and needs no closing: its goroutines end when no
// call waits.
//
// A shared request that is not full never starts while another such request is in flight: the
// calls that arrive meanwhile wait for it to end and then share the next request, as Nagle's
// algorithm gathers small writes while one is unacknowledged. Full batches, and calls marked
// [Alone], go beside it up to MaxInFlight; an Alone call (a retry, perhaps of an input that
// makes requests hang) holds up no other call. So a trickle of calls costs one request per
// call, as it must, while calls that arrive faster than the API answers fill requests instead
// of taking more of them.
//
// Each call keeps a span of its own (its alias and the batch size, linked to the request's
// client span); a call marked with [Alone] gets a request of its own. A request refused before
// execution (HTTP 400 or 403 naming no member, or COMPLEXITY_LIMIT_EXCEEDED) executed nothing:
// its members are sent again in smaller requests, their callers none the wiser, and the batch
// size halves; it doubles again after requests that succeed, never back to a size refused as
// too complex.
type Batcher struct {
	c      *Client
	max    int
	slots  int           // the most requests in flight
	ready  chan struct{} // wakes the sender: a request ended, or a full batch waits
	tracer trace.Tracer
	log    *slog.Logger
	size   metric.Int64Histogram
	limit  metric.Int64Gauge

	mu       sync.Mutex
	queue    []*member
	inflight int                // requests sent and not yet answered
	partial  int                // of those, shared requests that were not full
	running  bool               // the sender goroutine runs
	stopWait context.CancelFunc // ends the sender's wait for the budget; set while it waits
	current  int                // the batch size now
	refused  int                // the smallest size refused, 0 when none was
	streak   int                // requests executed since the size last changed
}

// member is one call waiting in, or sent by, the Batcher: a createAsset, or the first page of
// a search. A request carries members of one kind only.
type member struct {
	ctx    context.Context
	alone  bool // sent in a request of its own (see Alone)
	in     CreateAssetInput
	search *searchArgs // a search's, when not nil
	span   trace.Span
	done   chan memberResult // buffered; receives exactly one result once sent
	sent   bool              // taken into a request (guarded by Batcher.mu)
}

// op names the member's operation in its errors.
func (m *member) op() string {
	if m.search != nil {
		return "FindAssetsByName"
	}
	return "CreateAsset"
}

// memberResult is a member's outcome: a created asset, or a search's first page.
type memberResult struct {
	BatchResult
	page *FindAssetsByNameAssetSearchAssetConnection
}

func failed(err error) memberResult { return memberResult{BatchResult: BatchResult{Err: err}} }

// NewBatcher returns a Batcher sending through c.
func NewBatcher(c *Client, o BatchOptions) (*Batcher, error) {
	if o.Size < 0 || o.Size > MaxBatchSize || o.MaxInFlight < 0 {
		return nil, fmt.Errorf("gqlapi: batch size %d must be 1 to %d and requests in flight %d not negative", o.Size, MaxBatchSize, o.MaxInFlight)
	}
	size, inflight := max(o.Size, 1), max(o.MaxInFlight, 1)
	tp, mp := o.TracerProvider, o.MeterProvider
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	meter := mp.Meter(instrumentationName)
	hist, err := meter.Int64Histogram("amplience.client.request.events",
		metric.WithUnit("{event}"),
		metric.WithDescription("Events (createAsset fields) carried by each createAsset request."),
		metric.WithExplicitBucketBoundaries(1, 2, 5, 10, 25, 50, 100))
	if err != nil {
		return nil, fmt.Errorf("gqlapi: creating the batch histogram: %w", err)
	}
	limit, err := meter.Int64Gauge("amplience.client.batch.size",
		metric.WithUnit("{event}"),
		metric.WithDescription("The most createAsset fields the next request may carry (lowered after refusals)."))
	if err != nil {
		return nil, fmt.Errorf("gqlapi: creating the batch size gauge: %w", err)
	}
	b := &Batcher{c: c, max: size, slots: inflight, ready: make(chan struct{}, 1),
		tracer: tp.Tracer(instrumentationName), log: log, size: hist, limit: limit, current: size}
	b.limit.Record(context.Background(), int64(size))
	return b, nil
}

// FindByName is the Client's FindByName, reading the search's first page in a request it may
// share with other waiting searches; later pages take requests of their own.
func (b *Batcher) FindByName(ctx context.Context, repositoryID, name string, createdSince time.Time) ([]Asset, error) {
	if err := checkSearch(repositoryID, name); err != nil {
		return nil, err
	}
	r := b.call(ctx, "FindAssetsByName member", &member{search: &searchArgs{repositoryID: repositoryID, name: name}})
	if r.Err != nil {
		return nil, r.Err
	}
	return b.c.findByName(ctx, repositoryID, name, createdSince, r.page)
}

// Size returns the batch size now: the configured one, or less after refusals.
func (b *Batcher) Size() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.current
}

// CreateAsset creates one asset, in a request it may share with other waiting calls. Its
// results are those of [Client.CreateAsset]; an error wrapping ErrNotSent means ctx ended (or
// the budget closed) before the call was sent.
func (b *Batcher) CreateAsset(ctx context.Context, in CreateAssetInput) (Asset, error) {
	r := b.call(ctx, "CreateAsset member", &member{in: in})
	return r.Asset, r.Err
}

// call queues m under a span of its own, named spanName, and returns its result.
func (b *Batcher) call(ctx context.Context, spanName string, m *member) memberResult {
	ctx, span := b.tracer.Start(ctx, spanName, trace.WithSpanKind(trace.SpanKindInternal))
	defer span.End()
	_, m.alone = ctx.Value(aloneKey{}).(struct{})
	m.ctx, m.span, m.done = ctx, span, make(chan memberResult, 1)
	b.enqueue(m)
	var r memberResult
	select {
	case r = <-m.done:
	case <-ctx.Done():
		if b.withdraw(m) {
			r = failed(fmt.Errorf("%w: %w", ErrNotSent, canceled(m.op(), ctx)))
			break
		}
		select {
		case r = <-m.done:
		default:
			// In a request whose answer this caller no longer waits for.
			r = failed(canceled(m.op(), ctx))
		}
	}
	if r.Err != nil {
		span.SetAttributes(attribute.String("error.type", KindOf(r.Err).String()))
		span.SetStatus(codes.Error, r.Err.Error())
	}
	return r
}

// enqueue adds m to the queue and starts the sender when it is not running.
func (b *Batcher) enqueue(m *member) {
	b.mu.Lock()
	b.queue = append(b.queue, m)
	if len(b.queue) == b.current {
		b.wake()
	}
	b.startLocked()
}

// wake tells the sender to look again at whether a request may start.
func (b *Batcher) wake() {
	select {
	case b.ready <- struct{}{}:
	default: // already told
	}
}

// requeue puts the members of a request refused before execution back at the front of the
// queue, except those whose callers stopped waiting.
func (b *Batcher) requeue(batch []*member) {
	b.mu.Lock()
	var back []*member
	for _, m := range batch {
		if m.ctx.Err() == nil {
			m.sent = false
			back = append(back, m)
		}
	}
	b.queue = append(back, b.queue...)
	b.startLocked()
}

// startLocked starts the sender when it is not running, and unlocks b.mu.
func (b *Batcher) startLocked() {
	start := !b.running
	b.running = true
	b.mu.Unlock()
	if start {
		go b.run()
	}
}

// withdraw removes a member that was not sent yet; it reports whether it did.
func (b *Batcher) withdraw(m *member) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if m.sent {
		return false
	}
	for i, q := range b.queue {
		if q == m {
			b.queue = append(b.queue[:i], b.queue[i+1:]...)
			break
		}
	}
	if len(b.queue) == 0 && b.stopWait != nil {
		b.stopWait() // nobody is left to use the budget slot
	}
	return true
}

// run is the sender: for as long as calls wait, it takes a slot for a request in flight,
// then a slot of the request budget, then up to the batch size of the waiting calls, and
// sends them as one request.
func (b *Batcher) run() {
	for b.acquire() {
		waitCtx, cancel := context.WithCancel(context.Background())
		b.mu.Lock()
		b.stopWait = cancel
		b.mu.Unlock()

		var err error
		if l := b.c.gql.limiter; l != nil {
			err = l.Wait(waitCtx)
		}
		b.mu.Lock()
		b.stopWait = nil
		aborted := waitCtx.Err() != nil
		var batch []*member
		if !aborted {
			batch = b.take()
		}
		partial := len(batch) > 0 && len(batch) < b.current && !batch[0].alone
		if partial && err == nil {
			b.partial++
		}
		b.mu.Unlock()
		cancel()
		switch {
		case len(batch) == 0:
			b.release(false)
		case err != nil:
			b.release(false)
			for _, m := range batch {
				m.done <- failed(budgetError(m.op(), err))
			}
		default:
			go func() {
				defer b.release(partial)
				b.send(batch)
			}()
		}
	}
}

// acquire waits until a request may start, and counts it in flight: fewer than the most
// requests are in flight, and either no shared request that is not full is among them, or as
// many calls as a full batch holds wait (of either kind: the request may then carry fewer), or
// the next call is to be sent alone. It reports false, and marks the sender stopped, when no
// call waits.
func (b *Batcher) acquire() bool {
	for {
		b.mu.Lock()
		switch {
		case len(b.queue) == 0:
			b.running = false
			b.mu.Unlock()
			return false
		case b.inflight < b.slots && (b.partial == 0 || len(b.queue) >= b.current || b.queue[0].alone):
			b.inflight++
			b.mu.Unlock()
			return true
		}
		b.mu.Unlock()
		<-b.ready // a request in flight ends, and wakes the sender
	}
}

// release counts a request, or a slot taken for one that was not sent, out of flight;
// partial says the request was counted as shared and not full.
func (b *Batcher) release(partial bool) {
	b.mu.Lock()
	b.inflight--
	if partial {
		b.partial--
	}
	b.mu.Unlock()
	b.wake()
}

// take removes from the queue the members of the next request and marks them sent: its first
// member alone when that one is to be sent alone, otherwise up to the batch size of the others
// of the first one's kind (creates or searches), in order.
func (b *Batcher) take() []*member {
	if len(b.queue) == 0 {
		return nil
	}
	var batch []*member
	rest := b.queue[:0]
	for _, m := range b.queue {
		switch {
		case len(batch) == 0 && m.alone:
			batch = append(batch, m)
		case len(batch) < b.current && !m.alone &&
			(len(batch) == 0 || !batch[0].alone && (m.search == nil) == (batch[0].search == nil)):
			batch = append(batch, m)
		default:
			rest = append(rest, m)
		}
	}
	clear(b.queue[len(rest):])
	b.queue = rest
	for _, m := range batch {
		m.sent = true
	}
	return batch
}

type aloneKey struct{}

// Alone marks ctx's CreateAsset call to be sent by a Batcher in a request of its own. The
// caller marks the retries of an event whose earlier call failed: a request that fails as a
// whole fails every member, and a member that causes such failures must not take the same
// members down with it again.
func Alone(ctx context.Context) context.Context {
	return context.WithValue(ctx, aloneKey{}, struct{}{})
}

// send makes one request for batch, whose budget slot is taken, and hands each member its
// result.
func (b *Batcher) send(batch []*member) {
	batch = b.startable(batch)
	n := len(batch)
	if n == 0 {
		return
	}
	spans := &clientSpans{}
	for i, m := range batch {
		key := "createAsset"
		if m.search != nil {
			key = "assetSearch"
		}
		if n > 1 {
			key = alias(i)
		}
		m.span.SetAttributes(attribute.String("graphql.alias", key), attribute.Int("amplience.batch.size", n))
	}
	if batch[0].search == nil {
		b.size.Record(context.Background(), int64(n))
	}
	// Before the results: a member's span ends once it has its result.
	link := func() {
		links := spans.links()
		for _, m := range batch {
			for _, l := range links {
				m.span.AddLink(l)
			}
		}
	}

	if n == 1 {
		m := batch[0]
		r := b.one(withClientSpans(withBudgetTaken(m.ctx), spans), m)
		link()
		m.done <- r
		return
	}

	// The request outlives any one member's context: it ends when every member's has.
	ctx, cancel := context.WithCancel(trace.ContextWithSpan(context.Background(), batch[0].span))
	defer cancel()
	var left sync.WaitGroup
	left.Add(n)
	for _, m := range batch {
		stop := context.AfterFunc(m.ctx, left.Done)
		defer func() {
			if stop() {
				left.Done()
			}
		}()
	}
	go func() {
		left.Wait()
		cancel()
	}()
	ctx = withClientSpans(withBudgetTaken(ctx), spans)
	results, err := b.many(ctx, batch)
	link()
	if refused, ok := errors.AsType[errRefused](err); ok {
		b.lower(n, refused)
		b.requeue(batch)
		return
	}
	if err == nil {
		b.executed(n)
	}
	if b.log.Enabled(ctx, slog.LevelInfo) {
		b.log.Info("one request carried several events", "events", n, "batch_size", b.Size())
	}
	for i, m := range batch {
		if err != nil {
			m.done <- failed(err)
			continue
		}
		m.done <- results[i]
	}
}

// one sends the request of a lone member.
func (b *Batcher) one(ctx context.Context, m *member) memberResult {
	if m.search != nil {
		resp, err := FindAssetsByName(ctx, b.c.gql, m.search.repositoryID, m.search.name, "")
		if err != nil {
			return failed(err)
		}
		return memberResult{page: &resp.AssetSearch}
	}
	asset, err := b.c.CreateAsset(ctx, m.in)
	return memberResult{BatchResult: BatchResult{Asset: asset, Err: err}}
}

// many sends one request for the members of batch, all of one kind, and returns their results
// in order, or the failure of the whole request.
func (b *Batcher) many(ctx context.Context, batch []*member) ([]memberResult, error) {
	out := make([]memberResult, len(batch))
	if batch[0].search != nil {
		searches := make([]searchArgs, len(batch))
		for i, m := range batch {
			searches[i] = *m.search
		}
		pages, err := b.c.firstPages(ctx, searches)
		for i, p := range pages {
			out[i] = memberResult{BatchResult: BatchResult{Err: p.err}, page: p.page}
		}
		return out, err
	}
	ins := make([]CreateAssetInput, len(batch))
	for i, m := range batch {
		ins[i] = m.in
	}
	results, err := b.c.createAssets(ctx, ins)
	for i, r := range results {
		out[i].BatchResult = r
	}
	return out, err
}

// startable hands each member whose start check refuses (see WithStartCheck) its error, so
// that nothing is sent for it, and returns the others.
func (b *Batcher) startable(batch []*member) []*member {
	keep := batch[:0]
	for _, m := range batch {
		if err := CheckStart(m.ctx); err != nil {
			m.done <- failed(fmt.Errorf("%s: %w", m.op(), err))
			continue
		}
		keep = append(keep, m)
	}
	return keep
}

// lower halves the batch size after a request of n members was refused before execution.
func (b *Batcher) lower(n int, cause errRefused) {
	b.mu.Lock()
	if cause.complexity && (b.refused == 0 || n < b.refused) {
		b.refused = n
	}
	b.current = max(1, min(b.current, n/2))
	b.streak = 0
	size := b.current
	b.mu.Unlock()
	b.limit.Record(context.Background(), int64(size))
	b.log.Warn("the API refused a request before executing it; sending its events in smaller requests",
		"events", n, "batch_size", size, "error", cause.Error())
}

// executed counts a request of n members that the API executed, and grows the batch size back
// after enough of them: doubling, up to the configured size but below any size refused.
func (b *Batcher) executed(n int) {
	b.mu.Lock()
	if b.current >= b.max || n < b.current {
		b.mu.Unlock()
		return
	}
	b.streak++
	if b.streak < growAfter {
		b.mu.Unlock()
		return
	}
	next := min(b.max, 2*b.current)
	if b.refused > 0 {
		next = min(next, b.refused-1)
	}
	changed := next > b.current
	if changed {
		b.current, b.streak = next, 0
	}
	b.mu.Unlock()
	if changed {
		b.limit.Record(context.Background(), int64(next))
	}
}
