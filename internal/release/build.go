package release

import (
	"cmp"
	"context"
	"debug/buildinfo"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Module is the import path of eventrouter's module; Main its command.
const (
	Module = "github.com/eventrouter/eventrouter"
	Main   = Module + "/cmd/eventrouter"
)

// Build says how to build one eventrouter binary.
type Build struct {
	// Root is the repository's root directory (the module's).
	Root string
	// Output is the binary's path.
	Output string
	// Static builds with CGO_ENABLED=0 and the tag noduckdb: a static
	// binary without DuckDB. Otherwise the default build (cgo, DuckDB
	// embedded; needs a C++ toolchain).
	Static bool
	// GOOS and GOARCH default to the host's. The default build cannot be
	// cross-compiled without a C cross-toolchain: build it on each
	// platform (the release workflow does).
	GOOS, GOARCH string
	// Trimpath builds with -trimpath: no path of the build machine in the
	// binary, so that the same commit gives the same binary wherever it
	// is built. The release command always sets it; tests leave it off so
	// that the build shares the compile cache of `go build` and `go test`
	// and only links.
	Trimpath bool
	// Version, Commit and Date, when set, override what the binary reads
	// from its build information (main.version, main.commit, main.date):
	// for a source tree without .git, such as a container build context.
	Version, Commit, Date string
}

// Run builds the binary with symbols stripped (-s -w; the build
// information stays). Version, Commit and Date left
// empty are read from git (GitStamp) and set; where there is no git
// repository they stay empty, and the binary reads its build information
// instead (a version for `go install ...@v0.1.0`, else "dev").
func (b *Build) Run(ctx context.Context) error {
	if b.Version == "" || b.Commit == "" || b.Date == "" {
		if v, c, d, err := GitStamp(ctx, b.Root); err == nil {
			b.Version = cmp.Or(b.Version, v)
			b.Commit = cmp.Or(b.Commit, c)
			b.Date = cmp.Or(b.Date, d)
		}
	}
	ldflags := []string{"-s", "-w"}
	for _, x := range []struct{ name, v string }{{"version", b.Version}, {"commit", b.Commit}, {"date", b.Date}} {
		if x.v != "" {
			if strings.ContainsAny(x.v, " '\"") {
				return fmt.Errorf("building eventrouter: %s %q has a space or a quote", x.name, x.v)
			}
			ldflags = append(ldflags, "-X", "main."+x.name+"="+x.v)
		}
	}
	args := []string{"build", "-ldflags", strings.Join(ldflags, " ")}
	if b.Trimpath {
		args = append(args, "-trimpath")
	}
	if b.Static {
		args = append(args, "-tags", "noduckdb")
	}
	args = append(args, "-o", b.Output, "./cmd/eventrouter")
	cmd := exec.CommandContext(ctx, goTool(), args...)
	cmd.Dir = b.Root
	cmd.Env = os.Environ()
	cgo := "1"
	if b.Static {
		cgo = "0"
	}
	cmd.Env = append(cmd.Env, "CGO_ENABLED="+cgo)
	if b.GOOS != "" {
		cmd.Env = append(cmd.Env, "GOOS="+b.GOOS)
	}
	if b.GOARCH != "" {
		cmd.Env = append(cmd.Env, "GOARCH="+b.GOARCH)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building eventrouter (go %s): %w\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// goTool is the go command: $GOROOT/bin/go of the toolchain running this
// program when there is one, else go on PATH.
func goTool() string {
	if root := os.Getenv("GOROOT"); root != "" {
		if p := filepath.Join(root, "bin", "go"); fileExists(p) {
			return p
		}
	}
	return "go"
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// Stamp is what a built binary says about itself.
type Stamp struct {
	// Version is the module version Go recorded: a tag ("v0.1.0") or a pseudo-version
	// ("v0.0.0-20261205140400-90c56c0abcde", "+dirty" with uncommitted
	// changes).
	Version string
	// Commit and Date are the VCS revision and its time (RFC 3339).
	Commit, Date string
	// Static is true for a build with the tag noduckdb.
	Static bool
	// GOOS and GOARCH are the binary's platform.
	GOOS, GOARCH string
	// Deps are the modules linked in, as path@version.
	Deps []string
}

// ReadStamp reads the build information of the binary at path. Values set
// with -ldflags -X are not in it (Go leaves -ldflags out of a -trimpath
// build's information): a caller that set them knows them.
func ReadStamp(path string) (Stamp, error) {
	bi, err := buildinfo.ReadFile(path)
	if err != nil {
		return Stamp{}, fmt.Errorf("reading the build information of %s: %w", path, err)
	}
	s := Stamp{Version: bi.Main.Version}
	for _, kv := range bi.Settings {
		switch kv.Key {
		case "vcs.revision":
			s.Commit = kv.Value
		case "vcs.time":
			s.Date = kv.Value
		case "-tags":
			for _, t := range strings.Split(kv.Value, ",") {
				s.Static = s.Static || t == "noduckdb"
			}
		case "GOOS":
			s.GOOS = kv.Value
		case "GOARCH":
			s.GOARCH = kv.Value
		}
	}
	if s.Version == "(devel)" {
		s.Version = ""
	}
	for _, d := range bi.Deps {
		if d.Replace != nil {
			d = d.Replace
		}
		s.Deps = append(s.Deps, d.Path+"@"+d.Version)
	}
	return s, nil
}

// GitStamp returns the version, commit and commit date (RFC 3339, UTC) of
// the git work tree at root, as the Go toolchain stamps a build of a
// clone: the tag vX.Y.Z when HEAD is at one, else a pseudo-version after
// the newest tag reachable (vX.Y.(Z+1)-0.<time>-<commit>, or
// v0.0.0-<time>-<commit> without one), with +dirty when tracked files have
// uncommitted changes. Unlike the toolchain's own stamping it also works
// in a git worktree and with GOFLAGS=-buildvcs=false, and untracked files
// do not make a build dirty.
func GitStamp(ctx context.Context, root string) (version, commit, date string, err error) {
	git := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, "git", args...)
		cmd.Dir = root
		out, err := cmd.Output()
		return strings.TrimSpace(string(out)), err
	}
	if commit, err = git("rev-parse", "HEAD"); err != nil || len(commit) < 12 {
		return "", "", "", errors.New("reading the commit: not a git work tree")
	}
	unix, err := git("log", "-1", "--format=%ct", "HEAD")
	if err != nil {
		return "", "", "", fmt.Errorf("reading the commit time: %w", err)
	}
	secs, err := strconv.ParseInt(unix, 10, 64)
	if err != nil {
		return "", "", "", fmt.Errorf("reading the commit time %q: %w", unix, err)
	}
	t := time.Unix(secs, 0).UTC()
	date = t.Format(time.RFC3339)
	status, err := git("status", "--porcelain", "--untracked-files=no")
	if err != nil {
		return "", "", "", fmt.Errorf("reading the work tree's status: %w", err)
	}
	dirty := ""
	if status != "" {
		dirty = "+dirty"
	}
	if tags, err := git("tag", "--points-at", "HEAD", "--list", "v[0-9]*"); err == nil {
		for _, tag := range strings.Fields(tags) {
			if semverTag.MatchString(tag) {
				return tag + dirty, commit, date, nil
			}
		}
	}
	base := "v0.0.0-"
	if tag, err := git("describe", "--tags", "--abbrev=0", "--match", "v[0-9]*", "HEAD"); err == nil {
		if m := semverTag.FindStringSubmatch(tag); m != nil {
			if m[4] != "" {
				base = tag + ".0." // a pre-release: vX.Y.Z-pre.0.<time>-<commit>
			} else {
				patch, _ := strconv.Atoi(m[3])
				base = fmt.Sprintf("v%s.%s.%d-0.", m[1], m[2], patch+1)
			}
		}
	}
	return base + t.Format("20060102150405") + "-" + commit[:12] + dirty, commit, date, nil
}

var semverTag = regexp.MustCompile(`^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?$`)
