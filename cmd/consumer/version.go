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
	v := versionInfo{Version: buildVersion(), Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				v.VCSRevision = s.Value
			case "vcs.time":
				v.VCSTime = s.Value
			case "vcs.modified":
				v.VCSModified = s.Value
			}
		}
	}
	return v
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
	fmt.Fprintf(stdout, "go: %s %s\n", v.Go, v.Platform)
	for _, s := range []struct{ key, value string }{
		{"vcs.revision", v.VCSRevision}, {"vcs.time", v.VCSTime}, {"vcs.modified", v.VCSModified},
	} {
		if s.value != "" {
			fmt.Fprintf(stdout, "%s: %s\n", s.key, s.value)
		}
	}
	return nil
}
