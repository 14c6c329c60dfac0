package schemas

import (
	"encoding/json"
	"fmt"
	"math/big"
	"reflect"
	"sort"
	"strings"
)

// ChangeClass grades a Change.
type ChangeClass string

// The change classes of a plan diff in CI. ClassError marks a plan change CI
// must reject outright (a changed rule whose x-segment-version was not bumped).
const (
	Breaking    ChangeClass = "breaking"
	NonBreaking ChangeClass = "non-breaking"
	ClassError  ChangeClass = "error"
)

// Change is one difference between two plans.
type Change struct {
	// Class is breaking, non-breaking or error.
	Class ChangeClass `json:"class"`
	// Kind is a stable machine-readable code, e.g. type_narrowed.
	Kind string `json:"kind"`
	// RuleType and Key identify the rule (Key "" for keyless rules).
	RuleType RuleType `json:"ruleType"`
	Key      string   `json:"key,omitempty"`
	// File is the rule's file in head (in base when the rule was removed).
	File string `json:"file"`
	// Field is the dotted property/trait path, e.g. properties.revenue ("" for the rule itself).
	Field string `json:"field,omitempty"`
	// Message describes the change.
	Message string `json:"message"`
	// Downstream names the effect on the warehouse or Customer.io, "" when none.
	Downstream string `json:"downstream,omitempty"`
}

// The Change kinds.
const (
	KindEventAdded          = "event_added"
	KindEventRemoved        = "event_removed"
	KindRuleAdded           = "rule_added"
	KindRuleRemoved         = "rule_removed"
	KindDescriptionChanged  = "description_changed"
	KindPropertyAdded       = "property_added"
	KindRequiredAdded       = "required_property_added"
	KindPropertyRemoved     = "property_removed"
	KindMadeRequired        = "made_required"
	KindMadeOptional        = "made_optional"
	KindTypeNarrowed        = "type_narrowed"
	KindTypeWidened         = "type_widened"
	KindFormatAdded         = "format_added"
	KindFormatRemoved       = "format_removed"
	KindEnumShrunk          = "enum_shrunk"
	KindEnumWidened         = "enum_widened"
	KindPatternAdded        = "pattern_added"
	KindPatternRemoved      = "pattern_removed"
	KindConstraintTightened = "constraint_tightened"
	KindConstraintLoosened  = "constraint_loosened"
	KindClosed              = "additional_properties_closed"
	KindOpened              = "additional_properties_opened"
	KindVersionNotBumped    = "version_not_bumped"
)

// Diff compares base (e.g. the pull request's base branch) with head and
// classifies every change per rule and per property or trait, as a
// pull-request check. Breaking: event removed, property made required (or added as
// required), property removed, type narrowed, format added, enum shrunk (or
// added), pattern added or changed, a bound tightened, additional properties
// closed. Non-breaking: new event or rule, new optional property, the
// inverse loosenings, description changes. A rule whose content changed
// without a higher x-segment-version yields a ClassError change. Changes are
// ordered by file, field and kind.
func Diff(base, head *Plan) []Change {
	var out []Change
	bm, hm := ruleIndex(base), ruleIndex(head)
	for id, b := range bm {
		h, ok := hm[id]
		if !ok {
			c := Change{Class: NonBreaking, Kind: KindRuleRemoved, RuleType: b.Type, Key: b.Key, File: b.File,
				Message: fmt.Sprintf("%s rule removed", b.Type)}
			if b.Type == RuleTrack {
				c.Class, c.Kind = Breaking, KindEventRemoved
				c.Message = fmt.Sprintf("event %q removed from the plan", b.Key)
				c.Downstream = fmt.Sprintf("the event becomes unplanned: quarantined when unplanned events = block; warehouse table %s stops receiving rows", EventTable(b.Key))
			}
			out = append(out, c)
			continue
		}
		out = append(out, diffRule(b, h)...)
	}
	for id, h := range hm {
		if _, ok := bm[id]; ok {
			continue
		}
		c := Change{Class: NonBreaking, Kind: KindRuleAdded, RuleType: h.Type, Key: h.Key, File: h.File, Message: fmt.Sprintf("%s rule added", h.Type)}
		if h.Type == RuleTrack {
			c.Kind, c.Message = KindEventAdded, fmt.Sprintf("event %q added to the plan", h.Key)
			c.Downstream = "new warehouse table " + EventTable(h.Key)
		}
		out = append(out, c)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Field != b.Field {
			return a.Field < b.Field
		}
		return a.Kind < b.Kind
	})
	return out
}

