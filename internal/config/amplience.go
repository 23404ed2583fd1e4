package config

import (
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/broker"
)

// Check lists what keeps the configuration from running the service. needNATSURL is false for
// `consumer dev`, which starts its own server when NATS_URL is empty. The list is empty when
// the configuration is complete.
func (c Config) Check(needNATSURL bool) Problems {
	var p Problems
	add := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }

	switch {
	case c.NATSURL == "" && needNATSURL:
		add("NATS_URL is empty; set it to the NATS server, e.g. nats://nats:4222 (or use `consumer dev` for an embedded server)")
	case c.NATSURL != "":
		if err := broker.CheckURL(c.NATSURL); err != nil {
			add("%v", err)
		}
	}
	if c.NATSUser != "" && c.NATSPassword == "" {
		add("NATS_USER is set but NATS_PASSWORD is empty; set NATS_PASSWORD (or NATS_PASSWORD_FILE)")
	}
	if c.NATSPassword != "" && c.NATSUser == "" {
		add("NATS_PASSWORD is set but NATS_USER is empty; set NATS_USER")
	}
	if (c.NATSTLSCert == "") != (c.NATSTLSKey == "") {
		add("NATS_TLS_CERT and NATS_TLS_KEY go together; set both for a client certificate, or neither")
	}
	if c.NATSCreds != "" && c.NATSNKey != "" {
		add("NATS_CREDS and NATS_NKEY are both set; a connection uses one of them")
	}

	switch {
	case c.AmpliencePAT != "" && (c.AmplienceClientID != "" || c.AmplienceClientSecret != ""):
		add("AMPLIENCE_PAT and AMPLIENCE_CLIENT_ID/AMPLIENCE_CLIENT_SECRET are both set; use either a personal access token or client credentials")
	case c.AmpliencePAT != "":
		if !strings.HasPrefix(c.AmpliencePAT, "amp_pat_") {
			add("AMPLIENCE_PAT does not start with amp_pat_; give a personal access token, or use client credentials")
		}
	default:
		if c.AmplienceClientID == "" {
			add("AMPLIENCE_CLIENT_ID is empty; set it (with AMPLIENCE_CLIENT_SECRET) or set AMPLIENCE_PAT")
		}
		if c.AmplienceClientSecret == "" {
			add("AMPLIENCE_CLIENT_SECRET is empty; set it (or AMPLIENCE_CLIENT_SECRET_FILE), or set AMPLIENCE_PAT")
		}
	}
	checkURL(add, "AMPLIENCE_API_URL", c.AmplienceAPIURL, c.AmplienceAllowHTTP)
	if c.AmpliencePAT == "" {
		checkURL(add, "AMPLIENCE_AUTH_URL", c.AmplienceAuthURL, c.AmplienceAllowHTTP)
	}

	positive(add, "AMPLIENCE_TIMEOUT", c.AmplienceTimeout)
	positive(add, "INGEST_ACK_WAIT", c.AckWait)
	positive(add, "INGEST_BACKOFF_BASE", c.BackoffBase)
	if c.AmplienceTimeout > 0 && c.AckWait > 0 && 3*c.AmplienceTimeout >= 2*c.AckWait {
		// A claim is refreshed every third of the ack wait and stays live for the whole ack
		// wait; a call starts only while the claim stays live for longer than the timeout.
		// Below two thirds, a claim refreshed on time always leaves room for a call.
		add("AMPLIENCE_TIMEOUT (%s) must be below two thirds of INGEST_ACK_WAIT (%s), so that a call always ends before its claim can expire; set AMPLIENCE_TIMEOUT to at most %s or INGEST_ACK_WAIT to more than %s",
			c.AmplienceTimeout, c.AckWait, maxTimeout(c.AckWait), c.AmplienceTimeout*3/2)
	}
	if c.BackoffMax < c.BackoffBase {
		add("INGEST_BACKOFF_MAX (%s) is below INGEST_BACKOFF_BASE (%s); raise it", c.BackoffMax, c.BackoffBase)
	}
	if c.Concurrency < 1 {
		add("INGEST_CONCURRENCY is %d; set at least 1", c.Concurrency)
	}
	if c.BatchSize < 1 || c.BatchSize > 100 {
		add("AMPLIENCE_BATCH_SIZE is %d; set 1 (one event per request) to 100", c.BatchSize)
	}
	if c.MaxAttempts < 1 {
		add("INGEST_MAX_ATTEMPTS is %d; set at least 1", c.MaxAttempts)
	}
	if c.MaxAckPending < c.Concurrency {
		add("INGEST_MAX_ACK_PENDING (%d) is below INGEST_CONCURRENCY (%d); set it to at least replicas × concurrency plus room for waiting retries", c.MaxAckPending, c.Concurrency)
	}
	if c.MaxDeliver != 0 && c.MaxDeliver < c.MaxAttempts {
		add("INGEST_MAX_DELIVER (%d) is below INGEST_MAX_ATTEMPTS (%d); it is only a backstop, leave it unset or raise it", c.MaxDeliver, c.MaxAttempts)
	}
	if c.StreamReplicas < 1 || c.StreamReplicas > 5 {
		add("NATS_STREAM_REPLICAS is %d; JetStream allows 1 to 5", c.StreamReplicas)
	}
	if len(c.IngestSubjects) == 0 {
		add("INGEST_SUBJECTS is empty; set the inbound subjects, e.g. assets.published.>")
	}
	for name, v := range map[string]string{
		"INGEST_STREAM": c.IngestStream, "INGEST_DURABLE": c.IngestDurable, "RESULTS_STREAM": c.ResultsStream,
		"DLQ_STREAM": c.DLQStream, "ADVISORY_STREAM": c.AdvisoryStream, "LEDGER_BUCKET": c.LedgerBucket,
	} {
		if v == "" || strings.ContainsAny(v, " .*>\t") {
			add("%s %q is not a valid JetStream name; use letters, digits, - and _", name, v)
		}
	}
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warn", "error":
	default:
		add("LOG_LEVEL %q is unknown; use debug, info, warn or error", c.LogLevel)
	}
	switch strings.ToLower(c.LogFormat) {
	case "json", "text":
	default:
		add("LOG_FORMAT %q is unknown; use json or text", c.LogFormat)
	}
	return p
}

