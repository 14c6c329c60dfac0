package schemas

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v5"
	"gopkg.in/yaml.v3"
)

// RuleType is a rule's x-segment-type: the kind of message it validates.
type RuleType string

// The rule types of a tracking plan, spelled as in Segment's Public API.
const (
	RuleTrack    RuleType = "TRACK"
	RuleIdentify RuleType = "IDENTIFY"
	RuleGroup    RuleType = "GROUP"
	RulePage     RuleType = "PAGE"
	RuleScreen   RuleType = "SCREEN"
	RuleCommon   RuleType = "COMMON"
)

// Mode is an enforcement setting's value.
type Mode string

// The enforcement modes; not every setting accepts every mode.
const (
	Allow Mode = "allow"
	Omit  Mode = "omit"
	Block Mode = "block"
)

// TrackEnforcement holds the enforcement settings for track calls.
type TrackEnforcement struct {
	UnplannedEvents     Mode `yaml:"unplanned_events" json:"unplanned_events"`
	UnplannedProperties Mode `yaml:"unplanned_properties" json:"unplanned_properties"`
	Violations          Mode `yaml:"violations" json:"violations"`
}

// TraitEnforcement holds the enforcement settings for identify or group calls.
type TraitEnforcement struct {
	UnplannedTraits Mode `yaml:"unplanned_traits" json:"unplanned_traits"`
	Violations      Mode `yaml:"violations" json:"violations"`
}

// Enforcement is the plan's enforcement block. The zero value
// is completed by Load to the defaults: allow everything, record violations.
type Enforcement struct {
	Track               TrackEnforcement `yaml:"track" json:"track"`
	Identify            TraitEnforcement `yaml:"identify" json:"identify"`
	Group               TraitEnforcement `yaml:"group" json:"group"`
	CommonViolations    Mode             `yaml:"common_violations" json:"common_violations"`
	ForwardBlockedTo    string           `yaml:"forward_blocked_to" json:"forward_blocked_to"`
	ForwardViolationsTo string           `yaml:"forward_violations_to" json:"forward_violations_to"`
}

// enforcementSetting is one mode of an [Enforcement]: its key path (as in
// plan.yaml and in a source's enforcement block) and the modes it accepts.
type enforcementSetting struct {
	key     string
	mode    *Mode
	allowed []Mode
}

// settings returns the modes of e, in the order of the enforcement block.
func (e *Enforcement) settings() []enforcementSetting {
	return []enforcementSetting{
		{"track.unplanned_events", &e.Track.UnplannedEvents, []Mode{Allow, Block}},
		{"track.unplanned_properties", &e.Track.UnplannedProperties, []Mode{Allow, Omit}},
		{"track.violations", &e.Track.Violations, []Mode{Allow, Omit, Block}},
		{"identify.unplanned_traits", &e.Identify.UnplannedTraits, []Mode{Allow, Omit}},
		{"identify.violations", &e.Identify.Violations, []Mode{Allow, Omit, Block}},
		{"group.unplanned_traits", &e.Group.UnplannedTraits, []Mode{Allow, Omit}},
		{"group.violations", &e.Group.Violations, []Mode{Allow, Omit, Block}},
		{"common_violations", &e.CommonViolations, []Mode{Allow, Omit, Block}},
	}
}

func modeList(ms []Mode) string {
	names := make([]string, len(ms))
	for i, m := range ms {
		names[i] = string(m)
	}
	return strings.Join(names, ", ")
}

// Validate checks e as a source's overrides of plan.yaml's settings (the
// enforcement block of a source in the config file): every mode that is
// set must be one its setting accepts; an empty mode takes plan.yaml's. It
// returns every problem at once, joined with errors.Join, each naming its
// key ("track.unplanned_events: must be one of allow, block (or left out:
// plan.yaml's setting)"). Whether the forwarding targets exist is the
// caller's to check.
func (e Enforcement) Validate() error {
	var errs []error
	for _, st := range e.settings() {
		if *st.mode != "" && !slices.Contains(st.allowed, *st.mode) {
			errs = append(errs, fmt.Errorf("%s: must be one of %s (or left out: plan.yaml's setting)", st.key, modeList(st.allowed)))
		}
	}
	return errors.Join(errs...)
}

