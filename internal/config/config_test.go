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
		"AMPLIENCE_CLIENT_ID is empty", "AMPLIENCE_CLIENT_SECRET is empty", "AMPLIENCE_TIMEOUT (1m30s) must be below two thirds of INGEST_ACK_WAIT"} {
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
			_, err := Load(context.Background(), envconfig.MapLookuper(tc.env), read)
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
			if cfg.AmplienceTimeout != tc.want {
				t.Errorf("AMPLIENCE_TIMEOUT = %s, want %s", cfg.AmplienceTimeout, tc.want)
			}
			if p := cfg.Check(true); len(p) > 0 {
				t.Errorf("problems: %v", p)
			}
		})
	}
}

func TestMalformedNATSURLIsAProblem(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, url, want string
	}{
		{"http scheme", "http://nats:4222", `NATS_URL server 1 (http://nats:4222) is not a valid NATS URL: scheme "http" is not one of nats, tls, ws or wss`},
		{"missing colon", "nats//nats:4222", `NATS_URL server 1 (nats//nats:4222) is not a valid NATS URL: it has a path or query after the host`},
		{"second of two", "nats://a:4222,https://b", `NATS_URL server 2 (https://b) is not a valid NATS URL`},
		{"no host", "nats://:4222", `NATS_URL server 1 (nats://:4222) is not a valid NATS URL: it has no host name`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := complete()
			env["NATS_URL"] = tc.url
			cfg, err := load(t, env, nil)
			if err != nil {
				t.Fatal(err)
			}
			p := cfg.Check(true)
			if len(p) != 1 || !strings.Contains(p[0], tc.want) {
				t.Errorf("problems = %q, want one containing %q", p, tc.want)
			}
		})
	}
	for _, ok := range []string{"nats://nats:4222", "nats:4222", "tls://a:4222, nats://b:4222", "wss://nats.example.com/", "nats://u:p@host:4222"} {
		cfg := Config{NATSURL: ok}
		for _, p := range cfg.Check(true) {
			if strings.Contains(p, "NATS_URL") {
				t.Errorf("NATS_URL %q: %s", ok, p)
			}
		}
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
	got := Combine(p, cfg.Check(true))
	want := Problems{"AMPLIENCE_CLIENT_SECRET_FILE is set but empty; set it to the path of the file holding AMPLIENCE_CLIENT_SECRET, or unset it"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}

// TestAmplienceURLs: the token and API URLs carry the client secret and tokens, so they must be
// https unless their host is loopback, or AMPLIENCE_ALLOW_HTTP opts in for a test setup.
func TestAmplienceURLs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     map[string]string
		refused []string // variables named by a problem
	}{
		{name: "https", env: map[string]string{"AMPLIENCE_API_URL": "https://api.example.com/graphql", "AMPLIENCE_AUTH_URL": "https://auth.example.com/oauth/token"}},
		{name: "http on 127.0.0.1", env: map[string]string{"AMPLIENCE_API_URL": "http://127.0.0.1:8090/graphql", "AMPLIENCE_AUTH_URL": "http://127.0.0.1:8090/oauth/token"}},
		{name: "http on 127.1.2.3", env: map[string]string{"AMPLIENCE_API_URL": "http://127.1.2.3/graphql"}},
		{name: "http on ::1", env: map[string]string{"AMPLIENCE_API_URL": "http://[::1]:8090/graphql"}},
		{name: "http on localhost", env: map[string]string{"AMPLIENCE_AUTH_URL": "http://LocalHost:8090/oauth/token"}},
		{name: "http on a service name", env: map[string]string{"AMPLIENCE_API_URL": "http://sandbox:8090/graphql", "AMPLIENCE_AUTH_URL": "http://sandbox:8090/oauth/token"},
			refused: []string{"AMPLIENCE_API_URL", "AMPLIENCE_AUTH_URL"}},
		{name: "http on a public name", env: map[string]string{"AMPLIENCE_AUTH_URL": "http://auth.amplience.net/oauth/token"}, refused: []string{"AMPLIENCE_AUTH_URL"}},
		{name: "http on a private address", env: map[string]string{"AMPLIENCE_API_URL": "http://10.0.0.7/graphql"}, refused: []string{"AMPLIENCE_API_URL"}},
		{name: "http on a name that starts like loopback", env: map[string]string{"AMPLIENCE_API_URL": "http://127.0.0.1.example.com/graphql"}, refused: []string{"AMPLIENCE_API_URL"}},
		{name: "http on a service name, opted in", env: map[string]string{"AMPLIENCE_API_URL": "http://sandbox:8090/graphql", "AMPLIENCE_AUTH_URL": "http://sandbox:8090/oauth/token", "AMPLIENCE_ALLOW_HTTP": "true"}},
		{name: "auth URL unused with a PAT", env: map[string]string{"AMPLIENCE_CLIENT_ID": "", "AMPLIENCE_CLIENT_SECRET": "", "AMPLIENCE_PAT": "amp_pat_x", "AMPLIENCE_AUTH_URL": "http://auth.example.com/token"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := complete()
			for k, v := range tt.env {
				env[k] = v
			}
			cfg, err := load(t, env, nil)
			if err != nil {
				t.Fatal(err)
			}
			var refused []string
			for _, p := range cfg.Check(true) {
				name, _, _ := strings.Cut(p, " ")
				refused = append(refused, name)
				if !strings.Contains(p, "https") || !strings.Contains(p, "AMPLIENCE_ALLOW_HTTP") {
					t.Errorf("problem %q does not say what to do", p)
				}
			}
			if diff := cmp.Diff(tt.refused, refused); diff != "" {
				t.Errorf("refused variables (-want +got):\n%s", diff)
			}
		})
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
			got := []string(cfg.Check(true))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}
