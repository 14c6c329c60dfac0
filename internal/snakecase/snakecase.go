package snakecase

import (
	"strings"

	gosnakecase "github.com/segmentio/go-snakecase"
)

// The identifier limits, in bytes, of the warehouse databases.
const (
	// MaxPostgres is PostgreSQL's identifier limit (NAMEDATALEN - 1).
	MaxPostgres = 63
	// MaxDuckDB is the limit the warehouse keeps to in DuckDB.
	MaxDuckDB = 127
)

// EmptyEvent is the table of a track event whose name has nothing left
// after Snakecase.
const EmptyEvent = "_empty_event"

// emptySource is the schema of a source whose name has nothing left.
const emptySource = "_empty_source"

// Snakecase converts a name to snake_case exactly as Segment's warehouses
// do: it is github.com/segmentio/go-snakecase v1.2.0's Snakecase, called,
// not re-implemented, so that every table and column has the name Segment
// gives it. ASCII letters and digits are kept, everything else separates
// words and is dropped; a run of upper-case letters and digits starts a
// word and the lower-case letters and digits that follow continue it
// ("top10Items" -> "top10_items", "CStringRef" -> "cstring_ref"); the
// result is lower case. A name that is already lower-case letters, digits
// and inner single underscores is returned unchanged.
func Snakecase(s string) string { return gosnakecase.Snakecase(s) }

// standardTables are the tables of Segment's warehouse layout.
var standardTables = map[string]bool{
	"identifies": true, "users": true, "tracks": true, "pages": true, "screens": true,
	"groups": true, "aliases": true, "accounts": true, "_discards": true,
}

// IsStandardTable reports whether name is a table of Segment's layout
// (identifies, users, tracks, pages, screens, groups, aliases, accounts,
// _discards).
func IsStandardTable(name string) bool { return standardTables[name] }

// reservedWords are SQL key words that PostgreSQL reserves (and DuckDB
// mostly shares), plus DuckDB's own PIVOT, UNPIVOT and QUALIFY.
var reservedWords = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`all analyse analyze and any array as asc asymmetric authorization binary both
		case cast check collate collation column concurrently constraint create cross current_catalog
		current_date current_role current_schema current_time current_timestamp current_user default
		deferrable desc distinct do else end except false fetch for foreign freeze from full grant group
		having ilike in initially inner intersect into is isnull join lateral leading left like limit
		localtime localtimestamp natural not notnull null offset on only or order outer overlaps placing
		primary references returning right select session_user similar some symmetric system_user table
		tablesample then to trailing true union unique user using variadic verbose when where window with
		pivot unpivot qualify`) {
		reservedWords[w] = true
	}
}

// IsReservedWord reports whether name is an SQL reserved word that a
// table or schema may not be named.
func IsReservedWord(name string) bool { return reservedWords[name] }

// truncate cuts name to at most max bytes (names are ASCII); max <= 0
// means no limit.
func truncate(name string, max int) string {
	if max > 0 && len(name) > max {
		return name[:max]
	}
	return name
}

// EventTable returns the table of a track event (the warehouse's
// post-processing): Snakecase, [EmptyEvent] when nothing is left, a "_"
// prefix before a leading digit, a standard table's name or a reserved
// word, cut to max bytes (max <= 0: no limit).
func EventTable(event string, max int) string {
	n := Snakecase(event)
	switch {
	case n == "":
		n = EmptyEvent
	case isDigit(n[0]), standardTables[n], reservedWords[n]:
		n = "_" + n
	}
	return truncate(n, max)
}

// Column returns the column of a flattened value from the raw keys of its
// path (["product", "skuId"] for properties.product.skuId): each key
// snake_cased, the non-empty ones joined with "_", a "_" prefix before a
// leading digit, cut to max bytes (max <= 0: no limit). It returns "" when
// nothing is left: the value cannot have a column.
func Column(path []string, max int) string {
	if len(path) == 1 {
		n := Snakecase(path[0])
		if n != "" && isDigit(n[0]) {
			n = "_" + n
		}
		return truncate(n, max)
	}
	var b strings.Builder
	for _, seg := range path {
		s := Snakecase(seg)
		if s == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('_')
		}
		b.WriteString(s)
	}
	n := b.String()
	if n != "" && isDigit(n[0]) {
		n = "_" + n
	}
	return truncate(n, max)
}

// Schema returns the schema (namespace) of a source: prefix
// plus the source's name snake_cased ("_empty_source" when nothing is
// left), with a "_" prefix before a leading digit, a reserved word, a
// name the databases keep for themselves (PostgreSQL refuses to create a
// schema whose name starts with pg_; information_schema and pg_catalog
// are system schemas in PostgreSQL and DuckDB alike), cut to max bytes
// (max <= 0: no limit).
func Schema(prefix, source string, max int) string {
	n := Snakecase(source)
	if n == "" {
		n = emptySource
	}
	n = prefix + n
	if isDigit(n[0]) || reservedWords[n] || IsSystemSchema(n) {
		n = "_" + n
	}
	return truncate(n, max)
}

// IsSystemSchema reports whether a schema name is one the databases keep
// for themselves: any name starting with "pg_", and information_schema.
func IsSystemSchema(name string) bool {
	return strings.HasPrefix(name, "pg_") || name == "information_schema"
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