// HasBreaking reports whether any change is breaking or an error.
func HasBreaking(changes []Change) bool {
	for _, c := range changes {
		if c.Class != NonBreaking {
			return true
		}
	}
	return false
}

func ruleIndex(p *Plan) map[string]*Rule {
	m := map[string]*Rule{}
	if p == nil {
		return m
	}
	for _, r := range p.Rules() {
		m[string(r.Type)+"\x00"+r.Key] = r
	}
	return m
}

// differ accumulates the changes of one rule.
type differ struct {
	rule *Rule
	out  []Change
}

func (d *differ) add(class ChangeClass, kind, field, msg, downstream string) {
	d.out = append(d.out, Change{Class: class, Kind: kind, RuleType: d.rule.Type, Key: d.rule.Key, File: d.rule.File,
		Field: field, Message: msg, Downstream: downstream})
}

func diffRule(b, h *Rule) []Change {
	d := &differ{rule: h}
	if b.Description != h.Description {
		d.add(NonBreaking, KindDescriptionChanged, "", "rule description changed", "")
	}
	sections := []string{h.section()}
	if h.Type == RuleCommon {
		sections = []string{"properties", "traits"}
	}
	for _, sec := range sections {
		bs, hs := sectionSchema(b.Raw, sec), sectionSchema(h.Raw, sec)
		d.object(sec, bs, hs)
	}
	if !sameContent(b.Raw, h.Raw) && h.Version <= b.Version {
		d.add(ClassError, KindVersionNotBumped, "", fmt.Sprintf("rule changed but x-segment-version was not bumped (%d → %d)", b.Version, h.Version), "")
	}
	return d.out
}

// sameContent compares two schema documents ignoring x-segment-version.
func sameContent(a, b map[string]any) bool {
	strip := func(m map[string]any) map[string]any {
		c := make(map[string]any, len(m))
		for k, v := range m {
			if k != "x-segment-version" {
				c[k] = v
			}
		}
		return c
	}
	return reflect.DeepEqual(strip(a), strip(b))
}

// object compares the declared properties of two object schemas at path.
func (d *differ) object(path string, b, h map[string]any) {
	bp, _ := b["properties"].(map[string]any)
	hp, _ := h["properties"].(map[string]any)
	breq, hreq := stringSet(b["required"]), stringSet(h["required"])
	names := map[string]bool{}
	for k := range bp {
		names[k] = true
	}
	for k := range hp {
		names[k] = true
	}
	keys := make([]string, 0, len(names))
	for k := range names {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		f := path + "." + k
		bs, inB := bp[k].(map[string]any)
		hs, inH := hp[k].(map[string]any)
		if _, ok := bp[k]; ok && !inB {
			bs, inB = map[string]any{}, true
		}
		if _, ok := hp[k]; ok && !inH {
			hs, inH = map[string]any{}, true
		}
		switch {
		case !inH:
			d.add(Breaking, KindPropertyRemoved, f, f+" removed from the plan",
				"it becomes unplanned: omitted when unplanned properties/traits = omit; its warehouse column stops being filled")
			continue
		case !inB && hreq[k]:
			d.add(Breaking, KindRequiredAdded, f, f+" added as required", "messages without it now violate the plan")
			continue
		case !inB:
			d.add(NonBreaking, KindPropertyAdded, f, f+" added (optional)", d.columnNote(f))
			continue
		}
		switch {
		case !breq[k] && hreq[k]:
			d.add(Breaking, KindMadeRequired, f, f+" made required", "messages without it now violate the plan")
		case breq[k] && !hreq[k]:
			d.add(NonBreaking, KindMadeOptional, f, f+" made optional", "")
		}
		d.property(f, bs, hs)
	}
	bClosed, hClosed := b["additionalProperties"] == false, h["additionalProperties"] == false
	switch {
	case !bClosed && hClosed && h != nil:
		d.add(Breaking, KindClosed, path, path+": additionalProperties set to false", "undeclared keys now violate the plan")
	case bClosed && !hClosed:
		d.add(NonBreaking, KindOpened, path, path+": additionalProperties no longer false", "")
	}
}

