package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/config"
)

const healthcheckSynopsis = `Exits 0 when the local service's /healthz answers 200 (the process is alive), 1 otherwise;
with --ready, when its /readyz answers 200 (connected to NATS, bound to the consumer, not
paused), printing the reasons when not. For container images without a shell:
HEALTHCHECK CMD ["/consumer", "healthcheck"]. The port comes from HTTP_ADDR.`

func cmdHealthcheck(ctx context.Context, args []string, getenv lookupEnv, stdout, stderr io.Writer) error {
	fs := newFlags("healthcheck", healthcheckSynopsis, "consumer healthcheck --ready --timeout 3s", stderr)
	timeout := fs.Duration("timeout", 3*time.Second, "how long to wait for the answer")
	ready := fs.Bool("ready", false, "ask /readyz (readiness) instead of /healthz (liveness)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	// Only HTTP_ADDR is used: a string, which always decodes.
	tel, _ := loadPart[config.Telemetry](ctx, getenv)
	addr := tel.HTTPAddr
	if addr == "" {
		// Set but empty: the default, as when unset.
		addr = config.Defaults()["HTTP_ADDR"]
	}
	path := "/healthz"
	if *ready {
		path = "/readyz"
	}
	url, err := healthURL(addr, path)
	if err != nil {
		return usageError{err.Error()}
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		// /readyz says why not in its body: show it, on one line.
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		if why := strings.Join(strings.Fields(string(body)), " "); why != "" {
			return fmt.Errorf("healthcheck: %s answered %s: %s", url, resp.Status, why)
		}
		return fmt.Errorf("healthcheck: %s answered %s", url, resp.Status)
	}
	fmt.Fprintln(stdout, "ok")
	return nil
}

// healthURL turns a listen address into the URL of its path on this machine.
func healthURL(addr, path string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("HTTP_ADDR %q is not host:port: %w", addr, err)
	}
	switch host {
	case "", "0.0.0.0", "::":
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + path, nil
}
