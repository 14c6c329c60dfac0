//go:build !noduckdb

package query

import duckdb "github.com/duckdb/duckdb-go/v2"

// driverValue returns a value of DuckDB's own types (INTERVAL, DECIMAL,
// MAP) as the printer's interval, decimal and orderedMap, and any other
// value as it is.
func driverValue(v any) any {
	switch x := v.(type) {
	case duckdb.Interval:
		return interval{Months: x.Months, Days: x.Days, Micros: x.Micros}
	case duckdb.Decimal:
		return decimal(x.String())
	case duckdb.OrderedMap:
		return orderedMap{keys: x.Keys(), vals: x.Values()}
	case *duckdb.OrderedMap:
		return orderedMap{keys: x.Keys(), vals: x.Values()}
	}
	return v
}
