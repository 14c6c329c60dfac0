//go:build !noduckdb

package main

import (
	"bytes"
	"context"
	"database/sql"
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
			if err := printQuery(context.Background(), db, c.q, "table", &out); err != nil {
				t.Fatal(err)
			}
			if out.String() != c.want {
				t.Errorf("got %q, want %q", out.String(), c.want)
			}
		})
	}
}
