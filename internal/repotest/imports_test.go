package repotest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"testing"
)

// module is the module path; the import rules speak of paths relative to
// it.
const module = "github.com/eventrouter/eventrouter"

// pkg is one package of the module as `go list` describes it, with its
// paths relative to the module and only the module's own packages kept.
type pkg struct {
	Path    string   // such as "router/config"
	Imports []string // direct imports of its non-test files
	Deps    []string // every package it depends on, directly or not
}

// listPackages lists the module's packages built with tags: none is the
// default build (with cgo), "noduckdb" the static one (without cgo), as
// the Makefile builds them, whatever CGO_ENABLED the test runs with.
func listPackages(t *testing.T, tags string) map[string]pkg {
	t.Helper()
	args := []string{"list", "-json=ImportPath,Imports,Deps"}
	cgo := "CGO_ENABLED=1"
	if tags != "" {
		args = append(args, "-tags", tags)
		cgo = "CGO_ENABLED=0"
	}
	cmd := exec.Command("go", append(args, "./...")...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), cgo)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	pkgs := map[string]pkg{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p struct {
			ImportPath    string
			Imports, Deps []string
		}
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("reading go list's answer: %v", err)
		}
		pkgs[rel(p.ImportPath)] = pkg{Path: rel(p.ImportPath), Imports: own(p.Imports), Deps: own(p.Deps)}
	}
	if len(pkgs) < 20 {
		t.Fatalf("go list found %d packages; is this the module's root?", len(pkgs))
	}
	return pkgs
}

// rel returns an import path relative to the module ("" for the module's
// root, which has no package).
func rel(path string) string { return strings.TrimPrefix(strings.TrimPrefix(path, module), "/") }

// own keeps the module's packages of a list of import paths, relative.
func own(paths []string) []string {
	var out []string
	for _, p := range paths {
		if p == module || strings.HasPrefix(p, module+"/") {
			out = append(out, rel(p))
		}
	}
	return out
}

// under reports whether path is dir or a package below it.
func under(path, dir string) bool { return path == dir || strings.HasPrefix(path, dir+"/") }

// top returns the first n elements of path ("router/admin/cli", 2:
// "router/admin").
func top(path string, n int) string {
	parts := strings.Split(path, "/")
	if len(parts) > n {
		parts = parts[:n]
	}
	return strings.Join(parts, "/")
}

// allowed reports whether the package from may import the package to
// (both relative to the module), and if not, which rule forbids it. The
// rules, which docs/architecture.md states too:
//
//   - programs (cmd/..., bench/..., internal/release/cmd/...) may import
//     everything;
//   - internal/... imports only internal/...: helpers that know nothing of
//     eventrouter's parts;
//   - router, the domain, imports no project code;
//   - schemas imports only internal/...; schemas/<sub> imports schemas,
//     its own subtree and internal/...;
//   - router/<sub> imports router, schemas (and its subpackages),
//     internal/... and its own subtree (router/admin/cli imports
//     router/admin), never another router/<sub>: with one exception,
//     router/config, which composes the config of the whole server and
//     imports the config types of router/eventlog and router/dispatch;
//     sources and destinations reach it as factories in a router.Registry;
//     and router/dispatch/transform/fixtures, the runner of `eventrouter
//     transform test`, which loads a config (router/config) and runs its
//     webhook sources (router/sources/...) and dispatch's Preview on the
//     fixtures;
//   - destinations (the Builtin list) imports router and the destination
//     packages; destinations/internal/... imports router and internal/...;
//     destinations/<name> imports router, internal/...,
//     destinations/internal/... and its own subtree: never another
//     destination, never router/dispatch or any other router/<sub>.
func allowed(from, to string) (bool, string) {
	switch {
	case under(from, "cmd"), under(from, "bench"), under(from, "internal/release/cmd"):
		return true, ""
	case under(from, "internal"):
		return under(to, "internal"), "internal/... imports only internal/..."
	case from == "router":
		return false, "router (the domain) imports no project code"
	case from == "schemas":
		return under(to, "internal"), "schemas imports only internal/..."
	case under(from, "schemas"):
		return under(to, "schemas") || under(to, "internal"), "schemas/<sub> imports schemas and internal/..."
	case from == "router/config" && (to == "router/eventlog" || to == "router/dispatch"):
		return true, ""
	case from == "router/dispatch/transform/fixtures" && (to == "router/config" || under(to, "router/sources")):
		return true, ""
	case under(from, "router"):
		ok := to == "router" || under(to, "schemas") || under(to, "internal") || under(to, top(from, 2))
		return ok, "router/<sub> imports router, schemas, internal/... and its own subtree only"
	case from == "destinations":
		return to == "router" || (under(to, "destinations") && !under(to, "destinations/internal")), "destinations imports router and the destination packages"
	case under(from, "destinations/internal"):
		return to == "router" || under(to, "internal") || under(to, top(from, 3)), "destinations/internal/... imports router and internal/..."
	case under(from, "destinations"):
		ok := to == "router" || under(to, "internal") || under(to, "destinations/internal") || under(to, top(from, 2))
		return ok, "destinations/<name> imports router, internal/... and destinations/internal/... only: never another destination or router/<sub>"
	}
	return false, "no rule covers " + from
}

