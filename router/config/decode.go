package config

import (
	"encoding"
	"net/netip"
	"reflect"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// pair is one key and its value in a mapping node, after merge keys ("<<")
// have been resolved.
type pair struct {
	key   string
	keyN  *yaml.Node
	value *yaml.Node
}

// resolveAlias follows alias nodes to the node they point at.
func resolveAlias(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	n = resolveAlias(n)
	return n == nil || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

// pairs returns the entries of the mapping node n in document order. Entries
// brought in by merge keys ("<<: *anchor") come first and are overridden by
// explicit keys; a key given twice explicitly is a problem.
func pairs(n *yaml.Node, path string, ps *problems) []pair {
	var merged, explicit []pair
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			merged = append(merged, mergePairs(v, path, ps)...)
			continue
		}
		k = resolveAlias(k)
		if k.Kind != yaml.ScalarNode {
			ps.add(path, "keys must be strings")
			continue
		}
		if seen[k.Value] {
			ps.add(joinPath(path, k.Value), "key given more than once")
			continue
		}
		seen[k.Value] = true
		explicit = append(explicit, pair{key: k.Value, keyN: k, value: v})
	}
	if len(merged) == 0 {
		return explicit
	}
	out := make([]pair, 0, len(merged)+len(explicit))
	for _, p := range merged {
		if !seen[p.key] {
			seen[p.key] = true
			out = append(out, p)
		}
	}
	return append(out, explicit...)
}

func mergePairs(v *yaml.Node, path string, ps *problems) []pair {
	v = resolveAlias(v)
	switch v.Kind {
	case yaml.MappingNode:
		return pairs(v, path, ps)
	case yaml.SequenceNode:
		var out []pair
		for _, m := range v.Content {
			out = append(out, mergePairs(m, path, ps)...)
		}
		return out
	}
	ps.add(path, "merge key (<<) must refer to a mapping")
	return nil
}

// prepare walks the tree below n: it expands environment references in
// scalar values, and records the line of every key path (for messages) and
// the variables that expanded to nothing.
func prepare(n *yaml.Node, path string, ps *problems, lookup func(string) (string, bool), seen map[*yaml.Node]bool) {
	if n == nil || seen[n] {
		return
	}
	seen[n] = true
	if _, ok := ps.lines[path]; !ok {
		ps.lines[path] = n.Line
	}
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			prepare(c, path, ps, lookup, seen)
		}
	case yaml.AliasNode:
		prepare(n.Alias, path, ps, lookup, seen)
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := resolveAlias(n.Content[i]), n.Content[i+1]
			p := path
			if k.ShortTag() != "!!merge" {
				p = joinPath(path, k.Value)
				ps.lines[p] = k.Line
			}
			prepare(v, p, ps, lookup, seen)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			prepare(c, indexPath(path, i), ps, lookup, seen)
		}
	case yaml.ScalarNode:
		if !strings.Contains(n.Value, "${") {
			return
		}
		val, empty, err := expand(n.Value, lookup)
		if err != nil {
			ps.add(path, "%v", err)
			return
		}
		if len(empty) > 0 {
			ps.hints[path] = append(ps.hints[path], empty...)
		}
		n.Value = val
		if val == "" {
			// An empty expansion is an empty string, not null: a required
			// string reports "required", a number reports its type.
			n.Tag = "!!str"
		} else {
			// Let the expanded text resolve as if it had been written in
			// the file, so that "${PARTITIONS:-16}" decodes as a number.
			n.Tag = ""
		}
		n.Style = 0
	}
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	byteSizeType = reflect.TypeFor[ByteSize]()
	prefixType   = reflect.TypeFor[netip.Prefix]()
	unmarshaler  = reflect.TypeFor[yaml.Unmarshaler]()
	textUnmarsh  = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// decodeStrict decodes n into v (which must be settable), reporting every
