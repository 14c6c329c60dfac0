//go:build !noduckdb

package warehouse

// The tests of the DuckDB driver alone: the build with the tag noduckdb
// has no DuckDB (noduckdb_test.go tests that instead).

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eventrouter/eventrouter/router"
)

// TestDuckDBSecondWriter checks that a DuckDB file has one writer: a
// second destination in the process and a second process are refused
// with an error naming the problem.
func TestDuckDBSecondWriter(t *testing.T) {
	if os.Getenv("WAREHOUSE_HOLD_DUCKDB") != "" {
		return // helper mode, see below
	}
	cfg := config(t, DriverDuckDB)
	w := open(t, cfg)
	send(t, w, msg(t, 0, `{"type":"track","messageId":"m1","userId":"u1","event":"E"}`))

	_, err := NewFactory().New(context.Background(), cfg, router.Settings{Name: "second"})
	if !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), `destination "wh"`) {
		t.Fatalf("second destination on the same file: %v", err)
	}
	if _, err := OpenReadOnly(cfg, ""); err != nil {
		t.Logf("read-only open while this process writes: %v", err)
	}

	// Another process writing the file: this test binary in helper mode.
	_ = w.Close(context.Background())
	cmd := exec.Command(os.Args[0], "-test.run=^TestDuckDBHolder$")
	cmd.Env = append(os.Environ(), "WAREHOUSE_HOLD_DUCKDB="+cfg.DSN)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); _ = cmd.Wait() }()
	buf := make([]byte, 64)
	if n, _ := stdout.Read(buf); !strings.Contains(string(buf[:n]), "holding") {
		t.Fatalf("helper did not open the file: %q", buf[:n])
	}
	_, err = NewFactory().New(context.Background(), cfg, router.Settings{Name: "third"})
	if !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), "PID") || !strings.Contains(err.Error(), "eventrouter serve") {
		t.Fatalf("writer while another process holds the file: %v", err)
	}
	_, err = OpenReadOnly(cfg, "")
	if !errors.Is(err, ErrInUse) {
		t.Fatalf("read-only open while another process writes: %v", err)
	}
}

// TestDuckDBHolder is the helper process of TestDuckDBSecondWriter: it
// opens the file named by WAREHOUSE_HOLD_DUCKDB and holds it until its
// standard input closes.
func TestDuckDBHolder(t *testing.T) {
	path := os.Getenv("WAREHOUSE_HOLD_DUCKDB")
	if path == "" {
		t.Skip("helper process of TestDuckDBSecondWriter")
	}
	d, err := NewFactory().New(context.Background(), &Config{Driver: DriverDuckDB, DSN: path}, router.Settings{Name: "holder"})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(context.Background())
	fmt.Println("holding")
	buf := make([]byte, 1)
	_, _ = os.Stdin.Read(buf)
}

// TestDefaultDuckDBFile checks that a duckdb warehouse without a dsn lives
// in the data directory.
func TestDefaultDuckDBFile(t *testing.T) {
	dir := t.TempDir()
	d, err := NewFactory().New(context.Background(), &Config{Driver: DriverDuckDB}, router.Settings{Name: "wh", DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(context.Background())
	if _, err := os.Stat(filepath.Join(dir, DefaultFile)); err != nil {
		t.Fatal(err)
	}
}

// TestOpenSharedIsAWriter checks that a database opened with OpenShared
// counts as a writer of its DuckDB file until it is closed: a destination
// on the file is refused meanwhile, and opens once it is closed.
func TestOpenSharedIsAWriter(t *testing.T) {
	cfg := config(t, DriverDuckDB)
	db, err := OpenShared(cfg, "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = NewFactory().New(context.Background(), cfg, router.Settings{Name: "wh"})
	if !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), "OpenShared") {
		t.Fatalf("destination while OpenShared holds the file: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	w := open(t, cfg)
	send(t, w, msg(t, 0, `{"type":"track","messageId":"m1","userId":"u1","event":"E"}`))
	// Sharing the destination's open database is what OpenShared is for.
	db, err = OpenShared(cfg, "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM prod_web.tracks`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("count = %d, %v", n, err)
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

// drivers are the drivers the tests run on: both in this build.
var drivers = []string{DriverDuckDB, DriverPostgres}