// IsZero reports whether e sets nothing.
func (e Enforcement) IsZero() bool { return e == Enforcement{} }

// DefaultEnforcement returns the defaults: every setting allow, no forwarding.
func DefaultEnforcement() Enforcement {
	return Enforcement{
		Track:            TrackEnforcement{UnplannedEvents: Allow, UnplannedProperties: Allow, Violations: Allow},
		Identify:         TraitEnforcement{UnplannedTraits: Allow, Violations: Allow},
		Group:            TraitEnforcement{UnplannedTraits: Allow, Violations: Allow},
		CommonViolations: Allow,
	}
}

// Plan is a loaded, compiled tracking plan. It is immutable after Load and
// safe for concurrent use.
type Plan struct {
	// ID, Name and Description come from plan.yaml; ID is recorded in violations.
	ID, Name, Description string
	// Sources and Labels come from plan.yaml.
	Sources, Labels []string
	// Enforcement is plan.yaml's enforcement block with defaults filled in.
	Enforcement Enforcement
	// Hash is the hex SHA-256 of plan.yaml and every schema file (names and contents).
	Hash string
	// Dir is the directory the plan was loaded from.
	Dir string

	// Common, Identify and Group are the singleton rules, nil when absent.
	Common, Identify, Group *Rule
	// Tracks maps an exact event name to its rule.
	Tracks map[string]*Rule
	// Pages and Screens map an exact name to its rule; key "" is the rule
	// without x-segment-key, which applies to every page or screen.
	Pages, Screens map[string]*Rule

	parsed []*Rule // every rule that parsed, duplicates included (for Lint)
}

// Rule is one compiled *.schema.json file.
type Rule struct {
	// Type is x-segment-type.
	Type RuleType
	// Key is x-segment-key ("" when null or absent).
	Key string
	// Version is x-segment-version.
	Version int
	// File is the path relative to the plan directory, slash-separated.
	File string
	// Description is the schema's top-level description.
	Description string
	// Raw is the decoded schema document (numbers as json.Number).
	Raw map[string]any

	data     []byte
	schema   *jsonschema.Schema
	declared map[string]bool
	patterns []*regexp.Regexp
	// view lists the top-level message keys the schema can constrain, when
	// its top level only uses properties/required/type and annotations;
	// validating a map holding just those keys gives the same result faster.
	view []string
	// fast is the allocation-free pre-check, nil when the schema is outside its subset.
	fast *fast
}

// Rules returns every rule of the plan ordered by file name.
func (p *Plan) Rules() []*Rule {
	var out []*Rule
	for _, r := range []*Rule{p.Common, p.Identify, p.Group} {
		if r != nil {
			out = append(out, r)
		}
	}
	for _, m := range []map[string]*Rule{p.Tracks, p.Pages, p.Screens} {
		for _, r := range m {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].File < out[j].File })
	return out
}

// Severity grades a Finding.
type Severity string

// The severities; CI fails on SeverityError.
const (
	SeverityError   Severity = "error"
	SeverityWarning Severity = "warning"
)

// Finding is one problem found in a plan directory by Load, Lint or
// TestFixtures.
type Finding struct {
	// File is the path relative to the plan directory, slash-separated.
	File string `json:"file"`
	// Line is the 1-based line in File, 0 when unknown (best effort).
	Line int `json:"line,omitempty"`
	// Pointer is the JSON pointer (or YAML path) of the offending value in File.
	Pointer string `json:"pointer,omitempty"`
	// Message says what is wrong.
	Message string `json:"message"`
	// Severity is error or warning.
	Severity Severity `json:"severity"`
}

// String formats the finding as "file:line: pointer: message".
func (f Finding) String() string {
	var b strings.Builder
	b.WriteString(f.File)
	if f.Line > 0 {
		b.WriteString(":" + strconv.Itoa(f.Line))
	}
	if f.Pointer != "" {
		b.WriteString(": " + f.Pointer)
	}
	b.WriteString(": " + f.Message)
	return b.String()
}

// LoadError lists every problem that kept a plan from loading.
type LoadError struct {
	// Dir is the plan directory.
	Dir string
	// Problems are the findings, ordered by file and line.
	Problems []Finding
}

