package warehouse

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eventrouter/eventrouter/router"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string // a fragment of the error, "" for none
	}{
		{"defaults", Config{Driver: DriverDuckDB}, ""},
		{"memory limit", Config{Driver: DriverDuckDB, MemoryLimit: "1.5GiB", Threads: 2}, ""},
		{"memory limit with a space", Config{Driver: DriverDuckDB, MemoryLimit: "512 MB"}, ""},
		{"bad memory limit", Config{Driver: DriverDuckDB, MemoryLimit: "lots"}, `memory_limit: "lots" is not a size`},
		{"negative threads", Config{Driver: DriverDuckDB, Threads: -1}, "threads: -1 is negative"},
		{"postgres without dsn", Config{Driver: DriverPostgres}, "dsn: required"},
		{"unknown driver", Config{Driver: "oracle"}, `unknown driver "oracle"`},
		{"bad prefix", Config{Driver: DriverDuckDB, SchemaPrefix: "Acme"}, "schema_prefix"},
		{"pg_ prefix", Config{Driver: DriverDuckDB, SchemaPrefix: "pg_acme_"}, "schema_prefix: \"pg_acme_\" starts with pg_"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate = %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Validate = %v, want an error with %q", err, tt.want)
			}
		})
	}
}

// TestDuckDBSettings checks that a DuckDB warehouse runs with its
// memory_limit and threads, and that the file is created with the block
// size the warehouse chooses.
func TestDuckDBSettings(t *testing.T) {
	cfg := &Config{Driver: DriverDuckDB, DSN: filepath.Join(t.TempDir(), "s.duckdb"), MemoryLimit: "100MB", Threads: 1}
	w := open(t, cfg)
	var limit, threads string
	if err := w.db.QueryRow("SELECT current_setting('memory_limit'), current_setting('threads')::VARCHAR").Scan(&limit, &threads); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(limit, "95.3 MiB") || threads != "1" {
		t.Errorf("memory_limit %q, threads %q; want 95.3 MiB (100MB) and 1", limit, threads)
	}
	var block int64
	if err := w.db.QueryRow("SELECT block_size FROM pragma_database_size() WHERE database_name = current_database()").Scan(&block); err != nil {
		t.Fatal(err)
	}
	if block != duckBlockSize {
		t.Errorf("block size %d, want %d", block, duckBlockSize)
	}
	// The default config limits DuckDB to DefaultMemoryLimit.
	def := NewFactory().DefaultConfig().(*Config)
	def.DSN = filepath.Join(t.TempDir(), "d.duckdb")
	d, err := NewFactory().New(context.Background(), def, router.Settings{Name: "d", DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(context.Background())
	if err := d.(*warehouse).db.QueryRow("SELECT current_setting('memory_limit')").Scan(&limit); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(limit, "244.1 MiB") {
		t.Errorf("default memory_limit %q, want 244.1 MiB (256MB)", limit)
	}
}
