package warehouse

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// lockSpace is the first key of the advisory locks that serialise loads
// into one schema across processes (the second is hashtext(schema)).
const lockSpace = 0x45520001 // "ER" warehouse

// The session settings of the loader's connections, unless the DSN sets
// them: a load waits at most pgLockTimeout for a table lock (then fails,
// and dispatch retries it), and a connection idle inside a transaction
// (a half-open connection, a stalled process) is ended by the server
// after pgIdleInTransaction, releasing the schema's advisory lock.
const (
	pgLockTimeout       = "10s"
	pgIdleInTransaction = "60s"
)

// openPostgres opens a pool on dsn with the session settings params
// (those the DSN sets itself win, unless force); it connects lazily.
func openPostgres(dsn string, params map[string]string, force bool) (*sql.DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("parsing postgres dsn: %w", err)
	}
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	for k, v := range params {
		if _, set := cfg.RuntimeParams[k]; !set || force {
			cfg.RuntimeParams[k] = v
		}
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(4)
	db.SetMaxIdleConns(2)
	return db, nil
}

// pgDialect loads with COPY into a staging table, then a merge.
type pgDialect struct {
	stage atomic.Int64 // numbers staging tables
}

func (*pgDialect) maxIdent() int                       { return 63 }
func (*pgDialect) schemaRef(schema string) string      { return quoteIdent(schema) }
func (*pgDialect) qualify(schema, table string) string { return qualified(schema, table) }
func (*pgDialect) primaryKey() bool                    { return true }
func (*pgDialect) idIn(ids []string) (string, any)     { return "id = ANY($1)", noNULs(ids) }

func (*pgDialect) colIn(col string, ids []string) (string, any) {
	return quoteIdent(col) + " = ANY($1)", noNULs(ids)
}

// PostgreSQL's text cannot hold a NUL character; it is stored as U+FFFD
// (the replacement character), as invalid UTF-8 is.
const nulReplacement = "\uFFFD"

// replaceNULs replaces NUL characters in the text values of rows.
func replaceNULs(rows [][]any) {
	for _, r := range rows {
		for i, v := range r {
			if s, ok := v.(string); ok && strings.IndexByte(s, 0) >= 0 {
				r[i] = strings.ReplaceAll(s, "\x00", nulReplacement)
			}
		}
	}
}

// noNULs returns ids with NUL characters replaced, as replaceNULs stores
// them (ids itself when none has one).
func noNULs(ids []string) []string {
	for i, id := range ids {
		if strings.IndexByte(id, 0) < 0 {
			continue
		}
		out := append([]string(nil), ids...)
		for j := i; j < len(out); j++ {
			out[j] = strings.ReplaceAll(out[j], "\x00", nulReplacement)
		}
		return out
	}
	return ids
}

// latest takes the first of the column's non-null values ordered newest
// first (PostgreSQL has no IGNORE NULLS for first_value).
func (*pgDialect) latest(q string) string {
	return "(array_agg(" + q + ` ORDER BY "received_at" DESC NULLS LAST, "id" COLLATE "C" DESC) FILTER (WHERE ` + q + " IS NOT NULL))[1]"
}

// userIndex indexes identifies on user_id, so that recomputing a load's
// users reads their identifies rather than the whole table.
func (*pgDialect) userIndex(schema string) string {
	return "CREATE INDEX IF NOT EXISTS " + quoteIdent("identifies_user_id") + " ON " + qualified(schema, tableIdentifies) + ` ("user_id")`
}

func (*pgDialect) typeName(t colType) string {
	switch t {
	case typeBool:
		return "boolean"
	case typeInt:
		return "bigint"
	case typeFloat:
		return "double precision"
	case typeTimestamp:
		return "timestamp with time zone"
	}
	return "text"
}

func (*pgDialect) colType(db string) colType {
	switch db {
	case "boolean":
		return typeBool
	case "bigint", "integer", "smallint":
		return typeInt
	case "double precision", "real", "numeric":
		return typeFloat
	case "timestamp with time zone", "timestamp without time zone", "date":
		return typeTimestamp
	}
	return typeString
}

func (*pgDialect) begin(ctx context.Context, conn *sql.Conn, schemas []string) error {
	if _, err := conn.ExecContext(ctx, "BEGIN"); err != nil {
		return err
	}
	// Loads into one schema take turns, across every process sharing the
	// database: table and column changes, the id check and the users
	// merge then see each other's committed work.
	for _, s := range schemas {
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1, hashtext($2))", lockSpace, s); err != nil {
			return fmt.Errorf("locking schema %s: %w", s, err)
		}
	}
	return nil
}

// copyToStage copies rows into a new temporary table shaped like the
// target and returns its name; it is dropped at commit.
func (d *pgDialect) copyToStage(ctx context.Context, conn *sql.Conn, schema, table string, cols []string, rows [][]any) (string, error) {
	stage := fmt.Sprintf("_eventrouter_stage_%d", d.stage.Add(1))
	if _, err := conn.ExecContext(ctx, "CREATE TEMP TABLE "+quoteIdent(stage)+" (LIKE "+d.qualify(schema, table)+") ON COMMIT DROP"); err != nil {
		return "", fmt.Errorf("creating staging table: %w", err)
	}
	replaceNULs(rows)
	err := conn.Raw(func(dc any) error {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("copying: connection is %T", dc)
		}
		_, err := c.Conn().CopyFrom(ctx, pgx.Identifier{stage}, cols, pgx.CopyFromRows(rows))
		return err
	})
	if err != nil {
		return "", fmt.Errorf("copying to staging table: %w", err)
	}
	return stage, nil
}

func quotedList(cols []string) string {
	q := make([]string, len(cols))
	for i, c := range cols {
		q[i] = quoteIdent(c)
	}
	return strings.Join(q, ", ")
}

func (d *pgDialect) insert(ctx context.Context, conn *sql.Conn, schema, table string, cols []string, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	stage, err := d.copyToStage(ctx, conn, schema, table, cols, rows)
	if err != nil {
		return err
	}
	list := quotedList(cols)
	_, err = conn.ExecContext(ctx, "INSERT INTO "+d.qualify(schema, table)+" ("+list+") SELECT "+list+" FROM "+quoteIdent(stage)+" ON CONFLICT DO NOTHING")
	if err != nil {
		return fmt.Errorf("merging staging table: %w", err)
	}
	return nil
}

// dataError is true for PostgreSQL's data exceptions (class 22, such as a
// NUL character in text), integrity violations (23) and program limits
// (54, such as a row too big).
func (*pgDialect) dataError(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || len(pe.Code) < 2 {
		return false
	}
	switch pe.Code[:2] {
	case "22", "23", "54":
		return true
	}
	return false
}

// schemaError is true for PostgreSQL's class 42 (syntax error or access
// rule violation: an unacceptable schema name, a missing privilege, an
// object of the wrong kind) and 3F (invalid schema name).
func (*pgDialect) schemaError(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || len(pe.Code) < 2 {
		return false
	}
	return pe.Code[:2] == "42" || pe.Code[:2] == "3F"
}

// fatal is false: a broken connection is dropped from the pool.
func (*pgDialect) fatal(error) bool { return false }

func (*pgDialect) close() error { return nil }
