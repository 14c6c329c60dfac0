package schemas

import (
	"strings"
	"testing"
)

// want describes one expected finding: its file, pointer and a message fragment.
type want struct {
	file, pointer, fragment string
}

func matchFindings(t *testing.T, got []Finding, wants []want) {
	t.Helper()
	if len(got) != len(wants) {
		t.Fatalf("%d findings, want %d:\n%s", len(got), len(wants), findingList(got))
	}
	for i, w := range wants {
		g := got[i]
		if g.File != w.file || g.Pointer != w.pointer || !strings.Contains(g.Message, w.fragment) || g.Line == 0 || g.Severity != SeverityError {
			t.Errorf("finding %d = %s (line %d, %s), want %s %s …%s…", i, g, g.Line, g.Severity, w.file, w.pointer, w.fragment)
		}
	}
}

func findingList(fs []Finding) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString(f.String() + "\n")
	}
	return b.String()
}

func TestLint(t *testing.T) {
	tests := []struct {
		name string
		dir  string
		want []want
	}{
		{"default plan is clean", ".", nil},
		{"P1–P5 plan is clean", "testdata/order", nil},
		{"P6 duplicate key and file name", "testdata/p6", []want{
			{"events/order_completed_v2.schema.json", "/x-segment-key", `duplicate x-segment-key "Order Completed" for TRACK (also in events/order_completed.schema.json)`},
			{"events/order_completed_v2.schema.json", "/x-segment-key", `does not match snake_case("Order Completed") = order_completed.schema.json`},
		}},
		{"meta-schema, x-segment keywords, plan.yaml", "testdata/broken", []want{
			{"events/kind.schema.json", "/x-segment-type", "unknown x-segment-type EVENT"},
			{"events/kind.schema.json", "/x-segment-version", "positive integer"},
			{"events/meta.schema.json", "/properties/properties/properties/revenue/type", "not a valid draft-07 schema"},
			{"events/syntax.schema.json", "", "parsing JSON"},
			{"identify.schema.json", "", "x-segment-version is missing"},
			{"identify.schema.json", "/$schema", "draft-07"},
			{"identify.schema.json", "/x-segment-key", "has no key"},
			{"plan.yaml", "/id", "id is required"},
			{"plan.yaml", "/enforcement/track/unplanned_events", `"omit" is not one of allow, block`},
		}},
		{"column collisions and reserved columns", "testdata/columns", []want{
			{"events/signed_up.schema.json", "/properties/properties/properties/first_name", `properties.firstName, properties.first_name all become column "first_name"`},
			{"events/signed_up.schema.json", "/properties/properties/properties/user_id", `column "user_id", a reserved warehouse column`},
			{"events/signed_up.schema.json", "/properties/properties/properties/address_street", `properties.address.street, properties.address_street all become column "address_street"`},
			{"events/signed_up.schema.json", "/properties/properties/properties/¿¡!", "no column name"},
			{"identify.schema.json", "/properties/traits/properties/context/properties/ip", `column "context_ip", a reserved`},
			{"identify.schema.json", "/properties/traits/properties/receivedAt", `column "received_at", a reserved`},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			matchFindings(t, Lint(tt.dir), tt.want)
		})
	}
	t.Run("missing directory", func(t *testing.T) {
		fs := Lint("testdata/does-not-exist")
		if len(fs) != 1 || fs[0].Severity != SeverityError {
			t.Fatalf("got %v", fs)
		}
	})
}

func TestFixturesRun(t *testing.T) {
	tests := []struct {
		name string
		dir  string
		want []want
	}{
		{"default plan", ".", nil},
		{"order plan", "testdata/order", nil},
		{"failing fixtures", "testdata/badfixtures", []want{
			{"fixtures/identify/valid/not_identify.json", "", `fixture under fixtures/identify/ has type "track"`},
			{"fixtures/track/loose/x.json", "", "fixture must live in"},
			{"fixtures/track/order_completed/invalid/actually_valid.json", "", "invalid fixture produced no violation"},
			{"fixtures/track/order_completed/invalid/wrong_expectation.json", "", "expected a violation Pattern on properties.currency, got Required on properties.revenue"},
			{"fixtures/track/order_completed/valid/string_revenue.json", "/properties/revenue", "valid fixture has a Type violation"},
			{"fixtures/track/order_completed/valid/truncated.json", "", "parsing fixture"},
			{"fixtures/track/order_refunded/valid/wrong_dir.json", "", `does not belong in fixtures/track/order_refunded/`},
		}},
		{"plan that does not load", "testdata/p6", []want{
			{"events/order_completed_v2.schema.json", "/x-segment-key", "duplicate x-segment-key"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			matchFindings(t, TestFixtures(tt.dir), tt.want)
		})
	}
}
