package schemas

import "github.com/eventrouter/eventrouter/internal/snakecase"

// WarehouseIdentLimit is the identifier limit, in bytes, that the
// warehouse names predicted here are cut to: PostgreSQL's 63, the
// stricter of the two warehouse drivers (DuckDB allows 127).
const WarehouseIdentLimit = snakecase.MaxPostgres

// SnakeCase converts name to snake_case as Segment's warehouses do: it is
// github.com/segmentio/go-snakecase's Snakecase, through the
// warehouse destination's naming (internal/snakecase). Non-alphanumeric
// ASCII bytes separate words and are dropped, a run of upper-case letters
// and digits starts a word and the following lower-case letters and digits
// continue it ("top10Items" -> "top10_items"), and the result is lower-case
// ASCII.
func SnakeCase(name string) string { return snakecase.Snakecase(name) }

// EventTable returns the warehouse table name of a track event, as the
// warehouse destination names it: SnakeCase of
// the name, "_empty_event" when that is empty, a "_" prefix when it starts
// with a digit or equals a standard table name or an SQL reserved word,
// cut to [WarehouseIdentLimit] bytes.
func EventTable(event string) string { return snakecase.EventTable(event, WarehouseIdentLimit) }

// ColumnName returns the warehouse column name of a property or trait at
// the top level: SnakeCase with a "_" prefix when it starts with a digit,
// cut to [WarehouseIdentLimit] bytes. It
// returns "" when nothing is left of the name.
func ColumnName(name string) string { return snakecase.Column([]string{name}, WarehouseIdentLimit) }

// columnOfPath returns the warehouse column of a property at a path of
// raw keys (nested objects flattened with "_"), as the warehouse
// destination names it; "" when nothing is left.
func columnOfPath(path []string) string { return snakecase.Column(path, WarehouseIdentLimit) }
