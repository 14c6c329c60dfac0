package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/eventrouter/eventrouter/router"
	"github.com/eventrouter/eventrouter/router/dispatch"
)

// namePattern is what source and destination names must match: they become
// parts of NATS consumer and subject names.
var namePattern = regexp.MustCompile(`^[a-z][a-z0-9_-]*$`)

// Load reads the configuration file at path and parses it as [Parse] does.
// An invalid file yields an [*Error] whose File is path.
func Load(path string, reg *router.Registry) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	cfg, err := parse(data, reg, os.LookupEnv)
	var cerr *Error
	if errors.As(err, &cerr) {
		cerr.File = path
	}
	return cfg, err
}

// Parse parses a configuration file: it expands environment references in
// values, decodes strictly, applies defaults and checks everything, looking
// source and destination types up in reg (nil: no types known). If anything is wrong it returns an [*Error]
// listing every problem; the returned Config is then nil.
func Parse(data []byte, reg *router.Registry) (*Config, error) {
	return parse(data, reg, os.LookupEnv)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func parse(data []byte, reg *router.Registry, lookup func(string) (string, bool)) (*Config, error) {
	if reg == nil {
		var err error
		if reg, err = router.NewRegistry(); err != nil {
			return nil, fmt.Errorf("creating empty registry: %w", err)
		}
	}
	ps := newProblems()
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		ps.add("", "parsing YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))
		return nil, ps.err("")
	}
	cfg := Default()
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		root = root.Content[0]
	}
	root = resolveAlias(root)
	switch {
	case root.Kind == 0 || isNull(root):
		// An empty file: every default, and the checks below report what
		// is required.
	case root.Kind != yaml.MappingNode:
		ps.add("", "the file must be a mapping of keys to values")
		return nil, ps.err("")
	default:
		prepare(root, "", ps, lookup, map[*yaml.Node]bool{})
		decodeRoot(root, cfg, reg, ps)
	}
	validate(cfg, ps)
	if err := ps.err(""); err != nil {
		return nil, err
	}
	return cfg, nil
}

func decodeRoot(root *yaml.Node, cfg *Config, reg *router.Registry, ps *problems) {
	v := reflect.ValueOf(cfg).Elem()
	fields := structFields(v.Type())
	for _, p := range pairs(root, "", ps) {
		switch p.key {
		case "sources":
			decodeSources(p.value, cfg, reg, ps)
			continue
		case "destinations":
			decodeDestinations(p.value, cfg, reg, ps)
			continue
		}
		idx, ok := fields[p.key]
		if !ok {
			ps.add(p.key, "unknown key (known keys: %s, sources, destinations)", knownKeys(v.Type()))
			continue
		}
		decodeStrict(p.value, v.FieldByIndex(idx), p.key, ps)
	}
}

// blockPairs returns the entries of the block at path, which must be a
// mapping (or empty).
func blockPairs(n *yaml.Node, path string, ps *problems) ([]pair, bool) {
	n = resolveAlias(n)
	if isNull(n) {
		return nil, true
	}
	if n.Kind != yaml.MappingNode {
		ps.add(path, "must be a mapping of keys to values")
		return nil, false
	}
	return pairs(n, path, ps), true
}

func checkName(name, path string, ps *problems) {
	if !namePattern.MatchString(name) {
		ps.add(path, "invalid name: must start with a lower-case letter and contain only lower-case letters, digits, '_' and '-'")
	}
}

// scalarString decodes the value of a "type" key.
func scalarString(n *yaml.Node, path string, ps *problems) string {
	var s string
	decodeStrict(n, reflect.ValueOf(&s).Elem(), path, ps)
	return strings.TrimSpace(s)
}

func decodeSources(n *yaml.Node, cfg *Config, reg *router.Registry, ps *problems) {
	entries, ok := blockPairs(n, "sources", ps)
	if !ok {
		return
	}
	for _, e := range entries {
		path := joinPath("sources", e.key)
		checkName(e.key, path, ps)
		body, ok := blockPairs(e.value, path, ps)
		if !ok {
			continue
		}
		src := Source{Name: e.key}
		for _, p := range body {
			if p.key == "type" {
				src.Type = scalarString(p.value, joinPath(path, "type"), ps)
			}
		}
		if src.Type == "" {
			ps.required(joinPath(path, "type"))
		} else if f, err := reg.LookupSource(src.Type); err == nil {
			src.Factory = f
			src.Settings = f.DefaultConfig()
		} else {
			ps.add(joinPath(path, "type"), "%v", err)
		}
		common := reflect.ValueOf(&src).Elem()
		commonFields := structFields(common.Type())
		commonFields["type"] = nil // handled above
		if r, ok := src.Settings.(router.KeyRefuser); ok {
			kept := body[:0:0]
			for _, p := range body {
				if why, no := r.RefusedKey(p.key); no {
					ps.add(joinPath(path, p.key), "not allowed for source type %s (%s)", src.Type, why)
					continue
				}
				kept = append(kept, p)
			}
			body = kept
		}
		rest := splitBlock(body, commonFields, common, path, ps)
		decodeSettings(rest, src.Settings, src.Factory != nil, path, "source type "+src.Type, knownKeys(common.Type()), ps)
		cfg.Sources[e.key] = src
	}
}

