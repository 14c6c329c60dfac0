//go:build !noduckdb

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/destinations/warehouse"
	"github.com/eventrouter/eventrouter/router"
)

// TestSQLCommand loads two messages into a DuckDB warehouse, then queries
// it with `eventrouter sql` in each format, and checks the usage errors.
func TestSQLCommand(t *testing.T) {
	dir := t.TempDir()
	d, err := warehouse.NewFactory().New(context.Background(), &warehouse.Config{Driver: warehouse.DriverDuckDB}, router.Settings{Name: "wh", DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	var msgs []router.Message
	for i, rev := range []string{"9.99", "null"} {
		id := fmt.Sprintf("m%d", i)
		body := fmt.Sprintf(`{"type":"track","messageId":%q,"userId":"u1","event":"Order Completed","properties":{"revenue":%s,"note":"a, \"b\""}}`, id, rev)
		msgs = append(msgs, router.Message{ID: id, Source: "web", Type: "track", UserID: "u1", Event: "Order Completed", ReceivedAt: at, Body: []byte(body)})
	}
	if err := d.Send(context.Background(), msgs); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "eventrouter.yaml")
	cfg := fmt.Sprintf("data_dir: %q\nsources:\n  web: {type: segment, write_keys: [k]}\ndestinations:\n  wh: {type: warehouse}\n", dir)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	const q = "SELECT id, revenue, note, received_at FROM web.order_completed ORDER BY id"
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"table", []string{"--config", cfgPath, q}, 0,
			"id   revenue  note    received_at\n" +
				"---  -------  ----    -----------\n" +
				"m0   9.99     a, \"b\"  2024-01-01T00:00:00Z\n" +
				"m1   NULL     a, \"b\"  2024-01-01T00:00:00Z\n" +
				"(2 rows)\n"},
		{"csv, flags after the query", []string{q, "--format", "csv", "--config", cfgPath}, 0,
			"id,revenue,note,received_at\nm0,9.99,\"a, \"\"b\"\"\",2024-01-01T00:00:00Z\nm1,,\"a, \"\"b\"\"\",2024-01-01T00:00:00Z\n"},
		{"json", []string{"--format", "json", "--config", cfgPath, "--destination", "wh", q}, 0, ""},
		{"no query", []string{"--config", cfgPath}, 2, ""},
		{"bad format", []string{"--format", "xml", "--config", cfgPath, q}, 2, ""},
		{"unknown destination", []string{"--destination", "nope", "--config", cfgPath, q}, 2, ""},
		{"bad query", []string{"--config", cfgPath, "SELECT * FROM nowhere"}, 1, ""},
		{"query starting with a comment", []string{"--config", cfgPath, "-- how many\nSELECT count(*) AS n FROM web.order_completed"}, 0,
			"n\n---\n2\n(1 row)\n"},
		{"comment query after --", []string{"--format", "csv", "--config", cfgPath, "--", "--x\nSELECT 1 AS one"}, 0, "one\n1\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(context.Background(), append([]string{"sql"}, c.args...), &out, &errb)
			if code != c.code {
				t.Fatalf("exit %d, want %d; stderr: %s", code, c.code, errb.String())
			}
			if c.code != 0 && errb.Len() == 0 {
				t.Error("failed without a message")
			}
			if c.want != "" && out.String() != c.want {
				t.Errorf("output:\n%s\nwant:\n%s", out.String(), c.want)
			}
			if c.name == "json" {
				var got []map[string]any
				if err := json.Unmarshal(out.Bytes(), &got); err != nil {
					t.Fatalf("%v: %s", err, out.String())
				}
				if len(got) != 2 || got[0]["revenue"] != 9.99 || got[1]["revenue"] != nil || got[0]["note"] != `a, "b"` || !strings.HasPrefix(out.String(), "[") {
					t.Errorf("json = %v", got)
				}
			}
		})
	}
}
