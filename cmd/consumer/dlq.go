package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/broker"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/config"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/dlq"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/redact"
)

// dlqConnectTimeout bounds the wait for NATS: an operator's command reports
// an unreachable server instead of waiting for it like the service does.
const dlqConnectTimeout = 10 * time.Second

const dlqUsage = `Usage: consumer dlq <list|show|export|replay|purge> [flags] [SEQ...]

Operators' dead-letter tools. They read the dead-letter stream DLQ_STREAM (default ASSETS_DLQ)
and replay to the inbound stream INGEST_STREAM (default ASSETS) through NATS with your own
credentials: the NATS_* variables as for 'run'; NATS_URL defaults to nats://127.0.0.1:4222.

Subcommands:
  list    a summary and one row per dead letter (--json: one object per line)
  show    everything about one dead letter: headers, body, trace id
  export  write dead letters to a directory: a body file and a JSON file of headers each
  replay  republish dead letters to their original subject, then delete them
  purge   delete dead letters

Select dead letters by sequence numbers, --class, --subject, --since, --until, --event-id,
--error, or --all. --json prints JSON for scripts. Run 'consumer dlq <subcommand> --help' for its
flags and an example.
`

const dlqListSynopsis = `Lists dead letters: first a summary (how many, per error class, per original subject, the oldest
and newest failure time), then one row per dead letter (sequence, failure time, class, original
subject, asset name, event id, attempts, replay count, the error shortened, Amplience's own
message first), then the server's count per source. Without a selection it lists them all.
--summary prints only the server's counts, reading no dead letter. --follow then keeps printing
new dead letters that match the filters until interrupted. With --json it prints only one JSON
object per dead letter and line, with the stable fields sequence, failedAt, class, subject,
dlqSubject, eventId, eventSource, name, attempts, replayCount, error, bodyBytes and bodyOmitted.
Text from dead letters is printed with control characters escaped.`

const dlqExportSynopsis = `Writes each selected dead letter (all of them without a selection) into DIR, created when missing:
<seq>.body holds its body byte for byte, <seq>.json its fields as in 'list --json' plus every
header, the time it was stored and the body file's name. Files are readable by their owner only.
Nothing is deleted: attach the files to a ticket, diff them, then replay or purge.`

const dlqShowSynopsis = `Shows everything about one dead letter: where it came from, its failure (class, error, attempts,
replay count), the trace ids of the failed processing (from traceparent) and of the publisher,
every header, and the body, indented when it is JSON. Control characters are escaped. With --json
it prints one JSON object: the list fields plus stream, storedAt, originalStream,
originalSequence, traceId, publisherTraceId, replayOf, headers, and body (text) or bodyBase64.`

const dlqReplaySynopsis = `Republishes the selected dead letters to their original subject in the inbound stream, with their
original body and the replay headers (Ingest-Replay-Count, Ingest-Replay-Of, Nats-Msg-Id
replay:<stream>:<seq>), and deletes each one only after the inbound stream acknowledged it. A dead
letter whose subject is not one of the inbound stream's, or starts with '$', is refused and kept.
--all and the filters take the dead letters present when the command starts. Interrupting is
safe: run it again and the inbound stream drops what was already stored (within its duplicate
window). Asks for confirmation when more than one is selected, unless --yes. Exits 1 when it
refused or failed any. With --json it prints, when done, one JSON object: command, dryRun,
selected, missing, done, duplicates, refused, failed, gone, and results (sequence, outcome,
message) per dead letter.`

const dlqPurgeSynopsis = `Deletes the selected dead letters from the dead-letter stream for good. --all and the filters take
the dead letters present when the command starts. Asks for confirmation when more than one is
selected, unless --yes; --dry-run prints what would be deleted. Exits 1 when it failed any.
With --json it prints, when done, one JSON object as replay does.`

func cmdDLQ(ctx context.Context, args []string, getenv lookupEnv, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, dlqUsage)
		return usageError{"dlq: no subcommand given"}
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "list":
		return dlqList(ctx, rest, getenv, stdout, stderr)
	case "show":
		return dlqShow(ctx, rest, getenv, stdout, stderr)
	case "export":
		return dlqExport(ctx, rest, getenv, stdout, stderr)
	case "replay":
		return dlqReplay(ctx, rest, getenv, stdout, stderr)
	case "purge":
		return dlqPurge(ctx, rest, getenv, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, dlqUsage)
		return nil
	default:
		fmt.Fprint(stderr, dlqUsage)
		return usageError{fmt.Sprintf("dlq: unknown subcommand %q", sub)}
	}
}

