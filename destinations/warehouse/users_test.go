package warehouse

import (
	"testing"

	"github.com/eventrouter/eventrouter/router"
)

// TestUsersAcrossLoads checks the users table when the identifies of one
// user arrive in different loads: the result must not depend on how the
// identifies were split into loads.
func TestUsersAcrossLoads(t *testing.T) {
	cases := []struct {
		name    string
		batches func(t *testing.T) [][]router.Message
		q, want string
	}{
		{
			// Ties on received_at: the larger messageId wins, in one
			// load or in two.
			name: "tie on received_at, larger messageId loaded first",
			batches: func(t *testing.T) [][]router.Message {
				return [][]router.Message{
					{msg(t, 5, `{"type":"identify","messageId":"m2","userId":"u1","traits":{"plan":"b"}}`)},
					{msg(t, 5, `{"type":"identify","messageId":"m1","userId":"u1","traits":{"plan":"a"}}`)},
				}
			},
			q: `SELECT plan FROM prod_web.users`, want: "b",
		},
		{
			// An older identify loaded later does not override a newer one.
			name: "identifies loaded out of order",
			batches: func(t *testing.T) [][]router.Message {
				return [][]router.Message{
					{msg(t, 5, `{"type":"identify","messageId":"m1","userId":"u1","traits":{"plan":"new"}}`)},
					{msg(t, 3, `{"type":"identify","messageId":"m2","userId":"u1","traits":{"plan":"old","email":"a@x"}}`)},
				}
			},
			q: `SELECT plan || ' ' || email FROM prod_web.users`, want: "new a@x",
		},
		{
			name: "received_at is the latest, whatever the load order",
			batches: func(t *testing.T) [][]router.Message {
				return [][]router.Message{
					{msg(t, 5, `{"type":"identify","messageId":"m1","userId":"u1","traits":{"plan":"new"}}`)},
					{msg(t, 3, `{"type":"identify","messageId":"m2","userId":"u1","traits":{"plan":"old"}}`)},
				}
			},
			q: `SELECT received_at FROM prod_web.users`, want: "2024-01-01T01:00:15Z",
		},
		{
			name: "tie on received_at within one load",
			batches: func(t *testing.T) [][]router.Message {
				return [][]router.Message{{
					msg(t, 5, `{"type":"identify","messageId":"m2","userId":"u1","traits":{"plan":"b"}}`),
					msg(t, 5, `{"type":"identify","messageId":"m10","userId":"u1","traits":{"plan":"a"}}`),
				}}
			},
			q: `SELECT plan FROM prod_web.users`, want: "b",
		},
		{
			// The equivalent SQL is FIRST_VALUE(col IGNORE NULLS) over the
			// identifies rows: m2's plan is NULL in identifies (type
			// mismatch, in _discards), so users.plan stays 1.
			name: "a trait that does not fit does not erase the stored one",
			batches: func(t *testing.T) [][]router.Message {
				return [][]router.Message{
					{msg(t, 1, `{"type":"identify","messageId":"m1","userId":"u1","traits":{"plan":1}}`)},
					{msg(t, 2, `{"type":"identify","messageId":"m2","userId":"u1","traits":{"plan":"pro"}}`)},
					{msg(t, 3, `{"type":"identify","messageId":"m3","userId":"u1","traits":{"email":"a@x"}}`)},
				}
			},
			q: `SELECT coalesce(CAST(plan AS VARCHAR), 'NULL') FROM prod_web.users`, want: "1",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			forEachDriver(t, func(t *testing.T, driver string) {
				w := newWarehouse(t, driver)
				for _, b := range c.batches(t) {
					send(t, w, b...)
				}
				if got := one(t, w, c.q); got != c.want {
					t.Errorf("%s = %s, want %s", c.q, got, c.want)
				}
			})
		})
	}
}
