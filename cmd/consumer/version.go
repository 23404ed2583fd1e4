package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// version is set at build time: -ldflags "-X main.version=v1.2.3".
var version = "dev"

// commit is set at build time where the build has no VCS information (a
// docker build, whose context leaves .git out): -ldflags "-X main.commit=<sha>".
var commit = ""

// buildCommit is the VCS revision the binary was built from, " (modified)"
// when the work tree had changes, or what to do when the build recorded none.
func buildCommit() string {
	rev, modified := commit, false
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			switch {
			case s.Key == "vcs.revision" && rev == "":
				rev = s.Value
			case s.Key == "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	switch {
	case rev == "":
		return "unknown (the build recorded none: build in the git checkout without -buildvcs=false, " +
			"or pass -ldflags \"-X main.commit=$(git rev-parse HEAD)\", as docker build --build-arg COMMIT=... does)"
	case modified:
		return rev + " (modified)"
	}
	return rev
}

// buildVersion is the version with the VCS revision when the build recorded one.
func buildVersion() string {
	v := version
	if info, ok := debug.ReadBuildInfo(); ok {
		if v == "dev" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			v = info.Main.Version
		}
	}
	return v
}

func cmdVersion(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("version", "Prints the version and build information.", "consumer version", stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "consumer %s\n", buildVersion())
	fmt.Fprintf(stdout, "commit: %s\n", buildCommit())
	fmt.Fprintf(stdout, "go: %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.time" {
				fmt.Fprintf(stdout, "commit time: %s\n", s.Value)
			}
		}
	}
	return nil
}