// Combine returns the problems Load reported followed by those Check found, leaving out a
// Check problem that says a secret is empty when Load already said why its NAME_FILE gave
// nothing (empty variable, missing or empty file).
func Combine(load, check Problems) Problems {
	out := append(Problems{}, load...)
	var emptyFiles []string
	for _, l := range load {
		first, _, _ := strings.Cut(l, " ")
		if name, ok := strings.CutSuffix(strings.TrimSuffix(first, ":"), "_FILE"); ok {
			emptyFiles = append(emptyFiles, name+" is empty")
		}
	}
	for _, c := range check {
		if !slices.ContainsFunc(emptyFiles, func(e string) bool { return strings.Contains(c, e) }) {
			out = append(out, c)
		}
	}
	return out
}

// EffectiveMaxDeliver is INGEST_MAX_DELIVER, or max(100, 4 × INGEST_MAX_ATTEMPTS) when unset.
func (c Config) EffectiveMaxDeliver() int {
	if c.MaxDeliver > 0 {
		return c.MaxDeliver
	}
	return max(100, 4*c.MaxAttempts)
}

// maxTimeout is the largest AMPLIENCE_TIMEOUT, in whole milliseconds, below two thirds of
// ackWait.
func maxTimeout(ackWait time.Duration) time.Duration {
	return ((2*ackWait - 1) / 3).Truncate(time.Millisecond)
}

// checkURL checks an Amplience endpoint: an https URL, or http on a loopback host (or on any
// host when allowHTTP is set), since its requests carry the client secret or the token.
func checkURL(add func(string, ...any), name, raw string, allowHTTP bool) {
	u, err := url.Parse(raw)
	switch {
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
		add("%s %q is not an http(s) URL", name, redactUserinfo(raw))
	case u.Scheme == "http" && !allowHTTP && !loopback(u.Hostname()):
		add("%s %q is plain http to a host that is not loopback: the client secret and tokens would cross the network unencrypted; use https, or set AMPLIENCE_ALLOW_HTTP=true for a test setup such as the sandbox",
			name, redactUserinfo(raw))
	}
}

// loopback reports whether host is localhost or a loopback IP address (127.0.0.0/8, ::1).
func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

func positive(add func(string, ...any), name string, d time.Duration) {
	if d <= 0 {
		add("%s is %s; set a positive duration such as 30s", name, d)
	}
}

func redactUserinfo(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable)"
	}
	u.User = nil
	return u.String()
}
