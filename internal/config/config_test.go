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
	return Load[Config](context.Background(), envconfig.MapLookuper(env), read)
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	cfg, err := load(t, complete(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if p := cfg.Validate(true); len(p) > 0 {
		t.Fatalf("a complete configuration has problems: %v", p)
	}
	got := []any{cfg.Streams.Inbound, cfg.Streams.Subjects, cfg.Streams.Durable, cfg.Streams.Results, cfg.Streams.DLQ,
		cfg.Streams.LedgerBucket, cfg.Ingest.Concurrency, cfg.Ingest.MaxAckPending, cfg.Ingest.MaxAttempts, cfg.Ingest.BackoffBase, cfg.Ingest.BackoffMax,
		cfg.Ingest.EffectiveMaxDeliver(), cfg.Ingest.AckWait, cfg.Ingest.AllowHTTP, cfg.Streams.Create, cfg.Streams.Replicas,
		cfg.Telemetry.HTTPAddr, cfg.Telemetry.LogLevel, cfg.Telemetry.LogFormat, cfg.Amplience.RateLimit.String(), cfg.Amplience.Timeout, cfg.Amplience.APIURL, cfg.Amplience.AuthURL}
	want := []any{"ASSETS", []string{"assets.published.>"}, "asset-ingest", "ASSET_RESULTS", "ASSETS_DLQ",
		"asset_ingest_ledger", 64, 1000, 8, time.Second, 10 * time.Minute,
		100, time.Minute, false, true, 1,
		":8080", "info", "json", "60/m", 30 * time.Second, "https://api.amplience.net/graphql", "https://auth.amplience.net/oauth/token"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
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
	p = append(p, cfg.Validate(true)...)
	text := p.Error()
	for _, want := range []string{"INGEST_ACK_WAIT", "INGEST_CONCURRENCY", "LOG_LEVEL", "NATS_URL is empty",
		"AMPLIENCE_CLIENT_ID is empty", "AMPLIENCE_CLIENT_SECRET is empty", "AMPLIENCE_TIMEOUT (1m30s) must be below two thirds of INGEST_ACK_WAIT"} {
		if !strings.Contains(text, want) {
			t.Errorf("problems do not mention %q:\n%s", want, text)
		}
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
				"AMPLIENCE_CLIENT_SECRET": cfg.Amplience.ClientSecret, "AMPLIENCE_PAT": cfg.Amplience.PAT,
				"NATS_PASSWORD": cfg.NATS.Password, "NATS_TOKEN": cfg.NATS.Token,
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
		{"missing", map[string]string{"NATS_TOKEN_FILE": "/missing"}, "NATS_TOKEN_FILE: the secret file /missing does not exist"},
		{"unreadable", map[string]string{"NATS_TOKEN_FILE": "/locked"}, "NATS_TOKEN_FILE: cannot read the secret file: open /locked: permission denied"},
		{"defined empty beside the file", map[string]string{"NATS_TOKEN": "", "NATS_TOKEN_FILE": "/missing"}, "NATS_TOKEN_FILE: the secret file /missing does not exist"},
		{"empty variable", map[string]string{"AMPLIENCE_CLIENT_SECRET_FILE": ""}, "AMPLIENCE_CLIENT_SECRET_FILE is set but empty"},
		{"empty file", map[string]string{"AMPLIENCE_CLIENT_SECRET_FILE": "/empty"}, "AMPLIENCE_CLIENT_SECRET_FILE: the secret file /empty is empty"},
		{"file of a newline", map[string]string{"NATS_PASSWORD_FILE": "/newline"}, "NATS_PASSWORD_FILE: the secret file /newline is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			read := func(name string) ([]byte, error) {
				switch name {
				case "/f":
					return []byte("x"), nil
				case "/empty":
					return nil, nil
				case "/newline":
					return []byte("\n"), nil
				case "/locked":
					return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrPermission}
				}
				return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
			}
			_, err := Load[Config](context.Background(), envconfig.MapLookuper(tc.env), read)
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

func TestDecodingProblemsNameTheAcceptedValues(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, variable, value, want string
	}{
		{"bool", "INGEST_ALLOW_HTTP", "yes", `INGEST_ALLOW_HTTP "yes" is not a boolean; use true or false (1 and 0 also work)`},
		{"duration without unit", "INGEST_ACK_WAIT", "10", `INGEST_ACK_WAIT "10" is not a duration; use a number with a unit: ms, s, m or h (30s, 1m30s, 2h)`},
		{"int", "INGEST_CONCURRENCY", "many", `INGEST_CONCURRENCY "many" is not a whole number; use digits only, such as 16`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := load(t, map[string]string{tc.variable: tc.value}, nil)
			var p Problems
			if !errors.As(err, &p) {
				t.Fatalf("Load error %v, want Problems", err)
			}
			if diff := cmp.Diff(Problems{tc.want}, p); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAmplienceTimeoutDefaultFollowsAckWait(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		env  map[string]string
		want time.Duration
	}{
		{"defaults", nil, 30 * time.Second},
		{"short ack wait", map[string]string{"INGEST_ACK_WAIT": "10s"}, 5 * time.Second},
		{"long ack wait", map[string]string{"INGEST_ACK_WAIT": "5m"}, 30 * time.Second},
		{"set explicitly", map[string]string{"INGEST_ACK_WAIT": "10s", "AMPLIENCE_TIMEOUT": "4s"}, 4 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := complete()
			for k, v := range tc.env {
				env[k] = v
			}
			cfg, err := load(t, env, nil)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Amplience.Timeout != tc.want {
				t.Errorf("AMPLIENCE_TIMEOUT = %s, want %s", cfg.Amplience.Timeout, tc.want)
			}
			if p := cfg.Validate(true); len(p) > 0 {
				t.Errorf("problems: %v", p)
			}
		})
	}
}

func TestCombineLeavesOutWhatAFileProblemExplains(t *testing.T) {
	t.Parallel()
	env := map[string]string{"NATS_URL": "nats://nats:4222", "AMPLIENCE_CLIENT_ID": "id", "AMPLIENCE_CLIENT_SECRET_FILE": ""}
	cfg, err := load(t, env, nil)
	var p Problems
	if !errors.As(err, &p) {
		t.Fatalf("Load error %v, want Problems", err)
	}
	got := Combine(p, cfg.Validate(true))
	want := Problems{"AMPLIENCE_CLIENT_SECRET_FILE is set but empty; set it to the path of the file holding AMPLIENCE_CLIENT_SECRET, or unset it"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}

// TestTimeoutBelowTwoThirdsOfAckWait: a claim is refreshed every third of the ack wait, and a
// call starts only while its claim stays live for longer than AMPLIENCE_TIMEOUT; a timeout of
// two thirds of the ack wait or more is refused, with what would fit.
func TestTimeoutBelowTwoThirdsOfAckWait(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, timeout, ackWait string
		want                   []string // nil: accepted
	}{
		{name: "defaults", timeout: "30s", ackWait: "60s"},
		{name: "just below", timeout: "39999ms", ackWait: "60s"},
		{name: "two thirds", timeout: "40s", ackWait: "60s",
			want: []string{"AMPLIENCE_TIMEOUT (40s) must be below two thirds of INGEST_ACK_WAIT (1m0s), so that a call always ends before its claim can expire; set AMPLIENCE_TIMEOUT to at most 39.999s or INGEST_ACK_WAIT to more than 1m0s"}},
		{name: "above", timeout: "1500ms", ackWait: "2s",
			want: []string{"AMPLIENCE_TIMEOUT (1.5s) must be below two thirds of INGEST_ACK_WAIT (2s), so that a call always ends before its claim can expire; set AMPLIENCE_TIMEOUT to at most 1.333s or INGEST_ACK_WAIT to more than 2.25s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := complete()
			env["AMPLIENCE_TIMEOUT"], env["INGEST_ACK_WAIT"] = tt.timeout, tt.ackWait
			cfg, err := load(t, env, nil)
			if err != nil {
				t.Fatal(err)
			}
			got := []string(cfg.Validate(true))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}
