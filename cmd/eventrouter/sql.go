package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
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
	fs := flag.NewFlagSet("sql", flag.ContinueOnError)
	fs.SetOutput(stderr)
	def := os.Getenv("EVENTROUTER_CONFIG")
	if def == "" {
		def = "configs/eventrouter.yaml"
	}
	cfgPath := fs.String("config", def, "config file (default $EVENTROUTER_CONFIG or configs/eventrouter.yaml)")
	format := fs.String("format", "table", "output format: table, csv or json")
	dest := fs.String("destination", "", "name of the warehouse destination (needed when there are several)")
	fs.Usage = func() { fmt.Fprint(stderr, sqlUsage) }
	// Flags may come before or after the query.
	queries, err := splitSQLArgs(fs, args)
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
	wcfg, err := pickWarehouse(cfg, *dest)
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
	if err := query.Print(ctx, db, queries[0], *format, stdout); err != nil {
		fmt.Fprintf(stderr, "eventrouter sql: %v\n", err)
		return 1
	}
	return 0
}

// pickWarehouse returns the config of the warehouse destination called
// name, or of the only one when name is empty.
func pickWarehouse(cfg *config.Config, name string) (*warehouse.Config, error) {
	var names []string
	for _, n := range cfg.DestinationNames() {
		if cfg.Destinations[n].Type == warehouse.Type {
			names = append(names, n)
		}
	}
	switch {
	case name != "":
		d, ok := cfg.Destinations[name]
		if !ok || d.Type != warehouse.Type {
			return nil, fmt.Errorf("no warehouse destination %q in the config (warehouses: %s)", name, listOrNone(names))
		}
		return d.Settings.(*warehouse.Config), nil
	case len(names) == 0:
		return nil, errors.New("the config has no destination of type warehouse")
	case len(names) > 1:
		return nil, fmt.Errorf("the config has several warehouses (%s): pick one with --destination", strings.Join(names, ", "))
	}
	return cfg.Destinations[names[0]].Settings.(*warehouse.Config), nil
}

func listOrNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// splitSQLArgs parses the flags of `eventrouter sql`, before or after the
// query, and returns the other arguments. "--" ends the flags; an
// argument that starts with "--" and then a space or a line break is a
// query (an SQL comment), not a flag.
func splitSQLArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var flags, queries []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			queries = append(queries, args[i+1:]...)
			i = len(args)
		case isSQLComment(a), !strings.HasPrefix(a, "-"), a == "-":
			queries = append(queries, a)
		default:
			flags = append(flags, a)
			name := strings.TrimLeft(a, "-")
			if strings.Contains(name, "=") {
				continue
			}
			f := fs.Lookup(name)
			if f == nil || i+1 == len(args) {
				continue
			}
			if bf, ok := f.Value.(interface{ IsBoolFlag() bool }); !ok || !bf.IsBoolFlag() {
				i++
				flags = append(flags, args[i])
			}
		}
	}
	if err := fs.Parse(flags); err != nil {
		return nil, err
	}
	return append(queries, fs.Args()...), nil
}

// isSQLComment reports whether an argument is a query that starts with an
// SQL comment ("-- ..." followed by a space, a tab or a line break).
func isSQLComment(a string) bool {
	return len(a) > 2 && strings.HasPrefix(a, "--") && strings.ContainsRune(" \t\r\n", rune(a[2]))
}
