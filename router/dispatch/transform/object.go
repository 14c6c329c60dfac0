package transform

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// object is a JSON object read lazily from its text: Apply decodes only
// the fields the rules read or change, and writes the untouched ones back
// byte for byte (numbers keep their exact text). This keeps a transform's
// cost near that of its expressions rather than of decoding and encoding
// the whole message (see BenchmarkApply5Rules).
type object struct {
	raw    []byte // the object's text; nil for an object built by a rule
	parsed bool   // fields hold raw's members
	dirty  bool   // changed since parsed: written from fields
	fields []member
	whole  map[string]any // the decoded object, cached for expressions; nil after a change
	a      *arena         // where the members of parsed objects are taken from
}

// arena holds the members of the objects of one Apply, reused from one
// Apply to the next: it saves the allocations, zeroing and write barriers
// of a slice per object. Nothing of an Apply's objects outlives it (the
// values it returns are copies), so release recycles it.
type arena struct {
	members []member
	objects []object // the parsed objects of the Apply
	env     env      // the expressions' environment of the Apply
}

// object returns a new object reading raw, from the arena's slab (a
// nil arena: allocated). A full slab is left to the objects that point
// into it and a new one started.
func (a *arena) object(raw []byte) *object {
	if a == nil {
		return &object{raw: raw}
	}
	if len(a.objects) == cap(a.objects) {
		a.objects = make([]object, 0, 8)
	}
	a.objects = a.objects[:len(a.objects)+1]
	o := &a.objects[len(a.objects)-1]
	*o = object{raw: raw, a: a}
	return o
}

var arenas = sync.Pool{New: func() any { return &arena{members: make([]member, 0, 128)} }}

// take returns an empty slice with room for n members.
func (a *arena) take(n int) []member {
	if a == nil || cap(a.members)-len(a.members) < n {
		return make([]member, 0, n)
	}
	l := len(a.members)
	a.members = a.members[:l+n]
	return a.members[l : l : l+n]
}

func (a *arena) release() {
	if cap(a.members) > 4096 {
		return // an unusual message: not kept
	}
	// Not cleared: take hands out empty slices whose members are
	// written whole before they are read, and the pool drops what it
	// holds at the next garbage collections.
	a.members = a.members[:0]
	clear(a.objects) // they point at the message and at members
	a.objects = a.objects[:0]
	a.env = env{}
	arenas.Put(a)
}

// member is one field: its text, or a value set by a rule, or the parsed
// object of its text.
type member struct {
	key []byte // the name, unescaped (a part of the text when it has no escapes)
	raw []byte // the value's text; nil when val holds it
	val any    // a JSON value (see jsonValue) or an *object; with raw, raw's decoded scalar
	// cached is set when val holds raw's value, a scalar, decoded once.
	cached bool
}

// newObject parses the object of raw, its members taken from a (nil:
// allocated).
func newObject(raw []byte, a *arena) (*object, error) {
	o := a.object(raw)
	if err := o.parse(); err != nil {
		return nil, err
	}
	return o, nil
}

