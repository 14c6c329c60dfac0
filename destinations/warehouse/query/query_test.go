//go:build !noduckdb

package query

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"testing"

	_ "github.com/duckdb/duckdb-go/v2"
)

// TestSQLValueFormats prints DuckDB values whose Go types are not
// scalars (DECIMAL, UUID, LIST, STRUCT, INTERVAL, HUGEINT): each must be
// printed as DuckDB prints it, not as a Go struct.
func TestSQLValueFormats(t *testing.T) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	cases := []struct{ name, q, want string }{
		{"decimal", `SELECT 1.5 AS v`, "v\n---\n1.5\n(1 row)\n"},
		{"avg of integers is double", `SELECT avg(x) AS v FROM (VALUES (1), (2)) t(x)`, "v\n---\n1.5\n(1 row)\n"},
		{"uuid", `SELECT '00000000-0000-0000-0000-000000000001'::UUID AS v`, "v\n---\n00000000-0000-0000-0000-000000000001\n(1 row)\n"},
		{"list", `SELECT [1, 2] AS v`, "v\n---\n[1, 2]\n(1 row)\n"},
		{"interval", `SELECT INTERVAL 2 DAY AS v`, "v\n---\n2 days\n(1 row)\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := Print(context.Background(), db, c.q, "table", &out); err != nil {
				t.Fatal(err)
			}
			if out.String() != c.want {
				t.Errorf("got %q, want %q", out.String(), c.want)
			}
		})
	}
}

// TestSQLStreams checks that csv and json print every row while the table
// stops at TableRowLimit and says so.
func TestSQLStreams(t *testing.T) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	defer func(n int) { TableRowLimit = n }(TableRowLimit)
	TableRowLimit = 3
	const q = `SELECT range AS i FROM range(5)`
	cases := []struct{ format, want string }{
		{"table", "i\n---\n0\n1\n2\n(output truncated at 3 rows; use --format csv)\n"},
		{"csv", "i\n0\n1\n2\n3\n4\n"},
		{"json", "[\n  {\n    \"i\": 0\n  },\n  {\n    \"i\": 1\n  },\n  {\n    \"i\": 2\n  },\n  {\n    \"i\": 3\n  },\n  {\n    \"i\": 4\n  }\n]\n"},
	}
	for _, c := range cases {
		t.Run(c.format, func(t *testing.T) {
			var out bytes.Buffer
			if err := Print(context.Background(), db, q, c.format, &out); err != nil {
				t.Fatal(err)
			}
			if out.String() != c.want {
				t.Errorf("got %q, want %q", out.String(), c.want)
			}
		})
	}
	var out bytes.Buffer
	if err := Print(context.Background(), db, `SELECT 1 AS i WHERE false`, "json", &out); err != nil || out.String() != "[]\n" {
		t.Errorf("empty json = %q, %v", out.String(), err)
	}
}

// TestSQLNestedFormats prints DuckDB's nested and special types in every
// format: JSON for lists, structs and maps, text for UUIDs and intervals.
func TestSQLNestedFormats(t *testing.T) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const q = `SELECT '00000000-0000-0000-0000-00000000000a'::UUID AS u, INTERVAL '1 year 2 months 3 days 04:05:06.5' AS iv, ['a', 'b<'] AS l, {'x': 1, 'y': [true]} AS s, MAP {'k': 2.5} AS m, DATE '2024-01-02' AS d`
	cases := []struct{ format, want string }{
		{"table", "u                                     iv                                 l            s                      m           d\n" +
			"---                                   ---                                ---          ---                    ---         ---\n" +
			"00000000-0000-0000-0000-00000000000a  1 year 2 months 3 days 04:05:06.5  [\"a\", \"b<\"]  {\"x\": 1, \"y\": [true]}  {\"k\": 2.5}  2024-01-02\n(1 row)\n"},
		{"csv", "u,iv,l,s,m,d\n00000000-0000-0000-0000-00000000000a,1 year 2 months 3 days 04:05:06.5,\"[\"\"a\"\", \"\"b<\"\"]\",\"{\"\"x\"\": 1, \"\"y\"\": [true]}\",\"{\"\"k\"\": 2.5}\",2024-01-02\n"},
		{"json", `[{"u":"00000000-0000-0000-0000-00000000000a","iv":"1 year 2 months 3 days 04:05:06.5","l":["a","b<"],"s":{"x":1,"y":[true]},"m":{"k":2.5},"d":"2024-01-02"}]`},
	}
	for _, c := range cases {
		t.Run(c.format, func(t *testing.T) {
			var out bytes.Buffer
			if err := Print(context.Background(), db, q, c.format, &out); err != nil {
				t.Fatal(err)
			}
			got := out.String()
			if c.format == "json" {
				var compact bytes.Buffer
				if err := json.Compact(&compact, out.Bytes()); err != nil {
					t.Fatalf("%v: %s", err, got)
				}
				got = compact.String()
			}
			if got != c.want {
				t.Errorf("got\n%s\nwant\n%s", got, c.want)
			}
		})
	}
}
