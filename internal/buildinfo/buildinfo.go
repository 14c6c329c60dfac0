// Package buildinfo says which eventrouter a binary is: its version,
// commit and date (from the Go toolchain's build information, or from
// -ldflags for builds the toolchain cannot see), the Go, NATS server and
// DuckDB versions, and which build it is (default: cgo with DuckDB;
// static: no cgo, no DuckDB). `eventrouter version` prints it and the
// eventrouter_build_info metric carries it. It is internal and imports no
// component: the DuckDB version is passed in by cmd/eventrouter, which
// knows the warehouse.
package buildinfo

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/prometheus/client_golang/prometheus"
)

// Info is what `eventrouter version` prints and the
// eventrouter_build_info metric carries.
type Info struct {
	// Version is the module version: "v0.1.0" for `go install
	// ...@v0.1.0` or a build of a clean checkout at that tag, a
	// pseudo-version ("v0.1.1-0.20261205140400-90c56c0abcde+dirty")
	// between tags, "dev" when unknown.
	Version string `json:"version"`
	// Commit is the VCS revision the binary was built from, "" when
	// unknown (go install of a module version records none).
	Commit string `json:"commit"`
	// Modified is true when the work tree had uncommitted changes.
	Modified bool `json:"modified"`
	// Date is the commit's time in RFC 3339, which is also the build date
	// of a release: releases are built reproducibly, so the same commit
	// gives the same binary. "" when unknown.
	Date string `json:"date"`
	// Go is the Go toolchain's version, OS and Arch the platform.
	Go   string `json:"go"`
	OS   string `json:"os"`
	Arch string `json:"arch"`
	// Build is "default" (cgo, DuckDB embedded) or "static"
	// (CGO_ENABLED=0, tag noduckdb: no DuckDB).
	Build string `json:"build"`
	// NATSServer is the version of the embedded NATS server.
	NATSServer string `json:"nats_server"`
	// DuckDB is the embedded DuckDB library's version, "" in the static
	// build.
	DuckDB string `json:"duckdb"`
}

// Stamp holds the values set at build time with -ldflags (for builds
// whose version the Go toolchain cannot see, such as a container build
// context without .git); each one left empty is read from the binary's
// build information instead.
type Stamp struct {
	Version, Commit, Date string
}

// Read gathers the build information of the running binary. duckdb is
// the embedded DuckDB library's version, "" in the static build (the
// warehouse destination knows it; this package imports no component).
func Read(ld Stamp, duckdb string) Info {
	bi, _ := debug.ReadBuildInfo()
	return Make(bi, ld, duckdb)
}

// Make combines the Go toolchain's build information (bi, nil when the
// binary has none) with the values set with -ldflags, which win. duckdb
// is as for [Read].
func Make(bi *debug.BuildInfo, ld Stamp, duckdb string) Info {
	b := Info{
		Version: "dev", Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH,
		Build: "default", NATSServer: "v" + server.VERSION, DuckDB: duckdb,
	}
	if duckdb == "" {
		b.Build = "static"
	}
	if bi != nil {
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			b.Version = v
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				b.Commit = s.Value
			case "vcs.time":
				b.Date = s.Value
			case "vcs.modified":
				b.Modified = s.Value == "true"
			}
		}
		if b.Commit == "" {
			// go install of a pseudo-version records no VCS settings,
			// but the version names the commit.
			b.Commit = pseudoVersionCommit(b.Version)
		}
	}
	if ld.Version != "" {
		b.Version = ld.Version
	}
	if ld.Commit != "" {
		b.Commit = ld.Commit
	}
	if ld.Date != "" {
		b.Date = ld.Date
	}
	return b
}

// pseudoVersionCommit returns the 12-digit commit prefix of a Go
// pseudo-version ("v0.0.0-20261205140400-90c56c0abcde"), "" for any other
// version.
func pseudoVersionCommit(v string) string {
	v, _, _ = strings.Cut(v, "+")
	i := strings.LastIndexByte(v, '-')
	if i < 0 || len(v)-i-1 != 12 {
		return ""
	}
	rev := v[i+1:]
	stamp := v[:i]
	if j := strings.LastIndexAny(stamp, "-."); j < 0 || len(stamp)-j-1 != 14 {
		return ""
	}
	for _, c := range rev {
		if !strings.ContainsRune("0123456789abcdef", c) {
			return ""
		}
	}
	return rev
}

// Text returns the human form of b: the first line is "eventrouter
// <version> <go version>", as it was before the other lines existed.
func (b Info) Text() string {
	var s strings.Builder
	fmt.Fprintf(&s, "eventrouter %s %s\n", b.Version, b.Go)
	commit := b.Commit
	if commit == "" {
		commit = "unknown"
	}
	if b.Modified {
		commit += " (modified)"
	}
	dateText := b.Date
	if dateText == "" {
		dateText = "unknown"
	}
	build := "default (cgo; DuckDB embedded)"
	duck := b.DuckDB
	if b.Build == "static" {
		build = "static (no cgo, tag noduckdb; warehouses use driver: postgres)"
		duck = "none"
	}
	fmt.Fprintf(&s, "  commit:      %s\n", commit)
	fmt.Fprintf(&s, "  date:        %s\n", dateText)
	fmt.Fprintf(&s, "  platform:    %s/%s\n", b.OS, b.Arch)
	fmt.Fprintf(&s, "  build:       %s\n", build)
	fmt.Fprintf(&s, "  nats-server: %s\n", b.NATSServer)
	fmt.Fprintf(&s, "  duckdb:      %s\n", duck)
	return s.String()
}

// Write prints b to w, as `eventrouter version` does: its Text, or one
// indented JSON object for machines when asJSON.
func (b Info) Write(w io.Writer, asJSON bool) error {
	if !asJSON {
		_, err := io.WriteString(w, b.Text())
		return err
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(b)
}

// Gauge is eventrouter_build_info: 1, with b's facts as labels, as
// Prometheus's own <name>_build_info.
func (b Info) Gauge() prometheus.Collector {
	duck := b.DuckDB
	if duck == "" {
		duck = "none"
	}
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "eventrouter_build_info",
		Help: "Always 1; the labels say which eventrouter this is: version, revision (commit), goversion, build (default or static), nats_server and duckdb versions.",
		ConstLabels: prometheus.Labels{
			"version": b.Version, "revision": b.Commit, "goversion": b.Go, "build": b.Build,
			"nats_server": b.NATSServer, "duckdb": duck,
		},
	})
	g.Set(1)
	return g
}