// Error joins every problem into one message.
func (e *LoadError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.String()
	}
	return fmt.Sprintf("loading tracking plan %s: %d problem(s): %s", e.Dir, len(e.Problems), strings.Join(parts, "; "))
}

const draft07 = "http://json-schema.org/draft-07/schema"

// planFile is plan.yaml.
type planFile struct {
	ID          string      `yaml:"id"`
	Name        string      `yaml:"name"`
	Description string      `yaml:"description"`
	Sources     []string    `yaml:"sources"`
	Labels      []string    `yaml:"labels"`
	Enforcement Enforcement `yaml:"enforcement"`
}

// Load reads, checks and compiles the plan in dir: plan.yaml,
// common/identify/group.schema.json and events/, pages/, screens/*.schema.json.
// It returns the whole plan or nothing: on any problem the error is a
// *LoadError listing every problem with its file and JSON pointer.
func Load(dir string) (*Plan, error) {
	p, problems, err := load(dir)
	if err != nil {
		return nil, err
	}
	if len(problems) > 0 {
		return nil, &LoadError{Dir: dir, Problems: problems}
	}
	return p, nil
}

// load parses what it can; the plan is usable only when problems is empty.
// err is set only when dir itself cannot be read.
func load(dir string) (*Plan, []Finding, error) {
	if fi, err := os.Stat(dir); err != nil {
		return nil, nil, fmt.Errorf("loading tracking plan: %w", err)
	} else if !fi.IsDir() {
		return nil, nil, fmt.Errorf("loading tracking plan: %s is not a directory", dir)
	}
	p := &Plan{Dir: dir, Tracks: map[string]*Rule{}, Pages: map[string]*Rule{}, Screens: map[string]*Rule{}}
	var problems []Finding
	add := func(f Finding) { problems = append(problems, f) }
	hash := sha256.New()

	yml, err := os.ReadFile(filepath.Join(dir, "plan.yaml"))
	if err != nil {
		add(Finding{File: "plan.yaml", Message: "reading plan.yaml: " + unwrapPath(err), Severity: SeverityError})
	} else {
		fmt.Fprintf(hash, "plan.yaml\x00%d\x00", len(yml))
		hash.Write(yml)
		for _, f := range parsePlanYAML(yml, p) {
			add(f)
		}
	}

	files, err := schemaFiles(dir)
	if err != nil {
		return nil, nil, err
	}
	comp := jsonschema.NewCompiler()
	comp.Draft = jsonschema.Draft7
	comp.LoadURL = func(s string) (io.ReadCloser, error) {
		return nil, fmt.Errorf("%s: references outside the plan are not supported", s)
	}
	var rules []*Rule
	for _, rel := range files {
		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(rel)))
		if err != nil {
			add(Finding{File: rel, Message: "reading schema: " + unwrapPath(err), Severity: SeverityError})
			continue
		}
		fmt.Fprintf(hash, "%s\x00%d\x00", rel, len(data))
		hash.Write(data)
		r, fs := parseRule(rel, data)
		problems = append(problems, fs...)
		if r == nil {
			continue
		}
		if err := comp.AddResource(ruleURL(rel), bytes.NewReader(data)); err != nil {
			add(Finding{File: rel, Line: 1, Message: "adding schema: " + err.Error(), Severity: SeverityError})
			continue
		}
		rules = append(rules, r)
	}
	for _, r := range rules {
		s, err := comp.Compile(ruleURL(r.File))
		if err != nil {
			problems = append(problems, compileFindings(r, err)...)
			continue
		}
		r.schema = s
	}
	p.parsed = rules
	problems = append(problems, p.place(rules)...)
	p.Hash = hex.EncodeToString(hash.Sum(nil))
	if p.Common != nil {
		// Properties and traits the common rule declares are planned everywhere.
		for _, r := range rules {
			if r != p.Common {
				r.mergeDeclared(p.Common)
			}
		}
	}
	sortFindings(problems)
	return p, problems, nil
}

func ruleURL(rel string) string { return "file:///plan/" + rel }

