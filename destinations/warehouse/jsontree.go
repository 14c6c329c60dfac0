package warehouse

import (
	"encoding/json"
	"errors"
	"unicode/utf8"
)

// The kinds of a parsed JSON value.
const (
	jNull uint8 = iota
	jBool
	jNumber
	jString
	jArray
	jObject
)

// jnode is one JSON value of a parsed message. Strings and numbers are
// views of the message (or, for a string with escapes, its decoded text);
// an object's members are mems[first:first+n] of its tree; an array keeps
// only its text, since arrays are stored as JSON text.
type jnode struct {
	kind     uint8
	b        bool
	s        string // string value, number literal
	raw      string // the value's JSON text (arrays and objects)
	first, n int32  // members of an object
}

// jmember is one key of an object.
type jmember struct {
	key string
	val int32 // index into nodes
}

// jtree is a parsed JSON document in flat, reusable storage: a message is
// decoded once, without a map per object. Decoding follows encoding/json's
// rules for map[string]any with UseNumber: the first value is read
// (trailing text is ignored, as json.Decoder does), a key given twice keeps
// its last value, invalid UTF-8 becomes U+FFFD.
type jtree struct {
	src   string
	pos   int
	nodes []jnode
	mems  []jmember
	stack []jmember // members of the objects being parsed
	depth int
}

var errJSON = errors.New("invalid JSON")

// maxJSONDepth is encoding/json's nesting limit.
const maxJSONDepth = 10000

// parse parses the first JSON value of src and returns its node index.
func (t *jtree) parse(src string) (int32, error) {
	t.src, t.pos, t.depth = src, 0, 0
	t.nodes, t.mems, t.stack = t.nodes[:0], t.mems[:0], t.stack[:0]
	return t.value()
}

func (t *jtree) node(i int32) *jnode { return &t.nodes[i] }

// member returns the value of key in object o, or -1.
func (t *jtree) member(o int32, key string) int32 {
	if o < 0 {
		return -1
	}
	n := &t.nodes[o]
	if n.kind != jObject {
		return -1
	}
	for _, m := range t.mems[n.first : n.first+n.n] {
		if m.key == key {
			return m.val
		}
	}
	return -1
}

// members returns the members of object o.
func (t *jtree) members(o int32) []jmember {
	n := &t.nodes[o]
	return t.mems[n.first : n.first+n.n]
}

func (t *jtree) skipSpace() {
	for t.pos < len(t.src) {
		switch t.src[t.pos] {
		case ' ', '\t', '\n', '\r':
			t.pos++
		default:
			return
		}
	}
}

func (t *jtree) add(n jnode) int32 {
	t.nodes = append(t.nodes, n)
	return int32(len(t.nodes) - 1)
}

func (t *jtree) value() (int32, error) {
	t.skipSpace()
	if t.pos >= len(t.src) {
		return -1, errJSON
	}
	switch c := t.src[t.pos]; {
	case c == '{':
		return t.object()
	case c == '[':
		start := t.pos
		if err := t.skipArray(); err != nil {
			return -1, err
		}
		return t.add(jnode{kind: jArray, raw: t.src[start:t.pos]}), nil
	case c == '"':
		s, err := t.str()
		if err != nil {
			return -1, err
		}
		return t.add(jnode{kind: jString, s: s}), nil
	case c == 't':
		if err := t.lit("true"); err != nil {
			return -1, err
		}
		return t.add(jnode{kind: jBool, b: true}), nil
	case c == 'f':
		if err := t.lit("false"); err != nil {
			return -1, err
		}
		return t.add(jnode{kind: jBool}), nil
	case c == 'n':
		if err := t.lit("null"); err != nil {
			return -1, err
		}
		return t.add(jnode{kind: jNull}), nil
	case c == '-' || (c >= '0' && c <= '9'):
		s, err := t.number()
		if err != nil {
			return -1, err
		}
		return t.add(jnode{kind: jNumber, s: s}), nil
	}
	return -1, errJSON
}

func (t *jtree) lit(word string) error {
	if len(t.src)-t.pos < len(word) || t.src[t.pos:t.pos+len(word)] != word {
		return errJSON
	}
	t.pos += len(word)
	return nil
}

