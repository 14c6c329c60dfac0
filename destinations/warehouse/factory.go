package warehouse

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"

	"github.com/eventrouter/eventrouter/router"
)

// Type is the destination type name used in the config.
const Type = "warehouse"

type factory struct{}

// NewFactory returns the factory of warehouse destinations.
func NewFactory() router.Factory { return factory{} }

// Type returns "warehouse".
func (factory) Type() string { return Type }

// IntegrationName returns "Warehouses", the key of Segment's integrations
// object that selects warehouses (router.IntegrationNamer); dispatch applies
// Segment's warehouse rule to it, with the destination's name as the
// warehouse id.
func (factory) IntegrationName() string { return router.IntegrationWarehouses }

// DefaultConfig returns a *Config with the defaults: driver duckdb, the
// DuckDB file under the data directory, no schema prefix, DuckDB's memory
// limit at [DefaultMemoryLimit].
func (factory) DefaultConfig() any {
	return &Config{Driver: DriverDuckDB, MemoryLimit: DefaultMemoryLimit}
}

// New opens the warehouse of a *Config. A DuckDB file is opened (and
// created) at once and locked for this destination: a second writer, in
// this process or another, is refused with an error matching [ErrInUse].
// A PostgreSQL pool connects on the first load, so a database that is down
// at start delays loads rather than the server.
func (factory) New(_ context.Context, cfg any, set router.Settings) (router.Destination, error) {
	c, ok := cfg.(*Config)
	if !ok {
		return nil, fmt.Errorf("creating warehouse destination %q: config is %T, not *warehouse.Config", set.Name, cfg)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("creating warehouse destination %q: %w", set.Name, err)
	}
	logger := set.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	w := &warehouse{name: set.Name, logger: logger}
	switch c.Driver {
	case DriverDuckDB:
		path, opts := c.ResolvedDSN(set.DataDir), duckOptions(c, true)
		db, release, err := openDuckDB(path, set.Name, true, opts)
		if err != nil {
			return nil, fmt.Errorf("creating warehouse destination %q: %w", set.Name, err)
		}
		var catalog string
		if err := db.QueryRow("SELECT current_database()").Scan(&catalog); err != nil {
			_ = db.Close()
			_ = release()
			return nil, fmt.Errorf("creating warehouse destination %q: reading the database name: %w", set.Name, err)
		}
		w.db, w.d = db, duckDialect{release: release, catalog: catalog}
		w.reopen = func() (*sql.DB, error) { return reopenDuckDB(path, opts) }
	case DriverPostgres:
		db, err := openPostgres(c.DSN, map[string]string{
			"lock_timeout": pgLockTimeout, "idle_in_transaction_session_timeout": pgIdleInTransaction,
		}, false)
		if err != nil {
			return nil, fmt.Errorf("creating warehouse destination %q: %w", set.Name, err)
		}
		w.db, w.d = db, &pgDialect{}
	}
	w.b = newBuilder(c.SchemaPrefix, w.d.maxIdent())
	return w, nil
}

// OpenReadOnly opens the warehouse of a *Config for queries, as
// `eventrouter sql` does: a DuckDB file read-only (which fails with an
// error matching [ErrInUse] while a server writes to it), a PostgreSQL
// database with default_transaction_read_only on, so a statement that
// writes fails ("cannot execute DROP TABLE in a read-only transaction").
// dataDir is the server's data directory, for the default DuckDB file.
func OpenReadOnly(cfg *Config, dataDir string) (*sql.DB, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("opening warehouse: %w", err)
	}
	if cfg.Driver == DriverPostgres {
		return openPostgres(cfg.DSN, map[string]string{"default_transaction_read_only": "on"}, true)
	}
	db, _, err := openDuckDB(cfg.ResolvedDSN(dataDir), "", false, duckOptions(cfg, false))
	return db, err
}

// OpenShared opens, for queries, the warehouse of a *Config that a
// destination of this process has open: DuckDB shares one open database
// per file within a process, and only with the same settings, which this
// uses (so it also creates the file when none is open). The database it
// returns can write, so until it is closed it counts as a writer of the
// file: a destination opened on the file meanwhile is refused with
// [ErrInUse], as a second destination would be. For PostgreSQL it is a
// pool as configured. dataDir is the server's data directory, for the
// default DuckDB file.
func OpenShared(cfg *Config, dataDir string) (*sql.DB, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("opening warehouse: %w", err)
	}
	if cfg.Driver == DriverPostgres {
		return openPostgres(cfg.DSN, nil, false)
	}
	path, err := filepath.Abs(cfg.ResolvedDSN(dataDir))
	if err != nil {
		return nil, fmt.Errorf("opening warehouse: %w", err)
	}
	return openSharedDuckDB(path, duckOptions(cfg, true))
}

// SchemaName returns the schema that the messages of a source load into
// (the source's name in snake_case, after the config's schema_prefix).
func SchemaName(cfg *Config, source string) string {
	max := (&pgDialect{}).maxIdent()
	if cfg.Driver == DriverDuckDB {
		max = duckDialect{}.maxIdent()
	}
	return schemaName(cfg.SchemaPrefix, source, max)
}
