package release

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Dist is one release's inputs: a built binary, what it says about
// itself, and the licences of what it links.
type Dist struct {
	// Root is the repository's root directory.
	Root string
	// Binary is the built eventrouter.
	Binary string
	// Stamp is what the binary says about itself (ReadStamp), with
	// Version, Commit and Date set where they were given to the build.
	Stamp Stamp
	// ThirdParty is ThirdPartyLicenses for the binary.
	ThirdParty []byte
}

// fileVersion is the version as release files name it: without the "v".
func (d Dist) fileVersion() string { return strings.TrimPrefix(d.Stamp.Version, "v") }

// ArchiveName returns the archive's base name (and its top directory):
// eventrouter_<version>_<os>_<arch>, with _static for the static build.
func (d Dist) ArchiveName() string {
	n := fmt.Sprintf("eventrouter_%s_%s_%s", d.fileVersion(), d.Stamp.GOOS, d.Stamp.GOARCH)
	if d.Stamp.Static {
		n += "_static"
	}
	return n
}

// mtime is the time every file of a release gets: the commit's, so that
// the same commit gives the same archive and package.
func (d Dist) mtime() time.Time {
	if t, err := time.Parse(time.RFC3339, d.Stamp.Date); err == nil {
		return t.UTC()
	}
	return time.Unix(0, 0).UTC()
}

// archiveFiles are the files of a release archive beside the binary:
// name in the archive -> path in the repository.
var archiveFiles = map[string]string{
	"README.md":                "README.md",
	"LICENSE":                  "LICENSE",
	"CHANGELOG.md":             "CHANGELOG.md",
	"eventrouter.yaml":         "deploy/eventrouter.yaml",
	"eventrouter.example.yaml": "configs/eventrouter.example.yaml",
	"eventrouter.env":          "deploy/eventrouter.env",
	"eventrouter.service":      "deploy/eventrouter.service",
}

// Archive writes <dir>/<ArchiveName>.tar.gz and returns its path: the
// binary, README.md and the manual it links to (docs/), LICENSE,
// CHANGELOG.md, THIRD_PARTY_LICENSES, the config the packages install
// (eventrouter.yaml, eventrouter.env), the commented example config and the
// systemd unit, under one top directory.
// Entries are sorted, owned by root, dated with the commit.
func (d Dist) Archive(dir string) (string, error) {
	if d.Stamp.Version == "" {
		return "", fmt.Errorf("archiving %s: the binary has no version", d.Binary)
	}
	name := d.ArchiveName()
	path := filepath.Join(dir, name+".tar.gz")
	f, err := os.Create(path)
	if err != nil {
		return "", fmt.Errorf("archiving: %w", err)
	}
	defer f.Close()
	zw, _ := gzip.NewWriterLevel(f, gzip.BestCompression)
	zw.ModTime = d.mtime()
	tw := tar.NewWriter(zw)
	add := func(rel string, mode int64, data []byte) error {
		return tw.WriteHeader(&tar.Header{
			Name: name + "/" + rel, Mode: mode, Size: int64(len(data)), ModTime: d.mtime(),
			Typeflag: tar.TypeReg, Uname: "root", Gname: "root", Format: tar.FormatPAX,
		})
	}
	write := func(rel string, mode int64, data []byte) error {
		if err := add(rel, mode, data); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: name + "/", Mode: 0o755, Typeflag: tar.TypeDir, ModTime: d.mtime(), Uname: "root", Gname: "root", Format: tar.FormatPAX}); err != nil {
		return "", fmt.Errorf("archiving: %w", err)
	}
	names := []string{"THIRD_PARTY_LICENSES", "eventrouter"}
	for n := range archiveFiles {
		names = append(names, n)
	}
	manual, err := filepath.Glob(filepath.Join(d.Root, "docs", "*.*"))
	if err != nil {
		return "", fmt.Errorf("archiving: %w", err)
	}
	for _, p := range manual {
		names = append(names, "docs/"+filepath.Base(p))
	}
	sort.Strings(names)
	for _, n := range names {
		var data []byte
		mode := int64(0o644)
		switch n {
		case "eventrouter":
			data, err = os.ReadFile(d.Binary)
			mode = 0o755
		case "THIRD_PARTY_LICENSES":
			data = d.ThirdParty
		default:
			src, ok := archiveFiles[n]
			if !ok { // a page of the manual, which README.md links to
				src = n
			}
			data, err = os.ReadFile(filepath.Join(d.Root, src))
		}
		if err != nil {
			return "", fmt.Errorf("archiving: %w", err)
		}
		if err := write(n, mode, data); err != nil {
			return "", fmt.Errorf("archiving %s: %w", n, err)
		}
	}
	if err := tw.Close(); err != nil {
		return "", fmt.Errorf("archiving: %w", err)
	}
	if err := zw.Close(); err != nil {
		return "", fmt.Errorf("archiving: %w", err)
	}
	return path, f.Close()
}

// WriteChecksums writes <dir>/SHA256SUMS for files, in the format of
// sha256sum (so `sha256sum -c SHA256SUMS` checks them).
func WriteChecksums(dir string, files []string) (string, error) {
	var b strings.Builder
	sorted := append([]string(nil), files...)
	sort.Strings(sorted)
	for _, p := range sorted {
		f, err := os.Open(p)
		if err != nil {
			return "", fmt.Errorf("checksumming: %w", err)
		}
		h := sha256.New()
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return "", fmt.Errorf("checksumming %s: %w", p, err)
		}
		fmt.Fprintf(&b, "%s  %s\n", hex.EncodeToString(h.Sum(nil)), filepath.Base(p))
	}
	out := filepath.Join(dir, "SHA256SUMS")
	return out, os.WriteFile(out, []byte(b.String()), 0o644)
}

// NewDist reads what the binary b built says about itself, takes the
// version, commit and date given to the build where set, and collects
// the licences of the modules it links.
func NewDist(ctx context.Context, b Build) (Dist, error) {
	s, err := ReadStamp(b.Output)
	if err != nil {
		return Dist{}, err
	}
	if b.Version != "" {
		s.Version = b.Version
	}
	if b.Commit != "" {
		s.Commit = b.Commit
	}
	if b.Date != "" {
		s.Date = b.Date
	}
	if s.Version == "" {
		return Dist{}, fmt.Errorf("%s has no version: build it in a git checkout, or give one (-version)", b.Output)
	}
	third, err := ThirdPartyLicenses(ctx, b.Root, s.Deps)
	if err != nil {
		return Dist{}, err
	}
	return Dist{Root: b.Root, Binary: b.Output, Stamp: s, ThirdParty: third}, nil
}
