package schemas

import (
	"fmt"
	"path"
	"sort"
	"strings"
)

// Lint runs the pull-request checks on the plan in
// dir and returns every finding (none when the plan is clean):
//   - everything Load checks: plan.yaml, JSON syntax, the draft-07
//     meta-schema, x-segment-type/key/version, unique keys per type;
//   - the file name of a keyed TRACK/PAGE/SCREEN rule equals SnakeCase(key);
//   - property (trait) names of one rule don't collide after snake_casing
//     and flattening, and don't hit a reserved warehouse column.
//
// An unreadable dir is reported as a finding on ".".
func Lint(dir string) []Finding {
	p, out, err := load(dir)
	if err != nil {
		return []Finding{{File: ".", Message: err.Error(), Severity: SeverityError}}
	}
	for _, r := range p.parsed {
		out = append(out, lintRule(r)...)
	}
	sortFindings(out)
	return out
}

func lintRule(r *Rule) []Finding {
	var out []Finding
	if (r.Type == RuleTrack || r.Type == RulePage || r.Type == RuleScreen) && r.Key != "" {
		base := strings.TrimSuffix(path.Base(r.File), ".schema.json")
		if want := SnakeCase(r.Key); base != want {
			out = append(out, Finding{File: r.File, Line: lineOf(r.data, "/x-segment-key"), Pointer: "/x-segment-key",
				Message: fmt.Sprintf("file name %s.schema.json does not match snake_case(%q) = %s.schema.json", base, r.Key, want), Severity: SeverityError})
		}
	}
	sections := []string{r.section()}
	if r.Type == RuleCommon {
		sections = []string{"properties", "traits"}
	}
	for _, sec := range sections {
		out = append(out, lintColumns(r, sec)...)
	}
	return out
}

// column is a warehouse column a declared property or trait would fill.
type column struct {
	name, path, ptr string
}

// lintColumns checks the flattened columns of properties.<sec> in r.
func lintColumns(r *Rule, sec string) []Finding {
	s := sectionSchema(r.Raw, sec)
	if s == nil {
		return nil
	}
	var cols []column
	flatten(s, nil, sec, "/properties/"+sec, 1, &cols)
	reserved := reservedFor(r.Type, sec)
	var out []Finding
	byName := map[string][]column{}
	for _, c := range cols {
		bad := func(msg string) {
			out = append(out, Finding{File: r.File, Line: lineOf(r.data, c.ptr), Pointer: c.ptr, Message: msg, Severity: SeverityError})
		}
		switch {
		case c.name == "":
			bad(fmt.Sprintf("%s has no column name after snake_casing: its values would only reach _discards", c.path))
		case reserved[c.name] || strings.HasPrefix(c.name, "context_"):
			bad(fmt.Sprintf("%s becomes column %q, a reserved warehouse column: its values would be dropped to _discards", c.path, c.name))
		}
		if c.name != "" {
			byName[c.name] = append(byName[c.name], c)
		}
	}
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		cs := byName[n]
		if len(cs) < 2 {
			continue
		}
		paths := make([]string, len(cs))
		for i, c := range cs {
			paths[i] = c.path
		}
		for _, c := range cs[1:] {
			out = append(out, Finding{File: r.File, Line: lineOf(r.data, c.ptr), Pointer: c.ptr,
				Message: fmt.Sprintf("%s all become column %q: they would share one warehouse column", strings.Join(paths, ", "), n), Severity: SeverityError})
		}
	}
	return out
}

// flatten lists the columns of an object schema's declared properties,
// joining nested object properties with "_" (depth ≤ 10, as Segment's warehouses flatten), named
// as the warehouse names them (columnOfPath of the raw keys under prefix).
func flatten(s map[string]any, prefix []string, dotPath, ptr string, depth int, out *[]column) {
	props, _ := s["properties"].(map[string]any)
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		sub, _ := props[k].(map[string]any)
		path := append(prefix[:len(prefix):len(prefix)], k)
		c := column{name: columnOfPath(path), path: dotPath + "." + k, ptr: ptr + "/properties/" + escapePointer(k)}
		if _, nested := sub["properties"].(map[string]any); nested && depth < 10 && !isArray(sub) {
			flatten(sub, path, c.path, c.ptr, depth+1, out)
			continue
		}
		*out = append(*out, c)
	}
}

func isArray(s map[string]any) bool {
	switch t := s["type"].(type) {
	case string:
		return t == "array"
	case []any:
		for _, x := range t {
			if x == "array" {
				return true
			}
		}
	}
	return false
}

func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// reservedFor returns the standard columns of the table(s) a rule's section
// is loaded into; context_* is checked separately.
func reservedFor(t RuleType, sec string) map[string]bool {
	m := map[string]bool{}
	for _, c := range []string{"id", "received_at", "sent_at", "timestamp", "original_timestamp", "anonymous_id", "user_id", "uuid_ts", "channel"} {
		m[c] = true
	}
	switch {
	case t == RuleTrack || (t == RuleCommon && sec == "properties"):
		m["event"], m["event_text"] = true, true
	case t == RulePage || t == RuleScreen:
		m["name"], m["category"] = true, true
	case t == RuleGroup:
		m["group_id"] = true
	}
	return m
}
