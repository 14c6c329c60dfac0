package schemas

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v5"
)

// ViolationType names a kind of violation, as Segment Protocols names it. Violations of the
// common rule carry the "Common" prefix, e.g. CommonRequired.
type ViolationType string

// The violation types of Segment Protocols. Other JSON Schema keywords map to the
// keyword with an upper-case first letter (Minimum, MaxLength, …).
const (
	Unplanned         ViolationType = "Unplanned"
	UnplannedProperty ViolationType = "UnplannedProperty"
	UnplannedTrait    ViolationType = "UnplannedTrait"
	Required          ViolationType = "Required"
	Type              ViolationType = "Type"
	Enum              ViolationType = "Enum"
	Pattern           ViolationType = "Pattern"
	Format            ViolationType = "Format"
	// CommonPrefix starts the type of every violation of the common rule.
	CommonPrefix = "Common"
)

// IsCommon reports whether the violation came from the common rule.
func (t ViolationType) IsCommon() bool { return strings.HasPrefix(string(t), CommonPrefix) }

// Base returns the type without the Common prefix.
func (t ViolationType) Base() ViolationType {
	return ViolationType(strings.TrimPrefix(string(t), CommonPrefix))
}

// Violation is one way a message breaks the plan, shaped like Segment's
// "Violation Generated" fields.
type Violation struct {
	// Type is the violation type.
	Type ViolationType `json:"violationType"`
	// Field is the dotted path of the offending value, e.g. properties.revenue
	// ("event" for Unplanned).
	Field string `json:"violationField"`
	// Description is a human-readable explanation.
	Description string `json:"violationDescription"`
	// EventName is the track event or page/screen name ("" for other types).
	EventName string `json:"eventName"`
	// EventType is the message type (track, identify, …).
	EventType string `json:"eventType"`
	// RuleVersion is the x-segment-version of the rule that was broken (0 for Unplanned).
	RuleVersion int `json:"ruleVersion,omitempty"`
}

// Rule returns the rule that applies to a message of type typ named name
// (event name for track, name for page/screen), or nil when none does.
func (p *Plan) Rule(typ, name string) *Rule {
	switch typ {
	case "track":
		return p.Tracks[name]
	case "identify":
		return p.Identify
	case "group":
		return p.Group
	case "page", "screen":
		m := p.Pages
		if typ == "screen" {
			m = p.Screens
		}
		if r, ok := m[name]; ok && name != "" {
			return r
		}
		return m[""]
	}
	return nil
}

// Validate checks a decoded message (the whole Segment payload, numbers as
// float64 or json.Number) against the common rule and then its type/key rule,
// and returns the violations, nil when it is clean. Alias messages are never
// validated. An unplanned track event yields an Unplanned violation; a page or
// screen without a matching rule, or an identify/group without a rule, is
// not checked. Validate uses the schemas compiled by Load and is safe for
// concurrent use.
func (p *Plan) Validate(msg map[string]any) []Violation {
	typ, _ := msg["type"].(string)
	if typ == "alias" {
		return nil
	}
	var name string
	switch typ {
	case "track":
		name, _ = msg["event"].(string)
	case "page", "screen":
		name, _ = msg["name"].(string)
	}
	var out []Violation
	if p.Common != nil {
		out = p.Common.check(msg, typ, name, CommonPrefix, out, 0)
	}
	r := p.Rule(typ, name)
	if r == nil {
		if typ == "track" {
			out = append(out, Violation{Type: Unplanned, Field: "event",
				Description: fmt.Sprintf("event '%s' is not in the tracking plan", name), EventName: name, EventType: typ})
		}
		return out
	}
	before := len(out)
	section := r.section()
	unplanned := UnplannedProperty
	if section == "traits" {
		unplanned = UnplannedTrait
	}
	if vals, ok := msg[section].(map[string]any); ok {
		var keys []string
		for k := range vals {
			if !r.plans(k) {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			out = append(out, Violation{Type: unplanned, Field: section + "." + k,
				Description: fmt.Sprintf("%s.%s is not planned", section, k),
				EventName:   name, EventType: typ, RuleVersion: r.Version})
		}
	}
	return r.check(msg, typ, name, "", out, before)
}

// check runs the rule's schema and appends the mapped violations to out;
// out[from:] are violations already reported for this rule, so that a closed
// additionalProperties does not report an unplanned property twice.
func (r *Rule) check(msg map[string]any, typ, name, prefix string, out []Violation, from int) []Violation {
	if r.fast != nil && r.fast.valid(msg) {
		return out
	}
	var doc any = msg
	if r.view != nil {
		v := make(map[string]any, len(r.view))
		for _, k := range r.view {
			if x, ok := msg[k]; ok {
				v[k] = x
			}
		}
		doc = v
	}
	err := r.schema.Validate(doc)
	if err == nil {
		return out
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return append(out, Violation{Type: ViolationType(prefix + "Schema"), Description: err.Error(), EventName: name, EventType: typ, RuleVersion: r.Version})
	}
	seen := map[string]bool{}
	for _, v := range out[from:] {
		seen[string(v.Type)+"\x00"+v.Field] = true
	}
	emit := func(t ViolationType, field, desc string) {
		t = ViolationType(prefix) + t
		if k := string(t) + "\x00" + field; !seen[k] {
			seen[k] = true
			out = append(out, Violation{Type: t, Field: field, Description: desc, EventName: name, EventType: typ, RuleVersion: r.Version})
		}
	}
	for _, leaf := range leaves(ve, nil) {
		kw := leaf.KeywordLocation[strings.LastIndexByte(leaf.KeywordLocation, '/')+1:]
		at := dotted(leaf.InstanceLocation)
		switch kw {
		case "required":
			for _, m := range quotedNames(leaf.Message) {
				f := join(at, m)
				emit(Required, f, f+" is required")
			}
		case "additionalProperties":
			t := UnplannedProperty
			if at == "traits" || strings.HasPrefix(at, "traits.") {
				t = UnplannedTrait
			}
			for _, m := range quotedNames(leaf.Message) {
				f := join(at, m)
				emit(t, f, f+" is not planned")
			}
		case "type":
			emit(Type, at, strings.Replace(leaf.Message, ", but got ", ", got ", 1))
		case "enum", "const":
			emit(Enum, at, leaf.Message)
		case "pattern":
			emit(Pattern, at, leaf.Message)
		case "format":
			emit(Format, at, leaf.Message)
		default:
			t := ViolationType("Schema")
			if kw != "" && kw[0] >= 'a' && kw[0] <= 'z' {
				t = ViolationType(strings.ToUpper(kw[:1]) + kw[1:])
			}
			emit(t, at, leaf.Message)
		}
	}
	return out
}

// dotted turns a JSON pointer into a dotted path: /properties/revenue → properties.revenue.
func dotted(ptr string) string {
	if ptr == "" || ptr == "/" {
		return ""
	}
	return strings.Join(splitPointer(ptr), ".")
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + "." + b
}

// quotedNames extracts the single-quoted names of a jsonschema message such
// as "missing properties: 'a', 'b'" (quotes inside names are \-escaped).
func quotedNames(msg string) []string {
	var out []string
	for i := 0; i < len(msg); i++ {
		if msg[i] != '\'' {
			continue
		}
		var b strings.Builder
		j := i + 1
		for ; j < len(msg) && msg[j] != '\''; j++ {
			if msg[j] == '\\' && j+1 < len(msg) {
				j++
			}
			b.WriteByte(msg[j])
		}
		out = append(out, b.String())
		i = j
	}
	return out
}
