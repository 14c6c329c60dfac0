package warehouse

import (
	"context"
	"database/sql"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"sync"
)

// ErrInUse is matched by errors.Is when a DuckDB warehouse file is already
// open for writing by another destination or process: DuckDB allows one
// writing process per file.
var ErrInUse = errors.New("warehouse file in use")

// openFiles are the DuckDB files this process has open for writing, by
// absolute path. DuckDB's file lock only keeps other processes out, so a
// second writer inside the process is refused here.
var openFiles = struct {
	sync.Mutex
	m      map[string]string // path -> destination name
	shared map[string]int    // path -> databases open through OpenShared
}{m: map[string]string{}, shared: map[string]int{}}

// duckBlockSize is the block size of the DuckDB files a warehouse creates.
// DuckDB keeps a block per column of every table a load appends to until
// it checkpoints, so with Segment's wide tables its default of 256 KiB
// took 160 MB for the benchmark's eleven tables; 64 KiB blocks take a
// quarter of that, and loads are as fast. A file keeps the block size it
// was created with.
const duckBlockSize = 64 << 10

// duckCheckpointThreshold is the write-ahead log size at which DuckDB
// checkpoints. A checkpoint rewrites the last, partly filled row group of
// every table a load appended to, so DuckDB's default of 16 MB made loads
// of wide tables spend a third of their time checkpointing; at 64 MB they
// spend a tenth, and a restart replays at most 64 MB of log.
const duckCheckpointThreshold = "64MB"

// duckOptions returns the DuckDB settings of a config, as DSN parameters,
// for writing or read-only.
func duckOptions(c *Config, write bool) url.Values {
	o := url.Values{}
	o.Set("memory_limit", c.memoryLimit())
	if c.Threads > 0 {
		o.Set("threads", strconv.Itoa(c.Threads))
	}
	if write {
		o.Set("checkpoint_threshold", duckCheckpointThreshold)
		o.Set("default_block_size", strconv.Itoa(duckBlockSize))
	} else {
		o.Set("access_mode", "read_only")
	}
	return o
}

// duckDialect loads through DuckDB's Appender.
type duckDialect struct {
	release func() error
	// catalog is the database's name (the file's base name). Names are
	// written with it, since a schema named like the catalog would be
	// ambiguous.
	catalog string
}

func (d duckDialect) schemaRef(schema string) string {
	return quoteIdent(d.catalog) + "." + quoteIdent(schema)
}

func (d duckDialect) qualify(schema, table string) string {
	return quoteIdent(d.catalog) + "." + qualified(schema, table)
}

func (duckDialect) maxIdent() int    { return 127 }
func (duckDialect) primaryKey() bool { return false }
func (duckDialect) idIn(ids []string) (string, any) {
	return "id IN (SELECT unnest($1::VARCHAR[]))", ids
}

func (duckDialect) colIn(col string, ids []string) (string, any) {
	return quoteIdent(col) + " IN (SELECT unnest($1::VARCHAR[]))", ids
}

// latest is arg_max over (received_at, id): DuckDB's ordered aggregates
// keep a sort per group, which ran out of memory at a thousand users per
// load; arg_max keeps one value. DuckDB compares text by its bytes.
func (duckDialect) latest(q string) string {
	return "arg_max(" + q + `, struct_pack(r := "received_at", i := "id")) FILTER (WHERE ` + q + " IS NOT NULL)"
}

// userIndex is empty: DuckDB scans a column of identifies quickly, and an
// ART index would cost every append.
func (duckDialect) userIndex(string) string { return "" }

func (duckDialect) typeName(t colType) string {
	switch t {
	case typeBool:
		return "BOOLEAN"
	case typeInt:
		return "BIGINT"
	case typeFloat:
		return "DOUBLE"
	case typeTimestamp:
		return "TIMESTAMP"
	}
	return "VARCHAR"
}

func (duckDialect) colType(db string) colType {
	db = strings.ToUpper(db)
	switch {
	case db == "BOOLEAN":
		return typeBool
	case strings.HasPrefix(db, "TIMESTAMP"), db == "DATE":
		return typeTimestamp
	case strings.HasSuffix(db, "INT") || db == "BIGINT" || db == "INTEGER" || db == "HUGEINT" || db == "UBIGINT" || db == "UINTEGER" || db == "USMALLINT" || db == "UTINYINT":
		return typeInt
	case db == "DOUBLE" || db == "FLOAT" || db == "REAL" || strings.HasPrefix(db, "DECIMAL"):
		return typeFloat
	}
	return typeString
}

func (duckDialect) begin(ctx context.Context, conn *sql.Conn, _ []string) error {
	// One process writes a DuckDB file and the destination loads one batch
	// at a time, so the transaction needs no lock of its own.
	_, err := conn.ExecContext(ctx, "BEGIN TRANSACTION")
	return err
}

func (d duckDialect) close() error { return d.release() }
