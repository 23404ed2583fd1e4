package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/sandbox"
	"github.com/amplience-ingest/asset-ingest-consumer/test/testbin"
)

var procsBacklog = flag.Int("procs-backlog", 1_000_000, "events published before BenchmarkProcesses/backlog starts its replica")

// BenchmarkProcesses runs the binaries as they are deployed (the consumer built as the
// Dockerfile builds it, see testbin.Deployed): a nats-server process built from
// the module's nats-server, the Amplience sandbox as `consumer sandbox`, events published with
// `consumer publish`, and `consumer run` replicas, each its own process. Memory is read from
// the replica's /proc entry.
//
//   - budget: three replicas sharing AMPLIENCE_RATE_LIMIT=5/s drain b.N events against a
//     sandbox that answers 429 above 30 requests per 5 s window; it reports the fraction of the
//     budget used, the 429s and the most requests in one window.
//   - restart: a replica at AMPLIENCE_RATE_LIMIT=60/m is stopped while its deliveries wait
//     for the budget, and a new one started; it reports how long the stop took and how long
//     the new replica took to ingest its first event (b.N is not used: -benchtime 1x).
//   - backlog: one replica processes b.N events of a backlog of -procs-backlog (a million by
//     default); it reports events/s, its RSS after the first second, at most of the samples
//     taken each second and at its peak (VmHWM), and the most goroutines it ran.
//   - bulk: one and three replicas in the default configuration (AMPLIENCE_RATE_LIMIT=60/m,
//     AMPLIENCE_BATCH_SIZE=25) drain a backlog of b.N events against a sandbox that answers 429
//     above 60 requests a minute, as Amplience does; it reports events/s, the 429s, the events
//     per request and the assets per event (the most of one name, and all of them over b.N).
//
// Use -benchtime 200x for budget (about 40 s), -benchtime 30000x for backlog and -benchtime
// 3000x for bulk (about two minutes per replica count).
func BenchmarkProcesses(b *testing.B) {
	bin := buildBinaries(b)
	b.Run("budget", func(b *testing.B) {
		const replicas, budget = 3, 5.0
		p := startProcesses(b, bin, "--rate-limit", "30", "--rate-window", "5s")
		p.publish(b, b.N)
		b.ResetTimer()
		start := time.Now()
		for range replicas {
			p.replica(b, map[string]string{"AMPLIENCE_RATE_LIMIT": "5/s"})
		}
		p.completions.wait(b, b.N, time.Duration(float64(b.N)/budget*2+30)*time.Second)
		elapsed := time.Since(start)
		b.StopTimer()
		st := p.sandboxStats(b)
		b.ReportMetric(float64(st.GraphQLRequests)/elapsed.Seconds()/budget, "budget-used")
		b.ReportMetric(float64(st.TooManyRequests), "429s")
		b.ReportMetric(float64(st.MaxPerWindow), "max-per-window")
		b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	})
	b.Run("restart", func(b *testing.B) {
		const budget = "60/m"
		p := startProcesses(b, bin)
		p.publish(b, 100)
		first := p.replica(b, map[string]string{"AMPLIENCE_RATE_LIMIT": budget})
		// A few calls made, the other deliveries in flight waiting for their slots.
		p.completions.wait(b, 3, time.Minute)
		b.ResetTimer()
		took, err := first.stop()
		if err != nil {
			b.Fatalf("%v\n%s", err, head(first.out.String(), 20))
		}
		done := p.completions.count()
		begin := time.Now()
		p.replica(b, map[string]string{"AMPLIENCE_RATE_LIMIT": budget})
		p.completions.wait(b, done+1, 2*time.Minute)
		again := time.Since(begin)
		b.StopTimer()
		b.ReportMetric(float64(took.Milliseconds()), "stop-ms")
		b.ReportMetric(float64(again.Milliseconds()), "restart-first-ms")
	})
	b.Run("bulk", func(b *testing.B) {
		for _, replicas := range []int{1, 3} {
			b.Run(fmt.Sprintf("replicas-%d", replicas), func(b *testing.B) {
				p := startProcesses(b, bin, "--rate-limit", "60", "--rate-window", "1m")
				p.publish(b, b.N)
				b.ResetTimer()
				start := time.Now()
				for range replicas {
					p.replica(b, map[string]string{})
				}
				p.completions.wait(b, b.N, time.Duration(b.N/5+120)*time.Second)
				elapsed := time.Since(start)
				b.StopTimer()
				st := p.sandboxStats(b)
				perName := map[string]int{}
				most := 0
				for _, a := range p.sandboxAssets(b) {
					perName[a.Name]++
					most = max(most, perName[a.Name])
				}
				requests := st.ByOperation["CreateAsset"] + st.ByOperation["CreateAssets"]
				b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
				b.ReportMetric(float64(st.TooManyRequests), "429s")
				b.ReportMetric(float64(st.ByRootField["createAsset"])/float64(max(requests, 1)), "events/request")
				b.ReportMetric(float64(most), "max-assets/name")
				b.ReportMetric(float64(len(perName))/float64(b.N), "names/event")
			})
		}
	})
	b.Run("backlog", func(b *testing.B) {
		p := startProcesses(b, bin)
		total := max(*procsBacklog, b.N)
		p.publish(b, total)
		b.ResetTimer()
		start := time.Now()
		rep := p.replica(b, map[string]string{"AMPLIENCE_RATE_LIMIT": "0"})
		var firstRSS, maxRSS int64
		maxG := 0
		done := make(chan struct{})
		var wg sync.WaitGroup
		b.Cleanup(func() {
			select {
			case <-done:
			default:
				close(done) // waitIngested failed
			}
			wg.Wait()
		})
		wg.Go(func() {
			t := time.NewTicker(time.Second)
			defer t.Stop()
			for {
				select {
				case <-done:
					return
				case <-t.C:
				}
				rss := procRSS(rep.cmd.Process.Pid)
				if firstRSS == 0 {
					firstRSS = rss
				}
				maxRSS = max(maxRSS, rss)
				maxG = max(maxG, int(rep.metric("go_goroutines")))
			}
		})
		p.completions.wait(b, b.N, time.Duration(b.N/100+60)*time.Second)
		elapsed := time.Since(start)
		close(done)
		wg.Wait()
		// The kernel's own high-water mark, between the samples too, taken before the stop.
		peak := procStatus(rep.cmd.Process.Pid, "VmHWM")
		b.StopTimer()
		b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
		b.ReportMetric(float64(firstRSS)/(1<<20), "rss-1s-MB")
		b.ReportMetric(float64(maxRSS)/(1<<20), "rss-max-MB")
		b.ReportMetric(float64(peak)/(1<<20), "rss-peak-MB")
		b.ReportMetric(float64(maxG), "max-goroutines")
		b.ReportMetric(float64(total), "backlog")
	})
}

