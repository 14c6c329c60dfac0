// Package query runs one SQL query against a warehouse and prints the
// result, as `eventrouter sql` does: an aligned table, CSV with a header
// line, or a JSON array of objects. CSV and JSON are written row by row,
// so any result size works; the table aligns at most [TableRowLimit] rows
// in memory and says when it cut. Lists, structs and maps print as JSON,
// UUIDs and intervals as text, decimals and huge integers exactly.
// [Choose] picks the warehouse destination a query goes to and
// [SplitArgs] tells the command's flags from its query, which may itself
// begin with "--" (an SQL comment).
//
// It lives beside the warehouse destination, whose tables it reads, and
// not in cmd, so that the printing of every DuckDB and PostgreSQL type is
// tested here without building the binary. DuckDB's own value types
// (INTERVAL, DECIMAL, MAP) are read in query_duckdb.go; the static build
// (tag noduckdb, no cgo) compiles query_noduckdb.go instead and reads
// PostgreSQL only.
package query

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// TableRowLimit is the most rows the table format aligns; csv and json
// stream any number. Default 10000.
var TableRowLimit = 10000

// Print runs q and writes its rows in format ("table", "csv" or "json"): csv and json row by
// row as they are read, the table aligned over at most TableRowLimit rows.
func Print(ctx context.Context, db *sql.DB, q, format string, w io.Writer) error {
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return fmt.Errorf("running query: %w", err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return fmt.Errorf("running query: %w", err)
	}
	types := make([]string, len(cols))
	if cts, err := rows.ColumnTypes(); err == nil {
		for i, ct := range cts {
			types[i] = strings.ToUpper(ct.DatabaseTypeName())
		}
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	next := func() (bool, error) {
		if !rows.Next() {
			if err := rows.Err(); err != nil {
				return false, fmt.Errorf("reading rows: %w", err)
			}
			return false, nil
		}
		clear(vals)
		if err := rows.Scan(ptrs...); err != nil {
			return false, fmt.Errorf("reading rows: %w", err)
		}
		return true, nil
	}
	switch format {
	case "csv":
		return printCSV(w, cols, types, vals, next)
	case "json":
		return printJSON(w, cols, types, vals, next)
	}
	return printTable(w, cols, types, vals, next)
}

func printCSV(w io.Writer, cols, types []string, vals []any, next func() (bool, error)) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(cols); err != nil {
		return err
	}
	rec := make([]string, len(cols))
	for {
		ok, err := next()
		if err != nil || !ok {
			cw.Flush()
			if err != nil {
				return err
			}
			return cw.Error()
		}
		for i, v := range vals {
			rec[i] = ""
			if v != nil {
				rec[i] = textValue(v, types[i])
			}
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
}

// printJSON writes a JSON array of objects, one object per row, indented
// as json.Encoder with SetIndent("", "  ") does.
func printJSON(w io.Writer, cols, types []string, vals []any, next func() (bool, error)) error {
	keys := make([][]byte, len(cols))
	for i, c := range cols {
		keys[i], _ = json.Marshal(c)
	}
	var obj, ind bytes.Buffer
	n := 0
	for {
		ok, err := next()
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		obj.Reset()
		obj.WriteByte('{')
		for i := range cols {
			if i > 0 {
				obj.WriteByte(',')
			}
			obj.Write(keys[i])
			obj.WriteByte(':')
			obj.Write(jsonValue(vals[i], types[i]))
		}
		obj.WriteByte('}')
		ind.Reset()
		if n == 0 {
			ind.WriteString("[\n  ")
		} else {
			ind.WriteString(",\n  ")
		}
		if err := json.Indent(&ind, obj.Bytes(), "  ", "  "); err != nil {
			return fmt.Errorf("writing row %d: %w", n+1, err)
		}
		if _, err := w.Write(ind.Bytes()); err != nil {
			return err
		}
		n++
	}
	end := "\n]\n"
	if n == 0 {
		end = "[]\n"
	}
	_, err := io.WriteString(w, end)
	return err
}

// printTable writes an aligned table of at most TableRowLimit rows and a
// line with the row count, or saying where it cut.
func printTable(w io.Writer, cols, types []string, vals []any, next func() (bool, error)) error {
	var buffered [][]string
	truncated := false
	esc := strings.NewReplacer("\n", `\n`, "\t", `\t`)
	for {
		ok, err := next()
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		if len(buffered) == TableRowLimit {
			truncated = true
			break
		}
		cells := make([]string, len(vals))
		for i, v := range vals {
			if v == nil {
				cells[i] = "NULL"
			} else {
				cells[i] = esc.Replace(textValue(v, types[i]))
			}
		}
		buffered = append(buffered, cells)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(cols, "\t"))
	seps := make([]string, len(cols))
	for i, c := range cols {
		seps[i] = strings.Repeat("-", max(utf8.RuneCountInString(c), 3))
	}
	fmt.Fprintln(tw, strings.Join(seps, "\t"))
	for _, r := range buffered {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var err error
	switch {
	case truncated:
		_, err = fmt.Fprintf(w, "(output truncated at %d rows; use --format csv)\n", TableRowLimit)
	case len(buffered) == 1:
		_, err = fmt.Fprintln(w, "(1 row)")
	default:
		_, err = fmt.Fprintf(w, "(%d rows)\n", len(buffered))
	}
	return err
}

// textValue prints one non-NULL value of a column of database type
// dbType: times in RFC 3339 (dates and times of day as such), floats in
// their shortest form, UUIDs and intervals as text, lists, structs and
// maps as JSON.
func textValue(v any, dbType string) string {
	switch x := driverValue(v).(type) {
	case time.Time:
		switch dbType {
		case "DATE":
			return x.Format(time.DateOnly)
		case "TIME":
			return x.Format("15:04:05.999999")
		}
		return x.UTC().Format(time.RFC3339Nano)
	case []byte:
		if dbType == "UUID" && len(x) == 16 {
			return uuid.UUID(x).String()
		}
		return string(x)
	case [16]byte:
		return uuid.UUID(x).String()
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case float32:
		return strconv.FormatFloat(float64(x), 'g', -1, 32)
	case interval:
		return formatInterval(x)
	case []any, map[string]any, orderedMap:
		var b bytes.Buffer
		writeNested(&b, x, true)
		return b.String()
	}
	return fmt.Sprint(v)
}

// jsonValue is a value of a column of database type dbType as JSON:
// numbers and booleans as such, lists, structs and maps as JSON arrays and
// objects, the rest as strings printed as textValue does.
func jsonValue(v any, dbType string) []byte {
	var b bytes.Buffer
	v = driverValue(v)
	switch v.(type) {
	case []any, map[string]any, orderedMap, nil, bool, int64, int32, int16, int8, int,
		uint64, uint32, uint16, uint8, float64, float32, decimal, *big.Int:
		writeNested(&b, v, false)
	default:
		writeString(&b, textValue(v, dbType))
	}
	return b.Bytes()
}

// writeNested writes v as JSON; spaced puts a space after "," and ":"
// (DuckDB's way of printing lists).
func writeNested(b *bytes.Buffer, v any, spaced bool) {
	comma, colon := ",", ":"
	if spaced {
		comma, colon = ", ", ": "
	}
	switch x := driverValue(v).(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case int64, int32, int16, int8, int, uint64, uint32, uint16, uint8:
		fmt.Fprint(b, x)
	case float64, float32:
		f, bits := toFloat(x)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			writeString(b, fmt.Sprint(f))
			return
		}
		b.WriteString(strconv.FormatFloat(f, 'g', -1, bits))
	case decimal:
		b.WriteString(string(x))
	case *big.Int:
		b.WriteString(x.String())
	case string:
		writeString(b, x)
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteString(comma)
			}
			writeNested(b, e, spaced)
		}
		b.WriteByte(']')
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteString(comma)
			}
			writeString(b, k)
			b.WriteString(colon)
			writeNested(b, x[k], spaced)
		}
		b.WriteByte('}')
	case orderedMap:
		b.WriteByte('{')
		for i, k := range x.keys {
			if i > 0 {
				b.WriteString(comma)
			}
			if s, ok := k.(string); ok {
				writeString(b, s)
			} else {
				writeString(b, textValue(k, ""))
			}
			b.WriteString(colon)
			writeNested(b, x.vals[i], spaced)
		}
		b.WriteByte('}')
	default:
		writeString(b, textValue(v, ""))
	}
}

