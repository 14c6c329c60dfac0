package warehouse

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/internal/pgtest"
	"github.com/eventrouter/eventrouter/router"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// config returns a config for driver backed by a fresh database.
func config(t *testing.T, driver string) *Config {
	t.Helper()
	c := &Config{Driver: driver}
	switch driver {
	case DriverDuckDB:
		c.DSN = filepath.Join(t.TempDir(), "wh.duckdb")
	case DriverPostgres:
		c.DSN = pgtest.DB(t)
	}
	return c
}

// open builds a warehouse destination of cfg, closed when t ends.
func open(t *testing.T, cfg *Config) *warehouse {
	t.Helper()
	d, err := NewFactory().New(context.Background(), cfg, router.Settings{Name: "wh", DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close(context.Background()) })
	return d.(*warehouse)
}

// newWarehouse opens a warehouse of driver on a fresh database.
func newWarehouse(t *testing.T, driver string) *warehouse {
	t.Helper()
	return open(t, config(t, driver))
}

var t0 = time.Date(2024, 1, 1, 1, 0, 10, 0, time.UTC)

// msg builds a message of source prod-web from a JSON body, which must
// hold type and messageId; receivedAt is t0 plus offset seconds.
func msg(t *testing.T, offset int, body string) router.Message {
	t.Helper()
	var b map[string]any
	if err := json.Unmarshal([]byte(body), &b); err != nil {
		t.Fatalf("bad test body %s: %v", body, err)
	}
	at := t0.Add(time.Duration(offset) * time.Second)
	b["receivedAt"] = router.FormatTime(at)
	raw, _ := json.Marshal(b)
	s := func(k string) string { v, _ := b[k].(string); return v }
	return router.Message{
		ID: s("messageId"), Source: "prod-web", Type: s("type"), UserID: s("userId"),
		AnonymousID: s("anonymousId"), Event: s("event"), ReceivedAt: at, Body: raw,
	}
}

func send(t *testing.T, w *warehouse, msgs ...router.Message) {
	t.Helper()
	if err := w.Send(context.Background(), msgs); err != nil {
		t.Fatalf("Send: %v", err)
	}
}

// query runs q on the warehouse's database and returns every row, each
// value printed with fmt.Sprint (NULL as "<nil>", times in RFC 3339).
func query(t *testing.T, w *warehouse, q string, args ...any) [][]string {
	t.Helper()
	rs, err := w.db.QueryContext(context.Background(), q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rs.Close()
	cols, _ := rs.Columns()
	var out [][]string
	for rs.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rs.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		row := make([]string, len(cols))
		for i, v := range vals {
			switch x := v.(type) {
			case time.Time:
				row[i] = x.UTC().Format(time.RFC3339Nano)
			case []byte:
				row[i] = string(x)
			default:
				row[i] = fmt.Sprint(x)
			}
		}
		out = append(out, row)
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// value returns the single value of q.
func one(t *testing.T, w *warehouse, q string, args ...any) string {
	t.Helper()
	rows := query(t, w, q, args...)
	if len(rows) != 1 || len(rows[0]) != 1 {
		t.Fatalf("%s: got %v, want one value", q, rows)
	}
	return rows[0][0]
}

// columnType returns the type of a column, "" when there is no such column.
func columnType(t *testing.T, w *warehouse, schema, table, col string) string {
	t.Helper()
	rows := query(t, w, `SELECT data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 AND column_name = $3`, schema, table, col)
	if len(rows) == 0 {
		return ""
	}
	return w.d.colType(rows[0][0]).String()
}

func tableExists(t *testing.T, w *warehouse, schema, table string) bool {
	t.Helper()
	return one(t, w, `SELECT count(*) FROM information_schema.tables WHERE table_schema = $1 AND table_name = $2`, schema, table) == "1"
}

// discards returns the _discards rows of schema prod_web as
// "table.column=value reason expected" strings.
func discards(t *testing.T, w *warehouse) []string {
	t.Helper()
	if !tableExists(t, w, "prod_web", "_discards") {
		return nil
	}
	var out []string
	for _, r := range query(t, w, `SELECT table_name, column_name, column_value, reason, column_type_expected, row_id FROM prod_web._discards ORDER BY table_name, column_name, reason, row_id`) {
		out = append(out, fmt.Sprintf("%s.%s=%s %s %s %s", r[0], r[1], r[2], r[3], r[4], r[5]))
	}
	return out
}

func forEachDriver(t *testing.T, f func(t *testing.T, driver string)) {
	for _, d := range drivers {
		t.Run(d, func(t *testing.T) { f(t, d) })
	}
}

func joined(rows [][]string) string {
	parts := make([]string, len(rows))
	for i, r := range rows {
		parts[i] = strings.Join(r, "|")
	}
	return strings.Join(parts, "; ")
}

// benchDB returns a fresh PostgreSQL database for a benchmark.
func benchDB(b *testing.B) string { return pgtest.DB(b) }
