package schemas

import (
	"encoding/json"
	"math"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v5"
)

// fast is a pre-check compiled from a schema that uses only a common subset
// of draft-07 (type, enum/const of strings, booleans and null, pattern,
// format, length and numeric bounds, properties, required, closed
// additionalProperties, items, min/max items and properties). It answers
// "certainly valid" without the allocations of the general validator; any
// other outcome — a failure, a value on a numeric bound, an unsupported
// keyword — falls back to jsonschema, which then produces the violations.
type fast struct {
	always  *bool
	types   []string
	enum    []any // strings, bools and nil only
	pattern *regexp.Regexp
	format  func(any) bool

	minLen, maxLen     int
	min, max           *float64
	exclMin, exclMax   *float64
	minItems, maxItems int
	minProps, maxProps int

	props    map[string]*fast
	required []string
	closed   bool
	items    *fast
}

// fastKeywords are the keywords compileFast understands; annotations are ignored.
var fastKeywords = map[string]bool{
	"type": true, "enum": true, "const": true, "pattern": true, "format": true,
	"minLength": true, "maxLength": true, "minimum": true, "maximum": true,
	"exclusiveMinimum": true, "exclusiveMaximum": true, "minItems": true, "maxItems": true,
	"minProperties": true, "maxProperties": true, "properties": true, "required": true,
	"additionalProperties": true, "items": true,
}

// compileFast returns the pre-check for a schema, or nil when the schema
// uses anything outside the subset.
func compileFast(v any) *fast {
	if b, ok := v.(bool); ok {
		return &fast{always: &b}
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	f := &fast{minLen: -1, maxLen: -1, minItems: -1, maxItems: -1, minProps: -1, maxProps: -1}
	for k, x := range m {
		if annotations[k] || strings.HasPrefix(k, "x-") {
			continue
		}
		if !fastKeywords[k] {
			return nil
		}
		var ok bool
		switch k {
		case "type":
			f.types, ok = typeList(x)
		case "enum":
			f.enum, ok = scalars(x)
		case "const":
			f.enum, ok = scalars([]any{x})
		case "pattern":
			s, isStr := x.(string)
			re, err := regexp.Compile(s)
			f.pattern, ok = re, isStr && err == nil
		case "format":
			s, isStr := x.(string)
			f.format, ok = jsonschema.Formats[s], isStr
		case "minLength":
			f.minLen, ok = count(x)
		case "maxLength":
			f.maxLen, ok = count(x)
		case "minItems":
			f.minItems, ok = count(x)
		case "maxItems":
			f.maxItems, ok = count(x)
		case "minProperties":
			f.minProps, ok = count(x)
		case "maxProperties":
			f.maxProps, ok = count(x)
		case "minimum":
			f.min, ok = bound(x)
		case "maximum":
			f.max, ok = bound(x)
		case "exclusiveMinimum":
			f.exclMin, ok = bound(x)
		case "exclusiveMaximum":
			f.exclMax, ok = bound(x)
		case "required":
			f.required, ok = stringList(x)
		case "additionalProperties":
			switch a := x.(type) {
			case bool:
				f.closed, ok = !a, true
			default:
				ok = trivial(a)
			}
		case "items":
			f.items = compileFast(x)
			ok = f.items != nil
		case "properties":
			pm, isMap := x.(map[string]any)
			ok = isMap
			f.props = make(map[string]*fast, len(pm))
			for name, sub := range pm {
				if f.props[name] = compileFast(sub); f.props[name] == nil {
					return nil
				}
			}
		}
		if !ok {
			return nil
		}
	}
	return f
}

func typeList(x any) ([]string, bool) {
	if s, ok := x.(string); ok {
		return []string{s}, true
	}
	return stringList(x)
}

func stringList(x any) ([]string, bool) {
	arr, ok := x.([]any)
	if !ok {
		return nil, false
	}
	out := make([]string, len(arr))
	for i, e := range arr {
		if out[i], ok = e.(string); !ok {
			return nil, false
		}
	}
	return out, true
}

func scalars(x any) ([]any, bool) {
	arr, ok := x.([]any)
	if !ok {
		return nil, false
	}
	for _, e := range arr {
		switch e.(type) {
		case string, bool, nil:
		default:
			return nil, false
		}
	}
	return arr, true
}

func count(x any) (int, bool) {
	n, ok := x.(json.Number)
	if !ok {
		return 0, false
	}
	i, err := n.Int64()
	return int(i), err == nil && i >= 0 && i < math.MaxInt32
}

func bound(x any) (*float64, bool) {
	n, ok := x.(json.Number)
	if !ok {
		return nil, false
	}
	f, err := n.Float64()
	return &f, err == nil
}

// number returns v as a float64 when it is a JSON number.
func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case float32:
		return float64(n), true
	}
	return 0, false
}

