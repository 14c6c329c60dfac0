package main

import (
	"fmt"
	"io"

	"github.com/eventrouter/eventrouter/destinations/warehouse"
	"github.com/eventrouter/eventrouter/internal/buildinfo"
)

// Set at build time with -ldflags "-X main.version=... -X main.commit=...
// -X main.date=...", for builds whose version the Go toolchain cannot see
// (a source tree without .git, such as a container build context). Each
// one left empty is read from the binary's build information instead.
var (
	version = ""
	commit  = ""
	date    = ""
)

const versionUsage = `Usage: eventrouter version [--json]

Print the version, the commit and date it was built from, the Go, NATS
server and DuckDB versions, and which build this is (default: cgo with
DuckDB; static: no cgo, no DuckDB).
`

func runVersion(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("version", versionUsage, true, stderr)
	asJSON := fs.Bool("json", false, "print JSON (one object) for machines")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if err := readBuildInfo().Write(stdout, *asJSON); err != nil {
		fmt.Fprintf(stderr, "eventrouter: %v\n", err)
		return 1
	}
	return 0
}

// versionString is the version alone, for log lines.
func versionString() string { return readBuildInfo().Version }

// readBuildInfo gathers the running binary's build information
// (internal/buildinfo), with the -ldflags values and the warehouse's
// DuckDB version.
func readBuildInfo() buildinfo.Info {
	return buildinfo.Read(buildinfo.Stamp{Version: version, Commit: commit, Date: date}, warehouse.DuckDBVersion())
}
