package config

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/sethvargo/go-envconfig"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/broker"
)

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
			p := cfg.Validate(true)
			if len(p) != 1 || !strings.Contains(p[0], tc.want) {
				t.Errorf("problems = %q, want one containing %q", p, tc.want)
			}
		})
	}
	for _, ok := range []string{"nats://nats:4222", "nats:4222", "tls://a:4222, nats://b:4222", "wss://nats.example.com/", "nats://u:p@host:4222"} {
		cfg := Config{NATS: NATS{URL: ok}}
		for _, p := range cfg.Validate(true) {
			if strings.Contains(p, "NATS_URL") {
				t.Errorf("NATS_URL %q: %s", ok, p)
			}
		}
	}
}

func TestNATSValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		n    NATS
		want Problems
	}{
		{name: "nothing set: the URL is the service's to require"},
		{name: "user and password", n: NATS{URL: "nats://h:4222", User: "u", Password: "p"}},
		{name: "user without password", n: NATS{User: "u"},
			want: Problems{"NATS_USER is set but NATS_PASSWORD is empty; set NATS_PASSWORD (or NATS_PASSWORD_FILE)"}},
		{name: "password without user", n: NATS{Password: "p"},
			want: Problems{"NATS_PASSWORD is set but NATS_USER is empty; set NATS_USER"}},
		{name: "certificate without key", n: NATS{TLSCert: "/c"},
			want: Problems{"NATS_TLS_CERT and NATS_TLS_KEY go together; set both for a client certificate, or neither"}},
		{name: "key without certificate", n: NATS{TLSKey: "/k"},
			want: Problems{"NATS_TLS_CERT and NATS_TLS_KEY go together; set both for a client certificate, or neither"}},
		{name: "creds and nkey", n: NATS{Creds: "/c", NKey: "/n"},
			want: Problems{"NATS_CREDS and NATS_NKEY are both set; a connection uses one of them"}},
		{name: "every problem at once", n: NATS{URL: "http://h", User: "u", TLSKey: "/k"}, want: Problems{
			`NATS_URL server 1 (http://h) is not a valid NATS URL: scheme "http" is not one of nats, tls, ws or wss; want nats://host:4222`,
			"NATS_USER is set but NATS_PASSWORD is empty; set NATS_PASSWORD (or NATS_PASSWORD_FILE)",
			"NATS_TLS_CERT and NATS_TLS_KEY go together; set both for a client certificate, or neither",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, tt.n.Validate()); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNATSURLIsRequiredToRunOnly(t *testing.T) {
	t.Parallel()
	cfg, err := load(t, map[string]string{"AMPLIENCE_CLIENT_ID": "id", "AMPLIENCE_CLIENT_SECRET": "s"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p := cfg.Validate(false); len(p) > 0 {
		t.Errorf("without NATS_URL, for dev mode: %v", p)
	}
	want := Problems{"NATS_URL is empty; set it to the NATS server, e.g. nats://nats:4222 (or use `consumer dev` for an embedded server)"}
	if diff := cmp.Diff(want, cfg.Validate(true)); diff != "" {
		t.Errorf("problems to run (-want +got):\n%s", diff)
	}
}

// TestLoadNATS: an operator's tool loads the NATS part alone, secrets from files included,
// and a bad variable of another part is not its problem.
func TestLoadNATS(t *testing.T) {
	t.Parallel()
	env := map[string]string{"NATS_URL": "nats://h:4222", "NATS_USER": "u", "NATS_PASSWORD_FILE": "/pw", "INGEST_CONCURRENCY": "many"}
	n, err := Load[NATS](t.Context(), envconfig.MapLookuper(env), func(string) ([]byte, error) { return []byte("secret\n"), nil })
	if err != nil {
		t.Fatal(err)
	}
	want := broker.ConnectOptions{URL: "nats://h:4222", Name: "tool", User: "u", Password: "secret"}
	if diff := cmp.Diff(want, n.Options("tool"), cmpopts.IgnoreUnexported(broker.ConnectOptions{})); diff != "" {
		t.Errorf("options (-want +got):\n%s", diff)
	}
}