// toFloat returns a float64 or float32 as a float64 and its bit size.
func toFloat(v any) (float64, int) {
	if f, ok := v.(float32); ok {
		return float64(f), 32
	}
	return v.(float64), 64
}

// writeString writes s as a JSON string, without HTML escaping.
func writeString(b *bytes.Buffer, s string) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	b.Truncate(b.Len() - 1) // Encode's newline
}

// interval is an SQL interval: DuckDB's INTERVAL, as driverValue returns
// it.
type interval struct {
	Months, Days int32
	Micros       int64
}

// decimal is an exact number in its decimal notation (DuckDB's DECIMAL),
// printed as is.
type decimal string

// orderedMap is an SQL map with its keys in order (DuckDB's MAP).
type orderedMap struct{ keys, vals []any }

// formatInterval prints an interval as DuckDB does: "1 year 2 months 3
// days 04:05:06.5", "2 days", "00:00:00".
func formatInterval(iv interval) string {
	var parts []string
	unit := func(n int64, name string) {
		if n == 0 {
			return
		}
		s := strconv.FormatInt(n, 10) + " " + name
		if n != 1 && n != -1 {
			s += "s"
		}
		parts = append(parts, s)
	}
	unit(int64(iv.Months/12), "year")
	unit(int64(iv.Months%12), "month")
	unit(int64(iv.Days), "day")
	if iv.Micros != 0 || len(parts) == 0 {
		m := iv.Micros
		sign := ""
		if m < 0 {
			sign, m = "-", -m
		}
		s := fmt.Sprintf("%s%02d:%02d:%02d", sign, m/3_600_000_000, m/60_000_000%60, m/1_000_000%60)
		if frac := m % 1_000_000; frac != 0 {
			s += strings.TrimRight(fmt.Sprintf(".%06d", frac), "0")
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}
