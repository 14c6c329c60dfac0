package query

import (
	"flag"
	"slices"
	"testing"

	"github.com/eventrouter/eventrouter/destinations/warehouse"
)

// TestSplitArgs checks where the flags of `eventrouter sql` end and the
// query begins.
func TestSplitArgs(t *testing.T) {
	cases := []struct {
		name   string
		args   []string
		format string
		query  []string
	}{
		{"flags first", []string{"--format", "csv", "SELECT 1"}, "csv", []string{"SELECT 1"}},
		{"flags after", []string{"SELECT 1", "--format=json"}, "json", []string{"SELECT 1"}},
		{"comment with a space", []string{"-- c\nSELECT 1", "--format", "csv"}, "csv", []string{"-- c\nSELECT 1"}},
		{"comment with a newline", []string{"--\nSELECT 1"}, "table", []string{"--\nSELECT 1"}},
		{"double dash ends the flags", []string{"--format", "csv", "--", "--format"}, "csv", []string{"--format"}},
		{"a value that looks like a query", []string{"--destination", "wh", "SELECT 1"}, "table", []string{"SELECT 1"}},
		{"a boolean flag takes no value", []string{"--verbose", "SELECT 1"}, "table", []string{"SELECT 1"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fs := flag.NewFlagSet("sql", flag.ContinueOnError)
			format := fs.String("format", "table", "")
			fs.String("destination", "", "")
			fs.Bool("verbose", false, "")
			got, err := SplitArgs(fs, c.args)
			if err != nil {
				t.Fatal(err)
			}
			if *format != c.format || !slices.Equal(got, c.query) {
				t.Errorf("format %q, queries %q; want %q, %q", *format, got, c.format, c.query)
			}
		})
	}
	fs := flag.NewFlagSet("sql", flag.ContinueOnError)
	fs.SetOutput(nopWriter{})
	if _, err := SplitArgs(fs, []string{"--nope", "SELECT 1"}); err == nil {
		t.Error("an unknown flag was accepted")
	}
}

type nopWriter struct{}

func (nopWriter) Write(p []byte) (int, error) { return len(p), nil }

func TestChoose(t *testing.T) {
	a, b := &warehouse.Config{}, &warehouse.Config{}
	tests := []struct {
		name       string
		warehouses map[string]*warehouse.Config
		pick       string
		want       *warehouse.Config
		wantErr    string
	}{
		{"the only one", map[string]*warehouse.Config{"wh": a}, "", a, ""},
		{"by name", map[string]*warehouse.Config{"wh": a, "pg": b}, "pg", b, ""},
		{"none", nil, "", nil, "the config has no destination of type warehouse"},
		{"several, no name", map[string]*warehouse.Config{"wh": a, "pg": b}, "", nil, "the config has several warehouses (pg, wh): pick one with --destination"},
		{"unknown name", map[string]*warehouse.Config{"wh": a, "pg": b}, "hook", nil, `no warehouse destination "hook" in the config (warehouses: pg, wh)`},
		{"a name and no warehouse", nil, "hook", nil, `no warehouse destination "hook" in the config (warehouses: none)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Choose(tt.warehouses, tt.pick)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("Choose = %v, want the error %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Choose = %p, %v; want %p", got, err, tt.want)
			}
		})
	}
}
