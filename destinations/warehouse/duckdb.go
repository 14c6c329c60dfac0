package warehouse

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"

	duckdb "github.com/duckdb/duckdb-go/v2"
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

var lockHolder = regexp.MustCompile(`Conflicting lock is held in (.*) \(PID (\d+)\)`)

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

// openDuckDB opens (creating if needed) the DuckDB file at path, for
// writing when write is true, else read-only, with the settings opts.
func openDuckDB(path, name string, write bool, opts url.Values) (*sql.DB, func() error, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, nil, fmt.Errorf("opening duckdb warehouse %s: %w", path, err)
	}
	release := func() error { return nil }
	if write {
		openFiles.Lock()
		if other, busy := openFiles.m[abs]; busy {
			openFiles.Unlock()
			return nil, nil, fmt.Errorf("opening duckdb warehouse %s: %w: destination %q of this process writes to it; DuckDB allows one writer per file", path, ErrInUse, other)
		}
		if n := openFiles.shared[abs]; n > 0 {
			openFiles.Unlock()
			return nil, nil, fmt.Errorf("opening duckdb warehouse %s: %w: this process has it open for writing through OpenShared (%d handle(s)); DuckDB allows one writer per file", path, ErrInUse, n)
		}
		openFiles.m[abs] = name
		openFiles.Unlock()
		release = func() error {
			openFiles.Lock()
			delete(openFiles.m, abs)
			openFiles.Unlock()
			return nil
		}
	}
	dsn := abs + "?" + opts.Encode()
	conn, err := duckdb.NewConnector(dsn, nil)
	if err != nil {
		_ = release()
		if m := lockHolder.FindStringSubmatch(err.Error()); m != nil {
			return nil, nil, fmt.Errorf("opening duckdb warehouse %s: %w: process %s (PID %s) has it open, most likely a running `eventrouter serve`; DuckDB allows one process per file while it writes (stop that process, or load into PostgreSQL to share the warehouse)", path, ErrInUse, filepath.Base(m[1]), m[2])
		}
		if strings.Contains(err.Error(), "different configuration") {
			return nil, nil, fmt.Errorf("opening duckdb warehouse %s: %w: this process already has it open for writing", path, ErrInUse)
		}
		return nil, nil, fmt.Errorf("opening duckdb warehouse %s: %w", path, err)
	}
	return sql.OpenDB(conn), release, nil
}

// reopenDuckDB opens the DuckDB file at path again for the destination
// that holds it (after a fatal error invalidated the open database).
func reopenDuckDB(path string, opts url.Values) (*sql.DB, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("opening duckdb warehouse %s: %w", path, err)
	}
	conn, err := duckdb.NewConnector(abs+"?"+opts.Encode(), nil)
	if err != nil {
		return nil, fmt.Errorf("opening duckdb warehouse %s: %w", path, err)
	}
	return sql.OpenDB(conn), nil
}

// sharedConnector is a DuckDB connector opened through OpenShared: it
// counts as a writer of its file (see openFiles) until its database is
// closed (sql.DB.Close closes a connector that is an io.Closer).
type sharedConnector struct {
	*duckdb.Connector
	abs  string
	once sync.Once
}

func (c *sharedConnector) Close() error {
	err := c.Connector.Close()
	c.once.Do(func() {
		openFiles.Lock()
		defer openFiles.Unlock()
		if openFiles.shared[c.abs]--; openFiles.shared[c.abs] <= 0 {
			delete(openFiles.shared, c.abs)
		}
	})
	return err
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

func (d duckDialect) insert(ctx context.Context, conn *sql.Conn, schema, table string, cols []string, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	return conn.Raw(func(dc any) error {
		dconn, ok := dc.(driver.Conn)
		if !ok {
			return fmt.Errorf("appending: connection is %T", dc)
		}
		a, err := duckdb.NewAppenderWithColumns(dconn, d.catalog, schema, table, cols)
		if err != nil {
			return fmt.Errorf("appending: %w", err)
		}
		args := make([]driver.Value, len(cols))
		for _, r := range rows {
			if err := ctx.Err(); err != nil {
				_ = a.Close()
				return err
			}
			for i, v := range r {
				args[i] = v
			}
			if err := a.AppendRow(args...); err != nil {
				_ = a.Close()
				return fmt.Errorf("appending: %w", err)
			}
		}
		if err := a.Close(); err != nil {
			return fmt.Errorf("appending: %w", err)
		}
		return nil
	})
}

func (duckDialect) dataError(err error) bool {
	var de *duckdb.Error
	if !errors.As(err, &de) {
		return false
	}
	switch de.Type {
	case duckdb.ErrorTypeConversion, duckdb.ErrorTypeOutOfRange, duckdb.ErrorTypeInvalidInput,
		duckdb.ErrorTypeConstraint, duckdb.ErrorTypeMismatchType, duckdb.ErrorTypeInvalidType:
		return true
	}
	return false
}

// schemaError is true for DuckDB's catalog errors (a system schema, an
// object of the wrong kind), binder errors (a table without the columns
// a load needs: PostgreSQL's 42703) and permission errors.
func (duckDialect) schemaError(err error) bool {
	var de *duckdb.Error
	if !errors.As(err, &de) {
		return false
	}
	switch de.Type {
	case duckdb.ErrorTypeCatalog, duckdb.ErrorTypeBinder, duckdb.ErrorTypePermission:
		return true
	}
	return false
}

// fatal is true for DuckDB's fatal errors, after which the database is
// invalidated and must be opened again.
func (duckDialect) fatal(err error) bool {
	var de *duckdb.Error
	return errors.As(err, &de) && de.Type == duckdb.ErrorTypeFatal
}

func (d duckDialect) close() error { return d.release() }
