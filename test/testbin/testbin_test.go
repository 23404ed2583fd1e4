package testbin

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestBuildNamesTheBinaryAsGoBuildDoes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bin, err := Build(dir, "./cmd/consumer")
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "consumer"); bin != want {
		t.Errorf("Build = %s, want %s", bin, want)
	}
	if info, err := os.Stat(bin); err != nil || info.Mode()&0o111 == 0 {
		t.Errorf("no executable at %s: %v", bin, err)
	}
	if _, err := Build(dir, "./cmd/no-such-command"); err == nil {
		t.Error("building a package that does not exist succeeded")
	}
}

// TestDeployedBuildsAsTheDockerfileDoes: a static binary built with -trimpath and without its
// symbol table, as `go version -m` records the build.
func TestDeployedBuildsAsTheDockerfileDoes(t *testing.T) {
	t.Parallel()
	bin, err := Deployed(t.TempDir(), "./cmd/consumer")
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("go", "version", "-m", bin).Output()
	if err != nil {
		t.Fatalf("go version -m: %v", err)
	}
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath=true"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the build settings lack %s:\n%s", want, out)
		}
	}
	// With -trimpath the linker flags are not recorded: -s -w shows in the file itself.
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, name := range []string{".symtab", ".debug_info"} {
		if f.Section(name) != nil {
			t.Errorf("the binary has a %s section: it was not built with -ldflags=\"-s -w\"", name)
		}
	}
}
