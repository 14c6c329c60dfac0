//go:build !noduckdb

package destinations

import (
	"path/filepath"
	"testing"

	"github.com/eventrouter/eventrouter/destinations/warehouse"
)

// conformanceWarehouse points the conformance suite's warehouse at a new
// DuckDB file.
func conformanceWarehouse(t *testing.T, c *warehouse.Config) {
	c.DSN = filepath.Join(t.TempDir(), "conformance.duckdb")
}
