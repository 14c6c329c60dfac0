package warehouse

import (
	"strings"
	"testing"
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
			if tt.cfg.Driver == DriverDuckDB && !DuckDBBuilt {
				// The static build refuses the driver, besides any other problem.
				if err == nil || !strings.Contains(err.Error(), "driver: duckdb: this build has no DuckDB; use driver: postgres") {
					t.Errorf("Validate = %v, want the no-DuckDB error", err)
				}
				if tt.want == "" {
					return
				}
			}
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate = %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Validate = %v, want an error with %q", err, tt.want)
			}
		})
	}
}
