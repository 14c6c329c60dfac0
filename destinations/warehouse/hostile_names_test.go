package warehouse

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/router"
)

// hostile builds a track message of source with an event name and
// properties given as Go values (so any name can be used as a key).
func hostile(t *testing.T, source, id, event string, props map[string]any) router.Message {
	t.Helper()
	at := t0
	body, err := json.Marshal(map[string]any{
		"type": "track", "messageId": id, "userId": "u1", "event": event,
		"properties": props, "receivedAt": router.FormatTime(at),
	})
	if err != nil {
		t.Fatal(err)
	}
	return router.Message{ID: id, Source: source, Type: "track", UserID: "u1", Event: event, ReceivedAt: at, Body: body}
}

// TestHostileNames loads events, properties and sources with hostile
// names (quotes, backslashes, SQL, unicode, key words, very long names) on
// both drivers: every message loads, and the tables are where the naming
// rules say.
func TestHostileNames(t *testing.T) {
	long := strings.Repeat("Very Long Name ", 20)
	events := []string{
		`Robert"); DROP TABLE prod_web.tracks; --`,
		`a"b\c'd`,
		`select`, `from`, `order`, `user`, `Table`, `Tracks`, `_discards`,
		`Ünïcödé Évent`, `ÄÖÜ`, `"`, `\`,
		long, long + "x", // differ only after the identifier limit
	}
	props := map[string]any{
		`a"b`: 1, `back\slash`: 2, `select`: 3, `from`: 4, `order`: 5,
		`"; DROP TABLE prod_web.tracks; --`: 6, `ключ`: 7, `ÜberWert`: 8,
		long: 9, long + "y": 10, `primary key`: 11, `user`: 12,
	}
	sources := []string{
		`prod-web`, `Robert'); DROP SCHEMA public; --`, `a"b`, `select`, `main`,
		`public`, `ÜNI`, long, `pg-web`, `information_schema`, `pg_catalog`,
	}
	forEachDriver(t, func(t *testing.T, driver string) {
		w := newWarehouse(t, driver)
		for i, ev := range events {
			m := hostile(t, "prod-web", fmt.Sprintf("e%d", i), ev, props)
			if err := w.Send(context.Background(), []router.Message{m}); err != nil {
				t.Errorf("event %q: Send: %v", ev, err)
			}
		}
		if n := one(t, w, `SELECT count(*) FROM prod_web.tracks`); n != fmt.Sprint(len(events)) {
			t.Errorf("tracks has %s rows, want %d", n, len(events))
		}
		for i, src := range sources {
			m := hostile(t, src, fmt.Sprintf("s%d", i), "Order Completed", props)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err := w.Send(ctx, []router.Message{m})
			cancel()
			if err != nil {
				kind, _ := router.Classify(err)
				t.Errorf("source %q (schema %s): Send: %v (classified %v)", src, schemaName("", src, w.d.maxIdent()), err, kind)
			}
		}
	})
}
