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

// openPostgres opens a pool on dsn; it connects lazily.
func openPostgres(dsn string) (*sql.DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("parsing postgres dsn: %w", err)
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
func (*pgDialect) idIn(ids []string) (string, any)     { return "id = ANY($1)", ids }

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

func (d *pgDialect) replace(ctx context.Context, conn *sql.Conn, schema, table string, cols []string, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	stage, err := d.copyToStage(ctx, conn, schema, table, cols, rows)
	if err != nil {
		return err
	}
	sets := make([]string, 0, len(cols))
	for _, c := range cols {
		if c != "id" {
			sets = append(sets, quoteIdent(c)+" = EXCLUDED."+quoteIdent(c))
		}
	}
	list := quotedList(cols)
	_, err = conn.ExecContext(ctx, "INSERT INTO "+d.qualify(schema, table)+" ("+list+") SELECT "+list+" FROM "+quoteIdent(stage)+
		` ON CONFLICT ("id") DO UPDATE SET `+strings.Join(sets, ", "))
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

func (*pgDialect) close() error { return nil }