func dlqList(ctx context.Context, args []string, getenv lookupEnv, stdout, stderr io.Writer) error {
	fs := newFlags("dlq list [flags] [SEQ...]", dlqListSynopsis, "consumer dlq list --class rejected --since 24h --json", stderr)
	var sf selectionFlags
	sf.add(fs)
	var o dlq.ListOptions
	fs.BoolVar(&o.JSON, "json", false, "one JSON object per dead letter and line, nothing else")
	fs.BoolVar(&o.Follow, "follow", false, "then print new dead letters as they arrive, until interrupted")
	fs.BoolVar(&o.SummaryOnly, "summary", false, "only the server's counts per source; reads no dead letter")
	sel, err := parseSelection(fs, &sf, args, false)
	if err != nil {
		return err
	}
	return withTool(ctx, getenv, stdout, stderr, func(t *dlq.Tool) error {
		return t.List(ctx, sel, o)
	})
}

func dlqExport(ctx context.Context, args []string, getenv lookupEnv, stdout, stderr io.Writer) error {
	fs := newFlags("dlq export DIR [flags] [SEQ...]", dlqExportSynopsis, "consumer dlq export ./dlq-incident-42 --class rejected --since 2h", stderr)
	var sf selectionFlags
	sf.add(fs)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usageError{"dlq export: give the directory to write to, then any sequence numbers"}
	}
	dir := pos[0]
	sel, err := sf.selection(pos[1:], time.Now())
	if err != nil {
		return err
	}
	if err := sel.Check(false); err != nil {
		return usageError{err.Error()}
	}
	return withTool(ctx, getenv, stdout, stderr, func(t *dlq.Tool) error {
		return t.Export(ctx, sel, dir)
	})
}

func dlqShow(ctx context.Context, args []string, getenv lookupEnv, stdout, stderr io.Writer) error {
	fs := newFlags("dlq show SEQ", dlqShowSynopsis, "consumer dlq show 42", stderr)
	asJSON := fs.Bool("json", false, "one JSON object: the list fields plus headers, body and trace ids")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError{"dlq show: give exactly one sequence number"}
	}
	seqs, err := parseSeqs(pos)
	if err != nil {
		return err
	}
	return withTool(ctx, getenv, stdout, stderr, func(t *dlq.Tool) error {
		if *asJSON {
			return t.ShowJSON(ctx, seqs[0])
		}
		return t.Show(ctx, seqs[0])
	})
}

func dlqReplay(ctx context.Context, args []string, getenv lookupEnv, stdout, stderr io.Writer) error {
	fs := newFlags("dlq replay [flags] (SEQ... | --all | filters)", dlqReplaySynopsis,
		"consumer dlq replay --class exhausted --since 2h --rate 20 --dry-run", stderr)
	var sf selectionFlags
	sf.add(fs)
	var o dlq.ReplayOptions
	fs.BoolVar(&o.DryRun, "dry-run", false, "print what would be replayed or refused; change nothing")
	fs.BoolVar(&o.Yes, "yes", false, "do not ask for confirmation")
	fs.Float64Var(&o.Rate, "rate", 50, "replays per second (0: no limit)")
	fs.BoolVar(&o.JSON, "json", false, "print one JSON object when done: the counts and one result per dead letter")
	sel, err := parseSelection(fs, &sf, args, true)
	if err != nil {
		return err
	}
	if o.Rate < 0 {
		return usageError{"--rate must not be negative"}
	}
	return withTool(ctx, getenv, stdout, stderr, func(t *dlq.Tool) error {
		_, err := t.Replay(ctx, sel, o)
		return err
	})
}

func dlqPurge(ctx context.Context, args []string, getenv lookupEnv, stdout, stderr io.Writer) error {
	fs := newFlags("dlq purge [flags] (SEQ... | --all | filters)", dlqPurgeSynopsis, "consumer dlq purge --class invalid_event --until 720h --yes", stderr)
	var sf selectionFlags
	sf.add(fs)
	var o dlq.PurgeOptions
	fs.BoolVar(&o.DryRun, "dry-run", false, "print what would be deleted; change nothing")
	fs.BoolVar(&o.Yes, "yes", false, "do not ask for confirmation")
	fs.BoolVar(&o.JSON, "json", false, "print one JSON object when done: the counts and one result per dead letter")
	sel, err := parseSelection(fs, &sf, args, true)
	if err != nil {
		return err
	}
	return withTool(ctx, getenv, stdout, stderr, func(t *dlq.Tool) error {
		_, err := t.Purge(ctx, sel, o)
		return err
	})
}

// parseSelection parses args (flags and sequence numbers in any order) into a selection;
// required says whether the command needs one (replay and purge do).
func parseSelection(fs *flag.FlagSet, sf *selectionFlags, args []string, required bool) (dlq.Selection, error) {
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return dlq.Selection{}, err
	}
	sel, err := sf.selection(pos, time.Now())
	if err != nil {
		return dlq.Selection{}, err
	}
	if err := sel.Check(required); err != nil {
		return dlq.Selection{}, usageError{err.Error()}
	}
	return sel, nil
}

