package warehouse

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// colType is one of the warehouse's column types.
type colType uint8

const (
	typeNone colType = iota // no value seen
	typeBool
	typeInt
	typeFloat
	typeTimestamp
	typeString
)

// String returns the name of the type, as written to
// _discards.column_type_expected.
func (t colType) String() string {
	switch t {
	case typeBool:
		return "boolean"
	case typeInt:
		return "integer"
	case typeFloat:
		return "float"
	case typeTimestamp:
		return "timestamp"
	case typeString:
		return "varchar"
	}
	return "none"
}

// lub is the least upper bound of two types on the lattice
// integer < float < varchar, boolean < varchar, timestamp < varchar.
func lub(a, b colType) colType {
	switch {
	case a == b, b == typeNone:
		return a
	case a == typeNone:
		return b
	case (a == typeInt && b == typeFloat) || (a == typeFloat && b == typeInt):
		return typeFloat
	}
	return typeString
}

// value is one non-null value bound for a column: its inferred type, the
// typed value, and its text form (what a varchar column stores; see str).
type value struct {
	typ  colType
	text string
	i    int64
	f    float64
	b    bool
	t    time.Time
}

func stringValue(s string) value { return value{typ: typeString, text: s} }

// timeValue is a timestamp whose text is formatted when it is needed.
func timeValue(t time.Time) value { return value{typ: typeTimestamp, t: t.UTC()} }

func boolValue(b bool) value { return value{typ: typeBool, b: b, text: strconv.FormatBool(b)} }

// str returns the value's text form: what a varchar column stores and
// _discards.column_value holds.
func (v value) str() string {
	if v.typ == typeTimestamp && v.text == "" {
		return v.t.Format(time.RFC3339Nano)
	}
	return v.text
}

// inferValue returns the value of a decoded JSON scalar or array (decoded
// with UseNumber); ok is false for null and for objects.
func inferValue(v any) (value, bool) {
	switch x := v.(type) {
	case nil:
		return value{}, false
	case bool:
		return boolValue(x), true
	case json.Number:
		return numberValue(string(x)), true
	case float64: // decoded without UseNumber
		return floatValue(x), true
	case string:
		if t, ok := parseTimestamp(x); ok {
			return value{typ: typeTimestamp, t: t, text: x}, true
		}
		return stringValue(x), true
	case []any:
		return stringValue(compactJSON(x)), true
	case map[string]any:
		return value{}, false
	}
	return stringValue(fmt.Sprint(v)), true
}

// numberValue infers a JSON number: integer when it has no fraction or
// exponent and fits int64, else float; a number beyond float64's range is
// kept as text.
func numberValue(s string) value {
	if !strings.ContainsAny(s, ".eE") {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return value{typ: typeInt, i: i, text: s}
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return stringValue(s)
	}
	return floatValue(f)
}

func floatValue(f float64) value {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return value{typ: typeFloat, f: f}
	}
	return value{typ: typeFloat, f: f, text: string(appendJSONFloat(nil, f))}
}

// appendJSONFloat appends f as encoding/json writes a float64: the shortest
// form that round-trips, with an exponent only below 1e-6 or from 1e21.
func appendJSONFloat(b []byte, f float64) []byte {
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' { // e-09 -> e-9
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// parseTimestamp accepts an RFC 3339 date-time with a zone, fractional
// seconds allowed.
func parseTimestamp(s string) (time.Time, bool) {
	if len(s) < 20 || s[4] != '-' || (s[10] != 'T' && s[10] != 't') {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, false
	}
	return t.UTC(), true
}

// compactJSON encodes v as json.Marshal does (compact, no
// spaces; <, > and & escaped as \u003c, \u003e and \u0026, as Segment's
// Go encoder writes them).
func compactJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// coerce converts v for a column of type ct; ok is
// false when the value does not fit and must go to _discards.
func coerce(v value, ct colType) (any, bool) {
	switch ct {
	case typeString:
		return v.str(), true
	case typeFloat:
		switch v.typ {
		case typeFloat:
			return v.f, true
		case typeInt:
			return float64(v.i), true
		}
	case typeInt:
		switch v.typ {
		case typeInt:
			return v.i, true
		case typeFloat:
			if v.f == math.Trunc(v.f) && v.f >= -(1<<63) && v.f < 1<<63 {
				return int64(v.f), true
			}
		}
	case typeBool:
		if v.typ == typeBool {
			return v.b, true
		}
	case typeTimestamp:
		if v.typ == typeTimestamp {
			return v.t, true
		}
	}
	return nil, false
}
