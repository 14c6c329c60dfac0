//go:build noduckdb

package query

// driverValue returns v as it is: a build without DuckDB reads only
// PostgreSQL, whose values the printer takes as they come.
func driverValue(v any) any { return v }
