package testbin

import (
	"os"
	"path/filepath"
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