func decodeDestinations(n *yaml.Node, cfg *Config, reg *router.Registry, ps *problems) {
	entries, ok := blockPairs(n, "destinations", ps)
	if !ok {
		return
	}
	for _, e := range entries {
		path := joinPath("destinations", e.key)
		checkName(e.key, path, ps)
		body, ok := blockPairs(e.value, path, ps)
		if !ok {
			continue
		}
		dst := Destination{Name: e.key, Dispatch: dispatch.DefaultOptions()}
		var typeN *yaml.Node
		for _, p := range body {
			if p.key == "type" {
				typeN = p.value
			}
		}
		if typeN != nil {
			dst.Type = scalarString(typeN, joinPath(path, "type"), ps)
		}
		if dst.Type == "" {
			ps.required(joinPath(path, "type"))
		} else if f, err := reg.Lookup(dst.Type); err != nil {
			ps.add(joinPath(path, "type"), "%v", err)
		} else {
			dst.Factory = f
			dst.Settings = f.DefaultConfig()
			if dst.Settings == nil || reflect.ValueOf(dst.Settings).Kind() != reflect.Pointer || reflect.ValueOf(dst.Settings).IsNil() {
				ps.add(joinPath(path, "type"), "destination type %q is broken: DefaultConfig must return a non-nil pointer", dst.Type)
				dst.Settings = nil
			}
		}
		common := reflect.ValueOf(&dst.Dispatch).Elem()
		commonFields := structFields(common.Type())
		commonFields["type"] = nil // handled above
		rest := splitBlock(body, commonFields, common, path, ps)
		decodeSettings(rest, dst.Settings, dst.Factory != nil, path, "destination type "+dst.Type, "type, "+knownKeys(common.Type()), ps)
		resolveEnabled(&dst.Dispatch, body, path, ps)
		resolveFlushInterval(&dst.Dispatch, body, path, ps)
		if dst.Dispatch.Integration == "" {
			dst.Dispatch.Integration = defaultIntegration(dst.Factory, dst.Name)
		}
		cfg.Destinations[e.key] = dst
	}
}

// resolveEnabled makes the enabled and disabled keys of a destination block
// agree: the one that is set decides, and setting both so that they disagree
// is a problem.
func resolveEnabled(d *Dispatch, body []pair, path string, ps *problems) {
	hasEnabled, hasDisabled := hasKey(body, "enabled"), hasKey(body, "disabled")
	switch {
	case hasEnabled && hasDisabled && d.Enabled == d.Disabled:
		ps.add(joinPath(path, "disabled"), "contradicts enabled: %t (set only enabled; disabled is its older, inverted form)", d.Enabled)
	case hasDisabled:
		d.Enabled = !d.Disabled
	default:
		d.Disabled = !d.Enabled
	}
}

// resolveFlushInterval makes batch_timeout and its other name,
// flush_interval, agree: the one that is set decides, and setting both to
// different values is a problem.
func resolveFlushInterval(d *Dispatch, body []pair, path string, ps *problems) {
	hasTimeout, hasFlush := hasKey(body, "batch_timeout"), hasKey(body, "flush_interval")
	switch {
	case hasTimeout && hasFlush && d.BatchTimeout != d.FlushInterval:
		ps.add(joinPath(path, "flush_interval"), "contradicts batch_timeout: %s (flush_interval is another name for batch_timeout: set one)", d.BatchTimeout)
	case hasFlush:
		d.BatchTimeout = d.FlushInterval
	default:
		d.FlushInterval = d.BatchTimeout
	}
}

// hasKey reports whether a block sets key to something other than null.
func hasKey(body []pair, key string) bool {
	for _, p := range body {
		if p.key == key {
			return !isNull(resolveAlias(p.value))
		}
	}
	return false
}

// defaultIntegration returns the default integration name of a destination:
// its factory's, when the factory has one, else the destination's name.
func defaultIntegration(f router.Factory, name string) string {
	if n, ok := f.(router.IntegrationNamer); ok {
		if in := n.IntegrationName(); in != "" {
			return in
		}
	}
	return name
}

