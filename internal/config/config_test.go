package config

import (
	"context"
	"errors"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/sethvargo/go-envconfig"
)

// complete is a configuration `consumer run` accepts.
func complete() map[string]string {
	return map[string]string{
		"NATS_URL":                "nats://nats:4222",
		"AMPLIENCE_CLIENT_ID":     "client",
		"AMPLIENCE_CLIENT_SECRET": "s3cret",
	}
}

func load(t *testing.T, env map[string]string, files map[string]string) (Config, error) {
	t.Helper()
	read := func(name string) ([]byte, error) {
		if b, ok := files[name]; ok {
			return []byte(b), nil
		}
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return Load(context.Background(), envconfig.MapLookuper(env), read)
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	cfg, err := load(t, complete(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if p := cfg.Check(true); len(p) > 0 {
		t.Fatalf("a complete configuration has problems: %v", p)
	}
	got := []any{cfg.IngestStream, cfg.IngestSubjects, cfg.IngestDurable, cfg.ResultsStream, cfg.DLQStream,
		cfg.LedgerBucket, cfg.Concurrency, cfg.MaxAckPending, cfg.MaxAttempts, cfg.BackoffBase, cfg.BackoffMax,
		cfg.EffectiveMaxDeliver(), cfg.AckWait, cfg.AllowHTTP, cfg.CreateResources, cfg.StreamReplicas,
		cfg.HTTPAddr, cfg.LogLevel, cfg.LogFormat, cfg.RateLimit, cfg.AmplienceTimeout, cfg.AmplienceAPIURL, cfg.AmplienceAuthURL}
	want := []any{"ASSETS", []string{"assets.published.>"}, "asset-ingest", "ASSET_RESULTS", "ASSETS_DLQ",
		"asset_ingest_ledger", 64, 1000, 8, time.Second, 10 * time.Minute,
		100, time.Minute, false, true, 1,
		":8080", "info", "json", "60/m", 30 * time.Second, "https://api.amplience.net/graphql", "https://auth.amplience.net/oauth/token"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
}

func TestEffectiveMaxDeliver(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		attempts int
		set      int
		want     int
	}{
		{"floor of 100", 8, 0, 100},
		{"four times the attempts", 40, 0, 160},
		{"explicit", 8, 50, 50},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := Config{MaxAttempts: tc.attempts, MaxDeliver: tc.set}
			if got := c.EffectiveMaxDeliver(); got != tc.want {
				t.Errorf("EffectiveMaxDeliver() = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestEveryProblemIsListedAtOnce(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"INGEST_ACK_WAIT":    "soon",
		"INGEST_CONCURRENCY": "many",
		"LOG_LEVEL":          "loud",
		"AMPLIENCE_TIMEOUT":  "90s",
	}
	cfg, err := load(t, env, nil)
	var p Problems
	if !errors.As(err, &p) {
		t.Fatalf("Load error %v, want Problems", err)
	}
	p = append(p, cfg.Check(true)...)
	text := p.Error()
	for _, want := range []string{"INGEST_ACK_WAIT", "INGEST_CONCURRENCY", "LOG_LEVEL", "NATS_URL is empty",
		"AMPLIENCE_CLIENT_ID is empty", "AMPLIENCE_CLIENT_SECRET is empty", "AMPLIENCE_TIMEOUT (1m30s) must be below INGEST_ACK_WAIT"} {
		if !strings.Contains(text, want) {
			t.Errorf("problems do not mention %q:\n%s", want, text)
		}
	}
}

func TestPATAndClientCredentialsTogetherAreRefused(t *testing.T) {
	t.Parallel()
	env := complete()
	env["AMPLIENCE_PAT"] = "amp_pat_abc"
	cfg, err := load(t, env, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := cfg.Check(true)
	if len(p) != 1 || !strings.Contains(p[0], "AMPLIENCE_PAT and AMPLIENCE_CLIENT_ID") {
		t.Errorf("problems = %v, want the PAT/credentials conflict", p)
	}
	if strings.Contains(p.Error(), "amp_pat_abc") || strings.Contains(p.Error(), "s3cret") {
		t.Errorf("a problem quotes a secret: %v", p)
	}
}

func TestSecretsFromFiles(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"AMPLIENCE_CLIENT_SECRET", "AMPLIENCE_PAT", "NATS_PASSWORD", "NATS_TOKEN"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{name + "_FILE": "/run/secrets/x"}
			cfg, err := load(t, env, map[string]string{"/run/secrets/x": "from-file\n"})
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{
				"AMPLIENCE_CLIENT_SECRET": cfg.AmplienceClientSecret, "AMPLIENCE_PAT": cfg.AmpliencePAT,
				"NATS_PASSWORD": cfg.NATSPassword, "NATS_TOKEN": cfg.NATSToken,
			}[name]
			if got != "from-file" {
				t.Errorf("%s = %q, want the file's content without the newline", name, got)
			}
		})
	}
}

func TestSecretFileProblems(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"both set", map[string]string{"NATS_TOKEN": "t", "NATS_TOKEN_FILE": "/f"}, "NATS_TOKEN and NATS_TOKEN_FILE are both set"},
		{"unreadable", map[string]string{"NATS_TOKEN_FILE": "/missing"}, "NATS_TOKEN_FILE: cannot read the secret file"},
		{"defined empty beside the file", map[string]string{"NATS_TOKEN": "", "NATS_TOKEN_FILE": "/missing"}, "NATS_TOKEN_FILE: cannot read the secret file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := load(t, tc.env, map[string]string{"/f": "x"})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestVariablesListEverySetting(t *testing.T) {
	t.Parallel()
	vars := Variables()
	for _, want := range []string{"NATS_URL", "AMPLIENCE_CLIENT_SECRET", "AMPLIENCE_CLIENT_SECRET_FILE", "AMPLIENCE_PAT_FILE",
		"NATS_PASSWORD_FILE", "NATS_TOKEN_FILE", "INGEST_MAX_DELIVER", "LEDGER_BUCKET", "HTTP_ADDR"} {
		if !contains(vars, want) {
			t.Errorf("Variables() lacks %s", want)
		}
	}
	if Defaults()["INGEST_MAX_ATTEMPTS"] != "8" {
		t.Errorf("Defaults()[INGEST_MAX_ATTEMPTS] = %q", Defaults()["INGEST_MAX_ATTEMPTS"])
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
