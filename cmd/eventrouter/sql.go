package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/eventrouter/eventrouter/destinations/warehouse"
	"github.com/eventrouter/eventrouter/destinations/warehouse/query"
	"github.com/eventrouter/eventrouter/router/config"
)

const sqlUsage = `Usage:
  eventrouter sql [--format table|csv|json] [--config FILE] [--destination NAME] [--] "<query>"

Runs one query against the configured warehouse destination and prints the
result: an aligned table (default), CSV with a header line, or a JSON array
of objects. --destination picks the warehouse when the config has several.
CSV and JSON are written row by row, so any result size works; the table
shows at most 10000 rows (it aligns them in memory) and says when it cut.
Lists, structs and maps print as JSON, UUIDs and intervals as text.

A query that starts with "-" (such as "-- comment\nSELECT 1") comes after
"--", which ends the flags; an argument starting with "--" and a space or
a line break is taken as the query anyway.

A DuckDB warehouse is opened read-only, which DuckDB allows only while no
process writes the file: stop 'eventrouter serve' first. A PostgreSQL
warehouse can be queried at any time, in read-only transactions: a
statement that writes fails.

Exit codes: 0 ok, 1 the query or the warehouse failed, 2 usage.
`

// runSQL is `eventrouter sql`.
func runSQL(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("sql", sqlUsage, false, stderr)
	cfgPath := configFlag(fs)
	format := fs.String("format", "table", "output format: table, csv or json")
	dest := fs.String("destination", "", "name of the warehouse destination (needed when there are several)")
	// Flags may come before or after the query.
	queries, err := query.SplitArgs(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if len(queries) != 1 || strings.TrimSpace(queries[0]) == "" {
		fmt.Fprint(stderr, "eventrouter sql: give exactly one query\n\n"+sqlUsage)
		return 2
	}
	if *format != "table" && *format != "csv" && *format != "json" {
		fmt.Fprint(stderr, "eventrouter sql: --format must be table, csv or json\n")
		return 2
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		fmt.Fprintf(stderr, "eventrouter sql: %v\n", err)
		return 1
	}
	wcfg, err := query.Choose(warehouses(cfg), *dest)
	if err != nil {
		fmt.Fprintf(stderr, "eventrouter sql: %v\n", err)
		return 2
	}
	db, err := warehouse.OpenReadOnly(wcfg, cfg.DataDir)
	if err != nil {
		fmt.Fprintf(stderr, "eventrouter sql: %v\n", err)
		return 1
	}
	defer db.Close()
	return exitCode(stderr, "sql", query.Print(ctx, db, queries[0], *format, stdout))
}

// warehouses returns the config's warehouse destinations by name.
func warehouses(cfg *config.Config) map[string]*warehouse.Config {
	ws := map[string]*warehouse.Config{}
	for name, d := range cfg.Destinations {
		if c, ok := d.Settings.(*warehouse.Config); ok {
			ws[name] = c
		}
	}
	return ws
}