// splitBlock decodes the entries of a block whose keys are in common into
// the struct value common (entries with a nil index are skipped), and returns
// the other entries.
func splitBlock(body []pair, common map[string][]int, v reflect.Value, path string, ps *problems) []pair {
	var rest []pair
	for _, p := range body {
		idx, ok := common[p.key]
		if !ok {
			rest = append(rest, p)
			continue
		}
		if idx != nil {
			decodeStrict(p.value, v.FieldByIndex(idx), joinPath(path, p.key), ps)
		}
	}
	return rest
}

// decodeSettings decodes the type-specific entries of a source or
// destination block strictly into settings (a pointer) and validates it.
// When the type is unknown (typeKnown false) the entries cannot be checked
// and are ignored.
func decodeSettings(rest []pair, settings any, typeKnown bool, path, what, commonKeys string, ps *problems) {
	if !typeKnown {
		return
	}
	before := len(ps.list)
	if settings == nil {
		for _, p := range rest {
			ps.add(joinPath(path, p.key), "unknown key (known keys: %s)", commonKeys)
		}
		return
	}
	sv := reflect.ValueOf(settings).Elem()
	switch {
	case reflect.PointerTo(sv.Type()).Implements(unmarshaler) || sv.Kind() != reflect.Struct:
		m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		for _, p := range rest {
			m.Content = append(m.Content, p.keyN, p.value)
		}
		decodeStrict(m, sv, path, ps)
	default:
		fields := structFields(sv.Type())
		for _, p := range rest {
			idx, ok := fields[p.key]
			if !ok {
				ps.add(joinPath(path, p.key), "unknown key for %s (known keys: %s, %s)", what, commonKeys, knownKeys(sv.Type()))
				continue
			}
			decodeStrict(p.value, sv.FieldByIndex(idx), joinPath(path, p.key), ps)
		}
	}
	val, ok := settings.(router.Validator)
	if !ok {
		return
	}
	reported := map[string]bool{}
	for _, p := range ps.list[before:] {
		reported[p.Path] = true
	}
	ps.addErrorsExcept(path, val.Validate(), reported)
}

// addErrors records every problem of err, an errors.Join of problems each
// naming its key relative to path ("partitions: must be between 1 and
// 1024"), as returned by a component's Validate.
func (ps *problems) addErrors(path string, err error) { ps.addErrorsExcept(path, err, nil) }

// addErrorsExcept is addErrors without the key paths in skip (those
// already reported while decoding).
func (ps *problems) addErrorsExcept(path string, err error, skip map[string]bool) {
	for _, err := range flatten(err) {
		key, msg := splitKey(err.Error())
		if ke, ok := err.(*router.KeyError); ok {
			key, msg = ke.Path, ke.Msg
		}
		p := path
		if key != "" {
			p = joinPath(path, key)
		}
		if skip[p] {
			continue
		}
		if msg == "required" || strings.HasPrefix(msg, "required: ") {
			ps.requiredMsg(p, strings.TrimPrefix(strings.TrimPrefix(msg, "required"), ": "))
		} else {
			ps.add(p, "%s", msg)
		}
	}
}

// flatten returns the leaves of an error tree built with errors.Join.
func flatten(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}

var keyPrefix = regexp.MustCompile(`^([A-Za-z0-9_\-]+(?:\[[0-9]+\]|\.[A-Za-z0-9_\-]+)*): (.*)$`)

// splitKey splits "url: required" into "url" and "required"; a message
// without a key path yields an empty key.
func splitKey(s string) (string, string) {
	if m := keyPrefix.FindStringSubmatch(s); m != nil {
		return m[1], m[2]
	}
	return "", s
}

