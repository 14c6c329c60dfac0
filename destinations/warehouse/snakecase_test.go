package warehouse

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/eventrouter/eventrouter/internal/snakecase"
	"github.com/eventrouter/eventrouter/router"
	gosnakecase "github.com/segmentio/go-snakecase"
)

// randomName returns a random name of up to 20 characters (valid UTF-8,
// so that it survives being a JSON key) weighted towards the mixes of
// case, digits and separators where snake_case implementations differ.
func randomName(r *rand.Rand) string {
	const (
		lower = "abcdexyz"
		upper = "ABCDEXYZ"
		digit = "0123456789"
		sep   = "_ -.$:#\"'"
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

// The warehouse's naming post-processing, applied to a go-snakecase result.
func refTable(n string, max int) string {
	switch {
	case n == "":
		n = tableEmptyEvent
	case n[0] >= '0' && n[0] <= '9', snakecase.IsStandardTable(n), snakecase.IsReservedWord(n):
		n = "_" + n
	}
	return refCut(n, max)
}

func refColumn(n string, max int) string {
	if n != "" && n[0] >= '0' && n[0] <= '9' {
		n = "_" + n
	}
	return refCut(n, max)
}

func refSchema(n string, max int) string {
	if n == "" {
		n = "_empty_source"
	}
	if n[0] >= '0' && n[0] <= '9' || snakecase.IsReservedWord(n) || snakecase.IsSystemSchema(n) {
		n = "_" + n
	}
	return refCut(n, max)
}

func refCut(n string, max int) string {
	if len(n) > max {
		return n[:max]
	}
	return n
}

// TestNamesAgreeWithGoSnakecase is the property test of the warehouse's
// names on random names, with each driver's identifier limit: a table,
// column or schema is go-snakecase's Snakecase of the raw name (of a
// nested value's raw keys joined with "_") with the post-processing on
// top.
func TestNamesAgreeWithGoSnakecase(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 1))
	for range 20000 {
		a, b := randomName(r), randomName(r)
		for _, max := range []int{duckDialect{}.maxIdent(), (&pgDialect{}).maxIdent()} {
			if got, want := tableName(a, max), refTable(gosnakecase.Snakecase(a), max); got != want {
				t.Fatalf("tableName(%q, %d) = %q, want %q", a, max, got, want)
			}
			if got, want := columnName([]string{a}, max), refColumn(gosnakecase.Snakecase(a), max); got != want {
				t.Fatalf("columnName(%q, %d) = %q, want %q", a, max, got, want)
			}
			if got, want := columnName([]string{a, b}, max), refColumn(gosnakecase.Snakecase(a+"_"+b), max); got != want {
				t.Fatalf("columnName(%q, %q, %d) = %q, want %q", a, b, max, got, want)
			}
			if got, want := schemaName("", a, max), refSchema(gosnakecase.Snakecase(a), max); got != want {
				t.Fatalf("schemaName(%q, %d) = %q, want %q", a, max, got, want)
			}
		}
	}
}

// TestLoadedNamesAgreeWithGoSnakecase loads track events with random
// event names and random (top-level and nested) property names, and
// identifies with random trait names, from sources with random names into
// DuckDB (PostgreSQL in the static build, which has no DuckDB), and reads
// the names back from information_schema: every schema, event table and
// property column is go-snakecase's name with the post-processing, and
// there is no other.
func TestLoadedNamesAgreeWithGoSnakecase(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 2))
	w := newWarehouse(t, drivers[0])
	max := w.d.maxIdent()
	reservedTrack, reservedIdentify := reservedFor(tableTracks), reservedFor(tableIdentifies)

	sources := []string{"prod-web"}
	for len(sources) < 4 {
		sources = append(sources, randomName(r))
	}
	wantSchemas := map[string]bool{}
	// wantColumns maps schema.table to its property columns.
	wantColumns := map[string]map[string]bool{}
	addColumn := func(schema, table, col string, reserved func(string) bool) {
		key := schema + "." + table
		if wantColumns[key] == nil {
			wantColumns[key] = map[string]bool{}
		}
		if col != "" && !reserved(col) {
			wantColumns[key][col] = true
		}
	}
	var batch []router.Message
	for i := range 120 {
		src := sources[i%len(sources)]
		schema := refSchema(gosnakecase.Snakecase(src), max)
		wantSchemas[schema] = true
		props := map[string]any{}
		var cols []string
		for range 1 + r.IntN(3) {
			a := randomName(r)
			if r.IntN(3) == 0 {
				b := randomName(r)
				props[a] = map[string]any{b: "v"}
				cols = append(cols, refColumn(gosnakecase.Snakecase(a+"_"+b), max))
			} else {
				props[a] = "v"
				cols = append(cols, refColumn(gosnakecase.Snakecase(a), max))
			}
		}
		typ, event, field := "track", randomName(r), "properties"
		table := refTable(gosnakecase.Snakecase(event), max)
		reserved := reservedTrack
		if i%5 == 4 {
			typ, event, field, table, reserved = "identify", "", "traits", tableIdentifies, reservedIdentify
		}
		for _, c := range cols {
			addColumn(schema, table, c, reserved)
		}
		body := map[string]any{"type": typ, "messageId": fmt.Sprint("m", i), "userId": "u1", field: props,
			"receivedAt": router.FormatTime(t0)}
		if typ == "track" {
			body["event"] = event
		}
		raw, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		batch = append(batch, router.Message{ID: fmt.Sprint("m", i), Source: src, Type: typ, UserID: "u1",
			Event: event, ReceivedAt: t0, Body: raw})
	}
	for i := 0; i < len(batch); i += 40 {
		if err := w.Send(context.Background(), batch[i:i+40]); err != nil {
			t.Fatalf("Send: %v", err)
		}
	}

	// Schemas.
	gotSchemas := map[string]bool{}
	for _, row := range query(t, w, `SELECT schema_name FROM information_schema.schemata`) {
		gotSchemas[row[0]] = true
	}
	for s := range wantSchemas {
		if !gotSchemas[s] {
			t.Errorf("schema %q missing (have %v)", s, keys(gotSchemas))
		}
	}
	// Tables and their property columns.
	got := map[string]map[string]bool{}
	for _, row := range query(t, w, `SELECT table_schema, table_name, column_name FROM information_schema.columns`) {
		schema, table, col := row[0], row[1], row[2]
		if !wantSchemas[schema] || table == tableTracks || table == tableDiscards || table == tableUsers {
			continue
		}
		key := schema + "." + table
		if got[key] == nil {
			got[key] = map[string]bool{}
		}
		if !standardColumn(table, col) {
			got[key][col] = true
		}
	}
	for key, want := range wantColumns {
		if got[key] == nil {
			t.Errorf("table %s missing", key)
			continue
		}
		if g, w := keys(got[key]), keys(want); !slices.Equal(g, w) {
			t.Errorf("table %s has property columns %q, want %q", key, g, w)
		}
	}
	for key := range got {
		if wantColumns[key] == nil {
			t.Errorf("unexpected table %s", key)
		}
	}
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
