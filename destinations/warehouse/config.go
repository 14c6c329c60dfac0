package warehouse

import (
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
)

// The drivers a warehouse can load into.
const (
	// DriverDuckDB is an embedded DuckDB file (the default).
	DriverDuckDB = "duckdb"
	// DriverPostgres is a PostgreSQL database.
	DriverPostgres = "postgres"
)

// DefaultFile is the DuckDB file, under the server's data directory, that
// a duckdb warehouse without a dsn loads into.
const DefaultFile = "warehouse.duckdb"

// Config is the warehouse destination's config block. Batching is set by
// the common dispatch keys: batch_size (messages per load, at most 10000)
// and batch_timeout, also accepted as flush_interval (how long a load
// waits to fill up).
type Config struct {
	// Driver is "duckdb" (default) or "postgres". A build without DuckDB
	// (tag noduckdb, the static build) refuses "duckdb", also by default.
	Driver string `yaml:"driver"`
	// DSN is where the warehouse is: for duckdb the path of the database
	// file (default "<data_dir>/warehouse.duckdb"); for postgres a
	// connection URL or key=value string, as pgx accepts (required; it
	// may hold a password, so take it from an ${ENV_VAR}).
	DSN string `yaml:"dsn"`
	// SchemaPrefix is put before the schema name of every source (the
	// source's name in snake_case), so several deployments can share one
	// database (default empty: schema = source name).
	SchemaPrefix string `yaml:"schema_prefix"`
	// MemoryLimit is DuckDB's memory_limit, the most memory its buffer
	// manager uses, such as "256MB" or "1GiB" (driver duckdb; default
	// [DefaultMemoryLimit]).
	MemoryLimit string `yaml:"memory_limit"`
	// Threads is how many threads DuckDB uses (driver duckdb; default 0:
	// one per CPU, DuckDB's own default).
	Threads int `yaml:"threads"`
}

// DefaultMemoryLimit is the memory_limit of a DuckDB warehouse whose
// config sets none.
const DefaultMemoryLimit = "256MB"

var memoryLimitRe = regexp.MustCompile(`(?i)^[0-9]+(\.[0-9]+)?\s*(b|kb|mb|gb|tb|kib|mib|gib|tib)$`)

// memoryLimit returns the memory_limit to set.
func (c *Config) memoryLimit() string {
	if c.MemoryLimit == "" {
		return DefaultMemoryLimit
	}
	return strings.ReplaceAll(c.MemoryLimit, " ", "")
}

var schemaPrefixRe = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// Validate checks the config and returns every problem, each naming its key.
func (c *Config) Validate() error {
	var errs []error
	switch c.Driver {
	case DriverDuckDB:
		if !DuckDBBuilt {
			errs = append(errs, errors.New("driver: duckdb: this build has no DuckDB; use driver: postgres (or the default build, which embeds DuckDB)"))
		}
	case DriverPostgres:
		if c.DSN == "" {
			errs = append(errs, errors.New("dsn: required for driver postgres"))
		}
	case "":
		errs = append(errs, errors.New("driver: required (duckdb or postgres)"))
	default:
		errs = append(errs, fmt.Errorf("driver: unknown driver %q (known drivers: duckdb, postgres)", c.Driver))
	}
	if c.MemoryLimit != "" && !memoryLimitRe.MatchString(c.MemoryLimit) {
		errs = append(errs, fmt.Errorf("memory_limit: %q is not a size such as 256MB or 1GiB", c.MemoryLimit))
	}
	if c.Threads < 0 {
		errs = append(errs, fmt.Errorf("threads: %d is negative (0 means one per CPU)", c.Threads))
	}
	if c.SchemaPrefix != "" && !schemaPrefixRe.MatchString(c.SchemaPrefix) {
		errs = append(errs, fmt.Errorf("schema_prefix: %q is not lower-case letters, digits and underscores", c.SchemaPrefix))
	} else if strings.HasPrefix(c.SchemaPrefix, "pg_") {
		errs = append(errs, fmt.Errorf("schema_prefix: %q starts with pg_, which PostgreSQL keeps for its own schemas", c.SchemaPrefix))
	}
	return errors.Join(errs...)
}

// ResolvedDSN is the DSN the warehouse uses: DSN, or for duckdb without
// one the default file under dataDir.
func (c *Config) ResolvedDSN(dataDir string) string {
	if c.DSN == "" && c.Driver == DriverDuckDB {
		return filepath.Join(dataDir, DefaultFile)
	}
	return c.DSN
}