// unknown key and every value of the wrong type as a problem with its key
// path. A null value leaves v unchanged, so defaults already in v remain.
func decodeStrict(n *yaml.Node, v reflect.Value, path string, ps *problems) {
	n = resolveAlias(n)
	if n == nil || isNull(n) {
		return
	}
	if decodeSpecial(n, v, path, ps) {
		return
	}
	t := v.Type()
	switch t.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(t.Elem()))
		}
		decodeStrict(n, v.Elem(), path, ps)
	case reflect.Struct:
		decodeStruct(n, v, path, ps)
	case reflect.Map:
		decodeMap(n, v, path, ps)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			ps.add(path, "must be a list")
			return
		}
		s := reflect.MakeSlice(t, len(n.Content), len(n.Content))
		for i, c := range n.Content {
			decodeStrict(c, s.Index(i), indexPath(path, i), ps)
		}
		v.Set(s)
	case reflect.Interface:
		if err := n.Decode(v.Addr().Interface()); err != nil {
			ps.add(path, "invalid value")
		}
	default:
		decodeScalar(n, v, path, ps)
	}
}

// decodeSpecial decodes the types with a syntax of their own (durations,
// byte sizes, memory limits, IP prefixes, and types that unmarshal
// themselves) and reports whether v is one of them.
func decodeSpecial(n *yaml.Node, v reflect.Value, path string, ps *problems) bool {
	t := v.Type()
	switch {
	case t == durationType:
		if n.Kind != yaml.ScalarNode {
			ps.add(path, `must be a duration such as "500ms" or "24h"`)
			return true
		}
		if n.Value == "0" {
			v.SetInt(0)
			return true
		}
		d, err := time.ParseDuration(n.Value)
		if err != nil {
			ps.add(path, `must be a duration such as "500ms" or "24h"`)
			return true
		}
		v.SetInt(int64(d))
	case t == byteSizeType:
		if n.Kind != yaml.ScalarNode {
			ps.add(path, "must be a size such as 512MiB, 10GiB or a number of bytes")
			return true
		}
		b, err := ParseByteSize(n.Value)
		if err != nil {
			ps.add(path, "%v", err)
			return true
		}
		v.SetInt(int64(b))
	case t == memoryLimitType:
		if n.Kind != yaml.ScalarNode {
			ps.add(path, "must be auto, off or a size such as 512MiB or 2GiB")
			return true
		}
		m, err := ParseMemoryLimit(n.Value)
		if err != nil {
			ps.add(path, "%v", err)
			return true
		}
		v.SetInt(int64(m))
	case t == prefixType:
		p, ok := parsePrefix(n)
		if !ok {
			ps.add(path, `must be an IP address or a CIDR range such as "10.0.0.0/8"`)
			return true
		}
		v.Set(reflect.ValueOf(p))
	case reflect.PointerTo(t).Implements(unmarshaler) || (n.Kind == yaml.ScalarNode && reflect.PointerTo(t).Implements(textUnmarsh)):
		if err := n.Decode(v.Addr().Interface()); err != nil {
			ps.add(path, "invalid value")
		}
	default:
		return false
	}
	return true
}

// decodeStruct decodes a mapping into the struct v, by yaml key; a key the
// struct does not have is a problem that lists the known ones.
func decodeStruct(n *yaml.Node, v reflect.Value, path string, ps *problems) {
	if n.Kind != yaml.MappingNode {
		ps.add(path, "must be a mapping of keys to values")
		return
	}
	t := v.Type()
	fields := structFields(t)
	for _, p := range pairs(n, path, ps) {
		idx, ok := fields[p.key]
		if !ok {
			ps.add(joinPath(path, p.key), "unknown key (known keys: %s)", knownKeys(t))
			continue
		}
		decodeStrict(p.value, v.FieldByIndex(idx), joinPath(path, p.key), ps)
	}
}

