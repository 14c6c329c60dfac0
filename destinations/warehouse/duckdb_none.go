//go:build noduckdb

package warehouse

import (
	"context"
	"database/sql"
	"errors"
	"net/url"
)

// DuckDBBuilt is false in a build with the tag noduckdb (the static,
// CGO_ENABLED=0 build): DuckDB is a C++ library, linked only through cgo.
// Driver duckdb is then a config error; PostgreSQL works as in the default
// build.
const DuckDBBuilt = false

// DuckDBVersion returns the version of the embedded DuckDB library; "" in
// this build, which has none.
func DuckDBVersion() string { return "" }

// ErrNoDuckDB is the error of every DuckDB operation in a build without
// DuckDB. Config.Validate reports it first, so a server never gets here.
var ErrNoDuckDB = errors.New("this build has no DuckDB; use driver: postgres")

func openDuckDB(string, string, bool, url.Values) (*sql.DB, func() error, error) {
	return nil, nil, ErrNoDuckDB
}

func reopenDuckDB(string, url.Values) (*sql.DB, error) { return nil, ErrNoDuckDB }

func openSharedDuckDB(string, url.Values) (*sql.DB, error) { return nil, ErrNoDuckDB }

// The loading half of the DuckDB dialect. No duckDialect is ever made in
// this build (openDuckDB fails first); these keep it a dialect.

func (duckDialect) insert(context.Context, *sql.Conn, string, string, []string, [][]any) error {
	return ErrNoDuckDB
}
func (duckDialect) dataError(error) bool   { return false }
func (duckDialect) schemaError(error) bool { return false }
func (duckDialect) fatal(error) bool       { return false }