func unwrapPath(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// schemaFiles lists the plan's schema files, relative and slash-separated.
func schemaFiles(dir string) ([]string, error) {
	var out []string
	for _, name := range []string{"common.schema.json", "identify.schema.json", "group.schema.json"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			out = append(out, name)
		}
	}
	for _, sub := range []string{"events", "pages", "screens"} {
		ents, err := os.ReadDir(filepath.Join(dir, sub))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("listing %s: %w", sub, err)
		}
		for _, e := range ents {
			if !e.IsDir() && strings.HasSuffix(e.Name(), ".schema.json") {
				out = append(out, sub+"/"+e.Name())
			}
		}
	}
	return out, nil
}

func parsePlanYAML(data []byte, p *Plan) []Finding {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return []Finding{{File: "plan.yaml", Message: "parsing plan.yaml: " + err.Error(), Severity: SeverityError}}
	}
	var pf planFile
	pf.Enforcement = DefaultEnforcement()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&pf); err != nil && !errors.Is(err, io.EOF) {
		return []Finding{{File: "plan.yaml", Message: "decoding plan.yaml: " + err.Error(), Severity: SeverityError}}
	}
	var out []Finding
	bad := func(path string, msg string) {
		out = append(out, Finding{File: "plan.yaml", Line: yamlLine(&root, path), Pointer: path, Message: msg, Severity: SeverityError})
	}
	if strings.TrimSpace(pf.ID) == "" {
		bad("/id", "id is required")
	}
	for _, st := range pf.Enforcement.settings() {
		if *st.mode == "" {
			*st.mode = Allow
			continue
		}
		if !slices.Contains(st.allowed, *st.mode) {
			bad("/enforcement/"+strings.ReplaceAll(st.key, ".", "/"), fmt.Sprintf("%q is not one of %s", *st.mode, modeList(st.allowed)))
		}
	}
	p.ID, p.Name, p.Description = pf.ID, pf.Name, strings.TrimSpace(pf.Description)
	p.Sources, p.Labels, p.Enforcement = pf.Sources, pf.Labels, pf.Enforcement
	return out
}

// yamlLine returns the line of the value at a /-separated mapping path, or
// of its deepest existing ancestor.
func yamlLine(root *yaml.Node, ptr string) int {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := n.Line
	for _, seg := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
		if n.Kind != yaml.MappingNode {
			return line
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == seg {
				next = n.Content[i+1]
				line = n.Content[i].Line
				break
			}
		}
		if next == nil {
			return line
		}
		n = next
	}
	return line
}

var fileTypes = map[string]RuleType{
	"common.schema.json": RuleCommon, "identify.schema.json": RuleIdentify, "group.schema.json": RuleGroup,
	"events": RuleTrack, "pages": RulePage, "screens": RuleScreen,
}

