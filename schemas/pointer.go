package schemas

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Position is a place in a text file: a 1-based line and a 1-based column
// counted in characters (runes), as editors and GitHub annotations count.
type Position struct {
	// Line is the 1-based line.
	Line int
	// Col is the 1-based column in runes.
	Col int
}

// Locate resolves JSON pointer ptr (RFC 6901) in the JSON document data and
// returns where it points: the member name of an object member (so a
// finding on "/properties/revenue" lands on the line of `"revenue":`), the
// first byte of an array element, or the root value for "". When ptr does
// not resolve (a missing member, an index out of range, a step into a
// scalar, invalid JSON), it returns the position of the deepest ancestor that
// does, with exact false. It reads the raw bytes once and allocates only
// for member names that contain escapes.
func Locate(data []byte, ptr string) (pos Position, exact bool) {
	s := &scanner{data: data}
	s.skipWS()
	if s.i < len(data) && bytes.HasPrefix(data[s.i:], []byte("\uFEFF")) {
		s.i += 3
		s.skipWS()
	}
	best := s.i
	if ptr == "" {
		return s.position(best), true
	}
	if ptr[0] != '/' {
		return s.position(best), false
	}
	for _, seg := range splitPointer(ptr) {
		at, ok := s.step(seg)
		if !ok {
			return s.position(best), false
		}
		best = at
	}
	return s.position(best), true
}

// lineOf returns the line Locate finds for ptr in data.
func lineOf(data []byte, ptr string) int {
	p, _ := Locate(data, ptr)
	return p.Line
}

// scanner walks raw JSON bytes without decoding values.
type scanner struct {
	data []byte
	i    int
}

// position converts a byte offset to a line and rune column.
func (s *scanner) position(off int) Position {
	if off > len(s.data) {
		off = len(s.data)
	}
	start := bytes.LastIndexByte(s.data[:off], '\n') + 1
	return Position{Line: bytes.Count(s.data[:off], []byte{'\n'}) + 1, Col: utf8.RuneCount(s.data[start:off]) + 1}
}

func (s *scanner) skipWS() {
	for s.i < len(s.data) {
		switch s.data[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// step moves from the start of a container value to the start of the value
// that segment seg designates in it, and returns the offset to report for
// seg: the member name's opening quote, or the array element's first byte.
func (s *scanner) step(seg string) (int, bool) {
	s.skipWS()
	if s.i >= len(s.data) {
		return 0, false
	}
	switch s.data[s.i] {
	case '{':
		s.i++
		for {
			s.skipWS()
			if s.i >= len(s.data) || s.data[s.i] != '"' {
				return 0, false // '}' (not found) or malformed
			}
			at := s.i
			name, ok := s.readString()
			if !ok {
				return 0, false
			}
			s.skipWS()
			if s.i >= len(s.data) || s.data[s.i] != ':' {
				return 0, false
			}
			s.i++
			s.skipWS()
			if name == seg {
				return at, true
			}
			if !s.skipValue() || !s.next() {
				return 0, false
			}
		}
	case '[':
		s.i++
		want, err := strconv.Atoi(seg)
		if err != nil || want < 0 || (len(seg) > 1 && seg[0] == '0') || seg[0] == '+' {
			return 0, false // "-" (past the end) and non-indices never resolve
		}
		for n := 0; ; n++ {
			s.skipWS()
			if s.i >= len(s.data) || s.data[s.i] == ']' {
				return 0, false
			}
			if n == want {
				return s.i, true
			}
			if !s.skipValue() || !s.next() {
				return 0, false
			}
		}
	}
	return 0, false
}

// next consumes the ',' between two members or elements; it reports false
// at the container's end (close) or on malformed input.
func (s *scanner) next() bool {
	s.skipWS()
	if s.i < len(s.data) && s.data[s.i] == ',' {
		s.i++
		return true
	}
	return false
}

// readString consumes a string at s.i and returns its decoded value.
func (s *scanner) readString() (string, bool) {
	start := s.i
	if !s.skipString() {
		return "", false
	}
	raw := s.data[start:s.i]
	inner := raw[1 : len(raw)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return string(inner), true
	}
	var v string
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", false
	}
	return v, true
}

// skipString consumes a string starting at its opening quote.
func (s *scanner) skipString() bool {
	for s.i++; s.i < len(s.data); s.i++ {
		switch s.data[s.i] {
		case '\\':
			s.i++
		case '"':
			s.i++
			return true
		}
	}
	return false
}

// skipValue consumes one value (scalar, string, object or array).
func (s *scanner) skipValue() bool {
	start, depth := s.i, 0
	for s.i < len(s.data) {
		switch s.data[s.i] {
		case '"':
			if !s.skipString() {
				return false
			}
			if depth == 0 {
				return true
			}
			continue
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return s.i > start
			}
			depth--
			if depth == 0 {
				s.i++
				return true
			}
		case ',', ' ', '\t', '\n', '\r':
			if depth == 0 {
				return s.i > start
			}
		}
		s.i++
	}
	return depth == 0 && s.i > start
}

// Pointer returns the JSON pointer, in the rule's schema file, of what the
// change is about, for locating it (see Locate and Plan.Position): the
// changed keyword of a property (e.g. /properties/properties/properties/
// revenue/type), the property itself, or the rule keyword (x-segment-version
// for a version that was not bumped). It is "" for a removed rule, whose file
// no longer exists in the head plan.
func (c Change) Pointer() string {
	if c.Field == "" {
		switch c.Kind {
		case KindVersionNotBumped:
			return "/x-segment-version"
		case KindDescriptionChanged:
			return "/description"
		case KindEventAdded, KindRuleAdded:
			return "/x-segment-type"
		}
		return ""
	}
	p := FieldPointer(c.Field)
	switch c.Kind {
	case KindTypeNarrowed, KindTypeWidened:
		p += "/type"
	case KindFormatAdded, KindFormatRemoved:
		p += "/format"
	case KindEnumShrunk, KindEnumWidened:
		p += "/enum"
	case KindPatternAdded, KindPatternRemoved:
		p += "/pattern"
	case KindDescriptionChanged:
		p += "/description"
	case KindClosed, KindOpened:
		p += "/additionalProperties"
	}
	return p
}

// FieldPointer converts a dotted field path as Diff and Validate name it
// (properties.address.city, traits.tags[], properties.products[].sku) to the
// JSON pointer of that field's schema in a rule: properties/<name> for each
// step into an object, items for each [].
func FieldPointer(field string) string {
	if field == "" {
		return ""
	}
	var b strings.Builder
	for _, seg := range strings.Split(field, ".") {
		items := 0
		for strings.HasSuffix(seg, "[]") {
			seg, items = strings.TrimSuffix(seg, "[]"), items+1
		}
		b.WriteString("/properties/" + escapePointer(seg))
		b.WriteString(strings.Repeat("/items", items))
	}
	return b.String()
}

// Position locates JSON pointer ptr in one of the plan's schema files (file
// relative to the plan directory, as in Rule.File and Change.File), in the
// bytes that were loaded. ok is false when the plan has no such file.
func (p *Plan) Position(file, ptr string) (pos Position, ok bool) {
	if p == nil {
		return Position{}, false
	}
	for _, r := range p.parsed {
		if r.File == file {
			pos, _ = Locate(r.data, ptr)
			return pos, true
		}
	}
	return Position{}, false
}
