package destinations

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/eventrouter/eventrouter/destinations/warehouse"
	"github.com/eventrouter/eventrouter/router"
	"github.com/eventrouter/eventrouter/router/config"
	"github.com/eventrouter/eventrouter/router/sources"
	"github.com/eventrouter/eventrouter/router/sources/segment"
)

const configsDir = "../configs"

// builtinRegistry returns a registry of the built-in destination and
// source types, as cmd/eventrouter builds it.
func builtinRegistry(t *testing.T) *router.Registry {
	t.Helper()
	reg, err := Registry()
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.AddSources(sources.Builtin()...); err != nil {
		t.Fatal(err)
	}
	return reg
}

// TestLoadEveryConfig loads every file in configs/ with the built-in
// registry: each must be valid with no environment variable set.
func TestLoadEveryConfig(t *testing.T) {
	reg := builtinRegistry(t)
	files, err := filepath.Glob(filepath.Join(configsDir, "*.y*ml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 2 {
		t.Fatalf("found %d config files in %s, want at least eventrouter.yaml and eventrouter.example.yaml", len(files), configsDir)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			cfg, err := config.Load(f, reg)
			if err != nil && !warehouse.DuckDBBuilt {
				// A build without DuckDB refuses the duckdb warehouses of
				// these files, with a problem that says what to do, and
				// nothing else.
				var cerr *config.Error
				if !errors.As(err, &cerr) {
					t.Fatal(err)
				}
				for _, p := range cerr.Problems {
					if !strings.HasSuffix(p.Path, ".driver") || !strings.Contains(p.Message, "this build has no DuckDB; use driver: postgres") {
						t.Errorf("problem other than the missing DuckDB: %s", p)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(cfg.Sources) == 0 {
				t.Fatal("no sources")
			}
		})
	}
}

// TestDefaultConfigRunsWithNothingSet checks what `make run` relies on.
func TestDefaultConfigRunsWithNothingSet(t *testing.T) {
	if !warehouse.DuckDBBuilt {
		t.Skip("make run uses the default build: this one has no DuckDB for the default config's warehouse (TestLoadEveryConfig checks the error)")
	}
	for _, v := range []string{"EVENTROUTER_WRITE_KEY", "EVENTROUTER_LISTEN"} {
		t.Setenv(v, "")
	}
	reg := builtinRegistry(t)
	cfg, err := config.Load(filepath.Join(configsDir, "eventrouter.yaml"), reg)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Queue.URL != "" || cfg.DataDir != "./data" || cfg.HTTP.Listen != "127.0.0.1:8080" {
		t.Fatalf("queue.url %q, data_dir %q, listen %q", cfg.Queue.URL, cfg.DataDir, cfg.HTTP.Listen)
	}
	src, ok := cfg.Sources["default"]
	if sc, isSeg := src.Settings.(*segment.Config); !ok || src.Type != "segment" || !isSeg || len(sc.WriteKeys) != 1 || sc.WriteKeys[0] != "dev-write-key" {
		t.Fatalf("source default = %+v", src)
	}
	var files int
	for _, d := range cfg.Destinations {
		if d.Type == "file" {
			files++
		}
	}
	if files == 0 {
		t.Fatal("no file destination")
	}
}

// TestDevelopmentValuesAreTheShippedOnes checks that config.DevelopmentValues
// lists exactly the defaults that configs/eventrouter.yaml gives its write
// keys, admin token and secrets, and that the file, loaded as `make run`
// does but with a public listen address, is refused for each of them.
func TestDevelopmentValuesAreTheShippedOnes(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(configsDir, "eventrouter.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ref := regexp.MustCompile(`(?m)^\s*(?:write_keys|admin_token|secret):.*\$\{[A-Z_]+:-([^}]*)\}`)
	var shipped []string
	for _, m := range ref.FindAllStringSubmatch(string(data), -1) {
		shipped = append(shipped, m[1])
	}
	slices.Sort(shipped)
	want := slices.Sorted(slices.Values(config.DevelopmentValues()))
	if !slices.Equal(shipped, want) {
		t.Fatalf("configs/eventrouter.yaml ships %q, config.DevelopmentValues() is %q", shipped, want)
	}

	reg := builtinRegistry(t)
	for _, v := range []string{"EVENTROUTER_WRITE_KEY", "EVENTROUTER_ADMIN_TOKEN", "GROWSURF_WEBHOOK_SECRET"} {
		t.Setenv(v, "")
	}
	t.Setenv("EVENTROUTER_LISTEN", "0.0.0.0:8080")
	_, err = config.Load(filepath.Join(configsDir, "eventrouter.yaml"), reg)
	var cerr *config.Error
	wantProblems := 3
	if !warehouse.DuckDBBuilt {
		// A build without DuckDB also refuses the file's duckdb warehouse
		// (TestLoadEveryConfig checks that problem).
		wantProblems = 4
	}
	if !errors.As(err, &cerr) || len(cerr.Problems) != wantProblems ||
		!cerr.Has("sources.default.write_keys[0]", "development write key") ||
		!cerr.Has("http.admin_token", "development admin token") ||
		!cerr.Has("sources.referrals.secret", "development signing secret") {
		t.Fatalf("public listen with the development values: %v", err)
	}
	t.Setenv("EVENTROUTER_WRITE_KEY", "k-7f3a")
	t.Setenv("EVENTROUTER_ADMIN_TOKEN", "t-91bc")
	t.Setenv("GROWSURF_WEBHOOK_SECRET", "s-40de")
	if _, err := config.Load(filepath.Join(configsDir, "eventrouter.yaml"), reg); err != nil && warehouse.DuckDBBuilt {
		t.Fatalf("public listen with own values: %v", err)
	} else if err != nil && (!errors.As(err, &cerr) || len(cerr.Problems) != 1 || !cerr.Has("destinations.warehouse.driver", "this build has no DuckDB")) {
		t.Fatalf("public listen with own values, build without DuckDB: %v", err)
	}
}

// TestExampleConfigHasEveryKey checks that eventrouter.example.yaml sets
// every key the loader knows: every top-level section's keys, the source
// keys, the common dispatch keys, and every key of every built-in
// destination type.
func TestExampleConfigHasEveryKey(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(configsDir, "eventrouter.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	root := doc.Content[0]
	have := map[string]bool{}
	var typeOf = map[string]string{} // "destinations.<name>" -> type
	collectKeys(root, "", "", have, typeOf)

	var missing []string
	need := func(path string) {
		if !have[path] {
			missing = append(missing, path)
		}
	}
	for _, k := range yamlKeys(reflect.TypeFor[config.Config]()) {
		need(k)
	}
	need("sources")
	need("destinations")
	for _, k := range yamlKeys(reflect.TypeFor[config.Source]()) {
		need("sources.*." + k)
	}
	for _, k := range yamlKeys(reflect.TypeFor[config.Dispatch]()) {
		need("destinations.*." + k)
	}
	for _, f := range Builtin() {
		for _, k := range yamlKeys(reflect.TypeOf(f.DefaultConfig()).Elem()) {
			need("destinations.<" + f.Type() + ">." + k)
		}
	}
	for _, f := range sources.Builtin() {
		for _, k := range yamlKeys(reflect.TypeOf(f.DefaultConfig()).Elem()) {
			need("sources.<" + f.Type() + ">." + k)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Fatalf("eventrouter.example.yaml lacks keys:\n  %s", strings.Join(missing, "\n  "))
	}
}

// collectKeys records every key path of the tree, also with the source or
// destination name replaced by "*" (star is path so rewritten, at any
// depth), and also by "<type>".
func collectKeys(n *yaml.Node, path, star string, have map[string]bool, typeOf map[string]string) {
	if n.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i].Value, n.Content[i+1]
		p, sp := k, k
		if path != "" {
			p, sp = path+"."+k, star+"."+k
		}
		have[p] = true
		have[sp] = true
		if path == "sources" || path == "destinations" {
			sp = path + ".*"
		}
		if (path == "sources" || path == "destinations") && v.Kind == yaml.MappingNode {
			for j := 0; j+1 < len(v.Content); j += 2 {
				key := v.Content[j].Value
				have[path+".*."+key] = true
				if key == "type" {
					typeOf[p] = v.Content[j+1].Value
				}
			}
			if typ := typeOf[p]; typ != "" {
				for j := 0; j+1 < len(v.Content); j += 2 {
					have[path+".<"+typ+">."+v.Content[j].Value] = true
				}
			}
		}
		collectKeys(v, p, sp, have, typeOf)
		if typ := typeOf[p]; typ != "" && sp == path+".*" {
			// A source's or destination's own keys, nested ones too.
			collectKeys(v, p, path+".<"+typ+">", have, typeOf)
		}
	}
}

// yamlKeys returns the key paths of struct type t, descending into nested
// structs (but not into maps, slices or types with their own decoding).
func yamlKeys(t reflect.Type) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		name, _, _ := strings.Cut(tag, ",")
		if tag == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out = append(out, name)
		if f.Type.Kind() == reflect.Struct && f.Type.PkgPath() == t.PkgPath() {
			for _, sub := range yamlKeys(f.Type) {
				out = append(out, name+"."+sub)
			}
		}
	}
	return out
}
