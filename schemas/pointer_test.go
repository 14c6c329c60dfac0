package schemas

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLocate(t *testing.T) {
	doc := []byte("{\n" +
		"  \"$schema\": \"http://json-schema.org/draft-07/schema#\",\n" + // 2
		"  \"a/b\": 1, \"m~n\": [10,\n" + // 3
		"    {\"x\": \"s\\\"}\", \"y\": {}},\n" + // 4
		"    [true, null]\n" + // 5
		"  ],\n" + // 6
		"  \"esc\\u0061ped\": {\"ü\": \"é\", \"deep\": {\"k\": [ ]}},\n" + // 7
		"  \"last\": 2.5e3\n" + // 8
		"}\n")
	tests := []struct {
		name      string
		data      []byte
		ptr       string
		line, col int
		exact     bool
	}{
		{name: "root", data: doc, ptr: "", line: 1, col: 1, exact: true},
		{name: "member name", data: doc, ptr: "/$schema", line: 2, col: 3, exact: true},
		{name: "escaped slash", data: doc, ptr: "/a~1b", line: 3, col: 3, exact: true},
		{name: "escaped tilde", data: doc, ptr: "/m~0n", line: 3, col: 13, exact: true},
		{name: "array element", data: doc, ptr: "/m~0n/0", line: 3, col: 21, exact: true},
		{name: "object element", data: doc, ptr: "/m~0n/1", line: 4, col: 5, exact: true},
		{name: "member after a string with an escaped quote", data: doc, ptr: "/m~0n/1/y", line: 4, col: 19, exact: true},
		{name: "nested array", data: doc, ptr: "/m~0n/2/1", line: 5, col: 12, exact: true},
		{name: "escaped member name", data: doc, ptr: "/escaped", line: 7, col: 3, exact: true},
		{name: "column counts runes", data: doc, ptr: "/escaped/deep", line: 7, col: 30, exact: true},
		{name: "member after nested containers", data: doc, ptr: "/last", line: 8, col: 3, exact: true},
		{name: "missing member falls back to its parent", data: doc, ptr: "/escaped/deep/nope", line: 7, col: 30, exact: false},
		{name: "index out of range", data: doc, ptr: "/m~0n/3", line: 3, col: 13, exact: false},
		{name: "empty array", data: doc, ptr: "/escaped/deep/k/0", line: 7, col: 39, exact: false},
		{name: "leading zero is not an index", data: doc, ptr: "/m~0n/01", line: 3, col: 13, exact: false},
		{name: "dash is past the end", data: doc, ptr: "/m~0n/-", line: 3, col: 13, exact: false},
		{name: "step into a scalar", data: doc, ptr: "/last/x", line: 8, col: 3, exact: false},
		{name: "pointer without slash", data: doc, ptr: "x", line: 1, col: 1, exact: false},
		{name: "leading whitespace", data: []byte("\n\n  {\"a\": 1}"), ptr: "", line: 3, col: 3, exact: true},
		{name: "byte order mark", data: []byte("\uFEFF{\n\"a\": 1}"), ptr: "/a", line: 2, col: 1, exact: true},
		{name: "truncated document keeps what parsed", data: []byte("{\n \"a\": {\n  \"b\": [1,"), ptr: "/a/b/1", line: 3, col: 3, exact: false},
		{name: "unterminated string", data: []byte("{\"a\": \"x, \"b\": 1}"), ptr: "/b", line: 1, col: 1, exact: false},
		{name: "empty input", data: nil, ptr: "/a", line: 1, col: 1, exact: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pos, exact := Locate(tt.data, tt.ptr)
			if pos.Line != tt.line || pos.Col != tt.col || exact != tt.exact {
				t.Errorf("Locate(%q) = %d:%d exact=%v, want %d:%d exact=%v", tt.ptr, pos.Line, pos.Col, exact, tt.line, tt.col, tt.exact)
			}
		})
	}
}

func TestFieldPointer(t *testing.T) {
	tests := []struct{ field, want string }{
		{"", ""},
		{"properties", "/properties/properties"},
		{"properties.revenue", "/properties/properties/properties/revenue"},
		{"properties.address.city", "/properties/properties/properties/address/properties/city"},
		{"properties.products[].sku", "/properties/properties/properties/products/items/properties/sku"},
		{"traits.tags[]", "/properties/traits/properties/tags/items"},
		{"properties.a/b", "/properties/properties/properties/a~1b"},
	}
	for _, tt := range tests {
		if got := FieldPointer(tt.field); got != tt.want {
			t.Errorf("FieldPointer(%q) = %q, want %q", tt.field, got, tt.want)
		}
	}
}

// TestChangePosition checks that the changes Diff reports point at the
// changed keyword's line in the head schema file.
func TestChangePosition(t *testing.T) {
	base := mustLoad(t, "testdata/order")
	dir := copyPlan(t, "testdata/order")
	editSchema(t, dir, orderFile, func(d map[string]any) {
		bump(d)
		at(d, "properties", "revenue")["type"] = "integer"
		at(d, "properties", "currency")["enum"] = []any{"EUR", "USD"}
		at(d, "properties", "products")["items"].(map[string]any)["properties"].(map[string]any)["sku"].(map[string]any)["minLength"] = 3
		at(d, "properties")["properties"].(map[string]any)["coupon"] = map[string]any{"type": "string"}
		at(d, "properties")["additionalProperties"] = false
	})
	if err := os.Remove(filepath.Join(dir, "events/order_refunded.schema.json")); err != nil {
		t.Fatal(err)
	}
	head := mustLoad(t, dir)
	data, err := os.ReadFile(filepath.Join(dir, orderFile))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	want := map[string]string{ // kind → the text at the located position
		KindTypeNarrowed:        `"type": "integer"`,
		KindEnumShrunk:          `"enum": [`,
		KindConstraintTightened: `"sku": {`,
		KindPropertyAdded:       `"coupon": {`,
		KindClosed:              `"additionalProperties": false`,
		KindVersionNotBumped:    "",
	}
	seen := map[string]bool{}
	for _, c := range Diff(base, head) {
		ptr := c.Pointer()
		pos, ok := head.Position(c.File, ptr)
		if c.Kind == KindEventRemoved {
			seen[c.Kind] = true
			if ptr != "" || ok {
				t.Errorf("removed event: pointer %q, located %v; want none", ptr, ok)
			}
			continue
		}
		text, listed := want[c.Kind]
		if !listed {
			t.Errorf("unexpected change %+v", c)
			continue
		}
		seen[c.Kind] = true
		if !ok || pos.Line < 1 || pos.Line > len(lines) {
			t.Errorf("%s %s: pointer %q not located (%v, %+v)", c.Kind, c.Field, ptr, ok, pos)
			continue
		}
		if got := lines[pos.Line-1][pos.Col-1:]; !strings.HasPrefix(got, text) {
			t.Errorf("%s %s: pointer %q at %d:%d is %q, want it to start with %q", c.Kind, c.Field, ptr, pos.Line, pos.Col, got, text)
		}
	}
	for _, k := range []string{KindEventRemoved, KindTypeNarrowed, KindEnumShrunk, KindConstraintTightened, KindPropertyAdded, KindClosed} {
		if !seen[k] {
			t.Errorf("Diff reported no %s change", k)
		}
	}
	if _, ok := head.Position("events/nope.schema.json", ""); ok {
		t.Error("Position found a file the plan does not have")
	}
}
