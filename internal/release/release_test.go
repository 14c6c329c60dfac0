package release

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// gitRepo makes a git repository with one commit in a temporary
// directory.
func gitRepo(t *testing.T) (dir string, git func(args ...string) string) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	dir = t.TempDir()
	git = func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t",
			"GIT_COMMITTER_EMAIL=t@example.com", "GIT_AUTHOR_DATE=2026-12-05T14:03:59Z", "GIT_COMMITTER_DATE=2026-12-05T14:03:59Z")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("init", "-q")
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("1"), 0o644); err != nil {
		t.Fatal(err)
	}
	git("add", "f")
	git("commit", "-qm", "one")
	return dir, git
}

// TestGitStamp checks the versions a release is stamped with: Go's
// pseudo-versions between tags, the tag itself at a tagged commit, +dirty
// for uncommitted changes (cmd/eventrouter's TestVersionOfGoBuild checks
// that Go stamps a build of a clone alike).
func TestGitStamp(t *testing.T) {
	dir, git := gitRepo(t)
	head := git("rev-parse", "HEAD")
	check := func(want string) {
		t.Helper()
		v, c, d, err := GitStamp(context.Background(), dir)
		if err != nil {
			t.Fatal(err)
		}
		if v != want || c != git("rev-parse", "HEAD") || d != "2026-12-05T14:03:59Z" {
			t.Errorf("GitStamp = %q %q %q, want %q", v, c, d, want)
		}
	}
	check("v0.0.0-20261205140359-" + head[:12])
	git("tag", "v0.1.0")
	check("v0.1.0")
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("2"), 0o644); err != nil {
		t.Fatal(err)
	}
	check("v0.1.0+dirty")
	if err := os.WriteFile(filepath.Join(dir, "untracked"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	git("commit", "-qam", "two")
	check("v0.1.1-0.20261205140359-" + git("rev-parse", "HEAD")[:12])
	git("tag", "v0.2.0-rc.1")
	check("v0.2.0-rc.1")
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("3"), 0o644); err != nil {
		t.Fatal(err)
	}
	git("commit", "-qam", "three")
	check("v0.2.0-rc.1.0.20261205140359-" + git("rev-parse", "HEAD")[:12])

	if _, _, _, err := GitStamp(context.Background(), t.TempDir()); err == nil {
		t.Error("GitStamp of a directory without git: no error")
	}
}

// TestReadmeLicense checks the README fallback for a module without a
// licence file (segmentio/backo-go is one).
func TestReadmeLicense(t *testing.T) {
	readme := "# backo\n\nBackoff.\n\nLicense\n-------\n\n```\nThe MIT License (MIT)\n\nCopyright (c) 2015 Segment, Inc.\n\nPermission is hereby granted, free of charge...\n```\n"
	if got := readmeLicense(readme); !strings.HasPrefix(got, "License\n") || !strings.Contains(got, "Copyright (c) 2015 Segment") {
		t.Errorf("readmeLicense = %q", got)
	}
	if got := readmeLicense("# snakecase\n\n# License\n\n MIT\n"); !strings.Contains(got, "no licence file") || !strings.HasSuffix(got, "# License\n\n MIT\n") {
		t.Errorf("a README naming its licence: %q", got)
	}
	if got := readmeLicense("# x\n\n## License\n\nSee the website.\n"); got != "" {
		t.Errorf("a License heading with no licence text: %q", got)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "README.md"), []byte("# nothing\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if texts, err := licenseTexts(dir); err != nil || len(texts) != 0 {
		t.Errorf("licenseTexts of a module without a licence = %v, %v", texts, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "LICENSE.txt"), []byte("BSD"), 0o644); err != nil {
		t.Fatal(err)
	}
	if texts, err := licenseTexts(dir); err != nil || len(texts) != 1 || texts[0] != "BSD" {
		t.Errorf("licenseTexts = %v, %v", texts, err)
	}
}

