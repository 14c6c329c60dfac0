package warehouse

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestNames checks that the warehouse names through internal/snakecase
// (whose tests hold go-snakecase's vectors and the naming rules) with each
// driver's identifier limit.
func TestNames(t *testing.T) {
	long := strings.Repeat("Abc", 50)
	if got := tableName(long, duckDialect{}.maxIdent()); len(got) != 127 {
		t.Errorf("DuckDB table name is %d bytes, want 127", len(got))
	}
	if got := tableName(long, (&pgDialect{}).maxIdent()); len(got) != 63 {
		t.Errorf("PostgreSQL table name is %d bytes, want 63", len(got))
	}
	if got := columnName([]string{"product", "skuId"}, 63); got != "product_sku_id" {
		t.Errorf("columnName(product, skuId) = %q", got)
	}
	if got := schemaName("acme_", "Web App", 63); got != "acme_web_app" {
		t.Errorf("schema with prefix = %q", got)
	}
}

// TestInference checks the column type inference and coercion tables.
func TestInference(t *testing.T) {
	infer := []struct {
		in   any
		want colType
	}{
		{true, typeBool},
		{jsonNumber("3"), typeInt},
		{jsonNumber("3.0"), typeFloat},
		{jsonNumber("1e3"), typeFloat},
		{jsonNumber("99999999999999999999"), typeFloat},
		{"2024-01-02T03:04:05Z", typeTimestamp},
		{"2024-01-02T03:04:05.123+02:00", typeTimestamp},
		{"2024-01-02", typeString},
		{"abc", typeString},
		{[]any{"a", jsonNumber("1")}, typeString},
	}
	for _, c := range infer {
		v, ok := inferValue(c.in)
		if !ok || v.typ != c.want {
			t.Errorf("inferValue(%#v) = %v %v, want %v", c.in, v.typ, ok, c.want)
		}
	}
	lubs := []struct{ a, b, want colType }{
		{typeInt, typeFloat, typeFloat}, {typeInt, typeString, typeString}, {typeBool, typeInt, typeString},
		{typeTimestamp, typeString, typeString}, {typeNone, typeBool, typeBool}, {typeTimestamp, typeTimestamp, typeTimestamp},
	}
	for _, c := range lubs {
		if got := lub(c.a, c.b); got != c.want {
			t.Errorf("lub(%v, %v) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
	v := func(x any) value { r, _ := inferValue(x); return r }
	coerceCases := []struct {
		name string
		in   value
		to   colType
		want any
		ok   bool
	}{
		{"int to float", v(jsonNumber("3")), typeFloat, float64(3), true},
		{"integral float to int", v(jsonNumber("3.0")), typeInt, int64(3), true},
		{"fraction to int", v(jsonNumber("1.5")), typeInt, nil, false},
		{"string to int", v("abc"), typeInt, nil, false},
		{"bool to timestamp", v(true), typeTimestamp, nil, false},
		{"number to varchar", v(jsonNumber("1e3")), typeString, "1000", true},
		{"bool to varchar", v(false), typeString, "false", true},
		{"timestamp to varchar as received", v("2024-01-02T03:04:05+02:00"), typeString, "2024-01-02T03:04:05+02:00", true},
		{"string to bool", v("true"), typeBool, nil, false},
	}
	for _, c := range coerceCases {
		got, ok := coerce(c.in, c.to)
		if ok != c.ok || got != c.want {
			t.Errorf("%s: coerce = %#v %v, want %#v %v", c.name, got, ok, c.want, c.ok)
		}
	}
}

func jsonNumber(s string) any { return json.Number(s) }
