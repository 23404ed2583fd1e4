package docs_test

import (
	"encoding/json"
	"go/ast"
	"go/token"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/amplience-ingest/asset-ingest-consumer/internal/config"
)

// instruction is one Dockerfile instruction: its keyword and the rest of its line, with
// continuation lines joined.
type instruction struct{ op, args string }

// stages splits a Dockerfile into its build stages, each starting with its FROM.
func stages(tb testing.TB, dockerfile string) [][]instruction {
	tb.Helper()
	var out [][]instruction
	joined := strings.ReplaceAll(dockerfile, "\\\n", " ")
	for _, line := range strings.Split(joined, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		op, args, _ := strings.Cut(line, " ")
		in := instruction{strings.ToUpper(op), strings.Join(strings.Fields(args), " ")}
		if in.op == "FROM" {
			out = append(out, nil)
		}
		if len(out) == 0 {
			continue // ARG before the first FROM
		}
		out[len(out)-1] = append(out[len(out)-1], in)
	}
	if len(out) < 2 {
		tb.Fatalf("Dockerfile has %d stages; want a builder and a final image", len(out))
	}
	return out
}

// one returns the args of the only instruction op in stage.
func one(tb testing.TB, stage []instruction, op string) string {
	tb.Helper()
	var found []string
	for _, in := range stage {
		if in.op == op {
			found = append(found, in.args)
		}
	}
	if len(found) != 1 {
		tb.Fatalf("the final stage has %d %s instructions; want 1", len(found), op)
	}
	return found[0]
}

// execForm decodes a JSON-array (exec form) argument list.
func execForm(tb testing.TB, op, args string) []string {
	tb.Helper()
	var v []string
	if err := json.Unmarshal([]byte(args), &v); err != nil {
		tb.Fatalf("%s %s: not the exec form (a JSON array): %v", op, args, err)
	}
	return v
}

// TestDockerfile: a static binary built with its version in a minimal non-root image that runs
// `consumer run`, checks itself without a shell, and exposes the port HTTP_ADDR defaults to.
func TestDockerfile(t *testing.T) {
	t.Parallel()
	st := stages(t, readRepoFile(t, "Dockerfile"))
	build, final := st[0], st[len(st)-1]
	cmds := consumerCommands(t)

	var run string
	for _, in := range build {
		if in.op == "RUN" && strings.Contains(in.args, "go build") {
			run = in.args
		}
	}
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-s -w", "-X main.version=${VERSION}", "-X main.commit=${COMMIT}", "-o /out/consumer", "./cmd/consumer", "--mount=type=cache,target=/go/pkg/mod"} {
		if !strings.Contains(run, want) {
			t.Errorf("the go build step %q lacks %q", run, want)
		}
	}
	if !hasStringVar(t, "commit") {
		t.Error("cmd/consumer has no package-level string var commit: -X main.commit sets nothing")
	}
	if !hasStringVar(t, "version") {
		t.Error("cmd/consumer has no package-level string var version: -X main.version sets nothing")
	}

	from := one(t, final, "FROM")
	if from != "gcr.io/distroless/static-debian12:nonroot" && from != "scratch" {
		t.Errorf("final image FROM %s: want distroless static nonroot (or scratch)", from)
	}
	if got := one(t, final, "USER"); got != "65532:65532" && got != "65532" && got != "nonroot" && got != "nonroot:nonroot" {
		t.Errorf("USER %s: want the non-root user 65532", got)
	}
	if got := one(t, final, "COPY"); got != "--from=build /out/consumer /consumer" {
		t.Errorf("COPY %s: want only the binary, --from=build /out/consumer /consumer", got)
	}
	if diff := cmp.Diff([]string{"/consumer"}, execForm(t, "ENTRYPOINT", one(t, final, "ENTRYPOINT"))); diff != "" {
		t.Errorf("ENTRYPOINT (-want +got):\n%s", diff)
	}
	cmd := execForm(t, "CMD", one(t, final, "CMD"))
	if diff := cmp.Diff([]string{"run"}, cmd); diff != "" {
		t.Errorf("CMD (-want +got):\n%s", diff)
	}
	hc := one(t, final, "HEALTHCHECK")
	i := strings.Index(hc, "CMD ")
	if i < 0 {
		t.Fatalf("HEALTHCHECK %s has no CMD", hc)
	}
	probe := execForm(t, "HEALTHCHECK CMD", hc[i+len("CMD "):])
	if len(probe) < 2 || probe[0] != "/consumer" || probe[1] != "healthcheck" || !slices.Contains(cmds, probe[1]) {
		t.Errorf("HEALTHCHECK CMD %q: want [/consumer healthcheck]", probe)
	}
	_, port, err := net.SplitHostPort(config.Defaults()["HTTP_ADDR"])
	if err != nil {
		t.Fatal(err)
	}
	if got := one(t, final, "EXPOSE"); got != port {
		t.Errorf("EXPOSE %s, want %s (the port of HTTP_ADDR's default)", got, port)
	}
	for _, in := range final {
		switch in.op {
		case "FROM", "COPY", "USER", "EXPOSE", "HEALTHCHECK", "ENTRYPOINT", "CMD", "ARG", "LABEL":
		default:
			t.Errorf("the final stage has %s %s: it should hold the binary and nothing else", in.op, in.args)
		}
	}
}

// TestDockerignore: the build context keeps what `go build ./cmd/consumer` reads.
func TestDockerignore(t *testing.T) {
	t.Parallel()
	needed := []string{"go.mod", "go.sum", "cmd", "internal", "internal/sandbox/schema.graphql"}
	for _, line := range strings.Split(readRepoFile(t, ".dockerignore"), "\n") {
		p := strings.TrimPrefix(strings.TrimSpace(line), "/")
		if p == "" || strings.HasPrefix(p, "#") || strings.HasPrefix(p, "!") {
			continue
		}
		for _, n := range needed {
			if p == n || strings.HasPrefix(n, p+"/") || p == "*" || p == "**" {
				t.Errorf(".dockerignore pattern %q leaves %s out of the build", line, n)
			}
		}
	}
}

// hasStringVar reports whether cmd/consumer declares a package-level var name of type string.
func hasStringVar(tb testing.TB, name string) bool {
	tb.Helper()
	for _, f := range parseDir(tb, "cmd/consumer") {
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.VAR {
				continue
			}
			for _, s := range g.Specs {
				vs := s.(*ast.ValueSpec)
				for i, n := range vs.Names {
					if n.Name != name {
						continue
					}
					if id, ok := vs.Type.(*ast.Ident); ok && id.Name == "string" {
						return true
					}
					if vs.Type == nil && i < len(vs.Values) {
						if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
							return true
						}
					}
				}
			}
		}
	}
	return false
}