// parseRule decodes one schema file and checks its x-segment-* keywords.
func parseRule(rel string, data []byte) (*Rule, []Finding) {
	var out []Finding
	bad := func(ptr, msg string) {
		out = append(out, Finding{File: rel, Line: lineOf(data, ptr), Pointer: ptr, Message: msg, Severity: SeverityError})
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		f := Finding{File: rel, Message: "parsing JSON: " + err.Error(), Severity: SeverityError}
		var se *json.SyntaxError
		if errors.As(err, &se) {
			f.Line = lineAt(data, int(se.Offset))
		}
		return nil, append(out, f)
	}
	if dec.More() {
		return nil, []Finding{{File: rel, Message: "parsing JSON: data after the schema object", Severity: SeverityError}}
	}
	raw, ok := doc.(map[string]any)
	if !ok {
		return nil, []Finding{{File: rel, Line: 1, Message: "a schema file must hold a JSON object", Severity: SeverityError}}
	}
	r := &Rule{File: rel, Raw: raw, data: data}
	if s, ok := raw["$schema"]; ok {
		if str, _ := s.(string); strings.TrimSuffix(strings.Replace(str, "https://", "http://", 1), "#") != draft07 {
			bad("/$schema", fmt.Sprintf("$schema must be %s# (draft-07), got %v", draft07, s))
		}
	}
	want := fileTypes[rel]
	if dirName := path.Dir(rel); dirName != "." {
		want = fileTypes[dirName]
	}
	switch t, _ := raw["x-segment-type"].(string); {
	case raw["x-segment-type"] == nil:
		bad("", "x-segment-type is missing")
	case !knownType(RuleType(t)):
		bad("/x-segment-type", fmt.Sprintf("unknown x-segment-type %v (want TRACK, IDENTIFY, GROUP, PAGE, SCREEN or COMMON)", raw["x-segment-type"]))
	case RuleType(t) != want:
		bad("/x-segment-type", fmt.Sprintf("x-segment-type %s does not belong in %s (want %s)", t, rel, want))
	default:
		r.Type = RuleType(t)
	}
	if r.Type == "" {
		r.Type = want
	}
	switch v := raw["x-segment-version"].(type) {
	case nil:
		bad("", "x-segment-version is missing")
	case json.Number:
		n, err := strconv.Atoi(v.String())
		if err != nil || n < 1 {
			bad("/x-segment-version", "x-segment-version must be a positive integer, got "+v.String())
		}
		r.Version = n
	default:
		bad("/x-segment-version", fmt.Sprintf("x-segment-version must be a positive integer, got %v", v))
	}
	key, hasKey := raw["x-segment-key"]
	switch k := key.(type) {
	case nil:
		if r.Type == RuleTrack {
			bad("", "x-segment-key is required on a TRACK rule (the exact event name)")
		}
	case string:
		switch {
		case k == "" && (r.Type == RuleTrack || r.Type == RulePage || r.Type == RuleScreen):
			bad("/x-segment-key", "x-segment-key must not be empty (use null for a page/screen rule that applies to all)")
		case r.Type == RuleCommon || r.Type == RuleIdentify || r.Type == RuleGroup:
			bad("/x-segment-key", fmt.Sprintf("the %s rule has no key: x-segment-key must be null or absent", r.Type))
		}
		r.Key = k
	default:
		if hasKey {
			bad("/x-segment-key", fmt.Sprintf("x-segment-key must be a string or null, got %v", key))
		}
	}
	r.Description, _ = raw["description"].(string)
	r.declared, r.patterns = declared(raw, r.section())
	r.view = viewKeys(raw)
	r.fast = compileFast(raw)
	return r, out
}

// annotations are keywords that never fail validation.
var annotations = map[string]bool{
	"$schema": true, "$id": true, "$comment": true, "title": true, "description": true,
	"examples": true, "default": true, "definitions": true, "readOnly": true, "writeOnly": true,
}

// viewKeys returns the top-level keys a schema constrains, or nil when its
// top level uses any keyword whose result depends on other keys.
func viewKeys(raw map[string]any) []string {
	for k := range raw {
		if !annotations[k] && !strings.HasPrefix(k, "x-") && k != "type" && k != "properties" && k != "required" {
			return nil
		}
	}
	if t, ok := raw["type"]; ok && t != "object" {
		return nil
	}
	keys := []string{}
	props, _ := raw["properties"].(map[string]any)
	for k, v := range props {
		if !trivial(v) {
			keys = append(keys, k)
		}
	}
	req, _ := raw["required"].([]any)
	for _, k := range req {
		if s, ok := k.(string); ok && (props[s] == nil || trivial(props[s])) {
			keys = append(keys, s)
		}
	}
	sort.Strings(keys)
	return keys
}

// trivial reports whether a schema accepts every value.
func trivial(v any) bool {
	if b, ok := v.(bool); ok {
		return b
	}
	m, ok := v.(map[string]any)
	if !ok {
		return false
	}
	for k := range m {
		if !annotations[k] && !strings.HasPrefix(k, "x-") {
			return false
		}
	}
	return true
}

func knownType(t RuleType) bool {
	switch t {
	case RuleTrack, RuleIdentify, RuleGroup, RulePage, RuleScreen, RuleCommon:
		return true
	}
	return false
}

// section is the top-level message field whose keys the rule plans.
func (r *Rule) section() string {
	if r.Type == RuleIdentify || r.Type == RuleGroup {
		return "traits"
	}
	return "properties"
}

// sectionSchema returns the schema of properties.<section> in raw, or nil.
func sectionSchema(raw map[string]any, section string) map[string]any {
	props, _ := raw["properties"].(map[string]any)
	s, _ := props[section].(map[string]any)
	return s
}