// binaries are the programs BenchmarkProcesses runs.
type binaries struct{ consumer, natsServer string }

func buildBinaries(tb testing.TB) binaries {
	tb.Helper()
	dir := tb.TempDir()
	var bin binaries
	var err error
	if bin.consumer, err = testbin.Deployed(dir, "./cmd/consumer"); err != nil {
		tb.Fatal(err)
	}
	if bin.natsServer, err = testbin.Build(dir, "github.com/nats-io/nats-server/v2"); err != nil {
		tb.Fatal(err)
	}
	return bin
}

// processes is a nats-server and a sandbox, each its own process, and the replicas started on
// them; all are stopped when the benchmark ends.
type processes struct {
	bin     binaries
	natsURL string
	sbURL   string
	nc      *nats.Conn
	// completions records the asset.ingested events.
	completions *collector
}

func startProcesses(tb testing.TB, bin binaries, sandboxFlags ...string) *processes {
	tb.Helper()
	p := &processes{bin: bin}
	natsPort := freePort(tb)
	start(tb, "nats-server", nil, bin.natsServer, "-js", "-sd", tb.TempDir(), "-a", "127.0.0.1", "-p", strconv.Itoa(natsPort))
	p.natsURL = fmt.Sprintf("nats://127.0.0.1:%d", natsPort)
	sbAddr := fmt.Sprintf("127.0.0.1:%d", freePort(tb))
	start(tb, "sandbox", nil, bin.consumer, append([]string{"sandbox", "--addr", sbAddr, "--client-id", clientID, "--client-secret", clientSecret}, sandboxFlags...)...)
	p.sbURL = "http://" + sbAddr
	waitUntil(tb, 15*time.Second, "the sandbox to answer", func() bool { return httpOK(p.sbURL + "/healthz") })

	var err error
	waitUntil(tb, 15*time.Second, "nats-server to accept connections", func() bool {
		p.nc, err = nats.Connect(p.natsURL)
		return err == nil
	})
	tb.Cleanup(p.nc.Close)
	// A replica that starts and stops creates the streams, so the backlog can be published.
	initAddr := fmt.Sprintf("127.0.0.1:%d", freePort(tb))
	first := start(tb, "the replica creating the streams", p.env(map[string]string{"HTTP_ADDR": initAddr}), bin.consumer, "run")
	waitUntil(tb, 15*time.Second, "the first replica to be ready", func() bool { return httpOK("http://" + initAddr + "/readyz") })
	if _, err := first.stop(); err != nil {
		tb.Fatalf("%v\n%s", err, first.out.String())
	}

	p.completions = collectOn(tb, p.nc)
	return p
}