// parse reads the members of raw.
func (o *object) parse() error {
	if o.parsed {
		return nil
	}
	b := o.raw
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return errors.New("not a JSON object")
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		i++
	} else {
		for {
			if i >= len(b) || b[i] != '"' {
				return errors.New("malformed JSON object: a key expected")
			}
			end, err := skipString(b, i)
			if err != nil {
				return err
			}
			key := b[i+1 : end-1]
			if bytes.IndexByte(key, '\\') >= 0 {
				k, err := unquote(b[i:end])
				if err != nil {
					return err
				}
				key = []byte(k)
			}
			i = skipWS(b, end)
			if i >= len(b) || b[i] != ':' {
				return errors.New("malformed JSON object: ':' expected")
			}
			i = skipWS(b, i+1)
			vend, err := skipValue(b, i)
			if err != nil {
				return err
			}
			m := member{key: key, raw: b[i:vend]}
			if o.fields == nil {
				// Room for a member per 8 bytes of text (up to 32):
				// more than most objects need, from the reused arena.
				o.fields = o.a.take(min(32, len(b)/8+1))
			}
			// Keys in increasing order (as ingest writes them) cannot
			// repeat; otherwise the last of duplicate keys wins, as in
			// encoding/json.
			n := len(o.fields)
			if n == 0 || bytes.Compare(o.fields[n-1].key, key) < 0 {
				o.fields = append(o.fields, m)
			} else if j := o.indexBytes(key); j >= 0 {
				o.fields[j] = m
			} else {
				o.fields = append(o.fields, m)
			}
			i = skipWS(b, vend)
			if i < len(b) && b[i] == ',' {
				i = skipWS(b, i+1)
				continue
			}
			if i < len(b) && b[i] == '}' {
				i++
				break
			}
			return errors.New("malformed JSON object: ',' or '}' expected")
		}
	}
	if skipWS(b, i) != len(b) {
		return errors.New("malformed JSON: data after the object")
	}
	o.parsed = true
	return nil
}

func (o *object) index(key string) int {
	for i := range o.fields {
		if string(o.fields[i].key) == key {
			return i
		}
	}
	return -1
}

func (o *object) indexBytes(key []byte) int {
	for i := range o.fields {
		if bytes.Equal(o.fields[i].key, key) {
			return i
		}
	}
	return -1
}

// get returns the value of key for an expression: null when absent; a
// nested object as an *object when nav (another field of it is read
// next), else decoded.
func (o *object) get(key string, nav bool) (any, error) {
	j := o.index(key)
	if j < 0 {
		return nil, nil
	}
	m := &o.fields[j]
	if m.raw == nil {
		if c, ok := m.val.(*object); ok && !nav {
			return c.decoded()
		}
		return m.val, nil
	}
	if m.cached {
		return m.val, nil
	}
	switch m.raw[0] {
	case '{':
		if nav {
			c := o.a.object(m.raw)
			if err := c.parse(); err != nil {
				return nil, err
			}
			m.val, m.raw = c, nil
			return c, nil
		}
		return decodeValue(m.raw)
	case '[':
		return decodeValue(m.raw)
	}
	v, err := decodeValue(m.raw)
	if err == nil {
		m.val, m.cached = v, true
	}
	return v, err
}

// decoded is the whole object as map[string]any, cached until a change.
func (o *object) decoded() (map[string]any, error) {
	if o.whole != nil {
		return o.whole, nil
	}
	out := make(map[string]any, len(o.fields))
	for i := range o.fields {
		m := &o.fields[i]
		var v any
		var err error
		switch {
		case m.raw != nil:
			v, err = decodeValue(m.raw)
		default:
			if c, ok := m.val.(*object); ok {
				v, err = c.decoded()
			} else {
				v = m.val
			}
		}
		if err != nil {
			return nil, err
		}
		out[string(m.key)] = v
	}
	o.whole = out
	return out, nil
}

// child returns the object at key for a change, creating it when absent
// or null; ok is false when the field holds something else.
func (o *object) child(key string, create bool) (c *object, ok bool, err error) {
	j := o.index(key)
	if j < 0 {
		if !create {
			return nil, false, nil
		}
		c = &object{parsed: true, dirty: true}
		o.fields = append(o.fields, member{key: []byte(key), val: c})
		return c, true, nil
	}
	m := &o.fields[j]
	switch {
	case m.raw != nil && m.raw[0] == '{':
		c = o.a.object(m.raw)
		if err := c.parse(); err != nil {
			return nil, false, err
		}
		m.val, m.raw = c, nil
		return c, true, nil
	case m.raw != nil && string(m.raw) == "null" && create:
		c = &object{parsed: true, dirty: true}
		m.val, m.raw = c, nil
		return c, true, nil
	case m.raw != nil:
		return nil, false, nil
	}
	switch v := m.val.(type) {
	case *object:
		return v, true, nil
	case map[string]any:
		c = &object{parsed: true, dirty: true}
		for _, k := range sortedAnyKeys(v) {
			c.fields = append(c.fields, member{key: []byte(k), val: v[k]})
		}
		m.val = c
		return c, true, nil
	case nil:
		if create {
			c = &object{parsed: true, dirty: true}
			m.val = c
			return c, true, nil
		}
	}
	return nil, false, nil
}