// violations returns every import of pkgs that the rules forbid.
func violations(pkgs map[string]pkg) []string {
	var out []string
	for _, p := range pkgs {
		for _, to := range p.Imports {
			if ok, why := allowed(p.Path, to); !ok {
				out = append(out, fmt.Sprintf("%s imports %s: %s", p.Path, to, why))
			}
		}
	}
	sort.Strings(out)
	return out
}

// components returns the packages that are a part of the server: the
// log, dispatch, ingest, the admin API, and each destination and source
// that the Builtin lists (packages destinations and router/sources)
// import. unlisted are the packages one level under destinations/ and
// router/sources/ that no Builtin lists.
func components(pkgs map[string]pkg) (comps, unlisted []string) {
	comps = []string{"router/eventlog", "router/dispatch", "router/ingest", "router/admin"}
	listed := map[string]bool{}
	for _, list := range []string{"destinations", "router/sources"} {
		for _, to := range pkgs[list].Imports {
			if under(to, list) {
				comps = append(comps, to)
				listed[to] = true
			}
		}
	}
	for path := range pkgs {
		parts := strings.Split(path, "/")
		one := (len(parts) == 2 && parts[0] == "destinations" && parts[1] != "internal") ||
			(len(parts) == 3 && parts[0] == "router" && parts[1] == "sources")
		if one && !listed[path] {
			unlisted = append(unlisted, path)
		}
	}
	sort.Strings(comps)
	sort.Strings(unlisted)
	return comps, unlisted
}

// reached returns the components that p depends on, directly or not.
func reached(p pkg, comps []string) []string {
	var out []string
	for _, c := range comps {
		if slices.Contains(p.Deps, c) {
			out = append(out, c)
		}
	}
	return out
}

// TestImportGraph checks the module's imports against the rules of
// [allowed], in the default build and in the static one (tag noduckdb),
// and that cmd/eventrouter is the only package that knows every component.
// It logs, for each package, its project imports and how many components
// it reaches.
func TestImportGraph(t *testing.T) {
	for _, tags := range []string{"", "noduckdb"} {
		pkgs := listPackages(t, tags)
		for _, v := range violations(pkgs) {
			t.Errorf("tags %q: %s", tags, v)
		}
		comps, unlisted := components(pkgs)
		if len(comps) < 10 {
			t.Fatalf("found only %d components: %v", len(comps), comps)
		}
		for _, c := range comps {
			if _, ok := pkgs[c]; !ok {
				t.Errorf("component %s is not a package of the module", c)
			}
		}
		var all []string
		for path, p := range pkgs {
			if len(reached(p, comps)) == len(comps) {
				all = append(all, path)
			}
		}
		sort.Strings(all)
		if !slices.Equal(all, []string{"cmd/eventrouter"}) {
			t.Errorf("tags %q: the packages that import every component are %v, want only cmd/eventrouter", tags, all)
		}
		if tags == "" {
			t.Log("\n" + summary(pkgs, comps))
			if len(unlisted) > 0 {
				t.Logf("not listed by a Builtin, so not components: %s", strings.Join(unlisted, " "))
			}
		}
	}
}

