package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestWarehouseReplay replays the log's last hour into a DuckDB warehouse
// with the real `eventrouter replay` CLI (issue 7): the replay re-sends
// every message, and since they keep their messageIds the warehouse adds
// no row; `eventrouter sql` then finds exactly one row per message in
// tracks and in each event table.
func TestWarehouseReplay(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	srv := startAdminServer(t, `log: {level: info}
queue: {partitions: 3}
sources:
  app: {type: segment, write_keys: ["replay-key"]}
destinations:
  wh: {type: warehouse, batch_size: 100, batch_timeout: 50ms}
`)
	const perEvent = 20
	events := map[string]string{"Order Completed": "order_completed", "Signed Up": "signed_up"}
	var items []string
	for name := range events {
		for i := 0; i < perEvent; i++ {
			items = append(items, fmt.Sprintf(`{"type":"track","messageId":"rp-%s-%d","userId":"u-%d","event":%q,"properties":{"i":%d,"plan":"pro"}}`,
				events[name], i, i, name, i))
		}
	}
	n := len(items)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	status, body, err := post(ctx, http.DefaultClient, srv.base+"/v1/batch", "replay-key", []byte(`{"batch":[`+strings.Join(items, ",")+`]}`))
	if err != nil || status != 200 {
		t.Fatalf("posting events: %d %s %v", status, body, err)
	}
	waitLoaded(t, srv, float64(n))

	code, out, errOut := runAdminCLI(t, "replay", "--destination", "wh", "--since", "1h", "--server", srv.base)
	if code != 0 || !strings.Contains(out, fmt.Sprintf("replayed: %d message(s)", n)) {
		t.Fatalf("replay: exit %d, want 0 and %d messages replayed\n%s\n%s", code, n, out, errOut)
	}
	// The replayed messages are delivered again: 2n in all.
	waitLoaded(t, srv, float64(2*n))
	srv.stop()

	want := map[string]int{"tracks": n}
	for _, table := range events {
		want[table] = perEvent
	}
	for table, rows := range want {
		got := sqlJSON(t, srv.cfgPath, `SELECT count(*) AS n, count(DISTINCT id) AS ids FROM app.`+table)
		if got[0]["n"] != float64(rows) || got[0]["ids"] != float64(rows) {
			t.Errorf("%s has %v rows with %v ids after the replay, want %d of each", table, got[0]["n"], got[0]["ids"], rows)
		}
	}
}
