package schemas

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFastAgreesWithValidator checks the pre-check against jsonschema on
// many variants of real messages: whenever the pre-check says "valid", the
// full validator must agree (the pre-check may only be more cautious).
func TestFastAgreesWithValidator(t *testing.T) {
	var rules []*Rule
	for _, dir := range []string{".", "testdata/order"} {
		for _, r := range mustLoad(t, dir).Rules() {
			if r.fast == nil {
				t.Errorf("%s/%s is outside the pre-check subset", dir, r.File)
				continue
			}
			rules = append(rules, r)
		}
	}
	var msgs []map[string]any
	files, _ := filepath.Glob("fixtures/*/*/*.json")
	more, _ := filepath.Glob("fixtures/*/*/*/*.json")
	more2, _ := filepath.Glob("testdata/order/fixtures/*/*/*/*.json")
	for _, f := range append(append(files, more...), more2...) {
		if strings.HasSuffix(f, ".expect.json") {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, useNumber := range []bool{false, true} {
			dec := json.NewDecoder(strings.NewReader(string(data)))
			if useNumber {
				dec.UseNumber()
			}
			var m map[string]any
			if err := dec.Decode(&m); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			msgs = append(msgs, m)
		}
	}
	variants := []any{nil, true, false, "", "x", "EUR", "eur", "https://a.example/x", "not a uri", "2024-01-02T03:04:05Z",
		0.0, 1.0, -1.0, 1.5, 99999999999.0, 100000000000.0, json.Number("3"), json.Number("3.0"), json.Number("1e2"),
		[]any{}, []any{map[string]any{"sku": "a"}}, []any{map[string]any{}}, map[string]any{}, "SINGLE_SIDED", "TRIPLE"}
	checked, accepted := 0, 0
	check := func(m map[string]any) {
		for _, r := range rules {
			checked++
			if !r.fast.valid(m) {
				continue
			}
			accepted++
			if err := r.schema.Validate(m); err != nil {
				b, _ := json.Marshal(m)
				t.Fatalf("pre-check accepts %s for %s, validator says %v", b, r.File, err)
			}
		}
	}
	for _, m := range msgs {
		check(m)
		for _, sec := range []string{"properties", "traits", "context"} {
			inner, ok := m[sec].(map[string]any)
			if !ok {
				continue
			}
			for k, orig := range inner {
				for _, v := range variants {
					inner[k] = v
					check(m)
				}
				delete(inner, k)
				check(m)
				inner[k] = orig
			}
		}
		for k, orig := range m {
			for _, v := range variants {
				m[k] = v
				check(m)
			}
			m[k] = orig
		}
	}
	if accepted == 0 || accepted == checked {
		t.Fatalf("pre-check accepted %d of %d: the test exercises nothing", accepted, checked)
	}
}