// summary is the import graph as a table: each package (but tools and
// helpers with no project import) with the components it reaches out of
// all of them and its direct project imports.
func summary(pkgs map[string]pkg, comps []string) string {
	paths := make([]string, 0, len(pkgs))
	for path := range pkgs {
		paths = append(paths, path)
	}
	sort.Strings(paths)
	var b strings.Builder
	fmt.Fprintf(&b, "components (%d): %s\n", len(comps), strings.Join(comps, " "))
	fmt.Fprintf(&b, "%-34s %-10s %s\n", "PACKAGE", "REACHES", "IMPORTS (project packages)")
	for _, path := range paths {
		p := pkgs[path]
		if len(p.Imports) == 0 {
			continue
		}
		imports := p.Imports
		if len(imports) > 8 {
			imports = append(slices.Clip(imports[:8]), fmt.Sprintf("... (%d in all)", len(p.Imports)))
		}
		fmt.Fprintf(&b, "%-34s %2d of %-4d %s\n", path, len(reached(p, comps)), len(comps), strings.Join(imports, " "))
	}
	return b.String()
}

// TestImportRules checks the rules themselves on imports that would
// break them, so that TestImportGraph cannot pass by allowing everything.
func TestImportRules(t *testing.T) {
	tests := []struct {
		from, to string
		ok       bool
	}{
		{"cmd/eventrouter", "router/dispatch", true},
		{"cmd/eventrouter", "destinations/warehouse", true},
		{"router", "schemas", false},
		{"router", "internal/snakecase", false},
		{"schemas", "internal/snakecase", true},
		{"schemas", "router", false},
		{"schemas/report", "schemas/gitref", true},
		{"schemas/report", "router", false},
		{"internal/health", "internal/progress", true},
		{"internal/health", "router", false},
		{"router/config", "router/eventlog", true},
		{"router/config", "router/dispatch", true},
		{"router/config", "router/sources", false},
		{"router/config", "router/sources/segment", false},
		{"router/config", "destinations/segment", false},
		{"router/config", "router/ingest", false},
		{"router/ingest", "router/eventlog", false},
		{"router/ingest", "schemas", true},
		{"router/admin/cli", "router/admin", true},
		{"router/admin/cli", "internal/progress", true},
		{"router/admin", "router/eventlog", false},
		{"router/sources", "router/sources/growsurf", true},
		{"router/sources/growsurf", "router/sources/segment", true}, // one subtree: router/sources
		{"router/dispatch", "destinations/webhook", false},
		{"router/dispatch", "router/dispatch/transform", true},
		{"router/dispatch/transform/fixtures", "router/config", true},
		{"router/dispatch/transform/fixtures", "router/sources/webhook", true},
		{"router/dispatch/transform/fixtures", "router/eventlog", false},
		{"router/dispatch/transform", "router/config", false},
		{"destinations", "destinations/webhook", true},
		{"destinations", "router/config", false},
		{"destinations/webhook", "router", true},
		{"destinations/webhook", "destinations/internal/httpdelivery", true},
		{"destinations/webhook", "destinations/segment", false},
		{"destinations/webhook", "router/dispatch", false},
		{"destinations/warehouse/query", "destinations/warehouse", true},
		{"destinations/warehouse", "internal/snakecase", true},
		{"destinations/internal/httpdelivery", "destinations/webhook", false},
	}
	for _, tt := range tests {
		if ok, why := allowed(tt.from, tt.to); ok != tt.ok {
			t.Errorf("allowed(%s, %s) = %v (%s), want %v", tt.from, tt.to, ok, why, tt.ok)
		}
	}
	// A whole graph: the one bad import is reported, and only it.
	pkgs := map[string]pkg{
		"router":               {Path: "router"},
		"router/dispatch":      {Path: "router/dispatch", Imports: []string{"router"}},
		"destinations/webhook": {Path: "destinations/webhook", Imports: []string{"router", "router/dispatch"}},
	}
	if got := violations(pkgs); len(got) != 1 || !strings.HasPrefix(got[0], "destinations/webhook imports router/dispatch: ") {
		t.Errorf("violations = %q", got)
	}
}
