package docs_test

import (
	"context"
	"net"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/google/go-cmp/cmp"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/config"
)

// loadCompose loads docker-compose.yml the way `docker compose` does (interpolation,
// normalisation, consistency checks), with an empty environment so that the file's own
// defaults apply.
func loadCompose(tb testing.TB) *types.Project {
	tb.Helper()
	abs, err := filepath.Abs(root)
	if err != nil {
		tb.Fatal(err)
	}
	opts, err := cli.NewProjectOptions([]string{filepath.Join(abs, "docker-compose.yml")},
		cli.WithWorkingDirectory(abs), cli.WithEnv(nil), cli.WithDiscardEnvFile)
	if err != nil {
		tb.Fatalf("compose options: %v", err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		tb.Fatalf("loading docker-compose.yml: %v", err)
	}
	return p
}

func service(tb testing.TB, p *types.Project, name string) types.ServiceConfig {
	tb.Helper()
	s, err := p.GetService(name)
	if err != nil {
		tb.Fatalf("docker-compose.yml: %v", err)
	}
	return s
}

// env returns a service's environment as plain strings.
func env(s types.ServiceConfig) map[string]string {
	out := map[string]string{}
	for k, v := range s.Environment {
		if v != nil {
			out[k] = *v
		}
	}
	return out
}

// flags reads "--name value" pairs from a command line.
func flags(cmd []string) map[string]string {
	out := map[string]string{}
	for i := 0; i+1 < len(cmd); i++ {
		if strings.HasPrefix(cmd[i], "--") {
			out[strings.TrimPrefix(cmd[i], "--")] = cmd[i+1]
		}
	}
	return out
}

// TestComposeConsumerEnvironment: every variable set on the consumer is one the configuration
// reads or an OpenTelemetry one, and the service cannot start without the ones `run` needs.
func TestComposeConsumerEnvironment(t *testing.T) {
	t.Parallel()
	p := loadCompose(t)
	e := env(service(t, p, "consumer"))
	known := config.Variables()
	for name := range e {
		if !slices.Contains(known, name) && !strings.HasPrefix(name, "OTEL_") {
			t.Errorf("consumer sets %s, which the service does not read (config.Variables() has no such variable)", name)
		}
	}
	cfg, err := config.Load[config.Config](context.Background(), mapLookuper(e), nil)
	if err != nil {
		t.Fatalf("the consumer's environment does not load: %v", err)
	}
	if problems := cfg.Validate(true); len(problems) > 0 {
		t.Errorf("`consumer run` would refuse the consumer's environment: %v", problems)
	}
	for _, name := range []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_SERVICE_NAME"} {
		if e[name] == "" {
			t.Errorf("consumer: %s is not set", name)
		}
	}
}

type mapLookuper map[string]string

func (m mapLookuper) Lookup(k string) (string, bool) { v, ok := m[k]; return v, ok }

// TestComposeWiring: the consumer reaches the sandbox, NATS and Jaeger by service name, with the
// credentials the sandbox accepts, and the sandbox's healthcheck asks the port it listens on.
func TestComposeWiring(t *testing.T) {
	t.Parallel()
	p := loadCompose(t)
	e := env(service(t, p, "consumer"))
	sb := service(t, p, "sandbox")
	sf := flags(sb.Command)
	_, sbPort, err := net.SplitHostPort(sf["addr"])
	if err != nil {
		t.Fatalf("sandbox --addr %q: %v", sf["addr"], err)
	}
	want := map[string]string{
		"AMPLIENCE_API_URL":       "http://sandbox:" + sbPort + "/graphql",
		"AMPLIENCE_AUTH_URL":      "http://sandbox:" + sbPort + "/oauth/token",
		"AMPLIENCE_CLIENT_ID":     sf["client-id"],
		"AMPLIENCE_CLIENT_SECRET": sf["client-secret"],
	}
	for k, v := range want {
		if e[k] != v {
			t.Errorf("consumer %s = %q, want %q (to match the sandbox service)", k, e[k], v)
		}
	}
	if got := env(sb)["HTTP_ADDR"]; got != sf["addr"] {
		t.Errorf("sandbox HTTP_ADDR = %q, want its --addr %q: `consumer healthcheck` asks HTTP_ADDR's /healthz", got, sf["addr"])
	}
	if e["AMPLIENCE_ASSET_REPOSITORY_ID"] == "" {
		t.Error("consumer: AMPLIENCE_ASSET_REPOSITORY_ID is not set; events that name no repository would be dead-lettered")
	}
	for _, k := range []string{"NATS_URL", "AMPLIENCE_API_URL", "OTEL_EXPORTER_OTLP_ENDPOINT"} {
		u, err := url.Parse(e[k])
		if err != nil {
			t.Errorf("consumer %s = %q: %v", k, e[k], err)
			continue
		}
		if _, err := p.GetService(u.Hostname()); err != nil {
			t.Errorf("consumer %s = %q names no service of the file", k, e[k])
		}
	}
	if pub := env(service(t, p, "publisher")); pub["NATS_URL"] != e["NATS_URL"] {
		t.Errorf("publisher NATS_URL = %q, consumer's = %q", pub["NATS_URL"], e["NATS_URL"])
	}
}