// declared returns the top-level names (and name patterns) that a rule's
// section declares.
func declared(raw map[string]any, section string) (map[string]bool, []*regexp.Regexp) {
	s := sectionSchema(raw, section)
	names := map[string]bool{}
	props, _ := s["properties"].(map[string]any)
	for k := range props {
		names[k] = true
	}
	var pats []*regexp.Regexp
	pp, _ := s["patternProperties"].(map[string]any)
	for k := range pp {
		if re, err := regexp.Compile(k); err == nil {
			pats = append(pats, re)
		}
	}
	return names, pats
}

// mergeDeclared adds the names the common rule declares in r's section.
func (r *Rule) mergeDeclared(common *Rule) {
	names, pats := declared(common.Raw, r.section())
	for k := range names {
		r.declared[k] = true
	}
	r.patterns = append(r.patterns, pats...)
}

func (r *Rule) plans(name string) bool {
	if r.declared[name] {
		return true
	}
	for _, re := range r.patterns {
		if re.MatchString(name) {
			return true
		}
	}
	return false
}

// compileFindings turns a compile error (usually a draft-07 meta-schema
// failure) into one finding per leaf error.
func compileFindings(r *Rule, err error) []Finding {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		msg := err.Error()
		var se *jsonschema.SchemaError
		if errors.As(err, &se) && se.Err != nil {
			msg = se.Err.Error()
		}
		return []Finding{{File: r.File, Line: 1, Message: "compiling schema: " + strings.TrimPrefix(msg, "jsonschema: "), Severity: SeverityError}}
	}
	// Alternatives (anyOf in the meta-schema) give several leaves for one
	// value: report one finding per pointer.
	var out []Finding
	at := map[string]int{}
	for _, leaf := range leaves(ve, nil) {
		if i, ok := at[leaf.InstanceLocation]; ok {
			out[i].Message += "; or " + leaf.Message
			continue
		}
		at[leaf.InstanceLocation] = len(out)
		out = append(out, Finding{File: r.File, Line: lineOf(r.data, leaf.InstanceLocation), Pointer: leaf.InstanceLocation,
			Message: "not a valid draft-07 schema: " + leaf.Message, Severity: SeverityError})
	}
	return out
}

func leaves(ve *jsonschema.ValidationError, out []*jsonschema.ValidationError) []*jsonschema.ValidationError {
	if len(ve.Causes) == 0 {
		return append(out, ve)
	}
	for _, c := range ve.Causes {
		out = leaves(c, out)
	}
	return out
}

// place files the rules into the plan, reporting duplicate keys.
func (p *Plan) place(rules []*Rule) []Finding {
	var out []Finding
	seen := map[string]*Rule{}
	for _, r := range rules {
		id := string(r.Type) + "\x00" + r.Key
		if first, dup := seen[id]; dup {
			what := fmt.Sprintf("duplicate x-segment-key %q for %s (also in %s)", r.Key, r.Type, first.File)
			if r.Key == "" {
				what = fmt.Sprintf("duplicate %s rule (also in %s)", r.Type, first.File)
			}
			out = append(out, Finding{File: r.File, Line: lineOf(r.data, "/x-segment-key"), Pointer: "/x-segment-key", Message: what, Severity: SeverityError})
			continue
		}
		seen[id] = r
		switch r.Type {
		case RuleCommon:
			p.Common = r
		case RuleIdentify:
			p.Identify = r
		case RuleGroup:
			p.Group = r
		case RuleTrack:
			p.Tracks[r.Key] = r
		case RulePage:
			p.Pages[r.Key] = r
		case RuleScreen:
			p.Screens[r.Key] = r
		}
	}
	return out
}

func sortFindings(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		if fs[i].File != fs[j].File {
			return fs[i].File < fs[j].File
		}
		return fs[i].Line < fs[j].Line
	})
}

// lineAt returns the 1-based line of byte offset off in data.
func lineAt(data []byte, off int) int {
	if off > len(data) {
		off = len(data)
	}
	return bytes.Count(data[:off], []byte{'\n'}) + 1
}

func splitPointer(ptr string) []string {
	segs := strings.Split(strings.TrimPrefix(ptr, "/"), "/")
	for i, s := range segs {
		segs[i] = strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
	}
	return segs
}
