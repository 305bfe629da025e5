// Package version holds the release identity of the sluice and sluiced
// binaries, baked in at build time by the Makefile:
//
//	go build -ldflags "-X github.com/sluice-logs/sluice/version.Version=v0.1.0 -X github.com/sluice-logs/sluice/version.Commit=abc123"
//
// A binary built without the flags reports the module's build info where Go
// recorded it (go install, VCS stamping), else "dev".
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Version and Commit are set with -ldflags -X at build time.
var (
	Version = ""
	Commit  = ""
)

// Get returns the version and commit, falling back to Go's build info.
func Get() (version, commit string) {
	version, commit = Version, Commit
	if bi, ok := debug.ReadBuildInfo(); ok {
		if version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && commit == "" {
				commit = s.Value
			}
		}
	}
	if version == "" {
		version = "dev"
	}
	if commit == "" {
		commit = "unknown"
	}
	return version, commit
}

// String is the one-line version report: "sluiced v0.1.0 (commit abc123, go1.26.8)".
func String(program string) string {
	v, c := Get()
	return fmt.Sprintf("%s %s (commit %s, %s)", program, v, c, runtime.Version())
}

// UserAgent is the User-Agent Sluice's HTTP clients send.
func UserAgent() string {
	v, _ := Get()
	return "sluice/" + v
}
