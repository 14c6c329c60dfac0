package warehouse

import (
	"slices"
	"testing"

	"github.com/eventrouter/eventrouter/router"
)

// TestVectors runs the warehouse vectors W1–W10 on both
// drivers: each case loads its batches, one Send each, then checks the
// warehouse.
func TestVectors(t *testing.T) {
	type check func(t *testing.T, w *warehouse)
	cases := []struct {
		name    string
		batches func(t *testing.T) [][]router.Message
		check   check
	}{
		{
			name: "W1 track with properties, nesting, an array and a reserved name",
			batches: func(t *testing.T) [][]router.Message {
				return [][]router.Message{{msg(t, 0, `{"type":"track","messageId":"m1","userId":"u1","event":"Order Completed",
					"properties":{"revenue":9.99,"accountType":"pro","product":{"sku":"G-32"},"tags":["a","b"],"user_id":"x"}}`)}}
			},
			check: func(t *testing.T, w *warehouse) {
				got := joined(query(t, w, `SELECT event, event_text, revenue, account_type, product_sku, tags, user_id FROM prod_web.order_completed`))
				if want := `order_completed|Order Completed|9.99|pro|G-32|["a","b"]|u1`; got != want {
					t.Errorf("order_completed = %s, want %s", got, want)
				}
				if typ := columnType(t, w, "prod_web", "order_completed", "revenue"); typ != "float" {
					t.Errorf("revenue is %s, want float", typ)
				}
				if d := discards(t, w); !slices.Equal(d, []string{"order_completed.user_id=x reserved_column <nil> m1"}) {
					t.Errorf("discards = %q", d)
				}
				if got := joined(query(t, w, `SELECT id, event, event_text, user_id FROM prod_web.tracks`)); got != "m1|order_completed|Order Completed|u1" {
					t.Errorf("tracks = %s", got)
				}
				for _, c := range []string{"revenue", "account_type", "product_sku", "tags"} {
					if typ := columnType(t, w, "prod_web", "tracks", c); typ != "" {
						t.Errorf("tracks has property column %s", c)
					}
				}
			},
		},
		{
			name: "W2 context is flattened",
			batches: func(t *testing.T) [][]router.Message {
				return [][]router.Message{{msg(t, 0, `{"type":"track","messageId":"m1","userId":"u1","event":"E",
					"context":{"app":{"version":"1.0.0"},"library":{"name":"analytics.js"}}}`)}}
			},
			check: func(t *testing.T, w *warehouse) {
				for _, table := range []string{"tracks", "e"} {
					if got := joined(query(t, w, `SELECT context_app_version, context_library_name FROM prod_web.`+table)); got != "1.0.0|analytics.js" {
						t.Errorf("%s context columns = %s", table, got)
					}
				}
			},
		},
		{
			name: "W3 users keeps the latest non-null trait",
			batches: func(t *testing.T) [][]router.Message {
				return [][]router.Message{
					{msg(t, 0, `{"type":"identify","messageId":"i1","userId":"u1","anonymousId":"a1","traits":{"email":"a@x","plan":"free"}}`)},
					{msg(t, 5, `{"type":"identify","messageId":"i2","userId":"u1","traits":{"plan":"pro"}}`)},
				}
			},
			check: func(t *testing.T, w *warehouse) {
				if n := one(t, w, `SELECT count(*) FROM prod_web.identifies`); n != "2" {
					t.Errorf("identifies has %s rows", n)
				}
				got := joined(query(t, w, `SELECT id, email, plan, received_at FROM prod_web.users`))
				if want := "u1|a@x|pro|2024-01-01T01:00:15Z"; got != want {
					t.Errorf("users = %s, want %s", got, want)
				}
				if typ := columnType(t, w, "prod_web", "users", "anonymous_id"); typ != "" {
					t.Error("users has an anonymous_id column")
				}
			},
		},
		{
			name: "W4 event tables starting with a digit or named like a standard table",
			batches: func(t *testing.T) [][]router.Message {
				return [][]router.Message{{
					msg(t, 0, `{"type":"track","messageId":"m1","userId":"u1","event":"2FA Enabled"}`),
					msg(t, 0, `{"type":"track","messageId":"m2","userId":"u1","event":"Users"}`),
				}}
			},
			check: func(t *testing.T, w *warehouse) {
				for _, table := range []string{"_2fa_enabled", "_users"} {
					if !tableExists(t, w, "prod_web", table) {
						t.Errorf("no table %s", table)
					}
				}
				if got := joined(query(t, w, `SELECT event, event_text FROM prod_web._users`)); got != "_users|Users" {
					t.Errorf("_users = %s", got)
				}
			},
		},
		{
			name: "W5 a new column takes the widest type of its batch",
			batches: func(t *testing.T) [][]router.Message {
				return [][]router.Message{{
					msg(t, 0, `{"type":"track","messageId":"m1","userId":"u1","event":"E","properties":{"count":1}}`),
					msg(t, 0, `{"type":"track","messageId":"m2","userId":"u1","event":"E","properties":{"count":2.5}}`),
				}}
			},
			check: func(t *testing.T, w *warehouse) {
				if typ := columnType(t, w, "prod_web", "e", "count"); typ != "float" {
					t.Errorf("count is %s, want float", typ)
				}
				if got := joined(query(t, w, `SELECT count FROM prod_web.e ORDER BY id`)); got != "1; 2.5" {
					t.Errorf("counts = %s", got)
				}
			},
		},
		{
			name: "W6 a value that does not fit goes to _discards",
			batches: func(t *testing.T) [][]router.Message {
				return [][]router.Message{
					{msg(t, 0, `{"type":"track","messageId":"m1","userId":"u1","event":"E","properties":{"count":1}}`)},
					{msg(t, 1, `{"type":"track","messageId":"m2","userId":"u1","event":"E","properties":{"count":"abc"}}`)},
				}
			},
			check: func(t *testing.T, w *warehouse) {
				if typ := columnType(t, w, "prod_web", "e", "count"); typ != "integer" {
					t.Errorf("count is %s, want integer", typ)
				}
				if got := joined(query(t, w, `SELECT id, count FROM prod_web.e ORDER BY id`)); got != "m1|1; m2|<nil>" {
					t.Errorf("rows = %s", got)
				}
				if d := discards(t, w); !slices.Equal(d, []string{"e.count=abc type_mismatch integer m2"}) {
					t.Errorf("discards = %q", d)
				}
			},
		},
		{
			name: "W7 an RFC 3339 string makes a timestamp column",
			batches: func(t *testing.T) [][]router.Message {
				return [][]router.Message{{msg(t, 0, `{"type":"track","messageId":"m1","userId":"u1","event":"E","properties":{"created":"2024-01-02T03:04:05Z"}}`)}}
			},
			check: func(t *testing.T, w *warehouse) {
				if typ := columnType(t, w, "prod_web", "e", "created"); typ != "timestamp" {
					t.Errorf("created is %s, want timestamp", typ)
				}
				if got := one(t, w, `SELECT created FROM prod_web.e`); got != "2024-01-02T03:04:05Z" {
					t.Errorf("created = %s", got)
				}
			},
		},
		{
			name: "W8 the same messageId in two loads is one row per table",
			batches: func(t *testing.T) [][]router.Message {
				m := msg(t, 0, `{"type":"track","messageId":"m1","userId":"u1","event":"E","properties":{"x":1}}`)
				return [][]router.Message{{m}, {m}}
			},
			check: func(t *testing.T, w *warehouse) {
				for _, table := range []string{"tracks", "e"} {
					if n := one(t, w, `SELECT count(*) FROM prod_web.`+table+` WHERE id = 'm1'`); n != "1" {
						t.Errorf("%s has %s rows for m1", table, n)
					}
				}
			},
		},
		{
			name: "W9 group",
			batches: func(t *testing.T) [][]router.Message {
				return [][]router.Message{{msg(t, 0, `{"type":"group","messageId":"g","userId":"u1","groupId":"g1","traits":{"employees":420}}`)}}
			},
			check: func(t *testing.T, w *warehouse) {
				if got := joined(query(t, w, `SELECT group_id, employees FROM prod_web.groups`)); got != "g1|420" {
					t.Errorf("groups = %s", got)
				}
			},
		},
		{
			name: "W10 alias",
			batches: func(t *testing.T) [][]router.Message {
				return [][]router.Message{{msg(t, 0, `{"type":"alias","messageId":"a","previousId":"a1","userId":"u1"}`)}}
			},
			check: func(t *testing.T, w *warehouse) {
				if got := joined(query(t, w, `SELECT previous_id, user_id FROM prod_web.aliases`)); got != "a1|u1" {
					t.Errorf("aliases = %s", got)
				}
			},
		},
	}
	forEachDriver(t, func(t *testing.T, driver string) {
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				w := newWarehouse(t, driver)
				for _, b := range c.batches(t) {
					send(t, w, b...)
				}
				c.check(t, w)
			})
		}
	})
}
