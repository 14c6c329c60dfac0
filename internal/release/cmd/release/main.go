// Command release builds eventrouter's binaries, release archives and
// Debian package (see package release). Run from the repository's root:
//
//	go run ./internal/release/cmd/release build [-static] [-o FILE] [-version V -commit C -date D]
//	go run ./internal/release/cmd/release package [-out dist] [-version V ...]
//
// package builds both binaries for this machine's platform, an archive of
// each, the Debian package of the default build (on Linux), and
// SHA256SUMS, into -out.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"

	"github.com/eventrouter/eventrouter/internal/release"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `Usage:
  release build   [-static] [-o FILE] [-version V] [-commit C] [-date D]
  release package [-out DIR] [-maintainer M] [-version V] [-commit C] [-date D]

Run from the repository's root (or set -root).
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	root := fs.String("root", ".", "the repository's root")
	ver := fs.String("version", "", "version to stamp (default: from git, as Go records it)")
	commit := fs.String("commit", "", "commit to stamp (default: from git)")
	date := fs.String("date", "", "commit date to stamp, RFC 3339 (default: from git)")
	var static *bool
	var out, dist, maintainer *string
	switch args[0] {
	case "build":
		static = fs.Bool("static", false, "the static build: CGO_ENABLED=0, tag noduckdb")
		out = fs.String("o", "bin/eventrouter", "the binary to write")
	case "package":
		dist = fs.String("out", "dist", "directory for the archives, the package and SHA256SUMS")
		maintainer = fs.String("maintainer", release.DefaultMaintainer, "the Debian package's Maintainer")
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "release: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	abs, err := filepath.Abs(*root)
	if err != nil {
		fmt.Fprintln(stderr, "release:", err)
		return 1
	}
	b := release.Build{Root: abs, Version: *ver, Commit: *commit, Date: *date, Trimpath: true}
	if args[0] == "build" {
		b.Static, b.Output = *static, *out
		if !filepath.IsAbs(b.Output) {
			b.Output, _ = filepath.Abs(b.Output)
		}
		if err := b.Run(ctx); err != nil {
			fmt.Fprintln(stderr, "release:", err)
			return 1
		}
		return 0
	}
	files, err := packageAll(ctx, b, *dist, *maintainer, stdout)
	if err != nil {
		fmt.Fprintln(stderr, "release:", err)
		return 1
	}
	sums, err := release.WriteChecksums(*dist, files)
	if err != nil {
		fmt.Fprintln(stderr, "release:", err)
		return 1
	}
	fmt.Fprintln(stdout, sums)
	return 0
}

// packageAll builds both binaries and their archives, and the Debian
// package of the default build, into dir; it returns the files made.
func packageAll(ctx context.Context, b release.Build, dir, maintainer string, stdout io.Writer) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	bindir, err := os.MkdirTemp("", "eventrouter-release-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(bindir)
	var files []string
	for _, static := range []bool{false, true} {
		b := b
		b.Static = static
		b.Output = filepath.Join(bindir, "default", "eventrouter")
		if static {
			b.Output = filepath.Join(bindir, "static", "eventrouter")
		}
		if err := b.Run(ctx); err != nil {
			return nil, err
		}
		d, err := release.NewDist(ctx, b)
		if err != nil {
			return nil, err
		}
		a, err := d.Archive(dir)
		if err != nil {
			return nil, err
		}
		fmt.Fprintln(stdout, a)
		files = append(files, a)
		if !static && runtime.GOOS == "linux" {
			p, err := d.Deb(dir, release.DebOptions{Maintainer: maintainer})
			if err != nil {
				return nil, err
			}
			fmt.Fprintln(stdout, p)
			files = append(files, p)
		}
	}
	return files, nil
}
