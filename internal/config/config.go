// Package config holds the service's configuration: one struct read once from the environment
// at start, checked as a whole, and passed down as values.
//
// Every variable of the contract (SPEC "Configuration") is a field here with its env tag and
// default; the README's configuration reference and the compose file are checked against
// [Variables] by tests, so none of them can drift from this struct.
package config

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/sethvargo/go-envconfig"
)

// Config is the whole configuration. Field tags name the environment variables; secrets marked
// `secret:"true"` may also be given as a file through NAME_FILE.
type Config struct {
	NATSURL      string `env:"NATS_URL"`
	NATSCreds    string `env:"NATS_CREDS"`
	NATSNKey     string `env:"NATS_NKEY"`
	NATSUser     string `env:"NATS_USER"`
	NATSPassword string `env:"NATS_PASSWORD" secret:"true"`
	NATSToken    string `env:"NATS_TOKEN" secret:"true"`
	NATSTLSCA    string `env:"NATS_TLS_CA"`
	NATSTLSCert  string `env:"NATS_TLS_CERT"`
	NATSTLSKey   string `env:"NATS_TLS_KEY"`

	AmplienceAPIURL       string        `env:"AMPLIENCE_API_URL, default=https://api.amplience.net/graphql"`
	AmplienceAuthURL      string        `env:"AMPLIENCE_AUTH_URL, default=https://auth.amplience.net/oauth/token"`
	AmplienceClientID     string        `env:"AMPLIENCE_CLIENT_ID"`
	AmplienceClientSecret string        `env:"AMPLIENCE_CLIENT_SECRET" secret:"true"`
	AmpliencePAT          string        `env:"AMPLIENCE_PAT" secret:"true"`
	AssetRepositoryID     string        `env:"AMPLIENCE_ASSET_REPOSITORY_ID"`
	RateLimit             string        `env:"AMPLIENCE_RATE_LIMIT, default=60/m"`
	AmplienceTimeout      time.Duration `env:"AMPLIENCE_TIMEOUT, default=30s"`
	AmplienceAllowHTTP    bool          `env:"AMPLIENCE_ALLOW_HTTP, default=false"`
	BatchSize             int           `env:"AMPLIENCE_BATCH_SIZE, default=25"`

	IngestStream   string   `env:"INGEST_STREAM, default=ASSETS"`
	IngestSubjects []string `env:"INGEST_SUBJECTS, default=assets.published.>"`
	IngestDurable  string   `env:"INGEST_DURABLE, default=asset-ingest"`
	ResultsStream  string   `env:"RESULTS_STREAM, default=ASSET_RESULTS"`
	DLQStream      string   `env:"DLQ_STREAM, default=ASSETS_DLQ"`
	AdvisoryStream string   `env:"ADVISORY_STREAM, default=ASSETS_ADVISORIES"`
	LedgerBucket   string   `env:"LEDGER_BUCKET, default=asset_ingest_ledger"`

	Concurrency     int           `env:"INGEST_CONCURRENCY, default=64"`
	MaxAckPending   int           `env:"INGEST_MAX_ACK_PENDING, default=1000"`
	MaxAttempts     int           `env:"INGEST_MAX_ATTEMPTS, default=8"`
	BackoffBase     time.Duration `env:"INGEST_BACKOFF_BASE, default=1s"`
	BackoffMax      time.Duration `env:"INGEST_BACKOFF_MAX, default=10m"`
	MaxDeliver      int           `env:"INGEST_MAX_DELIVER"`
	AckWait         time.Duration `env:"INGEST_ACK_WAIT, default=60s"`
	AllowHTTP       bool          `env:"INGEST_ALLOW_HTTP, default=false"`
	Sources         string        `env:"INGEST_SOURCES"`
	CreateResources bool          `env:"INGEST_CREATE_RESOURCES, default=true"`
	StreamReplicas  int           `env:"NATS_STREAM_REPLICAS, default=1"`

	HTTPAddr  string `env:"HTTP_ADDR, default=:8080"`
	LogLevel  string `env:"LOG_LEVEL, default=info"`
	LogFormat string `env:"LOG_FORMAT, default=json"`
}

// Problems lists everything wrong with a configuration, one line per problem, each naming the
// variable, what is wrong and how to fix it.
type Problems []string

func (p Problems) Error() string {
	return "configuration is incomplete or invalid:\n  - " + strings.Join(p, "\n  - ")
}

// ReadFile reads a secret file; tests replace it.
type ReadFile func(name string) ([]byte, error)

