package snakecase

import (
	"math/rand/v2"
	"strings"
	"testing"

	gosnakecase "github.com/segmentio/go-snakecase"
)

// goSnakecaseVectors are every case of github.com/segmentio/go-snakecase
// v1.2.0's own snake_test.go (MIT), in its order.
var goSnakecaseVectors = []struct{ in, want string }{
	{"@49L0S145_¬fwHƒ0TSLNVp", "49l0s145_fw_h_0tslnvp"},
	{"lk0B@bFmjrLQ_Z6YL", "lk0_b_b_fmjr_lq_z6yl"},
	{"samPLE text", "sam_ple_text"},
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
	{"something.com", "something_com"},
	{"•¶§ƒ˚foo˙∆˚¬", "foo"},
	{"CStringRef", "cstring_ref"},
	{"5test", "5test"},
	{"test5", "test5"},
	{"THE5r", "the5r"},
	{"5TEst", "5test"},
	{"_5TEst", "5test"},
	{"@%#&5TEst", "5test"},
	{"edf_6N", "edf_6n"},
	{"f_pX9", "f_p_x9"},
	{"p_z9Rg", "p_z9_rg"},
	{"2FA Enabled", "2fa_enabled"},
	{"Enabled 2FA", "enabled_2fa"},
}

// TestSnakecase checks go-snakecase's own vectors, the ordinary names on
// which the earlier re-implementation differed from it, and the schema
// docs' examples.
func TestSnakecase(t *testing.T) {
	tests := append([]struct{ in, want string }(nil), goSnakecaseVectors...)
	tests = append(tests, []struct{ in, want string }{
		// Digits inside words stay with the word before them.
		{"top10Items", "top10_items"},
		{"h264Codec", "h264_codec"},
		{"step2Completed", "step2_completed"},
		{"last4Digits", "last4_digits"},
		{"ab2Cd", "ab2_cd"},
		{"2024 site", "2024_site"},
		{"v2", "v2"},
		// Underscores: inner single ones stay, leading, trailing and
		// doubled ones go.
		{"sample_", "sample"},
		{"_sample", "sample"},
		{"_Sample", "sample"},
		{"a__b", "a_b"},
		// Schema-doc examples.
		{"Register", "register"},
		{"accountType", "account_type"},
		{"Signed Up", "signed_up"},
		{"Order Completed", "order_completed"},
		{"order completed", "order_completed"},
		{"¿¡!", ""},
		{"", ""},
	}...)
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := Snakecase(tt.in); got != tt.want {
				t.Errorf("Snakecase(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// randomName returns a random name of up to 24 characters drawn from
// letters, digits, separators and non-ASCII characters, weighted towards
// the mixes (camelCase with digits, runs of capitals, leading digits and
// underscores) where snake_case implementations differ.
func randomName(r *rand.Rand) string {
	const (
		lower = "abcdexyz"
		upper = "ABCDEXYZ"
		digit = "0123456789"
		sep   = "_ -.$:#/"
	)
	other := []string{"é", "Ü", "ß", "€", "😀", "\t", "\x00", "\xff"}
	n := r.IntN(25)
	var b strings.Builder
	for range n {
		switch k := r.IntN(20); {
		case k < 7:
			b.WriteByte(lower[r.IntN(len(lower))])
		case k < 12:
			b.WriteByte(upper[r.IntN(len(upper))])
		case k < 15:
			b.WriteByte(digit[r.IntN(len(digit))])
		case k < 19:
			b.WriteByte(sep[r.IntN(len(sep))])
		default:
			b.WriteString(other[r.IntN(len(other))])
		}
	}
	return b.String()
}

// refPost applies the warehouse's post-processing to a go-snakecase
// result, as Segment documents it: "_" before a leading digit (and, for tables, before
// a standard table's name or a reserved word, with _empty_event for
// nothing), cut to max bytes.
func refPost(n string, table bool, max int) string {
	switch {
	case n == "" && table:
		n = "_empty_event"
	case n == "":
		return ""
	case n[0] >= '0' && n[0] <= '9':
		n = "_" + n
	case table && (IsStandardTable(n) || IsReservedWord(n)):
		n = "_" + n
	}
	if max > 0 && len(n) > max {
		n = n[:max]
	}
	return n
}

// TestAgreesWithGoSnakecase is the property test: for random names, the
// names made here are go-snakecase's Snakecase plus the post-processing,
// and a nested column is go-snakecase's name of the raw keys joined with
// "_" (so snake_casing each key and joining the non-empty ones is the same
// thing).
func TestAgreesWithGoSnakecase(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 4))
	for range 20000 {
		a, b := randomName(r), randomName(r)
		if got, want := Snakecase(a), gosnakecase.Snakecase(a); got != want {
			t.Fatalf("Snakecase(%q) = %q, go-snakecase says %q", a, got, want)
		}
		for _, max := range []int{MaxPostgres, MaxDuckDB, 0} {
			if got, want := EventTable(a, max), refPost(gosnakecase.Snakecase(a), true, max); got != want {
				t.Fatalf("EventTable(%q, %d) = %q, want %q", a, max, got, want)
			}
			if got, want := Column([]string{a}, max), refPost(gosnakecase.Snakecase(a), false, max); got != want {
				t.Fatalf("Column(%q, %d) = %q, want %q", a, max, got, want)
			}
			joined := gosnakecase.Snakecase(a + "_" + b)
			if got, want := Column([]string{a, b}, max), refPost(joined, false, max); got != want {
				t.Fatalf("Column(%q, %q, %d) = %q, want %q", a, b, max, got, want)
			}
		}
	}
}

// TestEventTable checks the post-processing of table names.
func TestEventTable(t *testing.T) {
	long := strings.Repeat("Abc", 50)
	tests := []struct {
		name, event string
		max         int
		want        string
	}{
		{"ordinary", "Order Completed", MaxPostgres, "order_completed"},
		{"digits inside a word", "top10Items", MaxPostgres, "top10_items"},
		{"empty event", "¿¡!", MaxPostgres, "_empty_event"},
		{"leading digit", "2FA Enabled", MaxPostgres, "_2fa_enabled"},
		{"leading digit after an underscore", "_5TEst", MaxPostgres, "_5test"},
		{"standard table", "Users", MaxPostgres, "_users"},
		{"identifies", "Identifies", MaxPostgres, "_identifies"},
		// go-snakecase drops a leading "_", so no event reaches _discards.
		{"discards table", "_discards", MaxPostgres, "discards"},
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
		{"digits inside a word", []string{"h264Codec"}, MaxPostgres, "h264_codec"},
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
		{"leading digit", "", "2024 site", "_2024_site"},
		{"reserved word", "", "Order", "_order"},
		{"pg_ prefix", "", "pg-web", "_pg_web"},
		{"pg_catalog", "", "pg_catalog", "_pg_catalog"},
		{"information_schema", "", "information_schema", "_information_schema"},
		{"prefix and name make pg_", "pg", "_web", "pgweb"},
		{"prefix and name make pg_ again", "pg_", "web", "_pg_web"},
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
