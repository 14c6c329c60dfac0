package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestVendoredAnalyticsJSBundledLicences checks
// router/cdn/analyticsjs/LICENSE-bundled.txt, which the release ships
// with the third-party licences: it names exactly the npm packages whose
// code the vendored analytics.js files hold (as their source maps in the
// installed @segment/analytics-next list them), each at its installed
// version and with its installed licence text.
func TestVendoredAnalyticsJSBundledLicences(t *testing.T) {
	npm := npmModules(t)
	pkg := filepath.Join(npm, "node_modules", "@segment", "analytics-next")
	vendored, _ := filepath.Glob("../../router/cdn/analyticsjs/*.js")
	if len(vendored) == 0 {
		t.Fatal("no vendored analytics.js files")
	}
	siblings := map[string]string{"core": "@segment/analytics-core", "generic-utils": "@segment/analytics-generic-utils", "page-tools": "@segment/analytics-page-tools"}
	inModules := regexp.MustCompile(`node_modules/((?:@[^/]+/)?[^/]+)`)
	inMonorepo := regexp.MustCompile(`^webpack://@segment/analytics-next/\.\./([^/]+)/`)
	want := map[string]bool{}
	for _, f := range vendored {
		data, err := os.ReadFile(filepath.Join(pkg, "dist", "umd", filepath.Base(f)+".map"))
		if err != nil {
			t.Fatalf("the source map of %s: %v", filepath.Base(f), err)
		}
		var m struct{ Sources []string }
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatal(err)
		}
		for _, src := range m.Sources {
			if hit := inModules.FindStringSubmatch(src); hit != nil {
				want[hit[1]] = true
			} else if hit := inMonorepo.FindStringSubmatch(src); hit != nil {
				if siblings[hit[1]] == "" {
					t.Errorf("%s: source %s is from an unknown package", filepath.Base(f), src)
				}
				want[siblings[hit[1]]] = true
			}
		}
	}
	if len(want) < 10 {
		t.Fatalf("the source maps name only %v", want)
	}

	data, err := os.ReadFile("../../router/cdn/analyticsjs/LICENSE-bundled.txt")
	if err != nil {
		t.Fatalf("%v: run scripts/vendor-analytics-js", err)
	}
	text := string(data)
	heading := regexp.MustCompile(`(?m)^(\S+) (\S+) \([^)\n]+\)\n-+\n`)
	var got []string
	for _, h := range heading.FindAllStringSubmatchIndex(text, -1) {
		name, version := text[h[2]:h[3]], text[h[4]:h[5]]
		got = append(got, name)
		dir := filepath.Join(pkg, "node_modules", name)
		if _, err := os.Stat(dir); err != nil {
			dir = filepath.Join(npm, "node_modules", name)
		}
		var meta struct{ Version string }
		b, err := os.ReadFile(filepath.Join(dir, "package.json"))
		if err != nil || json.Unmarshal(b, &meta) != nil || meta.Version != version {
			t.Errorf("%s is listed at %s; installed: %s (%v)", name, version, meta.Version, err)
			continue
		}
		section := text[h[1]:]
		if next := heading.FindStringIndex(section); next != nil {
			section = section[:next[0]]
		}
		entries, _ := os.ReadDir(dir)
		licences := 0
		for _, e := range entries {
			if regexp.MustCompile(`(?i)^(licen[cs]e|copying)([.-].*)?$`).MatchString(e.Name()) {
				licences++
				l, _ := os.ReadFile(filepath.Join(dir, e.Name()))
				if !strings.Contains(section, strings.TrimSpace(string(l))) {
					t.Errorf("%s: the text of its %s is not in its section", name, e.Name())
				}
			}
		}
		if licences == 0 && !strings.Contains(section, "no licence file") {
			t.Errorf("%s has no licence file and its section does not say so", name)
		}
	}
	var wanted []string
	for n := range want {
		wanted = append(wanted, n)
	}
	slices.Sort(wanted)
	if !slices.Equal(got, wanted) {
		t.Errorf("LICENSE-bundled.txt lists %v;\nthe source maps name %v: run scripts/vendor-analytics-js", got, wanted)
	}
}
