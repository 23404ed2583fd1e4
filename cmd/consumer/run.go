package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/broker"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/config"
)

// lookupEnv reads one environment variable; main passes os.LookupEnv, tests a map.
type lookupEnv func(string) (string, bool)

// usageError is a bad command line: exit code 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// exitError carries an exit code for an error that was already reported.
type exitError struct {
	code int
	err  error
}

func (e exitError) Error() string { return e.err.Error() }
func (e exitError) Unwrap() error { return e.err }

const topUsage = `consumer: the asset ingest consumer

Usage: consumer <command> [flags]

Commands:
  run          run the service (production); configuration from the environment
  dev          everything on this machine: embedded NATS, the Amplience sandbox, the service,
               and a few sample events whose outcomes it prints
  sandbox      only the Amplience sandbox (OAuth token + GraphQL endpoints)
  publish      publish asset.published events (one, or --count N at --rate R)
  dlq          operators' dead-letter tools: list, show, replay, purge
  healthcheck  exit 0 when the local service's /healthz answers
  version      print version and build information

Run 'consumer <command> --help' for a command's flags and an example.
Exit codes: 0 success, 1 failure, 2 bad usage or configuration.
`

// run dispatches the command line. It is main without the exit: every command returns an
// error, and exitCode maps it to the exit status. A command's --help is printed here, on
// stdout.
func run(ctx context.Context, args []string, getenv lookupEnv, stdout, stderr io.Writer) (err error) {
	defer func() {
		if help, ok := errors.AsType[helpRequested](err); ok {
			_, err = fmt.Fprint(stdout, help.text)
		}
	}()
	if len(args) == 0 {
		fmt.Fprint(stderr, topUsage)
		return usageError{"no command given"}
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "run":
		return cmdRun(ctx, rest, getenv, stdout, stderr)
	case "dev":
		return cmdDev(ctx, rest, getenv, stdout, stderr)
	case "sandbox":
		return cmdSandbox(ctx, rest, getenv, stdout, stderr)
	case "publish":
		return cmdPublish(ctx, rest, getenv, stdout, stderr)
	case "dlq":
		return cmdDLQ(ctx, rest, getenv, stdout, stderr)
	case "healthcheck":
		return cmdHealthcheck(ctx, rest, getenv, stdout, stderr)
	case "version":
		return cmdVersion(rest, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, topUsage)
		return nil
	default:
		fmt.Fprint(stderr, topUsage)
		return usageError{fmt.Sprintf("unknown command %q", cmd)}
	}
}

// exitCode reports err on w and returns the exit status: 0 success, 2 bad usage or
// configuration, 1 any other failure.
func exitCode(err error, w io.Writer) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	fmt.Fprintln(w, "consumer:", err)
	var ue usageError
	var problems config.Problems
	var ce *broker.ConfigError
	if errors.As(err, &ue) || errors.As(err, &problems) || errors.As(err, &ce) {
		return 2
	}
	return 1
}

// helpRequested is --help: run prints text on stdout and the command exits 0.
type helpRequested struct{ text string }

func (helpRequested) Error() string { return flag.ErrHelp.Error() }

// Is makes a help request match flag.ErrHelp.
func (helpRequested) Is(target error) bool { return target == flag.ErrHelp }

// newFlags returns a flag set whose --help describes the command, its flags and an example.
// The flag set's output (stderr) receives that usage after a bad flag; the error itself is
// reported once, by exitCode.
func newFlags(name, synopsis, example string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: consumer %s\n\n%s\n\nFlags:\n", name, strings.TrimSpace(synopsis))
		fs.PrintDefaults()
		fmt.Fprintf(w, "\nExample:\n  %s\n", example)
	}
	return fs
}

// parseFlags parses args: --help becomes a helpRequested carrying the usage, a bad flag a
// usageError after the usage went to the flag set's output.
func parseFlags(fs *flag.FlagSet, args []string) error {
	out := fs.Output()
	// The flag package prints the error and the usage itself: silence it while parsing.
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	fs.SetOutput(out)
	switch {
	case errors.Is(err, flag.ErrHelp):
		var b strings.Builder
		fs.SetOutput(&b)
		fs.Usage()
		fs.SetOutput(out)
		return helpRequested{b.String()}
	case err != nil:
		fs.Usage()
		return usageError{err.Error()}
	}
	return nil
}
