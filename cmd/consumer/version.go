package main

import (
	"encoding/json"
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

// versionInfo is what `consumer version` prints; with --json, these fields.
type versionInfo struct {
	Version     string `json:"version"`
	Go          string `json:"go"`
	Platform    string `json:"platform"`
	VCSRevision string `json:"vcsRevision,omitempty"`
	VCSTime     string `json:"vcsTime,omitempty"`
	VCSModified string `json:"vcsModified,omitempty"`
}

func readVersionInfo() versionInfo {
	v := versionInfo{Version: buildVersion(), Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH,
		VCSRevision: commit}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				if v.VCSRevision == "" {
					v.VCSRevision = s.Value
				}
			case "vcs.time":
				v.VCSTime = s.Value
			case "vcs.modified":
				v.VCSModified = s.Value
			}
		}
	}
	return v
}

// commitLine is the VCS revision the binary was built from, " (modified)" when the work tree
// had changes, or what to do when the build recorded none.
func (v versionInfo) commitLine() string {
	switch {
	case v.VCSRevision == "":
		return "unknown (the build recorded none: build in the git checkout without -buildvcs=false, " +
			"or pass -ldflags \"-X main.commit=$(git rev-parse HEAD)\", as docker build --build-arg COMMIT=... does)"
	case v.VCSModified == "true":
		return v.VCSRevision + " (modified)"
	}
	return v.VCSRevision
}

func cmdVersion(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("version", "Prints the version and build information; --json prints them as one JSON object.",
		"consumer version --json", stderr)
	asJSON := fs.Bool("json", false, "one JSON object: version, go, platform, vcsRevision, vcsTime, vcsModified")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	v := readVersionInfo()
	if *asJSON {
		return json.NewEncoder(stdout).Encode(v)
	}
	fmt.Fprintf(stdout, "consumer %s\n", v.Version)
	fmt.Fprintf(stdout, "commit: %s\n", v.commitLine())
	fmt.Fprintf(stdout, "go: %s %s\n", v.Go, v.Platform)
	if v.VCSTime != "" {
		fmt.Fprintf(stdout, "commit time: %s\n", v.VCSTime)
	}
	return nil
}
