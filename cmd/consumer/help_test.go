package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
)

// listed returns the first word of each entry of the indented list under heading in usage:
// the commands of topUsage, the subcommands of dlqUsage.
func listed(tb testing.TB, usage, heading string) []string {
	tb.Helper()
	_, after, ok := strings.Cut(usage, "\n"+heading+"\n")
	if !ok {
		tb.Fatalf("usage has no %q section", heading)
	}
	var words []string
	for _, line := range strings.Split(after, "\n") {
		if strings.TrimSpace(line) == "" {
			break
		}
		if m := regexp.MustCompile(`^  ([a-z]+)  `).FindStringSubmatch(line); m != nil {
			words = append(words, m[1])
		}
	}
	if len(words) == 0 {
		tb.Fatalf("no entries under %q", heading)
	}
	return words
}

func noEnv(string) (string, bool) { return "", false }

// runHelp runs the command line args with --help appended and returns the exit code and the
// combined output.
func runHelp(tb testing.TB, args []string) (int, string) {
	tb.Helper()
	code, stdout, stderr := runArgs(tb, append(slices.Clip(args), "--help"))
	return code, stdout + stderr
}

// runArgs runs the command line args with no environment and returns the exit code, stdout
// and stderr.
func runArgs(tb testing.TB, args []string) (int, string, string) {
	tb.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), args, noEnv, &stdout, &stderr)
	return exitCode(err, &stderr), stdout.String(), stderr.String()
}

// leaves returns every command line that names one command: each command, and dlq with each
// of its subcommands.
func leaves(tb testing.TB) [][]string {
	tb.Helper()
	var out [][]string
	for _, cmd := range listed(tb, topUsage, "Commands:") {
		if cmd != "dlq" {
			out = append(out, []string{cmd})
			continue
		}
		for _, sub := range listed(tb, dlqUsage, "Subcommands:") {
			out = append(out, []string{"dlq", sub})
		}
	}
	return out
}

// TestHelpGoesToStdout: every spelling of help, for the top level, dlq and every command,
// prints on stdout alone and exits 0, so `consumer X --help | less` works.
func TestHelpGoesToStdout(t *testing.T) {
	t.Parallel()
	lines := [][]string{{"help"}, {"--help"}, {"-h"}, {"dlq", "help"}, {"dlq", "--help"}, {"dlq", "-h"}}
	for _, l := range leaves(t) {
		for _, h := range []string{"--help", "-h", "-help"} {
			lines = append(lines, append(slices.Clip(l), h))
		}
	}
	lines = append(lines, []string{"publish", "--count", "3", "--help"})
	for _, args := range lines {
		name := strings.Join(args, " ")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			code, stdout, stderr := runArgs(t, args)
			if code != 0 || stderr != "" || !strings.Contains(stdout, "Usage: consumer") {
				t.Errorf("consumer %s: exit %d, stdout %q..., stderr %q; want exit 0 and the usage on stdout alone",
					name, code, firstLine(stdout), stderr)
			}
		})
	}
}

// TestUnknownFlagReportedOnce: a flag a command does not have exits 2, prints nothing on stdout
// and names the flag once on stderr (with the command's usage).
func TestUnknownFlagReportedOnce(t *testing.T) {
	t.Parallel()
	for _, l := range leaves(t) {
		args := append(slices.Clip(l), "--no-such-flag")
		name := strings.Join(args, " ")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			code, stdout, stderr := runArgs(t, args)
			if code != 2 || stdout != "" {
				t.Errorf("consumer %s: exit %d, stdout %q; want 2 and nothing on stdout", name, code, stdout)
			}
			if n := strings.Count(stderr, "no-such-flag"); n != 1 {
				t.Errorf("consumer %s: stderr names the flag %d times, want once:\n%s", name, n, stderr)
			}
			if !strings.Contains(stderr, "Usage: consumer "+l[0]) {
				t.Errorf("consumer %s: stderr has no usage:\n%s", name, stderr)
			}
		})
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// TestEveryCommandHasHelp: each command (and each dlq subcommand) answers --help with exit 0,
// a description and an example.
func TestEveryCommandHasHelp(t *testing.T) {
	t.Parallel()
	var leaves [][]string
	for _, cmd := range listed(t, topUsage, "Commands:") {
		if cmd != "dlq" {
			leaves = append(leaves, []string{cmd})
			continue
		}
		subs := listed(t, dlqUsage, "Subcommands:")
		code, out := runHelp(t, []string{"dlq"})
		if code != 0 {
			t.Errorf("dlq --help: exit %d\n%s", code, out)
		}
		for _, sub := range subs {
			if !strings.Contains(out, "\n  "+sub+" ") {
				t.Errorf("dlq --help does not list %s:\n%s", sub, out)
			}
			leaves = append(leaves, []string{"dlq", sub})
		}
	}
	if len(leaves) < 7 {
		t.Fatalf("found only %q", leaves)
	}
	for _, args := range leaves {
		name := strings.Join(args, " ")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			code, out := runHelp(t, args)
			if code != 0 {
				t.Fatalf("consumer %s --help: exit %d, want 0\n%s", name, code, out)
			}
			usage, rest, ok := strings.Cut(out, "\n\n")
			if !ok || !strings.HasPrefix(usage, "Usage: consumer "+name) {
				t.Errorf("consumer %s --help does not start with its usage line:\n%s", name, out)
			}
			description, _, _ := strings.Cut(rest, "\n\n")
			if len(strings.Fields(description)) < 3 {
				t.Errorf("consumer %s --help has no description:\n%s", name, out)
			}
			_, example, ok := strings.Cut(out, "\nExample:\n")
			if !ok || !strings.Contains(example, "consumer "+args[0]) {
				t.Errorf("consumer %s --help has no example of itself:\n%s", name, out)
			}
		})
	}
}