// near reports whether a and b are too close for float64 to decide a bound
// the way the exact validator would.
func near(a, b float64) bool {
	return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b))
}

// valid reports whether v is certainly valid; false means "ask jsonschema".
func (f *fast) valid(v any) bool {
	if f.always != nil {
		return *f.always
	}
	if len(f.types) > 0 && !f.typeOK(v) {
		return false
	}
	if f.enum != nil {
		found := false
		for _, e := range f.enum {
			if e == v {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	if f.format != nil && !f.format(v) {
		return false
	}
	switch x := v.(type) {
	case string:
		if f.pattern != nil && !f.pattern.MatchString(x) {
			return false
		}
		if f.minLen >= 0 || f.maxLen >= 0 {
			n := utf8.RuneCountInString(x)
			if (f.minLen >= 0 && n < f.minLen) || (f.maxLen >= 0 && n > f.maxLen) {
				return false
			}
		}
	case map[string]any:
		if (f.minProps >= 0 && len(x) < f.minProps) || (f.maxProps >= 0 && len(x) > f.maxProps) {
			return false
		}
		for _, r := range f.required {
			if _, ok := x[r]; !ok {
				return false
			}
		}
		if f.closed {
			for k := range x {
				if _, ok := f.props[k]; !ok {
					return false
				}
			}
		}
		for k, sub := range f.props {
			if pv, ok := x[k]; ok && !sub.valid(pv) {
				return false
			}
		}
	case []any:
		if (f.minItems >= 0 && len(x) < f.minItems) || (f.maxItems >= 0 && len(x) > f.maxItems) {
			return false
		}
		if f.items != nil {
			for _, e := range x {
				if !f.items.valid(e) {
					return false
				}
			}
		}
	default:
		if n, ok := number(v); ok {
			for _, b := range []*float64{f.min, f.max, f.exclMin, f.exclMax} {
				if b != nil && (near(n, *b) || math.IsNaN(n)) {
					return false
				}
			}
			if (f.min != nil && n < *f.min) || (f.max != nil && n > *f.max) ||
				(f.exclMin != nil && n <= *f.exclMin) || (f.exclMax != nil && n >= *f.exclMax) {
				return false
			}
		}
	}
	return true
}

func (f *fast) typeOK(v any) bool {
	for _, t := range f.types {
		switch t {
		case "null":
			if v == nil {
				return true
			}
		case "boolean":
			if _, ok := v.(bool); ok {
				return true
			}
		case "string":
			if _, ok := v.(string); ok {
				return true
			}
		case "object":
			if _, ok := v.(map[string]any); ok {
				return true
			}
		case "array":
			if _, ok := v.([]any); ok {
				return true
			}
		case "number":
			if _, ok := number(v); ok {
				return true
			}
		case "integer":
			switch n := v.(type) {
			case int, int64:
				return true
			case json.Number:
				if !strings.ContainsAny(string(n), ".eE") {
					return true
				}
			case float64:
				if n == math.Trunc(n) && math.Abs(n) < 1<<53 {
					return true
				}
			}
		}
	}
	return false
}
