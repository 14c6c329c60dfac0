//go:build noduckdb

package destinations

import (
	"testing"

	"github.com/eventrouter/eventrouter/destinations/warehouse"
	"github.com/eventrouter/eventrouter/internal/pgtest"
)

// conformanceWarehouse points the conformance suite's warehouse at a new
// PostgreSQL database: this build has no DuckDB.
func conformanceWarehouse(t *testing.T, c *warehouse.Config) {
	c.Driver, c.DSN = warehouse.DriverPostgres, pgtest.New(t).CreateDB(t)
}
