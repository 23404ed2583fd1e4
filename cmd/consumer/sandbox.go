package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/sandbox"
)

const shutdownFlush = 5 * time.Second

const sandboxSynopsis = `Runs only the Amplience sandbox: an OAuth token endpoint (/oauth/token) and a GraphQL
endpoint (/graphql) that validates every request against schema.graphql, keeps assets in
memory, and has settable latency, time per mutation field, complexity limit, rate limit,
duplicate-name behaviour and faults (POST /sandbox/faults, GET /sandbox/state,
POST /sandbox/reset).

POST /sandbox/faults adds a fault: a JSON object whose fields say which requests it applies to,
  match         a createAsset whose name contains this text ("" or absent: every request)
  times         how many requests it applies to (absent: until DELETE /sandbox/faults)
and how it changes the answer (at least one of these; {} is refused):
  status        answer this HTTP status (503, 500, 429, 401, ...)
  retryAfter    with it, a Retry-After header ("2")
  graphqlError  answer a GraphQL error with this message (HTTP 200 unless status is set)
  code          with it, the error's extensions.code (BAD_USER_INPUT, FORBIDDEN, ...)
  delay         wait this long first, a Go duration ("250ms")
  hang          true: never answer
  createThenFail true: create the asset, then answer the failure (an answer lost)
Examples, with the sandbox on 127.0.0.1:8090:
  the API is down for the next 20 requests:
    curl -d '{"status":503,"times":20}' http://127.0.0.1:8090/sandbox/faults
  Amplience rejects the asset named sku-9 (until the faults are cleared):
    curl -d '{"match":"sku-9","graphqlError":"name is invalid","code":"BAD_USER_INPUT"}' http://127.0.0.1:8090/sandbox/faults
  clear them all:
    curl -X DELETE http://127.0.0.1:8090/sandbox/faults`

func cmdSandbox(ctx context.Context, args []string, getenv lookupEnv, stdout, stderr io.Writer) error {
	fs := newFlags("sandbox", sandboxSynopsis,
		"consumer sandbox --addr :8090 --client-id dev --client-secret dev-secret --latency 50ms --rate-limit 60", stderr)
	o := sandbox.DefaultOptions()
	addr := fs.String("addr", "127.0.0.1:8090", "listen address")
	fs.StringVar(&o.ClientID, "client-id", envOr(getenv, "AMPLIENCE_CLIENT_ID", "sandbox-client"), "accepted client id")
	fs.StringVar(&o.ClientSecret, "client-secret", envOr(getenv, "AMPLIENCE_CLIENT_SECRET", "sandbox-secret"), "accepted client secret")
	pats := fs.String("pat", envOr(getenv, "AMPLIENCE_PAT", ""), "accepted personal access tokens (amp_pat_...), comma-separated")
	fs.DurationVar(&o.TokenTTL, "token-ttl", o.TokenTTL, "lifetime of issued tokens")
	fs.DurationVar(&o.Latency, "latency", 0, "latency added to every GraphQL request")
	fs.DurationVar(&o.FieldTime, "field-time", 0, "time each root field of a mutation takes (fields run one after another)")
	fs.IntVar(&o.ComplexityLimit, "complexity-limit", 0, "most complexity points per request, one per field selected, before 400 COMPLEXITY_LIMIT_EXCEEDED (0: none)")
	fs.IntVar(&o.PartialFailureStatus, "partial-failure-status", 200, "HTTP status of an answer in which some createAsset fields failed: 200 or 400")
	fs.IntVar(&o.RateLimit, "rate-limit", 0, "GraphQL requests per API key per --rate-window before 429 (0: none)")
	fs.DurationVar(&o.RateWindow, "rate-window", o.RateWindow, "length of a rate-limit window")
	noRetryAfter := fs.Bool("no-retry-after", false, "answer 429 without a Retry-After header")
	fs.Func("duplicate-names", "what createAsset does with an existing name: accept (default) or reject", func(v string) error {
		return o.DuplicateNames.UnmarshalText([]byte(v))
	})
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *pats != "" {
		o.PATs = strings.Split(*pats, ",")
	}
	o.RetryAfterHeader = !*noRetryAfter
	o.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	sb, err := sandbox.New(o)
	if err != nil {
		return usageError{err.Error()}
	}
	defer sb.Close()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", *addr, err)
	}
	base := "http://" + ln.Addr().String()
	fmt.Fprintf(stdout, "Amplience sandbox listening\n  AMPLIENCE_AUTH_URL=%s/oauth/token\n  AMPLIENCE_API_URL=%s/graphql\n  state: %s/sandbox/state\n", base, base, base)
	return serveHTTP(ctx, ln, sb.Handler(), sb.Close)
}

// serveHTTP serves h on ln until ctx ends, then shuts down within shutdownFlush; beforeShutdown
// releases requests that would otherwise hold the shutdown (a sandbox's hung calls).
func serveHTTP(ctx context.Context, ln net.Listener, h http.Handler, beforeShutdown func()) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serving HTTP: %w", err)
	case <-ctx.Done():
	}
	if beforeShutdown != nil {
		beforeShutdown()
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownFlush)
	defer cancel()
	err := srv.Shutdown(sctx)
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		return serr
	}
	return err
}

func envOr(getenv lookupEnv, name, def string) string {
	if v, ok := getenv(name); ok && v != "" {
		return v
	}
	return def
}
