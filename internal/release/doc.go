// Package release builds what a release ships: the two eventrouter
// binaries, their archives, the Debian package and the checksums. `make
// package` drives it through its command (cmd/release); so do the
// release workflow, the Dockerfile (which builds the static binary with
// `release build -static`) and the package's install test, so that the
// build a test exercises is the build that ships.
//
// Two builds. The default build links DuckDB through cgo (a 100+ MB
// binary needing glibc and libstdc++); the static build (CGO_ENABLED=0,
// tag noduckdb) has everything but DuckDB, needs nothing from the system,
// and refuses `driver: duckdb` with a config error. Both are built with
// -trimpath and stripped symbols, so the same commit gives the same
// binary anywhere; the version, commit and date are read from git as Go
// stamps a build of a clone (a tag, or a pseudo-version between tags;
// GitStamp) and set with -ldflags, or given with -version, -commit and
// -date for a tree without .git.
//
// Archives (eventrouter_<version>_<os>_<arch>[_static].tar.gz) hold the
// binary, README, LICENSE, CHANGELOG, the third-party licences, the
// installed config and its environment file, the commented example and
// the systemd unit. Files are sorted, owned by root and dated with the
// commit.
//
// The Debian package is made with nFPM used as a library (no packaging
// tool to install), from deploy/nfpm.yaml: /usr/bin/eventrouter, the
// conffiles /etc/eventrouter/eventrouter.yaml and eventrouter.env, the
// hardened unit eventrouter.service, /var/lib/eventrouter and a system
// user made by the maintainer scripts in deploy/debian. Depends is read
// from the binary's ELF symbol versions, so a package built on a newer
// distribution than the one it is installed on is refused by dpkg rather
// than failing at run time.
//
// Third-party licences are collected from the module cache for exactly
// the modules linked into each binary (its build information): a module
// without a licence text stops the release. Files copied into the
// repository from other projects keep their licence beside them (such as
// router/cdn/analyticsjs/LICENSE.MD for the analytics.js the binary
// embeds, and LICENSE-bundled.txt there for the npm packages bundled in
// it); those licence files are added too.
package release
