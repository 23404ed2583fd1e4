// Package testbin builds the project's binaries for the tests that run them as processes
// (conformance's command lines, faulttest's kill -9, the soak run and BenchmarkProcesses).
package testbin

import (
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
)

// Build builds pkg ("./cmd/consumer", relative to the module root, or a module's package path)
// with go build and any extra flags (such as -race) into dir, and returns the binary's path. The
// binary is named as go build names it: after the package's last element, or the one before a
// major version suffix (v2).
func Build(dir, pkg string, extra ...string) (string, error) {
	return build(dir, pkg, nil, extra)
}

// Deployed builds pkg as the Dockerfile builds the image's binary: static (CGO_ENABLED=0),
// -trimpath, without the symbol table and debug information (-ldflags=-s -w). Measurements of
// a binary's memory use it, since the size and layout of the file decide the pages it maps.
func Deployed(dir, pkg string) (string, error) {
	return build(dir, pkg, []string{"CGO_ENABLED=0"}, []string{"-trimpath", "-ldflags=-s -w"})
}

func build(dir, pkg string, env, extra []string) (string, error) {
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("finding the module root: %w", err)
	}
	name := path.Base(pkg)
	if len(name) > 1 && name[0] == 'v' && strings.Trim(name[1:], "0123456789") == "" {
		name = path.Base(path.Dir(pkg))
	}
	bin := filepath.Join(dir, name)
	args := append([]string{"build", "-o", bin}, extra...)
	cmd := exec.Command("go", append(args, pkg)...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Dir = filepath.Dir(strings.TrimSpace(string(gomod)))
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", pkg, err, out)
	}
	return bin, nil
}
