//go:build !noduckdb

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
	"strings"
	"sync"

	duckdb "github.com/duckdb/duckdb-go/v2"
	"github.com/duckdb/duckdb-go/v2/mapping"
)

// DuckDBBuilt is true in the default build, which embeds DuckDB (cgo),
// and false in a build with the tag noduckdb, where driver duckdb is a
// config error.
const DuckDBBuilt = true

// DuckDBVersion returns the version of the embedded DuckDB library, such
// as "v1.5.0"; "" in a build without DuckDB.
func DuckDBVersion() string { return mapping.LibraryVersion() }

var lockHolder = regexp.MustCompile(`Conflicting lock is held in (.*) \(PID (\d+)\)`)

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

// openSharedDuckDB opens the DuckDB file at the absolute path abs for
// OpenShared: a database that counts as a writer of the file until it is
// closed.
func openSharedDuckDB(abs string, opts url.Values) (*sql.DB, error) {
	conn, err := duckdb.NewConnector(abs+"?"+opts.Encode(), nil)
	if err != nil {
		return nil, fmt.Errorf("opening duckdb warehouse %s: %w", abs, err)
	}
	openFiles.Lock()
	openFiles.shared[abs]++
	openFiles.Unlock()
	return sql.OpenDB(&sharedConnector{Connector: conn, abs: abs}), nil
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