// Load reads the configuration through lookup. Every variable is read even when an earlier one
// is bad, so the returned [Problems] lists every decoding error at once; a variable that failed
// keeps its default. Secrets given as NAME_FILE are read through readFile (nil: os.ReadFile).
// Load does not check that the result is complete for a command: see [Config.CheckRun].
func Load(ctx context.Context, lookup envconfig.Lookuper, readFile ReadFile) (Config, error) {
	if readFile == nil {
		readFile = os.ReadFile
	}
	var c Config
	var problems Problems
	v := reflect.ValueOf(&c).Elem()
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		name := envName(f)
		// Each field is decoded on its own so that one bad value does not hide the next.
		one := reflect.New(reflect.StructOf([]reflect.StructField{{Name: f.Name, Type: f.Type, Tag: f.Tag}}))
		if err := envconfig.ProcessWith(ctx, &envconfig.Config{Target: one.Interface(), Lookuper: lookup}); err != nil {
			problems = append(problems, decodeProblem(name, f, lookup, err))
			one = reflect.New(one.Elem().Type())
			_ = envconfig.ProcessWith(ctx, &envconfig.Config{Target: one.Interface(), Lookuper: envconfig.MapLookuper(nil)})
		}
		v.Field(i).Set(one.Elem().Field(0))

		if f.Tag.Get("secret") != "true" {
			continue
		}
		file, ok := lookup.Lookup(name + "_FILE")
		if !ok {
			continue
		}
		if file == "" {
			problems = append(problems, fmt.Sprintf("%s_FILE is set but empty; set it to the path of the file holding %s, or unset it", name, name))
			continue
		}
		if v, direct := lookup.Lookup(name); direct && v != "" {
			problems = append(problems, fmt.Sprintf("%s and %s_FILE are both set; set only one", name, name))
			continue
		}
		b, err := readFile(file)
		if errors.Is(err, fs.ErrNotExist) {
			problems = append(problems, fmt.Sprintf("%s_FILE: the secret file %s does not exist; check the path (a mounted secret?)", name, file))
			continue
		}
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s_FILE: cannot read the secret file: %v", name, pathError(err)))
			continue
		}
		secret := strings.TrimRight(string(b), "\r\n")
		if strings.TrimSpace(secret) == "" {
			problems = append(problems, fmt.Sprintf("%s_FILE: the secret file %s is empty; put %s in it", name, file, name))
			continue
		}
		v.Field(i).SetString(secret)
	}
	if _, set := lookup.Lookup("AMPLIENCE_TIMEOUT"); !set && c.AckWait > 0 {
		c.AmplienceTimeout = DefaultTimeout(c.AckWait)
	}
	if len(problems) > 0 {
		return c, problems
	}
	return c, nil
}

// DefaultTimeout is AMPLIENCE_TIMEOUT when it is unset: 30s, or half of INGEST_ACK_WAIT when
// that is shorter, so that a call always ends well within two thirds of the ack wait.
func DefaultTimeout(ackWait time.Duration) time.Duration {
	return min(30*time.Second, ackWait/2)
}

// decodeProblem says what is wrong with the value of variable name, which could not be decoded
// into field f, and which values it accepts.
func decodeProblem(name string, f reflect.StructField, lookup envconfig.Lookuper, err error) string {
	raw, _ := lookup.Lookup(name)
	switch f.Type {
	case reflect.TypeFor[time.Duration]():
		return fmt.Sprintf("%s %q is not a duration; use a number with a unit: ms, s, m or h (30s, 1m30s, 2h)", name, raw)
	case reflect.TypeFor[bool]():
		return fmt.Sprintf("%s %q is not a boolean; use true or false (1 and 0 also work)", name, raw)
	case reflect.TypeFor[int]():
		return fmt.Sprintf("%s %q is not a whole number; use digits only, such as 16", name, raw)
	}
	return fmt.Sprintf("%s: %s", name, strings.TrimPrefix(err.Error(), f.Name+": "))
}

// pathError keeps an os error's operation and reason; the path is the operator's own setting.
func pathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s %s: %w", pe.Op, pe.Path, pe.Err)
	}
	return err
}

// Variables lists every environment variable the configuration reads, in declaration order,
// including the NAME_FILE form of each secret.
func Variables() []string {
	t := reflect.TypeFor[Config]()
	var names []string
	for i := range t.NumField() {
		f := t.Field(i)
		names = append(names, envName(f))
		if f.Tag.Get("secret") == "true" {
			names = append(names, envName(f)+"_FILE")
		}
	}
	return names
}

// Defaults returns the default of every variable that has one, by name.
func Defaults() map[string]string {
	t := reflect.TypeFor[Config]()
	out := make(map[string]string)
	for i := range t.NumField() {
		tag := t.Field(i).Tag.Get("env")
		if _, def, ok := strings.Cut(tag, "default="); ok {
			out[envName(t.Field(i))] = def
		}
	}
	return out
}

func envName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("env"), ",")
	return strings.TrimSpace(name)
}
