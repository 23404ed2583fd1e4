package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/dlq"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/embedded"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/sandbox"
)

const devSynopsis = `Runs everything on this machine: an embedded JetStream server (127.0.0.1:4222, or a free
port if taken; an external one when NATS_URL is set), the Amplience sandbox, the service, and a
few sample events (one of them bad) whose outcomes it prints, with the URLs to reach it. Runs
until interrupted. Service logs go to stderr; outcomes to stdout.`

func cmdDev(ctx context.Context, args []string, getenv lookupEnv, stdout, stderr io.Writer) error {
	fs := newFlags("dev", devSynopsis, "go run ./cmd/consumer dev", stderr)
	dataDir := fs.String("data-dir", ".dev", "where the embedded NATS server keeps its data")
	samples := fs.Bool("samples", true, "publish the sample events at start")
	if err := parseFlags(fs, args); err != nil {
		return err
	}

	const clientID, clientSecret = "dev-client", "dev-secret"
	// The sandbox repository dev mode files assets in.
	devRepository := base64.StdEncoding.EncodeToString([]byte("AssetRepository:7d6b3c1e-0f4a-4c8e-9b2d-5a1e3f9c8d70"))
	defaults := map[string]string{
		"AMPLIENCE_CLIENT_ID": clientID, "AMPLIENCE_CLIENT_SECRET": clientSecret,
		"AMPLIENCE_ASSET_REPOSITORY_ID": devRepository, "AMPLIENCE_RATE_LIMIT": "20/s",
		"HTTP_ADDR": freeAddr("127.0.0.1", 8080), "LOG_FORMAT": "text", "INGEST_ACK_WAIT": "30s",
		"AMPLIENCE_TIMEOUT": "10s",
	}
	_, externalAPI := getenv("AMPLIENCE_API_URL")
	devEnv := func(k string) (string, bool) {
		if v, ok := getenv(k); ok {
			return v, true
		}
		if externalAPI && (k == "AMPLIENCE_CLIENT_ID" || k == "AMPLIENCE_CLIENT_SECRET") {
			return "", false
		}
		v, ok := defaults[k]
		return v, ok
	}
	cfg, err := loadConfig(ctx, devEnv, false)
	if err != nil {
		return err
	}

	if cfg.NATS.URL == "" {
		dir, err := filepath.Abs(filepath.Join(*dataDir, "nats"))
		if err != nil {
			return err
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("creating %s: %w", dir, err)
		}
		ns, err := embedded.Start(dir, "127.0.0.1", devNATSPort)
		if err != nil {
			return err
		}
		defer func() { ns.Shutdown(); ns.WaitForShutdown() }()
		cfg.NATS.URL = ns.ClientURL()
		if note := portNote(ns.Addr()); note != "" {
			fmt.Fprintln(stdout, note)
		}
	}

	if !externalAPI {
		o := sandbox.DefaultOptions()
		o.ClientID, o.ClientSecret = cfg.Amplience.ClientID, cfg.Amplience.ClientSecret
		sb, err := sandbox.New(o)
		if err != nil {
			return err
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("listening for the sandbox: %w", err)
		}
		sctx, stopSandbox := context.WithCancel(context.WithoutCancel(ctx))
		var wg sync.WaitGroup
		wg.Go(func() { _ = serveHTTP(sctx, ln, sb.Handler(), sb.Close) })
		defer func() { stopSandbox(); wg.Wait() }()
		base := "http://" + ln.Addr().String()
		cfg.Amplience.APIURL, cfg.Amplience.AuthURL = base+"/graphql", base+"/oauth/token"
	}

	ready := func(httpAddr string) {
		printDevBanner(stdout, cfg.NATS.URL, cfg.Amplience.APIURL, httpAddr)
		if err := watchOutcomes(ctx, cfg.NATS.URL, stdout); err != nil {
			fmt.Fprintln(stdout, "cannot watch outcomes:", err)
		}
		if *samples {
			if err := publishSamples(ctx, cfg.NATS.URL, stdout); err != nil {
				fmt.Fprintln(stdout, "publishing the sample events failed:", err)
			}
		}
	}
	return serve(ctx, cfg, devEnv, stderr, ready)
}

// devNATSPort is the port the embedded server takes when it is free: the
// default of the tools and of the README's nats commands.
const devNATSPort = 4222

// portNote says, when the embedded server listens on addr instead of
// devNATSPort, that the port was busy and what the tools then need; "" when
// it got the port.
func portNote(addr net.Addr) string {
	ta, ok := addr.(*net.TCPAddr)
	if !ok || ta.Port == devNATSPort {
		return ""
	}
	return fmt.Sprintf("NATS: port %d is busy (another NATS server?), so the embedded server listens on %d instead;\n"+
		"      the tools and nats commands need NATS_URL=nats://%s (or -s nats://%s)", devNATSPort, ta.Port, ta, ta)
}

