package schemas

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	gosnakecase "github.com/segmentio/go-snakecase"
)

// The go-snakecase vectors and the warehouse's naming rules are tested in
// internal/snakecase, the one implementation; these tests check that the
// plan's names are the warehouse destination's.

func TestSnakeCase(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Order Completed", "order_completed"},
		{"accountType", "account_type"},
		{"CStringRef", "cstring_ref"},
		{"2FA Enabled", "2fa_enabled"},
		{"top10Items", "top10_items"},
		{"step2Completed", "step2_completed"},
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

// randomName returns a random name of up to 20 characters (valid UTF-8,
// so that it survives being a JSON key) weighted towards the mixes of
// case, digits and separators where snake_case implementations differ.
func randomName(r *rand.Rand) string {
	const (
		lower = "abcdexyz"
		upper = "ABCDEXYZ"
		digit = "0123456789"
		sep   = "_ -.$:#"
	)
	other := []string{"é", "Ü", "ß", "€", "😀", "\t"}
	var b strings.Builder
	for range r.IntN(21) {
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

// refColumn is the warehouse's column post-processing of a go-snakecase
// result: "_" before a leading digit, cut to WarehouseIdentLimit bytes.
func refColumn(n string) string {
	if n != "" && n[0] >= '0' && n[0] <= '9' {
		n = "_" + n
	}
	if len(n) > WarehouseIdentLimit {
		n = n[:WarehouseIdentLimit]
	}
	return n
}

// TestNamesAgreeWithGoSnakecase is the property test of the linter's
// names on random names: SnakeCase is go-snakecase's Snakecase, and
// ColumnName and the column of a nested path are its result (of the raw
// keys joined with "_") with the post-processing on top.
func TestNamesAgreeWithGoSnakecase(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 3))
	for range 20000 {
		a, b := randomName(r), randomName(r)
		if got, want := SnakeCase(a), gosnakecase.Snakecase(a); got != want {
			t.Fatalf("SnakeCase(%q) = %q, go-snakecase says %q", a, got, want)
		}
		if got, want := ColumnName(a), refColumn(gosnakecase.Snakecase(a)); got != want {
			t.Fatalf("ColumnName(%q) = %q, want %q", a, got, want)
		}
		if got, want := columnOfPath([]string{a, b}), refColumn(gosnakecase.Snakecase(a+"_"+b)); got != want {
			t.Fatalf("column of %q.%q = %q, want %q", a, b, got, want)
		}
	}
}

// TestLintAgreesWithGoSnakecase runs `plan lint` (Lint) on a plan of
// random event names and property names. Each event's file is named
// go-snakecase(key), so Lint must accept every file name; a few files are
// misnamed on purpose and must be reported with go-snakecase's name. Each
// event declares a random property (top-level or nested) and a second one
// spelt as the column go-snakecase predicts for it, so Lint must report
// that the two share exactly that column.
func TestLintAgreesWithGoSnakecase(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 5))
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "events"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "plan.yaml"), []byte("id: random-names\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	reserved := reservedFor(RuleTrack, "properties")
	str := map[string]any{"type": "string"}
	type event struct {
		key, file, column string
		misnamed          bool
	}
	var events []event
	files := map[string]bool{}
	for len(events) < 150 {
		key := randomName(r)
		name := gosnakecase.Snakecase(key)
		if name == "" || files[name] {
			continue
		}
		// A property at a random path of one or two keys, and its twin:
		// the column name go-snakecase predicts, as a key of its own.
		path := []string{randomName(r)}
		if r.IntN(2) == 0 {
			path = append(path, randomName(r))
		}
		col := refColumn(gosnakecase.Snakecase(strings.Join(path, "_")))
		if col == "" || col == path[0] || reserved[col] || strings.HasPrefix(col, "context_") ||
			refColumn(gosnakecase.Snakecase(col)) != col {
			continue
		}
		var prop map[string]any = str
		for i := len(path) - 1; i > 0; i-- {
			prop = map[string]any{"type": "object", "properties": map[string]any{path[i]: prop}}
		}
		props := map[string]any{path[0]: prop, col: str}
		if len(path) == 2 && path[0] == col {
			continue
		}
		ev := event{key: key, file: name, column: col, misnamed: len(events)%15 == 0}
		if ev.misnamed {
			ev.file = name + "_x"
		}
		files[name], files[ev.file] = true, true
		doc, err := json.MarshalIndent(map[string]any{
			"$schema":           "http://json-schema.org/draft-07/schema#",
			"x-segment-type":    "TRACK",
			"x-segment-key":     key,
			"x-segment-version": 1,
			"properties": map[string]any{
				"properties": map[string]any{"type": "object", "properties": props},
			},
		}, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "events", ev.file+".schema.json"), doc, 0o644); err != nil {
			t.Fatal(err)
		}
		events = append(events, ev)
	}

	byFile := map[string][]Finding{}
	for _, f := range Lint(dir) {
		byFile[f.File] = append(byFile[f.File], f)
	}
	for _, ev := range events {
		fs := byFile["events/"+ev.file+".schema.json"]
		delete(byFile, "events/"+ev.file+".schema.json")
		want := []string{fmt.Sprintf("all become column %q", ev.column)}
		if ev.misnamed {
			want = append([]string{fmt.Sprintf("does not match snake_case(%q) = %s.schema.json", ev.key, gosnakecase.Snakecase(ev.key))}, want...)
		}
		if len(fs) != len(want) {
			t.Errorf("event %q (file %s): %d findings, want %d:\n%s", ev.key, ev.file, len(fs), len(want), findingList(fs))
			continue
		}
		for _, w := range want {
			found := false
			for _, f := range fs {
				found = found || strings.Contains(f.Message, w)
			}
			if !found {
				t.Errorf("event %q (file %s): no finding with %s:\n%s", ev.key, ev.file, w, findingList(fs))
			}
		}
	}
	for file, fs := range byFile {
		t.Errorf("unexpected findings for %s:\n%s", file, findingList(fs))
	}
}