// TestArchive checks an archive's layout and that the same inputs give
// the same bytes.
func TestArchive(t *testing.T) {
	root, _ := filepath.Abs("../..")
	bin := filepath.Join(t.TempDir(), "eventrouter")
	if err := os.WriteFile(bin, []byte("\x7fELF not really"), 0o755); err != nil {
		t.Fatal(err)
	}
	d := Dist{Root: root, Binary: bin, ThirdParty: []byte("third party"),
		Stamp: Stamp{Version: "v0.1.0", Date: "2026-12-05T14:03:59Z", GOOS: "linux", GOARCH: "arm64", Static: true}}
	a1, err := d.Archive(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a2, err := d.Archive(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b1, _ := os.ReadFile(a1)
	b2, _ := os.ReadFile(a2)
	if !bytes.Equal(b1, b2) {
		t.Error("two archives of the same inputs differ")
	}
	if filepath.Base(a1) != "eventrouter_0.1.0_linux_arm64_static.tar.gz" {
		t.Errorf("archive named %s", filepath.Base(a1))
	}
	zr, err := gzip.NewReader(bytes.NewReader(b1))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		if h.Uname != "root" || h.ModTime.UTC().Format("2006-01-02") != "2026-12-05" {
			t.Errorf("%s: owner %s, time %v", h.Name, h.Uname, h.ModTime)
		}
		if h.Name == "eventrouter_0.1.0_linux_arm64_static/eventrouter" && h.Mode != 0o755 {
			t.Errorf("binary mode %o", h.Mode)
		}
	}
	want := "eventrouter_0.1.0_linux_arm64_static/ CHANGELOG.md LICENSE README.md THIRD_PARTY_LICENSES eventrouter eventrouter.env eventrouter.example.yaml eventrouter.service eventrouter.yaml"
	var top []string
	held := map[string]bool{}
	for _, n := range names {
		rel := strings.TrimPrefix(n, "eventrouter_0.1.0_linux_arm64_static/")
		held[rel] = true
		if !strings.HasPrefix(rel, "docs/") {
			top = append(top, rel)
		}
	}
	if got := strings.Join(top, " "); "eventrouter_0.1.0_linux_arm64_static/"+got != want {
		t.Errorf("archive holds %q, want %q", got, want)
	}
	// README.md's links to the manual must work in the unpacked archive.
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	links := regexp.MustCompile(`\]\((docs/[^)#]+)`).FindAllStringSubmatch(string(readme), -1)
	if len(links) == 0 {
		t.Fatal("README.md links to no page of docs/: the check below checks nothing")
	}
	for _, l := range links {
		if !held[l[1]] {
			t.Errorf("README.md links to %s, which the archive does not hold", l[1])
		}
	}

	sums, err := WriteChecksums(t.TempDir(), []string{a1})
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(sums)
	if !regexp.MustCompile(`^[0-9a-f]{64}  eventrouter_0\.1\.0_linux_arm64_static\.tar\.gz\n$`).Match(data) {
		t.Errorf("SHA256SUMS = %q", data)
	}
}

// TestDebDepends checks the Depends read from a binary: nothing for a
// static one, and an error naming a library no package is listed for.
func TestDebDepends(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "main.go")
	if err := os.WriteFile(src, []byte("package main\nfunc main() {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "hello")
	cmd := exec.Command(goTool(), "build", "-o", bin, src)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GO111MODULE=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if deps, err := debDepends(bin); err != nil || len(deps) != 0 {
		t.Errorf("static binary: Depends %v, %v", deps, err)
	}
	// A system program linking libraries beyond glibc's and GCC's.
	for _, p := range []string{"/usr/bin/ssh", "/usr/bin/curl", "/bin/ls"} {
		if _, err := os.Stat(p); err != nil {
			continue
		}
		deps, err := debDepends(p)
		if err == nil {
			t.Logf("%s: Depends %v", p, deps)
			continue
		}
		if !strings.Contains(err.Error(), "which has no Debian package listed") {
			t.Errorf("%s: %v", p, err)
		}
		return
	}
}

// TestVendoredLicenses checks that the licences of files copied into the
// repository are found, so that the release's third-party licences carry
// them (analytics.js, which the binary embeds, and the npm packages
// bundled in it).
func TestVendoredLicenses(t *testing.T) {
	root, _ := filepath.Abs("../..")
	got, err := vendoredLicenses(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"LICENSE.MD", "LICENSE-bundled.txt"} {
		if !slices.Contains(got, filepath.Join("router", "cdn", "analyticsjs", want)) {
			t.Errorf("vendored licences %v lack analytics.js's %s", got, want)
		}
	}
	for _, p := range got {
		if filepath.Dir(p) == "." {
			t.Errorf("%s is the project's own licence", p)
		}
	}
}