func (t *jtree) object() (int32, error) {
	t.depth++
	if t.depth > maxJSONDepth {
		return -1, errJSON
	}
	start := t.pos
	t.pos++ // {
	self := t.add(jnode{kind: jObject})
	base := len(t.stack)
	t.skipSpace()
	if t.pos < len(t.src) && t.src[t.pos] == '}' {
		t.pos++
	} else {
		for {
			t.skipSpace()
			if t.pos >= len(t.src) || t.src[t.pos] != '"' {
				return -1, errJSON
			}
			key, err := t.str()
			if err != nil {
				return -1, err
			}
			t.skipSpace()
			if t.pos >= len(t.src) || t.src[t.pos] != ':' {
				return -1, errJSON
			}
			t.pos++
			v, err := t.value()
			if err != nil {
				return -1, err
			}
			t.stack = append(t.stack, jmember{key: key, val: v})
			t.skipSpace()
			if t.pos >= len(t.src) {
				return -1, errJSON
			}
			if t.src[t.pos] == ',' {
				t.pos++
				continue
			}
			if t.src[t.pos] != '}' {
				return -1, errJSON
			}
			t.pos++
			break
		}
	}
	t.depth--
	// A key given twice keeps its last value (as in a map).
	ms := t.stack[base:]
	if len(ms) > 1 {
		out := ms[:0]
		for i, m := range ms {
			dup := false
			for _, later := range ms[i+1:] {
				if later.key == m.key {
					dup = true
					break
				}
			}
			if !dup {
				out = append(out, m)
			}
		}
		ms = out
	}
	first := len(t.mems)
	t.mems = append(t.mems, ms...)
	t.stack = t.stack[:base]
	n := &t.nodes[self]
	n.first, n.n, n.raw = int32(first), int32(len(ms)), t.src[start:t.pos]
	return self, nil
}

// skipArray moves past an array, checking that it is valid JSON.
func (t *jtree) skipArray() error {
	t.depth++
	if t.depth > maxJSONDepth {
		return errJSON
	}
	t.pos++ // [
	t.skipSpace()
	if t.pos < len(t.src) && t.src[t.pos] == ']' {
		t.pos++
		t.depth--
		return nil
	}
	for {
		nodes, mems := len(t.nodes), len(t.mems)
		if _, err := t.value(); err != nil {
			return err
		}
		// Array elements are kept as text only.
		t.nodes, t.mems = t.nodes[:nodes], t.mems[:mems]
		t.skipSpace()
		if t.pos >= len(t.src) {
			return errJSON
		}
		switch t.src[t.pos] {
		case ',':
			t.pos++
		case ']':
			t.pos++
			t.depth--
			return nil
		default:
			return errJSON
		}
	}
}

// str reads a string; without escapes and with valid UTF-8 it is a view of
// the source, else encoding/json decodes it.
func (t *jtree) str() (string, error) {
	start := t.pos
	t.pos++ // "
	simple := true
	for t.pos < len(t.src) {
		c := t.src[t.pos]
		switch {
		case c == '"':
			t.pos++
			body := t.src[start+1 : t.pos-1]
			if simple && utf8.ValidString(body) {
				return body, nil
			}
			var s string
			if err := json.Unmarshal([]byte(t.src[start:t.pos]), &s); err != nil {
				return "", errJSON
			}
			return s, nil
		case c == '\\':
			simple = false
			t.pos += 2
		case c < 0x20:
			return "", errJSON
		default:
			t.pos++
		}
	}
	return "", errJSON
}

// number reads a number with JSON's grammar and returns its literal.
func (t *jtree) number() (string, error) {
	start := t.pos
	if t.src[t.pos] == '-' {
		t.pos++
	}
	digits := func() int {
		n := 0
		for t.pos < len(t.src) && t.src[t.pos] >= '0' && t.src[t.pos] <= '9' {
			t.pos++
			n++
		}
		return n
	}
	if t.pos < len(t.src) && t.src[t.pos] == '0' {
		t.pos++
	} else if digits() == 0 {
		return "", errJSON
	}
	if t.pos < len(t.src) && t.src[t.pos] == '.' {
		t.pos++
		if digits() == 0 {
			return "", errJSON
		}
	}
	if t.pos < len(t.src) && (t.src[t.pos] == 'e' || t.src[t.pos] == 'E') {
		t.pos++
		if t.pos < len(t.src) && (t.src[t.pos] == '+' || t.src[t.pos] == '-') {
			t.pos++
		}
		if digits() == 0 {
			return "", errJSON
		}
	}
	return t.src[start:t.pos], nil
}
