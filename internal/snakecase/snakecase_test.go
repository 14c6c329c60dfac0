package snakecase

import (
	"strings"
	"testing"
)

// TestSnakecase checks go-snakecase's vectors (its snake_test.go and spec
// §5.4) and the schema docs' examples.
func TestSnakecase(t *testing.T) {
	tests := []struct{ in, want string }{
		// segmentio/go-snakecase snake_test.go and spec §5.4.
		{"sample text", "sample_text"},
		{"sample-text", "sample_text"},
		{"sample_text", "sample_text"},
		{"sample___text", "sample_text"},
		{"sampleText", "sample_text"},
		{"inviteYourCustomersAddInvites", "invite_your_customers_add_invites"},
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
		{"f_pX9", "f_p_x9"},
		// The fast path's edges, as go-snakecase has them: a trailing or
		// doubled underscore goes, a leading one before a lower-case letter
		// stays; a digit before the first character that needs work moves
		// to the next word, even when that character is a space.
		{"sample_", "sample"},
		{"_sample", "_sample"},
		{"_Sample", "sample"},
		{"2024 site", "202_4_site"},
		{"a__b", "a_b"},
		{"ab2Cd", "ab_2cd"},
		{"v2", "v2"},
		// Schema-doc examples.
		{"Register", "register"},
		{"accountType", "account_type"},
		{"Signed Up", "signed_up"},
		{"Order Completed", "order_completed"},
		{"order completed", "order_completed"},
		{"¿¡!", ""},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := Snakecase(tt.in); got != tt.want {
				t.Errorf("Snakecase(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// TestEventTable checks spec §5.4's post-processing of table names.
func TestEventTable(t *testing.T) {
	long := strings.Repeat("Abc", 50)
	tests := []struct {
		name, event string
		max         int
		want        string
	}{
		{"ordinary", "Order Completed", MaxPostgres, "order_completed"},
		{"empty event", "¿¡!", MaxPostgres, "_empty_event"},
		{"leading digit", "2FA Enabled", MaxPostgres, "_2fa_enabled"},
		{"standard table", "Users", MaxPostgres, "_users"},
		{"identifies", "Identifies", MaxPostgres, "_identifies"},
		{"discards table", "_discards", MaxPostgres, "__discards"},
		{"reserved word", "Select", MaxPostgres, "_select"},
		{"postgres limit", long, MaxPostgres, strings.Repeat("abc_", 16)[:63]},
		{"duckdb limit", long, MaxDuckDB, strings.Repeat("abc_", 32)[:127]},
		{"no limit", long, 0, strings.Repeat("abc_", 50)[:199]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := EventTable(tt.event, tt.max); got != tt.want {
				t.Errorf("EventTable(%q, %d) = %q, want %q", tt.event, tt.max, got, tt.want)
			}
		})
	}
}

// TestColumn checks column names of flattened paths.
func TestColumn(t *testing.T) {
	tests := []struct {
		name string
		path []string
		max  int
		want string
	}{
		{"plain", []string{"Order Completed"}, MaxPostgres, "order_completed"},
		{"nested", []string{"context", "app", "version"}, MaxPostgres, "context_app_version"},
		{"camel segments", []string{"product", "skuId"}, MaxPostgres, "product_sku_id"},
		{"leading digit", []string{"2FA Enabled"}, MaxPostgres, "_2fa_enabled"},
		{"digit in a nested key", []string{"address", "2nd line"}, MaxPostgres, "address_2nd_line"},
		{"empty first segment", []string{"!!", "2nd"}, MaxPostgres, "_2nd"},
		{"standard table is fine", []string{"Users"}, MaxPostgres, "users"},
		{"reserved word is fine", []string{"select"}, MaxPostgres, "select"},
		{"empty", []string{"¿¡!"}, MaxPostgres, ""},
		{"empty segment skipped", []string{"a", "!!", "b"}, MaxPostgres, "a_b"},
		{"limit", []string{strings.Repeat("a", 70)}, MaxPostgres, strings.Repeat("a", 63)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Column(tt.path, tt.max); got != tt.want {
				t.Errorf("Column(%q, %d) = %q, want %q", tt.path, tt.max, got, tt.want)
			}
		})
	}
}

// TestSchema checks schema names of sources.
func TestSchema(t *testing.T) {
	tests := []struct{ name, prefix, source, want string }{
		{"plain", "", "prod-web", "prod_web"},
		{"prefix", "acme_", "Web App", "acme_web_app"},
		{"empty", "", "!!", "_empty_source"},
		{"leading digit", "", "2024 site", "_202_4_site"},
		{"reserved word", "", "Order", "_order"},
		{"pg_ prefix", "", "pg-web", "_pg_web"},
		{"pg_catalog", "", "pg_catalog", "_pg_catalog"},
		{"information_schema", "", "information_schema", "_information_schema"},
		{"prefix and name make pg_", "pg", "_web", "_pg_web"},
		{"prefix before pg_", "acme_", "pg-web", "acme_pg_web"},
		{"main is allowed", "", "main", "main"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Schema(tt.prefix, tt.source, MaxPostgres); got != tt.want {
				t.Errorf("Schema(%q, %q) = %q, want %q", tt.prefix, tt.source, got, tt.want)
			}
		})
	}
}

func TestPredicates(t *testing.T) {
	if !IsStandardTable("tracks") || IsStandardTable("order_completed") {
		t.Error("IsStandardTable is wrong about tracks or order_completed")
	}
	if !IsReservedWord("select") || IsReservedWord("order_completed") {
		t.Error("IsReservedWord is wrong about select or order_completed")
	}
}
