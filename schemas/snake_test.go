package schemas

import "testing"

func TestSnakeCase(t *testing.T) {
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
			if got := SnakeCase(tt.in); got != tt.want {
				t.Errorf("SnakeCase(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestEventTableAndColumnName(t *testing.T) {
	tests := []struct{ name, in, table, column string }{
		{"plain", "Order Completed", "order_completed", "order_completed"},
		{"digit first", "2FA Enabled", "_2fa_enabled", "_2fa_enabled"},
		{"standard table", "Users", "_users", "users"},
		{"empty", "¿¡!", "_empty_event", ""},
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
