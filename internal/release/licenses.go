package release

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

var licenseFile = regexp.MustCompile(`(?i)^(licen[cs]e|copying|notice|unlicense)([.-].*)?$`)

// ThirdPartyLicenses returns the licence texts of the modules linked into
// a binary (Stamp.Deps): every LICENSE, COPYING or NOTICE file at each
// module's root, or the "License" section of its README for a module that
// has no such file. Their licences (MIT, BSD, Apache-2.0 and the like)
// ask that a binary distribution carry them; the archives ship this as
// THIRD_PARTY_LICENSES and the Debian package in its copyright file. A
// module with no licence text at all is an error: nothing is shipped
// whose terms are unknown.
func ThirdPartyLicenses(ctx context.Context, root string, deps []string) ([]byte, error) {
	if len(deps) == 0 {
		return nil, errors.New("collecting licences: the binary lists no modules")
	}
	dirs, err := moduleDirs(ctx, root, deps)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "Third-party software in this eventrouter binary, and its licences\n")
	fmt.Fprintf(&b, "==================================================================\n\n")
	var missing []string
	sorted := append([]string(nil), deps...)
	sort.Strings(sorted)
	for _, mod := range sorted {
		texts, err := licenseTexts(dirs[mod])
		if err != nil {
			return nil, fmt.Errorf("collecting licences of %s: %w", mod, err)
		}
		if len(texts) == 0 {
			missing = append(missing, mod)
			continue
		}
		fmt.Fprintf(&b, "%s\n%s\n\n", mod, strings.Repeat("-", len(mod)))
		for _, t := range texts {
			b.WriteString(strings.TrimSpace(t))
			b.WriteString("\n\n")
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("collecting licences: no licence text found for %s", strings.Join(missing, ", "))
	}
	vendored, err := vendoredLicenses(root)
	if err != nil {
		return nil, err
	}
	for _, p := range vendored {
		data, err := os.ReadFile(filepath.Join(root, p))
		if err != nil {
			return nil, fmt.Errorf("collecting licences: %w", err)
		}
		title := "Files in " + filepath.Dir(p) + " (embedded), under " + p
		fmt.Fprintf(&b, "%s\n%s\n\n%s\n\n", title, strings.Repeat("-", len(title)), strings.TrimSpace(string(data)))
	}
	return b.Bytes(), nil
}

// vendoredLicenses returns the licence files of files copied from other
// projects into the repository (each kept beside the files it covers,
// such as router/cdn/analyticsjs/LICENSE.MD), as paths relative to root:
// every licence-named file below the root, outside testdata, bench and
// node_modules.
func vendoredLicenses(root string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "testdata", "node_modules", "bench", "dist", "bin", "data":
				return filepath.SkipDir
			}
			return nil
		}
		if filepath.Dir(path) != root && licenseFile.MatchString(d.Name()) {
			rel, _ := filepath.Rel(root, path)
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("collecting the licences of vendored files: %w", err)
	}
	sort.Strings(out)
	return out, nil
}

// moduleDirs returns the module cache directory of each module, with `go
// mod download -json` (which downloads what is missing).
func moduleDirs(ctx context.Context, root string, deps []string) (map[string]string, error) {
	cmd := exec.CommandContext(ctx, goTool(), append([]string{"mod", "download", "-json"}, deps...)...)
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("finding the modules' sources (go mod download): %w\n%s", err, stderr.Bytes())
	}
	dirs := map[string]string{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var m struct{ Path, Version, Dir, Error string }
		if err := dec.Decode(&m); err == io.EOF {
			break
		} else if err != nil {
			return nil, fmt.Errorf("reading go mod download's answer: %w", err)
		}
		if m.Error != "" || m.Dir == "" {
			return nil, fmt.Errorf("finding %s@%s: %s", m.Path, m.Version, m.Error)
		}
		dirs[m.Path+"@"+m.Version] = m.Dir
	}
	for _, d := range deps {
		if dirs[d] == "" {
			return nil, fmt.Errorf("finding the source of %s: go mod download did not list it", d)
		}
	}
	return dirs, nil
}

// licenseTexts returns the licence files at the root of dir, or else the
// licence section of its README.
func licenseTexts(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var texts []string
	var readme string
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		switch {
		case licenseFile.MatchString(e.Name()):
			data, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				return nil, err
			}
			texts = append(texts, string(data))
		case strings.HasPrefix(strings.ToLower(e.Name()), "readme"):
			readme = filepath.Join(dir, e.Name())
		}
	}
	if len(texts) > 0 || readme == "" {
		return texts, nil
	}
	data, err := os.ReadFile(readme)
	if err != nil {
		return nil, err
	}
	if sec := readmeLicense(string(data)); sec != "" {
		texts = append(texts, sec)
	}
	return texts, nil
}

var licenseHeading = regexp.MustCompile(`(?im)^#*[ \t]*licen[cs]e[ \t]*$`)

var licenseName = regexp.MustCompile(`(?i)\b(MIT|BSD|Apache|ISC|MPL|Unlicense)\b`)

// readmeLicense returns a README's text from its "License" heading on,
// provided a licence follows: a copyright or permission notice, or the
// name of a licence (segmentio/go-snakecase's README says only "MIT";
// that is what the module's authors give, and it is shipped as such, with
// a note). Else "".
func readmeLicense(s string) string {
	loc := licenseHeading.FindStringIndex(s)
	if loc == nil {
		return ""
	}
	sec := s[loc[0]:]
	low := strings.ToLower(sec)
	if strings.Contains(low, "copyright") || strings.Contains(low, "permission is hereby granted") {
		return sec
	}
	if licenseName.MatchString(sec) {
		return "(The module has no licence file; its README says:)\n\n" + sec
	}
	return ""
}