// walk returns the objects from o to the parent of fp's last name (nil
// when one is missing and not create), or the error of a value on the way
// that is not an object.
func (o *object) walk(fp fieldPath, create bool, buf []*object) ([]*object, error) {
	path := append(buf[:0], o)
	cur := o
	for i, k := range fp[:len(fp)-1] {
		c, ok, err := cur.child(k, create)
		if err != nil {
			return nil, err
		}
		if !ok {
			if !create {
				return nil, nil
			}
			v, _ := cur.get(k, false)
			return nil, fmt.Errorf("cannot set %s: %s is %s, not an object", fp, fp[:i+1], kindOf(v))
		}
		path = append(path, c)
		cur = c
	}
	return path, nil
}

func changed(path []*object) {
	for _, o := range path {
		o.dirty, o.whole = true, nil
	}
}

// lookup returns the member at fp.
func (o *object) lookup(fp fieldPath) (member, bool, error) {
	var buf [8]*object
	path, err := o.walk(fp, false, buf[:0])
	if err != nil || path == nil {
		return member{}, false, err
	}
	last := path[len(path)-1]
	j := last.index(fp[len(fp)-1])
	if j < 0 {
		return member{}, false, nil
	}
	return last.fields[j], true, nil
}

// put sets the member at fp (its key is replaced), creating objects on the
// way.
func (o *object) put(fp fieldPath, m member) error {
	var buf [8]*object
	path, err := o.walk(fp, true, buf[:0])
	if err != nil {
		return err
	}
	last := path[len(path)-1]
	name := fp[len(fp)-1]
	if j := last.index(name); j >= 0 {
		m.key = last.fields[j].key // the same name: no new copy
		last.fields[j] = m
	} else {
		m.key = []byte(name)
		last.fields = append(last.fields, m)
	}
	changed(path)
	return nil
}

// remove deletes the field at fp, if any.
func (o *object) remove(fp fieldPath) error {
	var buf [8]*object
	path, err := o.walk(fp, false, buf[:0])
	if err != nil || path == nil {
		return err
	}
	last := path[len(path)-1]
	if j := last.index(fp[len(fp)-1]); j >= 0 {
		last.fields = slices.Delete(last.fields, j, j+1)
		changed(path)
	}
	return nil
}