// property compares one property's schema.
func (d *differ) property(f string, b, h map[string]any) {
	if b["description"] != h["description"] {
		d.add(NonBreaking, KindDescriptionChanged, f, f+": description changed", "")
	}
	bt, ht := typeSet(b["type"]), typeSet(h["type"])
	bf, _ := b["format"].(string)
	hf, _ := h["format"].(string)
	typeChanged := false
	first := len(d.out)
	switch {
	case !covers(ht, bt):
		d.add(Breaking, KindTypeNarrowed, f, fmt.Sprintf("%s: type narrowed from %s to %s", f, typeName(bt), typeName(ht)), "")
		typeChanged = true
	case !covers(bt, ht):
		d.add(NonBreaking, KindTypeWidened, f, fmt.Sprintf("%s: type widened from %s to %s", f, typeName(bt), typeName(ht)), "")
		typeChanged = true
	}
	switch {
	case hf != "" && bf != hf:
		d.add(Breaking, KindFormatAdded, f, fmt.Sprintf("%s: format %q added", f, hf), "")
		typeChanged = true
	case bf != "" && hf == "":
		d.add(NonBreaking, KindFormatRemoved, f, fmt.Sprintf("%s: format %q removed", f, bf), "")
		typeChanged = true
	}
	if typeChanged {
		note := d.typeNote(f, columnType(bt, bf), columnType(ht, hf))
		for i := first; i < len(d.out); i++ {
			d.out[i].Downstream = note
		}
	}

	be, bHas := b["enum"].([]any)
	he, hHas := h["enum"].([]any)
	switch {
	case hHas && (!bHas || !subset(be, he)):
		d.add(Breaking, KindEnumShrunk, f, fmt.Sprintf("%s: permitted values narrowed to %s", f, compact(he)), "values outside the enum now violate the plan")
	case bHas && (!hHas || !subset(he, be)):
		d.add(NonBreaking, KindEnumWidened, f, fmt.Sprintf("%s: permitted values widened", f), "")
	}
	bpat, _ := b["pattern"].(string)
	hpat, _ := h["pattern"].(string)
	switch {
	case hpat != "" && hpat != bpat:
		d.add(Breaking, KindPatternAdded, f, fmt.Sprintf("%s: pattern %q added", f, hpat), "values not matching it now violate the plan")
	case bpat != "" && hpat == "":
		d.add(NonBreaking, KindPatternRemoved, f, fmt.Sprintf("%s: pattern %q removed", f, bpat), "")
	}
	for _, kw := range []string{"minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties", "maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties", "multipleOf", "const"} {
		bv, bok := b[kw]
		hv, hok := h[kw]
		switch {
		case !hok && !bok, bok && hok && reflect.DeepEqual(bv, hv):
		case !hok:
			d.add(NonBreaking, KindConstraintLoosened, f, fmt.Sprintf("%s: %s removed", f, kw), "")
		case !bok || tighter(kw, bv, hv):
			d.add(Breaking, KindConstraintTightened, f, fmt.Sprintf("%s: %s %s", f, kw, compact(hv)), "values outside the new bound now violate the plan")
		default:
			d.add(NonBreaking, KindConstraintLoosened, f, fmt.Sprintf("%s: %s loosened to %s", f, kw, compact(hv)), "")
		}
	}
	if _, ok := h["properties"].(map[string]any); ok {
		d.object(f, b, h)
	}
	bi, _ := b["items"].(map[string]any)
	hi, _ := h["items"].(map[string]any)
	if bi != nil && hi != nil {
		d.property(f+"[]", bi, hi)
	}
}

// columnNote describes a new property's column.
func (d *differ) columnNote(f string) string {
	col := columnOf(f)
	switch d.rule.Type {
	case RuleTrack:
		return fmt.Sprintf("new warehouse column %s.%s", EventTable(d.rule.Key), col)
	case RuleIdentify:
		return fmt.Sprintf("new warehouse columns identifies.%s and users.%s", col, col)
	case RuleGroup:
		return "new warehouse column groups." + col
	}
	return "new warehouse column " + col
}

