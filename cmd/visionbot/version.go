package main

import (
	"fmt"
	"runtime/debug"
)

// build is what the binary says of itself: its module version and the
// commit it was built from, as the Go toolchain stamped them.
type build struct {
	version  string // the main module's version, or "(devel)"
	commit   string // the VCS revision, "unknown" when none was stamped
	time     string // the commit's time, "" when none was stamped
	modified bool   // built from a tree with uncommitted changes
	goVer    string
}

// readBuild reads what the toolchain stamped in this binary.
func readBuild() build {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return build{version: "unknown", commit: "unknown"}
	}
	return buildOf(info)
}

// buildOf reads a BuildInfo: Main.Version, and the vcs.* settings that go
// build adds from the repository it builds in (-buildvcs, on by default).
func buildOf(info *debug.BuildInfo) build {
	b := build{version: info.Main.Version, commit: "unknown", goVer: info.GoVersion}
	if b.version == "" {
		b.version = "(devel)"
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			b.commit = s.Value
		case "vcs.time":
			b.time = s.Value
		case "vcs.modified":
			b.modified = s.Value == "true"
		}
	}
	return b
}

// String is visionbot version's line.
func (b build) String() string {
	s := fmt.Sprintf("visionbot %s, commit %s", b.version, b.commit)
	if b.modified {
		s += " (modified)"
	}
	if b.time != "" {
		s += ", " + b.time
	}
	if b.goVer != "" {
		s += ", " + b.goVer
	}
	return s
}