// appendJSON writes the object as ingest does: compact, keys sorted, no
// HTML escaping; untouched values are copied as they were.
func (o *object) appendJSON(b []byte) ([]byte, error) {
	if !o.dirty && o.raw != nil {
		return append(b, o.raw...), nil
	}
	if !slices.IsSortedFunc(o.fields, byKey) {
		slices.SortStableFunc(o.fields, byKey)
	}
	b = append(b, '{')
	for i := range o.fields {
		m := &o.fields[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = appendKey(b, m.key)
		b = append(b, ':')
		var err error
		if m.raw != nil {
			b = append(b, m.raw...)
		} else if b, err = appendValue(b, m.val); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

func byKey(a, b member) int { return bytes.Compare(a.key, b.key) }

// appendValue writes a JSON value or an *object.
func appendValue(b []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case bool:
		return strconv.AppendBool(b, v), nil
	case string:
		return appendString(b, v), nil
	case int:
		return strconv.AppendInt(b, int64(v), 10), nil
	case json.Number:
		return append(b, v...), nil
	case *object:
		return v.appendJSON(b)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return append(b, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...), nil
}

// appendKey writes a key as a JSON string without HTML escaping.
func appendKey(b, key []byte) []byte {
	for _, c := range key {
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return appendString(b, string(key))
		}
	}
	b = append(b, '"')
	b = append(b, key...)
	return append(b, '"')
}

// rawStringPath is rawString of a field below o (properties.plan), found
// without decoding anything but the objects on the way; ok is false when
// an object on the way is missing, was changed by a rule or is not an
// object, and the caller decodes the value instead.
func (o *object) rawStringPath(path []string) ([]byte, bool) {
	cur := o
	for _, name := range path[:len(path)-1] {
		v, err := cur.get(name, true)
		c, ok := v.(*object)
		if err != nil || !ok || c.raw == nil {
			return nil, false
		}
		cur = c
	}
	return cur.rawString(path[len(path)-1])
}

// rawString returns the text of the string value at key when it is
// stored as it was and has no escapes, without decoding it.
func (o *object) rawString(key string) ([]byte, bool) {
	j := o.index(key)
	if j < 0 {
		return nil, false
	}
	r := o.fields[j].raw
	if len(r) < 2 || r[0] != '"' || bytes.IndexByte(r, '\\') >= 0 {
		return nil, false
	}
	return r[1 : len(r)-1], true
}

// appendString writes s as a JSON string without HTML escaping.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			_ = enc.Encode(s)
			return append(b, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// decodeValue decodes one JSON value: integers that fit are int, other
// numbers float64 (json.Number beyond float64's range).
func decodeValue(raw []byte) (any, error) {
	switch raw[0] {
	case '"':
		return unquote(raw)
	case 't':
		return true, nil
	case 'f':
		return false, nil
	case 'n':
		return nil, nil
	case '{', '[':
		var v any
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		return numbers(v), nil
	}
	return numbers(json.Number(raw)), nil
}

func unquote(raw []byte) (string, error) {
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw[1 : len(raw)-1]), nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", err
	}
	return s, nil
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\t' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the end of the string starting at b[i] == '"'.
func skipString(b []byte, i int) (int, error) {
	j := i + 1
	// Most strings are short: a plain loop first, then IndexByte.
	for end := min(len(b), j+16); j < end; j++ {
		switch b[j] {
		case '"':
			return j + 1, nil
		case '\\':
			j++
		}
	}
	if j > len(b) {
		return 0, errors.New("malformed JSON: unterminated string")
	}
	for {
		k := bytes.IndexByte(b[j:], '"')
		if k < 0 {
			return 0, errors.New("malformed JSON: unterminated string")
		}
		j += k
		n := 0 // backslashes before the quote: an odd number escapes it
		for p := j - 1; p > i && b[p] == '\\'; p-- {
			n++
		}
		if n%2 == 0 {
			return j + 1, nil
		}
		j++
	}
}

// skipValue returns the end of the value starting at b[i].
func skipValue(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, errors.New("malformed JSON: a value expected")
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end, err := skipString(b, j)
				if err != nil {
					return 0, err
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, nil
				}
			}
		}
		return 0, errors.New("malformed JSON: unterminated object or array")
	}
	j := i
	for j < len(b) && !strings.ContainsRune(",}] \t\r\n", rune(b[j])) {
		j++
	}
	if j == i {
		return 0, errors.New("malformed JSON: a value expected")
	}
	lit := b[i:j]
	switch string(lit) {
	case "true", "false", "null":
		return j, nil
	}
	if !isNumber(lit) {
		return 0, fmt.Errorf("malformed JSON: bad value %q", lit)
	}
	return j, nil
}

func sortedAnyKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// isNumber reports whether b is a JSON number.
func isNumber(b []byte) bool {
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i, n = i+1, n+1
		}
		return n
	}
	start := i
	if n := digits(); n == 0 || n > 1 && b[start] == '0' {
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(b)
}
