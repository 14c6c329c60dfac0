package schemas

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// copyPlan copies the plan in src to a temporary directory.
func copyPlan(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// editSchema decodes file in dir, applies edit and writes it back.
func editSchema(t *testing.T, dir, file string, edit func(doc map[string]any)) {
	t.Helper()
	path := filepath.Join(dir, file)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	edit(doc)
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

// at walks nested "properties" maps: at(doc, "properties", "revenue") is
// doc.properties.properties.properties.revenue (the event's property schema).
func at(doc map[string]any, names ...string) map[string]any {
	m := doc
	for _, n := range names {
		m = m["properties"].(map[string]any)[n].(map[string]any)
	}
	return m
}

func bump(doc map[string]any) { doc["x-segment-version"] = doc["x-segment-version"].(float64) + 1 }

const (
	orderFile    = "events/order_completed.schema.json"
	identifyFile = "identify.schema.json"
)

func TestDiff(t *testing.T) {
	base := mustLoad(t, "testdata/order")
	type wantChange struct {
		class      ChangeClass
		kind       string
		field      string
		downstream string // fragment; "" = must be empty
	}
	tests := []struct {
		name string
		edit func(t *testing.T, dir string)
		want []wantChange
	}{
		{"no change", func(*testing.T, string) {}, nil},
		{"event removed", func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, orderFile)); err != nil {
				t.Fatal(err)
			}
		}, []wantChange{{Breaking, KindEventRemoved, "", "warehouse table order_completed stops receiving rows"}}},
		{"new event", func(t *testing.T, dir string) {
			data := `{"$schema":"http://json-schema.org/draft-07/schema#","x-segment-type":"TRACK","x-segment-key":"2FA Enabled","x-segment-version":1}`
			if err := os.WriteFile(filepath.Join(dir, "events/2fa_enabled.schema.json"), []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
		}, []wantChange{{NonBreaking, KindEventAdded, "", "new warehouse table _2fa_enabled"}}},
		{"property made required", func(t *testing.T, dir string) {
			editSchema(t, dir, orderFile, func(d map[string]any) {
				bump(d)
				s := at(d, "properties")
				s["required"] = []any{"order_id", "revenue", "currency"}
			})
		}, []wantChange{{Breaking, KindMadeRequired, "properties.currency", "now violate the plan"}}},
		{"property made optional", func(t *testing.T, dir string) {
			editSchema(t, dir, orderFile, func(d map[string]any) {
				bump(d)
				at(d, "properties")["required"] = []any{"order_id"}
			})
		}, []wantChange{{NonBreaking, KindMadeOptional, "properties.revenue", ""}}},
		{"type narrowed changes the warehouse column", func(t *testing.T, dir string) {
			editSchema(t, dir, orderFile, func(d map[string]any) {
				bump(d)
				at(d, "properties", "revenue")["type"] = "integer"
			})
		}, []wantChange{{Breaking, KindTypeNarrowed, "properties.revenue", "warehouse column order_completed.revenue changes type from float to integer"}}},
		{"type widened changes the warehouse column", func(t *testing.T, dir string) {
			editSchema(t, dir, orderFile, func(d map[string]any) {
				bump(d)
				at(d, "properties", "revenue")["type"] = []any{"number", "string"}
			})
		}, []wantChange{{NonBreaking, KindTypeWidened, "properties.revenue", "warehouse column order_completed.revenue changes type from float to varchar"}}},
		{"type widened within one column type", func(t *testing.T, dir string) {
			editSchema(t, dir, orderFile, func(d map[string]any) {
				bump(d)
				at(d, "properties", "order_id")["type"] = []any{"string", "null"}
			})
		}, []wantChange{{NonBreaking, KindTypeWidened, "properties.order_id", ""}}},
		{"format added", func(t *testing.T, dir string) {
			editSchema(t, dir, orderFile, func(d map[string]any) {
				bump(d)
				at(d, "properties", "order_id")["format"] = "date-time"
			})
		}, []wantChange{{Breaking, KindFormatAdded, "properties.order_id", "from varchar to timestamp"}}},
		{"trait type change breaks Customer.io segments", func(t *testing.T, dir string) {
			editSchema(t, dir, identifyFile, func(d map[string]any) {
				bump(d)
				at(d, "traits", "logins")["type"] = "string"
			})
		}, []wantChange{{Breaking, KindTypeNarrowed, "traits.logins", "Customer.io segments that compare logins break"}}},
		{"trait type change names identifies and users columns", func(t *testing.T, dir string) {
			editSchema(t, dir, identifyFile, func(d map[string]any) {
				bump(d)
				at(d, "traits", "logins")["type"] = "number"
			})
		}, []wantChange{{NonBreaking, KindTypeWidened, "traits.logins", "identifies.logins and users.logins changes type from integer to float"}}},
		{"enum shrunk", func(t *testing.T, dir string) {
			editSchema(t, dir, identifyFile, func(d map[string]any) {
				bump(d)
				at(d, "traits", "plan")["enum"] = []any{"pro"}
			})
		}, []wantChange{{Breaking, KindEnumShrunk, "traits.plan", "outside the enum"}}},
		{"enum added", func(t *testing.T, dir string) {
			editSchema(t, dir, orderFile, func(d map[string]any) {
				bump(d)
				at(d, "properties", "order_id")["enum"] = []any{"o1"}
			})
		}, []wantChange{{Breaking, KindEnumShrunk, "properties.order_id", "outside the enum"}}},
		{"enum widened", func(t *testing.T, dir string) {
			editSchema(t, dir, identifyFile, func(d map[string]any) {
				bump(d)
				at(d, "traits", "plan")["enum"] = []any{"free", "pro", "team"}
			})
		}, []wantChange{{NonBreaking, KindEnumWidened, "traits.plan", ""}}},
		{"pattern added", func(t *testing.T, dir string) {
			editSchema(t, dir, orderFile, func(d map[string]any) {
				bump(d)
				at(d, "properties", "order_id")["pattern"] = "^o[0-9]+$"
			})
		}, []wantChange{{Breaking, KindPatternAdded, "properties.order_id", "not matching"}}},
		{"pattern changed", func(t *testing.T, dir string) {
			editSchema(t, dir, orderFile, func(d map[string]any) {
				bump(d)
				at(d, "properties", "currency")["pattern"] = "^[A-Z]{3,4}$"
			})
		}, []wantChange{{Breaking, KindPatternAdded, "properties.currency", "not matching"}}},
		{"pattern removed", func(t *testing.T, dir string) {
			editSchema(t, dir, orderFile, func(d map[string]any) {
				bump(d)
				delete(at(d, "properties", "currency"), "pattern")
			})
		}, []wantChange{{NonBreaking, KindPatternRemoved, "properties.currency", ""}}},
		{"new optional property", func(t *testing.T, dir string) {
			editSchema(t, dir, orderFile, func(d map[string]any) {
				bump(d)
				at(d, "properties")["properties"].(map[string]any)["couponCode"] = map[string]any{"type": "string"}
			})
		}, []wantChange{{NonBreaking, KindPropertyAdded, "properties.couponCode", "new warehouse column order_completed.coupon_code"}}},
		{"new required property", func(t *testing.T, dir string) {
			editSchema(t, dir, orderFile, func(d map[string]any) {
				bump(d)
				s := at(d, "properties")
				s["properties"].(map[string]any)["tax"] = map[string]any{"type": "number"}
				s["required"] = []any{"order_id", "revenue", "tax"}
			})
		}, []wantChange{{Breaking, KindRequiredAdded, "properties.tax", "now violate the plan"}}},
		{"property removed", func(t *testing.T, dir string) {
			editSchema(t, dir, orderFile, func(d map[string]any) {
				bump(d)
				delete(at(d, "properties")["properties"].(map[string]any), "currency")
			})
		}, []wantChange{{Breaking, KindPropertyRemoved, "properties.currency", "becomes unplanned"}}},
		{"nested item property made required", func(t *testing.T, dir string) {
			editSchema(t, dir, orderFile, func(d map[string]any) {
				bump(d)
				items := at(d, "properties", "products")["items"].(map[string]any)
				items["properties"].(map[string]any)["qty"] = map[string]any{"type": "integer"}
				items["required"] = []any{"sku", "qty"}
			})
		}, []wantChange{{Breaking, KindRequiredAdded, "properties.products[].qty", "now violate the plan"}}},
		{"bound tightened and loosened", func(t *testing.T, dir string) {
			editSchema(t, dir, identifyFile, func(d map[string]any) {
				bump(d)
				at(d, "traits", "logins")["minimum"] = 1
				at(d, "traits", "email")["maxLength"] = 200
			})
		}, []wantChange{
			{Breaking, KindConstraintTightened, "traits.email", "outside the new bound"},
			{Breaking, KindConstraintTightened, "traits.logins", "outside the new bound"},
		}},
		{"additional properties closed", func(t *testing.T, dir string) {
			editSchema(t, dir, orderFile, func(d map[string]any) {
				bump(d)
				at(d, "properties")["additionalProperties"] = false
			})
		}, []wantChange{{Breaking, KindClosed, "properties", "undeclared keys"}}},
		{"description change", func(t *testing.T, dir string) {
			editSchema(t, dir, orderFile, func(d map[string]any) {
				bump(d)
				d["description"] = "Checkout finished"
				at(d, "properties", "revenue")["description"] = "Total in major units"
			})
		}, []wantChange{
			{NonBreaking, KindDescriptionChanged, "", ""},
			{NonBreaking, KindDescriptionChanged, "properties.revenue", ""},
		}},
		{"changed rule without version bump", func(t *testing.T, dir string) {
			editSchema(t, dir, orderFile, func(d map[string]any) {
				d["description"] = "Checkout finished"
			})
		}, []wantChange{
			{NonBreaking, KindDescriptionChanged, "", ""},
			{ClassError, KindVersionNotBumped, "", ""},
		}},
		{"identify rule removed", func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, identifyFile)); err != nil {
				t.Fatal(err)
			}
		}, []wantChange{{NonBreaking, KindRuleRemoved, "", ""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyPlan(t, "testdata/order")
			tt.edit(t, dir)
			head := mustLoad(t, dir)
			got := Diff(base, head)
			if len(got) != len(tt.want) {
				t.Fatalf("%d changes, want %d: %+v", len(got), len(tt.want), got)
			}
			for i, w := range tt.want {
				g := got[i]
				okDown := (w.downstream == "" && g.Downstream == "") || (w.downstream != "" && strings.Contains(g.Downstream, w.downstream))
				if g.Class != w.class || g.Kind != w.kind || g.Field != w.field || !okDown || g.Message == "" || g.File == "" {
					t.Errorf("change %d = %+v\nwant %+v", i, g, w)
				}
			}
			wantBreaking := false
			for _, w := range tt.want {
				wantBreaking = wantBreaking || w.class != NonBreaking
			}
			if HasBreaking(got) != wantBreaking {
				t.Errorf("HasBreaking = %v, want %v", !wantBreaking, wantBreaking)
			}
		})
	}
}
