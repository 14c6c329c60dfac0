package main

import (
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/eventrouter/eventrouter/destinations/warehouse"
	"github.com/eventrouter/eventrouter/router/config"
)

const sqlUsage = `Usage:
  eventrouter sql [--format table|csv|json] [--config FILE] [--destination NAME] "<query>"

Runs one query against the configured warehouse destination and prints the
result: an aligned table (default), CSV with a header line, or a JSON array
of objects. --destination picks the warehouse when the config has several.

A DuckDB warehouse is opened read-only, which DuckDB allows only while no
process writes the file: stop 'eventrouter serve' first. A PostgreSQL
warehouse can be queried at any time.

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
	var queries []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			return 2
		}
		if fs.NArg() == 0 {
			break
		}
		queries = append(queries, fs.Arg(0))
		args = fs.Args()[1:]
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
	if err := printQuery(ctx, db, queries[0], *format, stdout); err != nil {
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

// printQuery runs q and writes its rows in format.
func printQuery(ctx context.Context, db *sql.DB, q, format string, w io.Writer) error {
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return fmt.Errorf("running query: %w", err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return fmt.Errorf("running query: %w", err)
	}
	var all [][]any
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return fmt.Errorf("reading rows: %w", err)
		}
		all = append(all, vals)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading rows: %w", err)
	}
	switch format {
	case "csv":
		cw := csv.NewWriter(w)
		_ = cw.Write(cols)
		for _, r := range all {
			rec := make([]string, len(r))
			for i, v := range r {
				if v != nil {
					rec[i] = cell(v)
				}
			}
			_ = cw.Write(rec)
		}
		cw.Flush()
		return cw.Error()
	case "json":
		out := make([]json.RawMessage, 0, len(all))
		for _, r := range all {
			var b strings.Builder
			b.WriteByte('{')
			for i, c := range cols {
				if i > 0 {
					b.WriteByte(',')
				}
				k, _ := json.Marshal(c)
				b.Write(k)
				b.WriteByte(':')
				b.Write(jsonCell(r[i]))
			}
			b.WriteByte('}')
			out = append(out, json.RawMessage(b.String()))
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(cols, "\t"))
	seps := make([]string, len(cols))
	for i, c := range cols {
		seps[i] = strings.Repeat("-", max(utf8.RuneCountInString(c), 3))
	}
	fmt.Fprintln(tw, strings.Join(seps, "\t"))
	for _, r := range all {
		cells := make([]string, len(r))
		for i, v := range r {
			if v == nil {
				cells[i] = "NULL"
			} else {
				cells[i] = strings.NewReplacer("\n", `\n`, "\t", `\t`).Replace(cell(v))
			}
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "(%d row%s)\n", len(all), map[bool]string{true: "", false: "s"}[len(all) == 1])
	return err
}

// cell prints one value: times in RFC 3339, floats in their shortest form.
func cell(v any) string {
	switch x := v.(type) {
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case []byte:
		return string(x)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case float32:
		return strconv.FormatFloat(float64(x), 'g', -1, 32)
	}
	return fmt.Sprint(v)
}

func jsonCell(v any) []byte {
	switch x := v.(type) {
	case nil:
		return []byte("null")
	case bool, int64, int32, int16, int8, int, uint64, uint32, float64, float32:
		if b, err := json.Marshal(x); err == nil {
			return b
		}
	}
	b, _ := json.Marshal(cell(v))
	return b
}
