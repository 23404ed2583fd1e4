package soak_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/natstest"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/sandbox"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/servicetest"
)

var (
	enabled     = flag.Bool("soak", false, "run TestSoak")
	numEvents   = flag.Int("soak.events", 100_000, "valid events to publish")
	duration    = flag.Duration("soak.duration", 35*time.Minute, "how long events are published, evenly, and faults injected")
	faultEvery  = flag.Duration("soak.fault-every", time.Second, "mean time between two faults (exponentially distributed)")
	seedFlag    = flag.Uint64("soak.seed", 0, "random seed; 0 picks one (it is printed)")
	headerBytes = flag.Int("soak.header-bytes", 16<<10, "size of the header block of each huge-headers hostile message")
	settleFor   = flag.Duration("soak.settle", 5*time.Minute, "how long to wait, after the faults stop, for the consumer to hold nothing")
	raceFlag    = flag.Bool("soak.race", false, "build the replicas with the race detector (a race they report fails the test)")
	logDir      = flag.String("soak.logs", "", "directory for the replicas' logs (default: a temporary one, removed after the test)")
)

const replicas, nodes = 3, 3

// faultKind is one kind of fault: inject does it and reports whether it could (a NATS node
// restart waits until the cluster is whole again, for instance).
type faultKind struct {
	name   string
	weight int
	inject func() bool
}

// pending is a restart due at a time.
type pending struct {
	at   time.Time
	what string
	do   func()
}