// typeNote names the downstream effect of a type change of field f: on
// warehouse columns and, for traits, on Customer.io attributes.
func (d *differ) typeNote(f, from, to string) string {
	col := columnOf(f)
	var notes []string
	if from != to {
		var where string
		switch d.rule.Type {
		case RuleTrack:
			where = "warehouse column " + EventTable(d.rule.Key) + "." + col
		case RuleIdentify:
			where = "warehouse columns identifies." + col + " and users." + col
		case RuleGroup:
			where = "warehouse column groups." + col
		default:
			where = "warehouse column " + col
		}
		notes = append(notes, fmt.Sprintf("%s changes type from %s to %s: an existing column keeps %s, values that don't fit go to _discards until an operator widens it", where, from, to, from))
	}
	if strings.HasPrefix(f, "traits.") {
		notes = append(notes, fmt.Sprintf("Customer.io segments that compare %s break: Customer.io keeps the first-seen type of an attribute", strings.TrimPrefix(f, "traits.")))
	}
	return strings.Join(notes, "; ")
}

// columnOf returns the warehouse column of a dotted path (nested objects
// flattened with "_").
func columnOf(f string) string {
	segs := strings.Split(strings.TrimSuffix(f, "[]"), ".")[1:]
	for i, s := range segs {
		segs[i] = strings.TrimSuffix(s, "[]")
	}
	return columnOfPath(segs)
}

// columnType maps a property schema's types to the warehouse column type the warehouse destination infers.
func columnType(types map[string]bool, format string) string {
	t := map[string]bool{}
	for k := range types {
		if k != "null" {
			t[k] = true
		}
	}
	types = t
	if len(types) == 0 {
		return "inferred"
	}
	switch {
	case len(types) == 1 && types["integer"]:
		return "integer"
	case len(types) == 1 && types["number"], len(types) == 2 && types["number"] && types["integer"]:
		return "float"
	case len(types) == 1 && types["boolean"]:
		return "boolean"
	case len(types) == 1 && types["string"] && format == "date-time":
		return "timestamp"
	case len(types) == 1 && types["object"]:
		return "flattened columns"
	}
	return "varchar"
}

// typeSet returns the set of JSON types a "type" keyword allows; empty = any.
func typeSet(v any) map[string]bool {
	m := map[string]bool{}
	switch t := v.(type) {
	case string:
		m[t] = true
	case []any:
		for _, x := range t {
			if s, ok := x.(string); ok {
				m[s] = true
			}
		}
	}
	return m
}

// covers reports whether every value of types b is accepted by types a.
func covers(a, b map[string]bool) bool {
	if len(a) == 0 {
		return true
	}
	if len(b) == 0 {
		return false
	}
	for t := range b {
		if !a[t] && !(t == "integer" && a["number"]) {
			return false
		}
	}
	return true
}

func typeName(m map[string]bool) string {
	if len(m) == 0 {
		return "any"
	}
	var s []string
	for t := range m {
		s = append(s, t)
	}
	sort.Strings(s)
	return strings.Join(s, "|")
}

func stringSet(v any) map[string]bool {
	m := map[string]bool{}
	arr, _ := v.([]any)
	for _, x := range arr {
		if s, ok := x.(string); ok {
			m[s] = true
		}
	}
	return m
}

// subset reports whether every value of a is in b.
func subset(a, b []any) bool {
	for _, x := range a {
		found := false
		for _, y := range b {
			if reflect.DeepEqual(x, y) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// tighter reports whether changing keyword kw from b to h rejects more values.
func tighter(kw string, b, h any) bool {
	bn, bok := b.(json.Number)
	hn, hok := h.(json.Number)
	if !bok || !hok || kw == "multipleOf" {
		return true
	}
	br, ok1 := new(big.Rat).SetString(bn.String())
	hr, ok2 := new(big.Rat).SetString(hn.String())
	if !ok1 || !ok2 {
		return true
	}
	if strings.HasPrefix(kw, "min") || kw == "exclusiveMinimum" {
		return hr.Cmp(br) > 0
	}
	return hr.Cmp(br) < 0
}

func compact(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
