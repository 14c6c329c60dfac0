// Package snakecase names warehouse schemas, tables and columns as
// Segment's warehouses do: [Snakecase] is
// github.com/segmentio/go-snakecase v1.2.0 (MIT), the module Segment names
// them with, imported rather than re-implemented — a re-implementation
// against its documented behaviour disagreed with it on about 6.5 % of
// random names and on ordinary ones ("top10Items", "h264Codec",
// "step2Completed"), so a dbt model written against a Segment warehouse
// would have missed those columns. [EventTable], [Column] and [Schema] add
// the post-processing Segment leaves undocumented (empty names, a "_"
// before a leading digit, a standard table or an SQL reserved word, and
// the database's identifier limit) on top of go-snakecase's result.
//
// A nested value's column is the snake_case of each raw key of its path,
// the non-empty ones joined with "_"; that is the same as go-snakecase of
// the raw keys joined with "_" (the property test checks this).
//
// It is the one implementation shared by the warehouse destination, which
// creates the tables, and the tracking plan's linter (package schemas),
// which predicts them.
package snakecase