// env is the replicas' configuration plus extra.
func (p *processes) env(extra map[string]string) []string {
	vars := map[string]string{
		"NATS_URL":                      p.natsURL,
		"AMPLIENCE_API_URL":             p.sbURL + "/graphql",
		"AMPLIENCE_AUTH_URL":            p.sbURL + "/oauth/token",
		"AMPLIENCE_CLIENT_ID":           clientID,
		"AMPLIENCE_CLIENT_SECRET":       clientSecret,
		"AMPLIENCE_ASSET_REPOSITORY_ID": repository,
		"LOG_LEVEL":                     "warn",
		"PATH":                          os.Getenv("PATH"),
	}
	for k, v := range extra {
		vars[k] = v
	}
	out := make([]string, 0, len(vars))
	for k, v := range vars {
		out = append(out, k+"="+v)
	}
	return out
}

// publish publishes n events with `consumer publish`.
func (p *processes) publish(tb testing.TB, n int) {
	tb.Helper()
	cmd := exec.Command(p.bin.consumer, "publish", "--count", strconv.Itoa(n), "--subject", inboundSubject, "--repository", repository)
	cmd.Env = p.env(nil)
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("consumer publish --count %d: %v\n%s", n, err, out)
	}
}

// proc is a replica process.
type proc struct {
	*child
	httpAddr string
}

// replica starts `consumer run` with extra configuration and waits until it is ready.
func (p *processes) replica(tb testing.TB, extra map[string]string) *proc {
	tb.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(tb))
	extra["HTTP_ADDR"] = addr
	r := &proc{httpAddr: addr}
	r.child = start(tb, "replica", p.env(extra), p.bin.consumer, "run")
	waitUntil(tb, 15*time.Second, "the replica to be ready", func() bool { return httpOK("http://" + addr + "/readyz") })
	return r
}

// metric returns the value of an unlabelled metric of the replica's /metrics, 0 if absent.
func (r *proc) metric(name string) float64 {
	resp, err := http.Get("http://" + r.httpAddr + "/metrics")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return f
		}
	}
	return 0
}

// sandboxState reads the sandbox's assets and counters from its admin endpoint.
func (p *processes) sandboxState(tb testing.TB) sandbox.State {
	tb.Helper()
	resp, err := http.Get(p.sbURL + "/sandbox/state")
	if err != nil {
		tb.Fatalf("reading the sandbox state: %v", err)
	}
	defer resp.Body.Close()
	var state sandbox.State
	if err := json.NewDecoder(resp.Body).Decode(&state); err != nil {
		tb.Fatalf("decoding the sandbox state: %v", err)
	}
	return state
}

// sandboxStats reads the sandbox's counters.
func (p *processes) sandboxStats(tb testing.TB) sandbox.Stats {
	tb.Helper()
	return p.sandboxState(tb).Stats
}

// sandboxAssets reads the assets the sandbox created.
func (p *processes) sandboxAssets(tb testing.TB) []sandbox.Asset {
	tb.Helper()
	return p.sandboxState(tb).Assets
}

// child is a process started by a benchmark.
type child struct {
	name string
	cmd  *exec.Cmd
	out  *logBuffer

	once sync.Once
	took time.Duration // from SIGTERM to exit
	err  error
}

// start starts a process that is stopped (see [child.stop]) when the benchmark ends, if not
// before.
func start(tb testing.TB, name string, env []string, bin string, args ...string) *child {
	tb.Helper()
	c := &child{name: name, cmd: exec.Command(bin, args...), out: &logBuffer{}}
	c.cmd.Env = env
	c.cmd.Stdout, c.cmd.Stderr = c.out, c.out
	if err := c.cmd.Start(); err != nil {
		tb.Fatalf("starting %s: %v", name, err)
	}
	tb.Cleanup(func() {
		if _, err := c.stop(); err != nil {
			tb.Errorf("%v\n%s", err, head(c.out.String(), 20))
		}
	})
	return c
}

// stop sends SIGTERM and waits for the process to exit, killing it after 45s; it returns how
// long the exit took and what went wrong. Calls after the first return the first's results.
func (c *child) stop() (time.Duration, error) {
	c.once.Do(func() {
		begin := time.Now()
		_ = c.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- c.cmd.Wait() }()
		select {
		case err := <-done:
			c.took = time.Since(begin)
			if err != nil {
				c.err = fmt.Errorf("%s exited: %w", c.name, err)
			}
		case <-time.After(45 * time.Second):
			_ = c.cmd.Process.Kill()
			<-done
			c.took = time.Since(begin)
			c.err = fmt.Errorf("%s did not stop within 45s of SIGTERM", c.name)
		}
	})
	return c.took, c.err
}

// freePort returns a TCP port nothing listens on now.
func freePort(tb testing.TB) int {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("finding a free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func httpOK(url string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func waitUntil(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// procRSS returns the resident set of process pid in bytes, 0 when unknown.
func procRSS(pid int) int64 { return procStatus(pid, "VmRSS") }

// procStatus returns field (VmRSS, VmHWM: a size in kB) of process pid's status in bytes, 0
// when unknown.
func procStatus(pid int, field string) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}
