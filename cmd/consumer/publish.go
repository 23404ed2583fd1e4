package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/broker"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/config"
	"github.com/amplience-ingest/asset-ingest-consumer/internal/events"
)

const publishSynopsis = `Publishes asset.published CloudEvents to JetStream, for testing and load: one event, or
--count N at --rate R per second, each with a unique id and name, waiting for every
publish acknowledgement. NATS_URL defaults to nats://127.0.0.1:4222 (the dev server); the
other NATS_* variables authenticate as for 'run'.`

// publishFlags are the settings of one publish run.
type publishFlags struct {
	count    int
	rate     float64
	subject  string
	source   string
	name     string
	src      string
	repo     string
	binary   bool
	bodyFile string
}

func cmdPublish(ctx context.Context, args []string, getenv lookupEnv, stdout, stderr io.Writer) error {
	fs := newFlags("publish", publishSynopsis,
		"consumer publish --count 1000 --rate 200 --subject assets.published.akeneo", stderr)
	var f publishFlags
	fs.IntVar(&f.count, "count", 1, "how many events")
	fs.Float64Var(&f.rate, "rate", 0, "events per second (0: as fast as acknowledgements allow)")
	fs.StringVar(&f.subject, "subject", "assets.published.cli", "subject; its last token names the publishing system")
	fs.StringVar(&f.source, "source", "pim://cli/dev", "CloudEvents source")
	fs.StringVar(&f.name, "name", "", "asset name (with --count > 1, a prefix; default: a random one)")
	fs.StringVar(&f.src, "src", "", "source URL (default: https://media.example-pim.com/exports/<name>.jpg)")
	fs.StringVar(&f.repo, "repository", "", "assetRepositoryId to put in the event (default: none; the service's default applies)")
	fs.BoolVar(&f.binary, "binary", false, "binary content mode (ce-* headers, body = data) instead of structured")
	fs.StringVar(&f.bodyFile, "body-file", "", "publish this file's bytes as the body, verbatim (structured mode)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if f.count < 1 {
		return usageError{"--count must be at least 1"}
	}
	if f.rate < 0 {
		return usageError{"--rate must not be negative"}
	}
	var body []byte
	if f.bodyFile != "" {
		var err error
		if body, err = os.ReadFile(f.bodyFile); err != nil {
			return usageError{fmt.Sprintf("--body-file: %v", err)}
		}
	}
	js, err := connectOperator(ctx, getenv, "consumer publish", stderr)
	if err != nil {
		return err
	}
	defer js.Conn().Close()
	return publishEvents(ctx, js, f, body, stdout, stderr)
}

// natsOptions are the NATS connection settings of the operator's environment, read and
// checked as for 'run' (NATS_PASSWORD_FILE and NATS_TOKEN_FILE included); NATS_URL defaults to
// the dev server's. Only problems with NATS_* variables are reported.
func natsOptions(ctx context.Context, getenv lookupEnv, name string) (broker.ConnectOptions, error) {
	n, err := loadPart[config.NATS](ctx, getenv)
	if err != nil {
		return broker.ConnectOptions{}, err
	}
	if n.URL == "" {
		n.URL = "nats://127.0.0.1:4222"
	}
	if p := n.Validate(); len(p) > 0 {
		return broker.ConnectOptions{}, p
	}
	o := n.Options(name)
	o.ConnectTimeout = 5 * time.Second
	return o, nil
}

func publishEvents(ctx context.Context, js jetstream.JetStream, f publishFlags, body []byte, stdout, stderr io.Writer) error {
	var tick *time.Ticker
	if f.rate > 0 {
		tick = time.NewTicker(time.Duration(float64(time.Second) / f.rate))
		defer tick.Stop()
	}
	prefix := f.name
	if prefix == "" {
		prefix = "asset-" + randomHex(4)
	}
	start := time.Now()
	lastReport := start
	pending := make([]jetstream.PubAckFuture, 0, 256)
	settle := func(n int) error {
		for len(pending) > n {
			select {
			case <-pending[0].Ok():
			case err := <-pending[0].Err():
				return fmt.Errorf("publishing: %w", err)
			case <-ctx.Done():
				return ctx.Err()
			}
			pending = pending[1:]
		}
		return nil
	}
	for i := range f.count {
		if tick != nil {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-tick.C:
			}
		}
		name := prefix
		if f.count > 1 {
			name = numbered(prefix, i+1)
		}
		msg := sampleMessage(f, name, body)
		fut, err := js.PublishMsgAsync(msg)
		if err != nil {
			return fmt.Errorf("publishing: %w", err)
		}
		pending = append(pending, fut)
		if err := settle(200); err != nil {
			return err
		}
		if f.count > 1 && time.Since(lastReport) >= time.Second {
			lastReport = time.Now()
			fmt.Fprintf(stderr, "published %d/%d (%.0f/s)\n", i+1, f.count, float64(i+1)/time.Since(start).Seconds())
		}
	}
	if err := settle(0); err != nil {
		return err
	}
	elapsed := time.Since(start)
	if f.count == 1 {
		fmt.Fprintf(stdout, "published 1 event on %s (name %s)\n", f.subject, prefix)
		return nil
	}
	fmt.Fprintf(stdout, "published %d events on %s in %s (%.0f/s)\n", f.count, f.subject, elapsed.Round(time.Millisecond), float64(f.count)/elapsed.Seconds())
	return nil
}

// sampleMessage builds one asset.published event for name, or the given body verbatim.
func sampleMessage(f publishFlags, name string, body []byte) *nats.Msg {
	msg := nats.NewMsg(f.subject)
	if body != nil {
		msg.Data = body
		return msg
	}
	src := f.src
	if src == "" {
		src = "https://media.example-pim.com/exports/" + name + ".jpg"
	}
	data := map[string]any{"src": src, "name": name}
	if f.repo != "" {
		data["assetRepositoryId"] = f.repo
	}
	id := randomUUID()
	now := time.Now().UTC().Format(time.RFC3339Nano)
	if f.binary {
		// The binding's header names, lower case, set as written (Header.Set would
		// canonicalise them), each value percent-encoded as the binding requires.
		for name, v := range map[string]string{
			"specversion": events.SpecVersion, "id": id, "source": f.source,
			"type": events.TypePublished, "time": now,
		} {
			msg.Header[events.HeaderAttributePrefix+name] = []string{events.EncodeHeaderValue(v)}
		}
		msg.Header["content-type"] = []string{"application/json"}
		msg.Data, _ = json.Marshal(data)
		return msg
	}
	msg.Header.Set(events.HeaderContentType, events.MediaTypeCloudEventsJSON)
	msg.Data, _ = json.Marshal(map[string]any{
		"specversion": "1.0", "id": id, "source": f.source, "type": "asset.published",
		"time": now, "datacontenttype": "application/json", "data": data,
	})
	return msg
}

// numbered is the name of the nth event of a run whose names start with
// prefix: prefix-000001, with one dash also when prefix ends in one.
func numbered(prefix string, n int) string {
	return fmt.Sprintf("%s-%06d", strings.TrimSuffix(prefix, "-"), n)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func randomUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
