// Package warehouse is the warehouse destination: it loads every message
// into Segment's warehouse layout, in an embedded DuckDB file
// (driver "duckdb", the default) or in PostgreSQL (driver "postgres").
//
// One schema layer is shared by both drivers: a schema per source (its
// name in snake_case), the tables identifies, users, tracks, one table per
// track event, pages, screens, groups, aliases and _discards; the standard
// columns; context, properties and traits flattened with "_", arrays as
// JSON text; names made by github.com/segmentio/go-snakecase itself (the
// module Segment names its warehouse tables and columns with) with the
// warehouse's post-processing rules on top (package internal/snakecase, which
// the tracking plan's linter shares); column types inferred from values, new tables and columns
// created as they appear (a new column takes the least upper bound of the
// batch's values), and a value that does not fit its column, or whose name
// is reserved, collides or is empty, kept in _discards with its reason.
// The drivers differ only in SQL types, locking and their bulk path:
// DuckDB's Appender; PostgreSQL's COPY into a staging table, then a merge.
//
// Each batch that dispatch hands to Send is one transaction, schema changes
// included; its size and wait are the common dispatch keys batch_size and
// batch_timeout (or its other name, flush_interval). Send decodes each
// message once, in one pass over its JSON and without a map per object,
// on every core, and the load checks the batch's ids against the tables
// in one query per schema. Rows are deduplicated on id within the batch and against the
// table, so a message delivered twice yields one row per table, and users
// is upserted with the latest non-null value of each trait. A batch that
// the database refuses because of one message is split until that message
// is alone; it fails permanently (a *router.BatchError names it) and the
// others load.
//
// A DuckDB file has one writer: New locks it, and a second writer, in the
// process or another one, gets an error matching [ErrInUse]. Loads into
// PostgreSQL take an advisory lock per schema, so any number of instances
// can load into one database.
//
// DuckDB is a C++ library, linked only through cgo. A build with the tag
// noduckdb (the static, CGO_ENABLED=0 build) leaves the DuckDB driver out,
// and everything else in: a config with driver duckdb (the default) then
// fails validation with "this build has no DuckDB; use driver: postgres",
// so `eventrouter check` and the start of a server say so before anything
// runs. [DuckDBBuilt] tells which build this is. The driver's code is in
// duckdb_driver.go (built without the tag) and duckdb_none.go (with it);
// the dialect's SQL, shared by both, is in duckdb.go.
package warehouse