// validate checks every value of cfg that decoding could not.
func validate(cfg *Config, ps *problems) {
	h := &cfg.HTTP
	checkHostPort(h.Listen, "http.listen", true, ps)
	positive(h.ReadTimeout, "http.read_timeout", ps)
	positive(h.WriteTimeout, "http.write_timeout", ps)
	positive(h.ShutdownTimeout, "http.shutdown_timeout", ps)
	if h.MaxHeaderBytes < 1024 || h.MaxHeaderBytes > 1<<20 {
		ps.add("http.max_header_bytes", "must be between 1KiB and 1MiB")
	}
	checkPublicURL(h.PublicURL, ps)

	if strings.TrimSpace(cfg.DataDir) == "" {
		ps.required("data_dir")
	}
	oneOf(cfg.Log.Level, "log.level", ps, "debug", "info", "warn", "error")
	oneOf(cfg.Log.Format, "log.format", ps, "json", "text")

	ps.addErrors("queue", cfg.Queue.Validate())

	oneOf(cfg.Auth.UnknownKey, "auth.unknown_key", ps, "reject", "accept")

	if len(cfg.Sources) == 0 {
		ps.add("sources", "required: at least one source")
	}
	// Write keys must be unique across all sources; never print them.
	owner := map[string]string{}
	for _, name := range cfg.SourceNames() {
		wk, ok := cfg.Sources[name].Settings.(router.WriteKeyer)
		if !ok {
			continue
		}
		own := map[string]bool{}
		for i, k := range wk.SourceWriteKeys() {
			path := indexPath("sources."+name+".write_keys", i)
			switch prev, dup := owner[k]; {
			case strings.TrimSpace(k) == "":
				// Reported by the type's Validate.
			case own[k]:
				ps.add(path, "duplicate write key (listed twice in sources.%s)", name)
			case dup:
				ps.add(path, "duplicate write key (also used by sources.%s)", prev)
			default:
				owner[k] = name
			}
			own[k] = true
		}
	}

	checkSourcePaths(cfg, ps)
	checkTrackingPlan(cfg, ps)
	checkSecurity(cfg, ps) // security.go
	if r := cfg.Ingest.SampleRate; math.IsNaN(r) || r < 0 || r > 1e6 {
		ps.add("ingest.sample_rate", "must be between 0 and 1e6 requests per second (0 keeps no sample)")
	}
	if b := cfg.Ingest.SampleBurst; b < 0 || b > 1e6 {
		ps.add("ingest.sample_burst", "must be between 0 and 1e6")
	}

	for _, name := range cfg.DestinationNames() {
		ps.addErrors("destinations."+name, cfg.Destinations[name].Dispatch.Validate())
	}
}

// checkSourcePaths checks the paths of every source that mounts webhook
// routes: each well formed, none under the server's own routes, and no two
// the same (compared case-insensitively, as requests are matched).
func checkSourcePaths(cfg *Config, ps *problems) {
	owner := map[string]string{} // lower-cased path -> "sources.<name>.<key>"
	for _, name := range cfg.SourceNames() {
		sp, ok := cfg.Sources[name].Settings.(router.SourcePather)
		if !ok {
			continue
		}
		for _, p := range sp.SourcePaths() {
			where := "sources." + name + "." + p.Key
			if msg := checkSourcePath(p.Path); msg != "" {
				if !ps.has(where) {
					ps.add(where, "%s", msg)
				}
			}
			lp := strings.ToLower(p.Path)
			if prev, dup := owner[lp]; dup {
				ps.add(where, "same path as %s", prev)
				continue
			}
			owner[lp] = where
		}
	}
}

// sourcePath is what a webhook path must match: one or more "/segment".
var sourcePath = regexp.MustCompile(`^(/[A-Za-z0-9._~-]+)+$`)

// reservedPaths are the server's own routes; a source path must be none of
// them and lie under none of those ending in "/".
var reservedPaths = []string{"/v1", "/v1/", "/beacon/", "/healthz", "/readyz", "/metrics", "/admin", "/admin/", "/health", "/internal/"}

// checkSourcePath returns what is wrong with a webhook path, or "".
func checkSourcePath(p string) string {
	if !strings.HasPrefix(p, "/") {
		return `must start with "/"`
	}
	if !sourcePath.MatchString(p) {
		return `must be "/" followed by segments of letters, digits, '.', '_', '~' and '-' separated by single "/" (no trailing "/")`
	}
	for _, seg := range strings.Split(p[1:], "/") {
		if strings.Trim(seg, ".") == "" {
			return `must not have "." or ".." segments`
		}
	}
	lp := strings.ToLower(p)
	for _, r := range reservedPaths {
		if lp == strings.TrimSuffix(r, "/") || (strings.HasSuffix(r, "/") && strings.HasPrefix(lp, r)) {
			return fmt.Sprintf("collides with the server's route %s", r)
		}
	}
	return ""
}

func positive[T ~int64](v T, path string, ps *problems) {
	if v <= 0 {
		ps.add(path, "must be greater than zero")
	}
}

func oneOf(v, path string, ps *problems, allowed ...string) {
	for _, a := range allowed {
		if v == a {
			return
		}
	}
	ps.add(path, "must be one of %s", strings.Join(allowed, ", "))
}

func checkHostPort(addr, path string, required bool, ps *problems) {
	if addr == "" {
		if required {
			ps.required(path)
		}
		return
	}
	if _, port, err := net.SplitHostPort(addr); err != nil || port == "" {
		ps.add(path, `must be a host:port address such as "127.0.0.1:8080" or ":8080"`)
	}
}
