package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

const healthcheckSynopsis = `Exits 0 when the local service's /healthz answers 200, 1 otherwise. For container images
without a shell: HEALTHCHECK CMD ["/consumer", "healthcheck"]. The port comes from HTTP_ADDR.`

func cmdHealthcheck(ctx context.Context, args []string, getenv lookupEnv, stdout, stderr io.Writer) error {
	fs := newFlags("healthcheck", healthcheckSynopsis, "consumer healthcheck --timeout 3s", stderr)
	timeout := fs.Duration("timeout", 3*time.Second, "how long to wait for the answer")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	addr, ok := getenv("HTTP_ADDR")
	if !ok || addr == "" {
		addr = ":8080"
	}
	url, err := healthURL(addr)
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
		return fmt.Errorf("healthcheck: %s answered %s", url, resp.Status)
	}
	fmt.Fprintln(stdout, "ok")
	return nil
}

// healthURL turns a listen address into the URL of its /healthz on this machine.
func healthURL(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("HTTP_ADDR %q is not host:port: %w", addr, err)
	}
	switch host {
	case "", "0.0.0.0", "::":
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/healthz", nil
}