// TestComposeStartOrder: NATS and the sandbox are healthy before the consumer starts, the
// consumer is ready (its healthcheck asks /readyz: its streams exist) before the publisher
// runs, and every service waited for as healthy has a healthcheck.
func TestComposeStartOrder(t *testing.T) {
	t.Parallel()
	p := loadCompose(t)
	conditions := func(name string) map[string]string {
		out := map[string]string{}
		for dep, d := range service(t, p, name).DependsOn {
			out[dep] = d.Condition
		}
		return out
	}
	tests := []struct {
		service string
		want    map[string]string
	}{
		{"consumer", map[string]string{"nats": types.ServiceConditionHealthy, "sandbox": types.ServiceConditionHealthy, "jaeger": types.ServiceConditionStarted}},
		{"publisher", map[string]string{"consumer": types.ServiceConditionHealthy}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, conditions(tt.service)); diff != "" {
			t.Errorf("%s depends_on (-want +got):\n%s", tt.service, diff)
		}
	}
	for _, s := range p.Services {
		for dep, d := range s.DependsOn {
			if d.Condition != types.ServiceConditionHealthy {
				continue
			}
			hc := service(t, p, dep).HealthCheck
			if hc == nil || hc.Disable || len(hc.Test) < 2 {
				t.Errorf("%s waits for %s to be healthy, but %s has no healthcheck", s.Name, dep, dep)
			}
		}
	}
	var consumerCheck []string
	if hc := service(t, p, "consumer").HealthCheck; hc != nil {
		consumerCheck = hc.Test
	}
	if want := []string{"CMD", "/consumer", "healthcheck", "--ready"}; !slices.Equal(consumerCheck, want) {
		t.Errorf("consumer healthcheck %q, want %q: the publisher waits for readiness, not liveness", consumerCheck, want)
	}
	if r := service(t, p, "publisher").Restart; r != "" && r != types.RestartPolicyNo {
		t.Errorf("publisher restart = %q; a one-shot must not restart", r)
	}
}

// TestComposeNATS: JetStream with a persistent store, monitoring, a healthcheck on the
// monitoring endpoint that reports JetStream, and a server new enough to pause consumers.
func TestComposeNATS(t *testing.T) {
	t.Parallel()
	p := loadCompose(t)
	n := service(t, p, "nats")
	cmd := strings.Join(n.Command, " ")
	for _, want := range []string{"-js", "-sd /data", "-m 8222"} {
		if !strings.Contains(cmd, want) {
			t.Errorf("nats command %q lacks %q", cmd, want)
		}
	}
	if !slices.ContainsFunc(n.Volumes, func(v types.ServiceVolumeConfig) bool {
		return v.Target == "/data" && v.Type == types.VolumeTypeVolume
	}) {
		t.Errorf("nats: no named volume on /data: %+v", n.Volumes)
	}
	m := regexp.MustCompile(`^nats:(\d+)\.(\d+)`).FindStringSubmatch(n.Image)
	if m == nil {
		t.Fatalf("nats image %q has no major.minor tag", n.Image)
	}
	major, _ := strconv.Atoi(m[1])
	minor, _ := strconv.Atoi(m[2])
	if major < 2 || major == 2 && minor < 11 {
		t.Errorf("nats image %q: want 2.11 or newer (consumer pause)", n.Image)
	}
	if !strings.Contains(n.Image, "alpine") {
		t.Errorf("nats image %q: the healthcheck needs wget, which only the alpine variant has", n.Image)
	}
	if n.HealthCheck == nil || !strings.Contains(strings.Join(n.HealthCheck.Test, " "), ":8222/healthz?js-enabled-only=true") {
		t.Errorf("nats healthcheck %+v does not ask the monitoring port's /healthz?js-enabled-only=true", n.HealthCheck)
	}
}

// TestComposeCommands: the services built from the Dockerfile run `consumer` commands that
// exist, and their healthchecks run the binary itself (the image has no shell).
func TestComposeCommands(t *testing.T) {
	t.Parallel()
	p := loadCompose(t)
	cmds := consumerCommands(t)
	built := 0
	for _, s := range p.Services {
		if s.Build == nil {
			continue
		}
		built++
		if len(s.Command) == 0 || !slices.Contains(cmds, s.Command[0]) {
			t.Errorf("%s runs %q: not a consumer command (%q)", s.Name, s.Command, cmds)
		}
		if s.Build.Dockerfile != "" && s.Build.Dockerfile != "Dockerfile" {
			t.Errorf("%s builds from %q, not the Dockerfile", s.Name, s.Build.Dockerfile)
		}
		hc := s.HealthCheck
		if hc == nil || hc.Disable {
			continue
		}
		if len(hc.Test) < 3 || hc.Test[0] != "CMD" || hc.Test[1] != "/consumer" || !slices.Contains(cmds, hc.Test[2]) {
			t.Errorf("%s healthcheck %q: want [CMD /consumer <command>] (no shell in the image)", s.Name, hc.Test)
		}
	}
	if built < 3 {
		t.Errorf("%d services are built from the Dockerfile; want the sandbox, the consumer and the publisher", built)
	}
}

// TestComposeRunsTheTestedNATSVersion: the compose file's NATS image has the
// major.minor version of the nats-server module every test embeds.
func TestComposeRunsTheTestedNATSVersion(t *testing.T) {
	t.Parallel()
	gomod := readRepoFile(t, "go.mod")
	m := regexp.MustCompile(`(?m)^\s*github\.com/nats-io/nats-server/v2 v(\d+\.\d+)\.\d+`).FindStringSubmatch(gomod)
	if m == nil {
		t.Fatal("go.mod requires no github.com/nats-io/nats-server/v2")
	}
	image := service(t, loadCompose(t), "nats").Image
	if want := "nats:" + m[1] + "-alpine"; image != want {
		t.Errorf("docker-compose.yml runs %s; the tests run nats-server %s.x: use %s", image, m[1], want)
	}
	readme := readRepoFile(t, "README.md")
	for _, old := range regexp.MustCompile(`nats:\d+\.\d+-alpine`).FindAllString(readme, -1) {
		if old != image {
			t.Errorf("README names %s; the compose file runs %s", old, image)
		}
	}
}
