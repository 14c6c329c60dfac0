package release

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/goreleaser/nfpm/v2"
	"github.com/goreleaser/nfpm/v2/deb"
)

// DefaultMaintainer is the Debian package's Maintainer field unless
// DebOptions.Maintainer says otherwise.
const DefaultMaintainer = "eventrouter maintainers <eventrouter@users.noreply.github.com>"

// DebOptions are the settings of a Debian package beyond the Dist.
type DebOptions struct {
	// Maintainer is the Maintainer field (default DefaultMaintainer).
	Maintainer string
}

// Deb writes the Debian package of the Dist's binary into dir and returns
// its path. What goes where is deploy/nfpm.yaml: the binary in /usr/bin,
// the config in /etc/eventrouter (conffiles, kept on upgrade and remove),
// the systemd unit, /var/lib/eventrouter, the maintainer scripts that add
// the system user. The copyright file is LICENSE followed by the
// third-party licences. Depends is computed from the binary: the default
// build needs libc6, libstdc++6 and libgcc-s1 at least at the versions
// whose symbols it uses; the static build needs nothing.
func (d Dist) Deb(dir string, opts DebOptions) (string, error) {
	if d.Stamp.GOOS != "linux" {
		return "", fmt.Errorf("packaging: a Debian package needs a linux binary, not %s", d.Stamp.GOOS)
	}
	if d.Stamp.Version == "" {
		return "", fmt.Errorf("packaging %s: the binary has no version", d.Binary)
	}
	license, err := os.ReadFile(filepath.Join(d.Root, "LICENSE"))
	if err != nil {
		return "", fmt.Errorf("packaging: %w", err)
	}
	tmp, err := os.MkdirTemp("", "eventrouter-deb-")
	if err != nil {
		return "", fmt.Errorf("packaging: %w", err)
	}
	defer os.RemoveAll(tmp)
	copyright := filepath.Join(tmp, "copyright")
	text := "eventrouter\n===========\n\nLicensed under the Apache License, Version 2.0:\n\n" + string(license) + "\n\n" + string(d.ThirdParty)
	if err := os.WriteFile(copyright, []byte(text), 0o644); err != nil {
		return "", fmt.Errorf("packaging: %w", err)
	}
	binary, err := filepath.Abs(d.Binary)
	if err != nil {
		return "", fmt.Errorf("packaging: %w", err)
	}
	vars := map[string]string{
		"ROOT": d.Root, "BINARY": binary, "LICENSES": copyright,
		"VERSION": d.Stamp.Version, "ARCH": d.Stamp.GOARCH,
	}
	spec, err := os.ReadFile(filepath.Join(d.Root, "deploy", "nfpm.yaml"))
	if err != nil {
		return "", fmt.Errorf("packaging: %w", err)
	}
	var unknown []string
	expanded := os.Expand(string(spec), func(k string) string {
		v, ok := vars[k]
		if !ok {
			unknown = append(unknown, k)
		}
		return v
	})
	if len(unknown) > 0 {
		return "", fmt.Errorf("packaging: deploy/nfpm.yaml uses unknown variables %v", unknown)
	}
	cfg, err := nfpm.ParseWithEnvMapping(strings.NewReader(expanded), func(k string) string { return "" })
	if err != nil {
		return "", fmt.Errorf("packaging: reading deploy/nfpm.yaml: %w", err)
	}
	info, err := cfg.Get("deb")
	if err != nil {
		return "", fmt.Errorf("packaging: %w", err)
	}
	info.Maintainer = opts.Maintainer
	if info.Maintainer == "" {
		info.Maintainer = DefaultMaintainer
	}
	info.Release = "1"
	info.MTime = d.mtime()
	depends, err := debDepends(binary)
	if err != nil {
		return "", fmt.Errorf("packaging: %w", err)
	}
	info.Depends = depends
	info = nfpm.WithDefaults(info)
	if err := nfpm.PrepareForPackager(info, "deb"); err != nil {
		return "", fmt.Errorf("packaging: %w", err)
	}
	if err := nfpm.Validate(info); err != nil {
		return "", fmt.Errorf("packaging: %w", err)
	}
	path := filepath.Join(dir, deb.Default.ConventionalFileName(info))
	f, err := os.Create(path)
	if err != nil {
		return "", fmt.Errorf("packaging: %w", err)
	}
	defer f.Close()
	if err := deb.Default.Package(info, f); err != nil {
		return "", fmt.Errorf("packaging: %w", err)
	}
	return path, f.Close()
}

// libstdcxxPackage maps the newest GLIBCXX_3.4.N symbol version a binary
// uses to the first libstdc++6 (GCC) version that has it.
var libstdcxxPackage = map[int]string{
	25: "8", 26: "9", 27: "9", 28: "10", 29: "11", 30: "12", 31: "13", 32: "13.2", 33: "14", 34: "15",
}

// debDepends returns the Depends of a binary: one entry per Debian
// library package it links, at the least version providing the newest
// symbol version it uses. A static binary depends on nothing.
func debDepends(binary string) ([]string, error) {
	f, err := elf.Open(binary)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", binary, err)
	}
	defer f.Close()
	libs, err := f.ImportedLibraries()
	if err != nil || len(libs) == 0 {
		return nil, nil // static
	}
	syms, err := f.ImportedSymbols()
	if err != nil {
		return nil, fmt.Errorf("reading the symbols of %s: %w", binary, err)
	}
	var glibc [2]int
	glibcxx := 0
	for _, s := range syms {
		if v, ok := strings.CutPrefix(s.Version, "GLIBC_"); ok {
			if mj, mn, ok := majorMinor(v); ok && (mj > glibc[0] || mj == glibc[0] && mn > glibc[1]) {
				glibc = [2]int{mj, mn}
			}
		}
		if v, ok := strings.CutPrefix(s.Version, "GLIBCXX_3.4."); ok {
			if n, err := strconv.Atoi(v); err == nil && n > glibcxx {
				glibcxx = n
			}
		}
	}
	var deps []string
	for _, l := range libs {
		switch {
		case strings.HasPrefix(l, "ld-linux") || l == "libc.so.6" || l == "libm.so.6" || l == "libpthread.so.0" || l == "libdl.so.2" || l == "librt.so.1":
			if glibc[0] == 0 {
				return nil, errors.New("the binary links glibc but uses no versioned symbol of it")
			}
			deps = append(deps, fmt.Sprintf("libc6 (>= %d.%d)", glibc[0], glibc[1]))
		case l == "libstdc++.so.6":
			v, ok := libstdcxxPackage[glibcxx]
			if !ok {
				return nil, fmt.Errorf("the binary needs GLIBCXX_3.4.%d, which no known libstdc++6 version is listed for (internal/release/deb.go)", glibcxx)
			}
			deps = append(deps, "libstdc++6 (>= "+v+")")
		case l == "libgcc_s.so.1":
			deps = append(deps, "libgcc-s1")
		default:
			return nil, fmt.Errorf("the binary links %s, which has no Debian package listed (internal/release/deb.go)", l)
		}
	}
	sort.Strings(deps)
	return compact(deps), nil
}

func majorMinor(v string) (int, int, bool) {
	a, b, _ := strings.Cut(v, ".")
	b, _, _ = strings.Cut(b, ".")
	mj, err1 := strconv.Atoi(a)
	mn, err2 := strconv.Atoi(b)
	return mj, mn, err1 == nil && err2 == nil
}

func compact(s []string) []string {
	var out []string
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}