func TestSoak(t *testing.T) {
	if !*enabled {
		t.Skip("the soak test runs only with -soak; see the README")
	}
	seed := *seedFlag
	if seed == 0 {
		seed = rand.Uint64()
	}
	t.Logf("soak: seed %d (-soak.seed=%d repeats the choices), %d events over %v, a fault every %v on average, hostile header blocks of %d bytes",
		seed, seed, *numEvents, *duration, *faultEvery, *headerBytes)
	rng := rand.New(rand.NewPCG(seed, seed^0x5eed))
	setupBegan := time.Now()

	logs := *logDir
	if logs == "" {
		logs = t.TempDir()
	} else if err := os.MkdirAll(logs, 0o755); err != nil {
		t.Fatalf("creating the log directory: %v", err)
	}
	t.Logf("replica logs in %s", logs)
	bin := buildConsumer(t, t.TempDir(), *raceFlag)
	sb, sbURL := startSandbox(t)
	cl := natstest.RunCluster(t, nodes)
	nc, js := connect(t, cl)
	rs := &replicaSet{t: t, bin: bin, logs: logs, live: make([]*replica, replicas), env: map[string]string{
		"NATS_URL":                      cl.URLs(),
		"NATS_STREAM_REPLICAS":          "3",
		"AMPLIENCE_API_URL":             sbURL + "/graphql",
		"AMPLIENCE_AUTH_URL":            sbURL + "/oauth/token",
		"AMPLIENCE_CLIENT_ID":           servicetest.ClientID,
		"AMPLIENCE_CLIENT_SECRET":       servicetest.ClientSecret,
		"AMPLIENCE_ASSET_REPOSITORY_ID": servicetest.Repository,
		"AMPLIENCE_RATE_LIMIT":          "0",
		"AMPLIENCE_TIMEOUT":             "2s",
		"INGEST_ACK_WAIT":               "6s",
		"INGEST_CONCURRENCY":            "8",
		"INGEST_MAX_ATTEMPTS":           "10",
		"INGEST_BACKOFF_BASE":           "50ms",
		"INGEST_BACKOFF_MAX":            "1s",
		"HTTP_ADDR":                     "127.0.0.1:0",
		"LOG_LEVEL":                     "warn",
		"OTEL_TRACES_EXPORTER":          "none",
	}}
	for i := range replicas {
		rs.start(i)
	}
	waitResources(t, js)
	began := time.Now()
	setup := began.Sub(setupBegan)

	// The publisher spreads the valid events evenly over the duration.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var published atomic.Int64
	pubDone := make(chan error, 1)
	go func() {
		start := time.Now()
		for i := range *numEvents {
			if d := time.Until(start.Add(time.Duration(float64(*duration) * float64(i) / float64(*numEvents)))); d > 0 {
				time.Sleep(d) // pacing, not synchronisation
			}
			if _, err := publish(ctx, js, eventMsg(i)); err != nil {
				pubDone <- fmt.Errorf("event %d: %w", i, err)
				return
			}
			published.Add(1)
		}
		pubDone <- nil
	}()

	// Faults.
	injected := map[string]int{}
	var restarts []pending
	hostileN, hostileRefused := 0, map[string]int{}
	var problems []string // things that went wrong during the run (a replica exiting by itself)
	// API faults match every request, probes included. A paused replica spends them only with
	// its probes, so they are not stacked: a new one waits until at most one is left. Like an
	// outage, each lasts a few seconds at most (it ends sooner once its requests are spent): a
	// replica that starts, or is paused, while it lasts probes until it is over.
	apiFault := func(f sandbox.Fault) func() bool {
		return func() bool {
			if len(sb.Faults()) > 1 {
				return false
			}
			sb.AddFault(f)
			restarts = append(restarts, pending{at: time.Now().Add(time.Second + time.Duration(rng.Int64N(int64(9*time.Second)))),
				what: "API recovery", do: sb.ClearFaults})
			return true
		}
	}
	hostile := func(kind string) func() bool {
		return func() bool {
			hostileN++
			_, err := publish(ctx, js, hostileMsg(rng, kind, hostileN, *headerBytes))
			if errors.Is(err, errRefused) {
				hostileRefused[kind]++
				return true
			}
			if err != nil {
				t.Fatalf("publishing a hostile message: %v", err)
			}
			return true
		}
	}
	nodeDown := false
	kinds := []faultKind{
		{name: "replica kill -9", weight: 10, inject: func() bool {
			var up []int
			for i, r := range rs.live {
				if r != nil {
					up = append(up, i)
				}
			}
			if len(up) == 0 {
				return false
			}
			slot := up[rng.IntN(len(up))]
			rs.live[slot].kill()
			rs.live[slot] = nil
			restarts = append(restarts, pending{at: time.Now().Add(time.Duration(rng.Int64N(int64(2 * time.Second)))), what: "replica", do: func() { rs.start(slot) }})
			return true
		}},
		{name: "NATS node restart", weight: 6, inject: func() bool {
			if nodeDown || !cl.Whole() {
				return false
			}
			i := rng.IntN(nodes)
			cl.Stop(i)
			nodeDown = true
			restarts = append(restarts, pending{at: time.Now().Add(500*time.Millisecond + time.Duration(rng.Int64N(int64(4500*time.Millisecond)))), what: "node", do: func() {
				cl.Start(i)
				nodeDown = false
			}})
			return true
		}},
		{name: "API 5xx", weight: 14, inject: func() bool {
			return apiFault(sandbox.Fault{Status: []int{500, 502, 503, 504}[rng.IntN(4)], Times: 1 + rng.IntN(8)})()
		}},
		{name: "API 5xx after creating (answer lost)", weight: 5, inject: func() bool {
			return apiFault(sandbox.Fault{CreateThenFail: true, Times: 1 + rng.IntN(3)})()
		}},
		{name: "API 429 storm", weight: 8, inject: func() bool {
			return apiFault(sandbox.Fault{Status: http.StatusTooManyRequests, RetryAfter: "1", Times: 5 + rng.IntN(30)})()
		}},
		{name: "API hang", weight: 8, inject: func() bool {
			return apiFault(sandbox.Fault{Hang: true, Times: 1 + rng.IntN(4)})()
		}},
		{name: "tokens expired", weight: 8, inject: func() bool { sb.ExpireTokens(); return true }},
		{name: hostileInvalid, weight: 15, inject: hostile(hostileInvalid)},
		{name: hostileJunk, weight: 10, inject: hostile(hostileJunk)},
		{name: hostileHuge, weight: 8, inject: hostile(hostileHuge)},
	}
	totalWeight := 0
	for _, k := range kinds {
		totalWeight += k.weight
	}
	pick := func() faultKind {
		n := rng.IntN(totalWeight)
		for _, k := range kinds {
			if n < k.weight {
				return k
			}
			n -= k.weight
		}
		panic("unreachable")
	}
	gap := func() time.Duration { return time.Duration(rng.ExpFloat64() * float64(*faultEvery)) }
	runDue := func(now time.Time, all bool) {
		keep := restarts[:0]
		for _, p := range restarts {
			if all || !now.Before(p.at) {
				p.do()
			} else {
				keep = append(keep, p)
			}
		}
		restarts = keep
	}
	checkExits := func() {
		for i, r := range rs.live {
			if r != nil && r.exited() && !r.killed.Load() {
				problems = append(problems, fmt.Sprintf("replica %d exited by itself at %s: %v (see %s/replica-%d.log)", i, time.Now().UTC().Format(time.RFC3339), r.err, logs, i))
				t.Errorf("%s", problems[len(problems)-1])
				rs.start(i)
			}
		}
	}

	next := time.Now().Add(gap())
	lastProgress := time.Now()
	var pubErr error
	publishing := true
	for publishing {
		select {
		case pubErr = <-pubDone:
			publishing = false
			continue
		default:
		}
		now := time.Now()
		runDue(now, false)
		checkExits()
		if !now.Before(next) {
			for range 5 { // another kind when this one cannot be injected now
				if k := pick(); k.inject() {
					injected[k.name]++
					break
				}
			}
			next = now.Add(gap())
		}
		if now.Sub(lastProgress) >= 30*time.Second {
			lastProgress = now
			t.Logf("%s: %d/%d events published, %d faults injected; %s", now.Sub(began).Round(time.Second), published.Load(), *numEvents, sum(injected), progress(js))
		}
		time.Sleep(10 * time.Millisecond) // the fault clock's resolution
	}
	publishedAt := time.Since(began)
	if pubErr != nil {
		t.Fatalf("the publisher stopped: %v", pubErr)
	}

	// Heal: no more API faults, every node and replica back.
	sb.ClearFaults()
	runDue(time.Now(), true)
	cl.WaitWhole(2 * time.Minute)
	checkExits()
	t.Logf("faults stopped after %v; %s", publishedAt.Round(time.Second), progress(js))

	settled := waitSettled(t, js, *settleFor, checkExits)
	settledAt := time.Since(began)
	for _, r := range rs.live {
		if err := r.stop(30 * time.Second); err != nil {
			t.Errorf("%v", err)
		}
	}
	stoppedAt := time.Since(began)
	tl := readTally(t, js, sb)
	nc.Close()

	var report strings.Builder
	fmt.Fprintf(&report, "soak: seed %d, %d replicas (race detector: %t), %d NATS nodes (streams R3), %d events over %v, header blocks of %d bytes\n", seed, replicas, *raceFlag, nodes, *numEvents, *duration, *headerBytes)
	fmt.Fprintf(&report, "faults injected: %d in %v (%d consumer run processes started)\n", sum(injected), publishedAt.Round(time.Second), rs.runs)
	for _, k := range kinds {
		fmt.Fprintf(&report, "  %-40s %6d\n", k.name, injected[k.name])
	}
	for _, k := range slices.Sorted(maps.Keys(hostileRefused)) {
		fmt.Fprintf(&report, "  (%s refused by JetStream at publish: %d)\n", k, hostileRefused[k])
	}
	tl.report(&report)
	fmt.Fprintf(&report, "time: %v to build and start, %v publishing with faults, %v to settle, %v to stop the replicas, %v to check\n",
		setup.Round(time.Second), publishedAt.Round(time.Second), (settledAt - publishedAt).Round(time.Second),
		(stoppedAt - settledAt).Round(time.Second), (time.Since(began) - stoppedAt).Round(time.Second))
	violations := tl.check(*numEvents)
	if !settled {
		violations = append(violations, fmt.Sprintf("the consumer still held messages %v after the faults stopped", *settleFor))
	}
	violations = append(violations, problems...)
	for i := range replicas {
		b, err := os.ReadFile(filepath.Join(logs, fmt.Sprintf("replica-%d.log", i)))
		if err != nil {
			t.Errorf("reading the replica log: %v", err)
		}
		if n := strings.Count(string(b), "WARNING: DATA RACE"); n > 0 {
			violations = append(violations, fmt.Sprintf("replica %d reported %d data races (see %s/replica-%d.log)", i, n, logs, i))
		}
	}
	if len(violations) == 0 {
		fmt.Fprintf(&report, "outcome: every event has exactly one asset or one dead letter, no asset twice, nothing lost\n")
	} else {
		fmt.Fprintf(&report, "outcome: %d violations\n", len(violations))
	}
	t.Log("\n" + report.String())
	for i, v := range violations {
		if i == 50 {
			t.Errorf("... and %d more", len(violations)-50)
			break
		}
		t.Errorf("%s", v)
	}
}

