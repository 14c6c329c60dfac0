package warehouse

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestSnakeCase checks go-snakecase's vectors (spec §5.4), including those
// of its own test file, and the schema docs' examples.
func TestSnakeCase(t *testing.T) {
	cases := []struct{ in, want string }{
		{"sampleText", "sample_text"},
		{"sample text", "sample_text"},
		{"sample-text", "sample_text"},
		{"sample_text", "sample_text"},
		{"sample___text", "sample_text"},
		{"sample 2 Text", "sample_2_text"},
		{"   sample   2    Text   ", "sample_2_text"},
		{"   $#$sample   2    Text   ", "sample_2_text"},
		{"SAMPLE 2 TEXT", "sample_2_text"},
		{"___$$Base64Encode", "base64_encode"},
		{"FOO:BAR$BAZ", "foo_bar_baz"},
		{"FOO#BAR#BAZ", "foo_bar_baz"},
		{"something.com", "something_com"},
		{"$something%", "something"},
		{"•¶§ƒ˚foo˙∆˚¬", "foo"},
		{"CStringRef", "cstring_ref"},
		{"2FA Enabled", "2fa_enabled"},
		{"Enabled 2FA", "enabled_2fa"},
		{"inviteYourCustomersAddInvites", "invite_your_customers_add_invites"},
		{"f_pX9", "f_p_x9"},
		{"Register", "register"},
		{"accountType", "account_type"},
		{"Signed Up", "signed_up"},
		{"Order Completed", "order_completed"},
		{"¿¡!", ""},
		{"", ""},
	}
	for _, c := range cases {
		if got := snakeCase(c.in); got != c.want {
			t.Errorf("snakeCase(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestNamePostProcessing checks spec §5.4's rules after snake_case: empty
// names, leading digits, standard tables and reserved words, truncation.
func TestNamePostProcessing(t *testing.T) {
	long := strings.Repeat("Abc", 50)
	tables := []struct {
		name, event string
		max         int
		want        string
	}{
		{"empty event", "¿¡!", 63, "_empty_event"},
		{"leading digit", "2FA Enabled", 63, "_2fa_enabled"},
		{"standard table", "Users", 63, "_users"},
		{"discards table", "_discards", 63, "__discards"},
		{"identifies", "Identifies", 63, "_identifies"},
		{"reserved word", "Select", 63, "_select"},
		{"ordinary", "Order Completed", 63, "order_completed"},
		{"postgres limit", long, 63, strings.Repeat("abc_", 16)[:63]},
		{"duckdb limit", long, 127, strings.Repeat("abc_", 32)[:127]},
	}
	for _, c := range tables {
		if got := tableName(c.event, c.max); got != c.want {
			t.Errorf("%s: tableName(%q) = %q, want %q", c.name, c.event, got, c.want)
		}
	}
	cols := []struct {
		name string
		path []string
		want string
	}{
		{"nested", []string{"context", "app", "version"}, "context_app_version"},
		{"camel segments", []string{"product", "skuId"}, "product_sku_id"},
		{"leading digit", []string{"2FA Enabled"}, "_2fa_enabled"},
		{"empty", []string{"¿¡!"}, ""},
		{"empty segment skipped", []string{"a", "!!", "b"}, "a_b"},
	}
	for _, c := range cols {
		if got := columnName(c.path, 63); got != c.want {
			t.Errorf("%s: columnName(%q) = %q, want %q", c.name, c.path, got, c.want)
		}
	}
	if got := schemaName("", "prod-web", 63); got != "prod_web" {
		t.Errorf("schema of prod-web = %q", got)
	}
	if got := schemaName("acme_", "Web App", 63); got != "acme_web_app" {
		t.Errorf("schema with prefix = %q", got)
	}
}

// TestInference checks spec §5.5's inference and coercion tables.
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
