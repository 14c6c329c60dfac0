package warehouse

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/eventrouter/eventrouter/router"
)

// TestSchemaFailureIsolated checks that a schema the database refuses for
// good fails only its own messages, permanently, while the other sources
// of the batch load: here the source "blocked" has a view where its
// tracks table should be, which neither database lets a load alter.
func TestSchemaFailureIsolated(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		w := newWarehouse(t, driver)
		for _, q := range []string{`CREATE SCHEMA blocked`, `CREATE VIEW blocked.tracks AS SELECT 1 AS x`} {
			if _, err := w.db.Exec(q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		batch := []router.Message{
			msg(t, 0, `{"type":"track","messageId":"a1","userId":"u1","event":"E"}`),
			msg(t, 0, `{"type":"track","messageId":"b1","userId":"u1","event":"E"}`),
			msg(t, 0, `{"type":"identify","messageId":"a2","userId":"u1","traits":{"plan":"pro"}}`),
			msg(t, 0, `{"type":"track","messageId":"b2","userId":"u1","event":"E"}`),
		}
		batch[1].Source, batch[3].Source = "blocked", "blocked"
		err := w.Send(context.Background(), batch)
		var be *router.BatchError
		if !errors.As(err, &be) {
			t.Fatalf("Send = %v, want a *router.BatchError", err)
		}
		if len(be.Failed) != 2 || be.Failed[1] == nil || be.Failed[3] == nil {
			t.Fatalf("failed = %v, want messages 1 and 3", be.Failed)
		}
		for i, e := range be.Failed {
			if kind, _ := router.Classify(e); kind != router.KindPermanent || !strings.Contains(e.Error(), "blocked") {
				t.Errorf("message %d: %v (classified %v), want permanent, naming the schema", i, e, kind)
			}
		}
		if got := joined(query(t, w, `SELECT id FROM prod_web.tracks UNION ALL SELECT id FROM prod_web.identifies ORDER BY id`)); got != "a1; a2" {
			t.Errorf("prod_web rows = %s, want a1; a2", got)
		}
		if got := one(t, w, `SELECT plan FROM prod_web.users`); got != "pro" {
			t.Errorf("users.plan = %s", got)
		}
	})
}

// TestPostgresSessionSettings checks the loader's lock and idle timeouts
// (a DSN's own values win) and that OpenReadOnly's connections refuse to
// write.
func TestPostgresSessionSettings(t *testing.T) {
	cfg := config(t, DriverPostgres)
	w := open(t, cfg)
	send(t, w, msg(t, 0, `{"type":"track","messageId":"m1","userId":"u1","event":"E"}`))
	if got := one(t, w, `SHOW lock_timeout`); got != "10s" {
		t.Errorf("lock_timeout = %s", got)
	}
	if got := one(t, w, `SHOW idle_in_transaction_session_timeout`); got != "1min" {
		t.Errorf("idle_in_transaction_session_timeout = %s", got)
	}
	own := open(t, &Config{Driver: DriverPostgres, DSN: cfg.DSN + "&lock_timeout=3s"})
	if got := one(t, own, `SHOW lock_timeout`); got != "3s" {
		t.Errorf("lock_timeout with the DSN's own = %s", got)
	}

	ro, err := OpenReadOnly(&Config{Driver: DriverPostgres, DSN: cfg.DSN + "&default_transaction_read_only=off"}, "")
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	_, err = ro.Exec(`DROP TABLE prod_web.tracks`)
	if err == nil || !strings.Contains(err.Error(), "read-only transaction") {
		t.Fatalf("DROP TABLE through OpenReadOnly: %v, want a read-only error", err)
	}
	if got := one(t, w, `SELECT count(*) FROM prod_web.tracks`); got != "1" {
		t.Errorf("tracks has %s rows after the refused DROP", got)
	}
}

// TestNULCharacters checks that a NUL character in text (a property, a
// trait, an event name, an id) does not stop a message: PostgreSQL, whose
// text cannot hold NUL, gets U+FFFD in its place; DuckDB keeps it.
func TestNULCharacters(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		w := newWarehouse(t, driver)
		send(t, w,
			msg(t, 0, `{"type":"track","messageId":"m\u00001","userId":"u\u0000","event":"E\u0000v","properties":{"note":"a\u0000b","tags":["x\u0000"]}}`),
			msg(t, 0, `{"type":"identify","messageId":"m2","userId":"u2","traits":{"name":"A\u0000n","plan":1},"sentAt":"bad\u0000"}`),
		)
		want := "a\x00b"
		if driver == DriverPostgres {
			want = "a\uFFFDb"
		}
		if got := one(t, w, `SELECT note FROM prod_web.e_v`); got != want {
			t.Errorf("note = %q, want %q", got, want)
		}
		if got := one(t, w, `SELECT count(*) FROM prod_web.tracks`); got != "1" {
			t.Errorf("tracks has %s rows", got)
		}
		wantName := "A\x00n"
		if driver == DriverPostgres {
			wantName = "A\uFFFDn"
		}
		if got := one(t, w, `SELECT name FROM prod_web.users`); got != wantName {
			t.Errorf("users.name = %q, want %q", got, wantName)
		}
		// Redelivered: still one row (the id is found again).
		send(t, w, msg(t, 0, `{"type":"track","messageId":"m\u00001","userId":"u\u0000","event":"E\u0000v","properties":{"note":"a\u0000b"}}`))
		if got := one(t, w, `SELECT count(*) FROM prod_web.e_v`); got != "1" {
			t.Errorf("e_v has %s rows after a redelivery", got)
		}
	})
}

// TestUnparsableTimes checks that a sentAt, timestamp or
// originalTimestamp that is not an RFC 3339 time keeps its row, leaves the
// column NULL, and goes to _discards with its raw value.
func TestUnparsableTimes(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		w := newWarehouse(t, driver)
		send(t, w, msg(t, 0, `{"type":"page","messageId":"m1","userId":"u1","name":"Home","sentAt":"yesterday","timestamp":1700000000,"originalTimestamp":"2024-01-01T00:00:00Z"}`))
		if got := joined(query(t, w, `SELECT name, original_timestamp FROM prod_web.pages`)); got != "Home|2024-01-01T00:00:00Z" {
			t.Errorf("pages = %s", got)
		}
		want := []string{
			"pages.sent_at=yesterday type_mismatch timestamp m1",
			"pages.timestamp=1700000000 type_mismatch timestamp m1",
		}
		if got := discards(t, w); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("discards:\n got %q\nwant %q", got, want)
		}
	})
}

// TestArraysAsJSONMarshal checks that an array is stored as json.Marshal
// writes it, as Segment's warehouses do: compact, object keys sorted, HTML characters
// escaped.
func TestArraysAsJSONMarshal(t *testing.T) {
	b := newBuilder("", 63)
	rows, err := b.rows(msg(t, 0, `{"type":"track","messageId":"m1","event":"E","properties":{"tags":["<a&b>", {"z": 1, "a": [2]}]}}`), 0)
	if err != nil {
		t.Fatal(err)
	}
	v, ok := rows[1].get("tags")
	if want := `["\u003ca\u0026b\u003e",{"a":[2],"z":1}]`; !ok || v.str() != want {
		t.Errorf("tags = %q, want %q", v.str(), want)
	}
}