// waitSettled waits until the consumer has held nothing (no message pending, none unacked) for
// five checks in a row, a second apart, or timeout passes; it reports which.
func waitSettled(t *testing.T, js jetstream.JetStream, timeout time.Duration, each func()) bool {
	t.Helper()
	deadline := time.Now().Add(timeout)
	quiet := 0
	for time.Now().Before(deadline) {
		each()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		c, err := js.Consumer(ctx, "ASSETS", "asset-ingest")
		var ci *jetstream.ConsumerInfo
		if err == nil {
			ci, err = c.Info(ctx)
		}
		cancel()
		if err == nil && ci.NumPending == 0 && ci.NumAckPending == 0 {
			quiet++
			if quiet == 5 {
				return true
			}
		} else {
			quiet = 0
		}
		time.Sleep(time.Second) // polling the consumer's state
	}
	t.Logf("not settled after %v: %s", timeout, progress(js))
	return false
}

// progress says what the streams and the consumer hold, for the log.
func progress(js jetstream.JetStream) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	msgs := func(name string) string {
		s, err := js.Stream(ctx, name)
		if err != nil {
			return "?"
		}
		info, err := s.Info(ctx)
		if err != nil {
			return "?"
		}
		return fmt.Sprint(info.State.Msgs)
	}
	pending := "?"
	if c, err := js.Consumer(ctx, "ASSETS", "asset-ingest"); err == nil {
		if ci, err := c.Info(ctx); err == nil {
			pending = fmt.Sprintf("%d pending, %d unacked, %d redelivered", ci.NumPending, ci.NumAckPending, ci.NumRedelivered)
		}
	}
	return fmt.Sprintf("inbound %s, results %s, dead letters %s; consumer %s", msgs("ASSETS"), msgs("ASSET_RESULTS"), msgs("ASSETS_DLQ"), pending)
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
