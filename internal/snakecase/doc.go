// Package snakecase names warehouse schemas, tables and columns as
// Segment's warehouses do (spec §5.4): [Snakecase] is
// github.com/segmentio/go-snakecase's algorithm, and [EventTable],
// [Column] and [Schema] add Segment's post-processing (empty names, a "_"
// before a leading digit, a standard table or an SQL reserved word, and
// the database's identifier limit).
//
// It is the one implementation shared by the warehouse destination, which
// creates the tables, and the tracking plan's linter (package schemas),
// which predicts them; it uses only the standard library.
package snakecase
