package schemas

import (
	"strings"
	"testing"
)

// The go-snakecase vectors and spec §5.4's rules are tested in
// internal/snakecase, the one implementation; these tests check that the
// plan's names are the warehouse destination's.

func TestSnakeCase(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Order Completed", "order_completed"},
		{"accountType", "account_type"},
		{"CStringRef", "cstring_ref"},
		{"2FA Enabled", "2fa_enabled"},
		{"¿¡!", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := SnakeCase(tt.in); got != tt.want {
				t.Errorf("SnakeCase(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestEventTableAndColumnName(t *testing.T) {
	long := strings.Repeat("Abc", 30)
	tests := []struct{ name, in, table, column string }{
		{"plain", "Order Completed", "order_completed", "order_completed"},
		{"digit first", "2FA Enabled", "_2fa_enabled", "_2fa_enabled"},
		{"standard table", "Users", "_users", "users"},
		{"reserved word", "Select", "_select", "select"},
		{"empty", "¿¡!", "_empty_event", ""},
		{"cut to PostgreSQL's limit", long, strings.Repeat("abc_", 16)[:63], strings.Repeat("abc_", 16)[:63]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := EventTable(tt.in); got != tt.table {
				t.Errorf("EventTable(%q) = %q, want %q", tt.in, got, tt.table)
			}
			if got := ColumnName(tt.in); got != tt.column {
				t.Errorf("ColumnName(%q) = %q, want %q", tt.in, got, tt.column)
			}
		})
	}
}

// TestFlattenNamesLikeTheWarehouse checks the linter's columns of nested
// properties against the warehouse's rules: a key with nothing left after
// snake_case adds no segment (its children still get columns), and only a
// leading digit of the whole name gets a "_".
func TestFlattenNamesLikeTheWarehouse(t *testing.T) {
	obj := func(props map[string]any) map[string]any {
		return map[string]any{"type": "object", "properties": props}
	}
	s := obj(map[string]any{
		"!!":      obj(map[string]any{"city": map[string]any{"type": "string"}}),
		"address": obj(map[string]any{"2nd line": map[string]any{"type": "string"}}),
		"2FA":     map[string]any{"type": "boolean"},
	})
	var cols []column
	flatten(s, nil, "properties", "/properties/properties", 1, &cols)
	got := map[string]string{}
	for _, c := range cols {
		got[c.path] = c.name
	}
	want := map[string]string{
		"properties.!!.city":          "city",
		"properties.address.2nd line": "address_2nd_line",
		"properties.2FA":              "_2fa",
	}
	for path, name := range want {
		if got[path] != name {
			t.Errorf("column of %s = %q, want %q (all: %v)", path, got[path], name, got)
		}
	}
}
