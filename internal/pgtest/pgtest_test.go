package pgtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

// TestDBIsFreshPerTest checks that each test gets its own empty database
// on the shared server, and that it accepts writes.
func TestDBIsFreshPerTest(t *testing.T) {
	var dsns []string
	for _, name := range []string{"first", "second"} {
		t.Run(name, func(t *testing.T) {
			dsn := DB(t)
			dsns = append(dsns, dsn)
			ctx := context.Background()
			conn, err := pgx.Connect(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(ctx)
			var n int
			if err := conn.QueryRow(ctx, "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'").Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 0 {
				t.Fatalf("new database has %d tables", n)
			}
			if _, err := conn.Exec(ctx, "CREATE TABLE t (x int); INSERT INTO t VALUES (1)"); err != nil {
				t.Fatal(err)
			}
		})
	}
	if len(dsns) == 2 && dsns[0] == dsns[1] {
		t.Fatalf("two tests got the same database %s", dsns[0])
	}
}

// TestNewServerStops checks that a server of a test's own stops when the
// test ends.
func TestNewServerStops(t *testing.T) {
	var dsn string
	t.Run("run", func(t *testing.T) {
		s := New(t)
		dsn = s.DSN("postgres")
		conn, err := pgx.Connect(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		conn.Close(context.Background())
	})
	if t.Skipped() || dsn == "" {
		return
	}
	if conn, err := pgx.Connect(context.Background(), dsn); err == nil {
		conn.Close(context.Background())
		t.Fatal("server still accepts connections after its test ended")
	}
}

// recorder is a testing.TB that records Skipf and Fatalf.
type recorder struct {
	testing.TB
	skip, fatal string
}

func (r *recorder) Skipf(format string, args ...any)  { r.skip = fmt.Sprintf(format, args...) }
func (r *recorder) Fatalf(format string, args ...any) { r.fatal = fmt.Sprintf(format, args...) }

// TestMissingBinaries checks what happens without the binaries: a skip
// that says how to install them, or a failure when CI is set.
func TestMissingBinaries(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	old := libGlob
	libGlob = filepath.Join(t.TempDir(), "*", "bin", "initdb")
	defer func() { libGlob = old }()
	_, err := findBin()
	if !errors.Is(err, errNoBinaries) {
		t.Fatalf("findBin with nothing installed = %v", err)
	}
	for _, ci := range []string{"", "true"} {
		t.Setenv("CI", ci)
		r := &recorder{TB: t}
		skipOrFail(r, err)
		switch {
		case ci == "" && (r.fatal != "" || !strings.Contains(r.skip, InstallHint)):
			t.Errorf("without CI: skip %q, fatal %q; want a skip naming %q", r.skip, r.fatal, InstallHint)
		case ci != "" && (r.skip != "" || !strings.Contains(r.fatal, InstallHint)):
			t.Errorf("with CI set: skip %q, fatal %q; want a failure naming %q", r.skip, r.fatal, InstallHint)
		}
	}
}