func printDevBanner(w io.Writer, natsURL, apiURL, httpAddr string) {
	fmt.Fprintf(w, `
asset ingest consumer: dev mode
  NATS           %s
  Amplience API  %s (sandbox state: %s)
  health         http://%s/healthz   ready: http://%s/readyz   metrics: http://%s/metrics

Publish more:    NATS_URL=%s go run ./cmd/consumer publish --count 10 --subject assets.published.akeneo
Dead letters:    NATS_URL=%s go run ./cmd/consumer dlq list
Stop with Ctrl-C.

`, natsURL, apiURL, sandboxState(apiURL), httpAddr, httpAddr, httpAddr, natsURL, natsURL)
}

func sandboxState(apiURL string) string {
	if len(apiURL) > len("/graphql") && apiURL[len(apiURL)-len("/graphql"):] == "/graphql" {
		return apiURL[:len(apiURL)-len("/graphql")] + "/sandbox/state"
	}
	return "n/a"
}

// publishSamples publishes a few events in both content modes, one of them invalid.
func publishSamples(ctx context.Context, url string, stdout io.Writer) error {
	nc, err := nats.Connect(url, nats.Name("consumer dev samples"))
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	run := randomHex(3)
	samples := []struct {
		flags publishFlags
		name  string
	}{
		{publishFlags{subject: "assets.published.akeneo", source: "pim://akeneo/dev"}, "sku-1042-front-" + run},
		{publishFlags{subject: "assets.published.akeneo", source: "pim://akeneo/dev", binary: true}, "sku-1042-back-" + run},
		{publishFlags{subject: "assets.published.salsify", source: "pim://salsify/dev"}, "sku-2077-hero-" + run},
		// Bad on purpose: Amplience cannot fetch a file from localhost.
		{publishFlags{subject: "assets.published.salsify", source: "pim://salsify/dev", src: "https://localhost/private/sku-9.jpg"}, "sku-9-bad-" + run},
	}
	for _, s := range samples {
		if _, err := js.PublishMsg(ctx, sampleMessage(s.flags, s.name, nil)); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "published %d sample events (the last one is invalid on purpose)\n", len(samples))
	return nil
}

// watchOutcomes prints every completion event as it is published, until ctx ends.
func watchOutcomes(ctx context.Context, url string, stdout io.Writer) error {
	nc, err := nats.Connect(url, nats.Name("consumer dev outcomes"))
	if err != nil {
		return err
	}
	var mu sync.Mutex
	// Completion ids seen: a redelivery of an event already ingested
	// republishes the same id (which the results stream drops as a
	// duplicate, but a plain subscriber still sees).
	seen := map[string]bool{}
	show := func(m *nats.Msg) {
		var ev struct {
			ID   string `json:"id"`
			Type string `json:"type"`
			Data struct {
				EventID, Name, AssetID, ErrorClass, Error string
				Attempts                                  int
				DurationMs                                int64
				DlqSequence                               uint64
			} `json:"data"`
		}
		if err := json.Unmarshal(m.Data, &ev); err != nil {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		d := ev.Data
		again := seen[ev.ID]
		seen[ev.ID] = true
		switch {
		case ev.Type == "asset.ingested" && again:
			fmt.Fprintf(stdout, "already ingested %-26s asset %s (no second asset)\n", printable(d.Name), d.AssetID)
		case ev.Type == "asset.ingested":
			fmt.Fprintf(stdout, "ingested       %-28s asset %s (%d attempt(s), %d ms)\n", printable(d.Name), d.AssetID, d.Attempts, d.DurationMs)
		case ev.Type == "asset.ingest_failed":
			fmt.Fprintf(stdout, "dead-lettered  %-28s [%s] %s (dead letter #%d)\n", printable(d.Name+" "+d.EventID), d.ErrorClass, printable(d.Error), d.DlqSequence)
		}
	}
	for _, subj := range []string{"assets.ingested.>", "assets.failed.>"} {
		if _, err := nc.Subscribe(subj, show); err != nil {
			nc.Close()
			return err
		}
	}
	// The server has the subscriptions once it answers: no outcome
	// published after this returns is missed.
	if err := nc.Flush(); err != nil {
		nc.Close()
		return err
	}
	go func() { <-ctx.Done(); _ = nc.Drain() }()
	return nil
}

// printable escapes control characters in text that came from events;
// quotes and other printable characters are left as they are.
func printable(s string) string { return dlq.Escape(s) }

// freeAddr is host:port when that port is free, otherwise host with a free port.
func freeAddr(host string, port int) string {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		ln, err = net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return net.JoinHostPort(host, strconv.Itoa(port))
		}
	}
	defer ln.Close()
	return ln.Addr().String()
}