// TestUnknownCommandExits2 keeps the check above honest: a command that does not exist fails
// the way a documented one must not.
func TestUnknownCommandExits2(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"nosuch"}, {"publish", "--no-such-flag"}, {"dlq", "nosuch"}} {
		if code, out := runHelp(t, args); code != 2 {
			t.Errorf("consumer %s --help: exit %d, want 2\n%s", strings.Join(args, " "), code, out)
		}
	}
}

// TestDocumentedCommandLines: every `consumer` command line in the README's shell blocks and in
// docker-compose.yml names a command that exists, with flags it accepts: each runs with --help
// appended, which parses every flag before it and then stops, and must exit 0.
func TestDocumentedCommandLines(t *testing.T) {
	t.Parallel()
	lines := map[string][]string{}
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, block := range shellBlocks(string(readme)) {
		for _, args := range consumerLines(block) {
			lines["README: "+strings.Join(args, " ")] = args
		}
	}
	fromReadme := len(lines)
	for _, args := range composeLines(t) {
		lines["docker-compose.yml: "+strings.Join(args, " ")] = args
	}
	if fromReadme < 6 || len(lines)-fromReadme < 3 {
		t.Fatalf("found %d command lines in the README and %d in docker-compose.yml: the extraction no longer matches", fromReadme, len(lines)-fromReadme)
	}
	for where, args := range lines {
		t.Run(where, func(t *testing.T) {
			t.Parallel()
			if code, out := runHelp(t, args); code != 0 {
				t.Errorf("%s: with --help appended, exit %d, want 0\n%s", where, code, out)
			}
		})
	}
}

// shellBlocks returns the fenced ```sh blocks of a markdown document, continuation lines
// joined.
func shellBlocks(md string) []string {
	var blocks []string
	for _, part := range strings.Split(md, "```sh\n")[1:] {
		body, _, _ := strings.Cut(part, "```")
		blocks = append(blocks, strings.ReplaceAll(body, "\\\n", " "))
	}
	return blocks
}

// consumerLines returns the arguments given to the consumer binary (consumer, ./consumer,
// /consumer or go run ./cmd/consumer) on each line of a shell block.
func consumerLines(block string) [][]string {
	var out [][]string
	for _, line := range strings.Split(block, "\n") {
		words := shellWords(line)
		start := -1
		for i, w := range words {
			if i > 0 && words[i-1] == "nats" {
				continue // `nats consumer ...` is the nats CLI
			}
			if w == "consumer" || w == "./consumer" || w == "/consumer" || (w == "./cmd/consumer" && i >= 2 && words[i-1] == "run" && words[i-2] == "go") {
				start = i + 1
			}
		}
		if start < 0 {
			continue
		}
		var args []string
		for _, w := range words[start:] {
			if w == "|" || w == "&&" || w == ";" || strings.HasPrefix(w, ">") || strings.HasPrefix(w, "2>") || strings.HasPrefix(w, "#") {
				break
			}
			args = append(args, w)
		}
		out = append(out, args)
	}
	return out
}

// shellWords splits a line into words the way a POSIX shell would for the simple lines of the
// README: single and double quotes group, nothing is expanded.
func shellWords(line string) []string {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	for _, r := range line {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

// composeLines returns the consumer command lines of docker-compose.yml: the commands of the
// services built from the Dockerfile and the healthchecks that run /consumer.
func composeLines(tb testing.TB) [][]string {
	tb.Helper()
	abs, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		tb.Fatal(err)
	}
	opts, err := cli.NewProjectOptions([]string{filepath.Join(abs, "docker-compose.yml")},
		cli.WithWorkingDirectory(abs), cli.WithEnv(nil), cli.WithDiscardEnvFile)
	if err != nil {
		tb.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		tb.Fatalf("loading docker-compose.yml: %v", err)
	}
	var out [][]string
	for _, s := range p.Services {
		if s.Build != nil && len(s.Command) > 0 {
			out = append(out, s.Command)
		}
		if hc := s.HealthCheck; hc != nil && len(hc.Test) > 2 && hc.Test[0] == "CMD" && hc.Test[1] == "/consumer" {
			out = append(out, hc.Test[2:])
		}
	}
	return out
}