// decodeMap decodes a mapping into the map v (with string keys), each
// value over the one v already holds for its key.
func decodeMap(n *yaml.Node, v reflect.Value, path string, ps *problems) {
	if n.Kind != yaml.MappingNode {
		ps.add(path, "must be a mapping of keys to values")
		return
	}
	t := v.Type()
	if t.Key().Kind() != reflect.String {
		ps.add(path, "unsupported map key type %s", t.Key())
		return
	}
	if v.IsNil() {
		v.Set(reflect.MakeMap(t))
	}
	for _, p := range pairs(n, path, ps) {
		elem := reflect.New(t.Elem()).Elem()
		if old := v.MapIndex(reflect.ValueOf(p.key).Convert(t.Key())); old.IsValid() {
			elem.Set(old)
		}
		decodeStrict(p.value, elem, joinPath(path, p.key), ps)
		v.SetMapIndex(reflect.ValueOf(p.key).Convert(t.Key()), elem)
	}
}

// decodeScalar decodes a scalar into v, of a basic kind; a float where an
// integer is expected is a problem (yaml.v3 would silently cut 1.5 down
// to 1).
func decodeScalar(n *yaml.Node, v reflect.Value, path string, ps *problems) {
	t := v.Type()
	if n.Kind != yaml.ScalarNode {
		ps.add(path, "%s", kindMessage(t.Kind()))
		return
	}
	if isInteger(t.Kind()) && n.ShortTag() == "!!float" {
		ps.add(path, "%s", kindMessage(t.Kind()))
		return
	}
	tmp := reflect.New(t)
	if err := n.Decode(tmp.Interface()); err != nil {
		ps.add(path, "%s", kindMessage(t.Kind()))
		return
	}
	v.Set(tmp.Elem())
}

func parsePrefix(n *yaml.Node) (netip.Prefix, bool) {
	if n.Kind != yaml.ScalarNode {
		return netip.Prefix{}, false
	}
	s := strings.TrimSpace(n.Value)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, false
		}
		return p.Masked(), true
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(a, a.BitLen()), true
}

// isInteger reports whether k is a signed or unsigned integer kind.
func isInteger(k reflect.Kind) bool {
	switch k {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return true
	}
	return false
}

func kindMessage(k reflect.Kind) string {
	switch k {
	case reflect.String:
		return "must be a string"
	case reflect.Bool:
		return "must be true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "must be an integer (within range)"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "must be a non-negative integer (within range)"
	case reflect.Float32, reflect.Float64:
		return "must be a number"
	}
	return "invalid value"
}

// yamlName returns the YAML key of a struct field as yaml.v3 would use it,
// and whether the field is inlined; skip is true for fields YAML ignores.
func yamlName(f reflect.StructField) (name string, inline, skip bool) {
	tag := f.Tag.Get("yaml")
	if tag == "-" || (!f.IsExported() && !f.Anonymous) {
		return "", false, true
	}
	name, opts, _ := strings.Cut(tag, ",")
	for _, o := range strings.Split(opts, ",") {
		if o == "inline" {
			inline = true
		}
	}
	if name == "" {
		name = strings.ToLower(f.Name)
	}
	return name, inline, false
}

// structFields maps each YAML key of struct type t (including inlined
// structs) to the index path of its field.
func structFields(t reflect.Type) map[string][]int {
	out := map[string][]int{}
	var walk func(t reflect.Type, prefix []int)
	walk = func(t reflect.Type, prefix []int) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name, inline, skip := yamlName(f)
			if skip {
				continue
			}
			idx := append(append([]int(nil), prefix...), i)
			if inline && f.Type.Kind() == reflect.Struct {
				walk(f.Type, idx)
				continue
			}
			if _, dup := out[name]; !dup {
				out[name] = idx
			}
		}
	}
	walk(t, nil)
	return out
}

// knownKeys lists the YAML keys of struct type t in declaration order.
func knownKeys(t reflect.Type) string {
	var names []string
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name, inline, skip := yamlName(f)
			if skip {
				continue
			}
			if inline && f.Type.Kind() == reflect.Struct {
				walk(f.Type)
				continue
			}
			names = append(names, name)
		}
	}
	walk(t)
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}