// withTool connects with the operator's NATS settings, runs fn with a Tool
// on the configured streams and maps the package's usage errors to exit 2.
func withTool(ctx context.Context, getenv lookupEnv, stdout, stderr io.Writer, fn func(*dlq.Tool) error) error {
	// Only the two stream names are used: strings, which always decode, so a problem of
	// another variable of the part is not the tool's; an empty or malformed name is.
	streams, _ := loadPart[config.Streams](ctx, getenv)
	problems := streams.Validate()
	if p := append(problems.Concerning("INGEST_STREAM "), problems.Concerning("DLQ_STREAM ")...); len(p) > 0 {
		return p
	}
	js, err := connectOperator(ctx, getenv, "consumer dlq", stderr)
	if err != nil {
		return err
	}
	defer js.Conn().Close()
	err = fn(&dlq.Tool{
		JS:            js,
		DLQStream:     streams.DLQ,
		InboundStream: streams.Inbound,
		Out:           stdout,
		Err:           stderr,
		In:            os.Stdin,
		Now:           time.Now,
	})
	if errors.Is(err, dlq.ErrUsage) {
		return usageError{err.Error()}
	}
	return err
}

// connectOperator connects an operator's command to NATS with the NATS_*
// settings of getenv (NATS_URL defaults to the dev server's). A malformed
// NATS_URL is a configuration problem, reported before any attempt; the wait for an
// unreachable server is logged on stderr and ends after dlqConnectTimeout.
// The caller closes js.Conn().
func connectOperator(ctx context.Context, getenv lookupEnv, name string, stderr io.Writer) (jetstream.JetStream, error) {
	o, err := natsOptions(ctx, getenv, name)
	if err != nil {
		return nil, err
	}
	url := o.URL
	o.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	cctx, cancel := context.WithTimeout(ctx, dlqConnectTimeout)
	defer cancel()
	nc, err := broker.Connect(cctx, o)
	if err != nil {
		return nil, fmt.Errorf("NATS at %s (NATS_URL) is unreachable or refused the connection (waited up to %s): %w",
			redact.URLList(url), dlqConnectTimeout, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("opening JetStream: %w", err)
	}
	return js, nil
}

// selectionFlags are the selection flags shared by the subcommands.
type selectionFlags struct {
	all                               bool
	class, subject, since, until, eid string
	errText                           string
	limit                             int
}

func (f *selectionFlags) add(fs *flag.FlagSet) {
	fs.BoolVar(&f.all, "all", false, "every dead letter present when the command starts")
	fs.StringVar(&f.class, "class", "", "error class: "+dlq.ClassNames())
	fs.StringVar(&f.subject, "subject", "", "original (or dead-letter) subject; wildcards * and > allowed")
	fs.StringVar(&f.since, "since", "", "failed at or after: RFC 3339 time, or a duration ago (24h, 7d)")
	fs.StringVar(&f.until, "until", "", "failed at or before: RFC 3339 time, or a duration ago (24h, 7d)")
	fs.StringVar(&f.eid, "event-id", "", "CloudEvents id (Ingest-Event-Id)")
	fs.StringVar(&f.errText, "error", "", "text the error contains (Ingest-Error, any case)")
	fs.IntVar(&f.limit, "limit", 0, "at most this many dead letters, oldest first (0: no limit)")
}

// selection builds the dlq.Selection of the flags and the positional
// sequence numbers.
func (f *selectionFlags) selection(pos []string, now time.Time) (dlq.Selection, error) {
	seqs, err := parseSeqs(pos)
	if err != nil {
		return dlq.Selection{}, err
	}
	sel := dlq.Selection{Seqs: seqs, All: f.all, Class: f.class, Subject: f.subject, EventID: f.eid, Error: f.errText, Limit: f.limit}
	for _, t := range []struct {
		name, value string
		into        *time.Time
	}{{"--since", f.since, &sel.Since}, {"--until", f.until, &sel.Until}} {
		if t.value == "" {
			continue
		}
		if *t.into, err = dlq.ParseTime(t.value, now); err != nil {
			return dlq.Selection{}, usageError{t.name + ": " + err.Error()}
		}
	}
	return sel, nil
}

func parseSeqs(pos []string) ([]uint64, error) {
	seqs := make([]uint64, 0, len(pos))
	for _, p := range pos {
		n, err := strconv.ParseUint(p, 10, 64)
		if err != nil || n == 0 {
			return nil, usageError{fmt.Sprintf("%q is not a sequence number (1, 2, ...)", printable(p))}
		}
		seqs = append(seqs, n)
	}
	return seqs, nil
}

// parseInterleaved parses flags that may come before, between or after the
// positional arguments, which it returns. "--" ends the flags.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := parseFlags(fs, args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}
