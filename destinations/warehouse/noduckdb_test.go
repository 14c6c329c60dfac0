//go:build noduckdb

package warehouse

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/eventrouter/eventrouter/router"
)

// drivers are the drivers the tests run on: PostgreSQL alone in this build.
var drivers = []string{DriverPostgres}

// TestNoDuckDB checks that a build without DuckDB refuses the duckdb
// driver, also as the default, with an error that says what to do, at
// every entry point; and that postgres is not affected.
func TestNoDuckDB(t *testing.T) {
	const want = "this build has no DuckDB; use driver: postgres"
	if DuckDBBuilt || DuckDBVersion() != "" {
		t.Fatalf("DuckDBBuilt %v, DuckDBVersion %q in a noduckdb build", DuckDBBuilt, DuckDBVersion())
	}
	def := NewFactory().DefaultConfig().(*Config)
	if err := def.Validate(); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("default config: Validate = %v, want %q", err, want)
	}
	_, err := NewFactory().New(context.Background(), &Config{Driver: DriverDuckDB}, router.Settings{Name: "wh", DataDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), `"wh"`) {
		t.Errorf("New: %v, want %q naming the destination", err, want)
	}
	if _, err := OpenReadOnly(&Config{Driver: DriverDuckDB}, t.TempDir()); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("OpenReadOnly: %v", err)
	}
	if _, err := OpenShared(&Config{Driver: DriverDuckDB}, t.TempDir()); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("OpenShared: %v", err)
	}
	if _, _, err := openDuckDB("x.duckdb", "wh", true, nil); !errors.Is(err, ErrNoDuckDB) {
		t.Errorf("openDuckDB: %v, want ErrNoDuckDB", err)
	}
	if err := (&Config{Driver: DriverPostgres, DSN: "postgres://localhost/db"}).Validate(); err != nil {
		t.Errorf("postgres config: %v", err)
	}
}
