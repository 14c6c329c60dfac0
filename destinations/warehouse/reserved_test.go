package warehouse

import (
	"testing"

	"github.com/eventrouter/eventrouter/router"
)

// TestReservedPerTable checks the collision rule: only a
// name equal to a standard column "of that table" is dropped. name and
// category are standard columns of pages and screens only, group_id of
// groups, previous_id of aliases, event and event_text of tracks and
// event tables; elsewhere they are ordinary traits or properties (Segment's
// e-commerce events carry properties.name and properties.category, and
// traits.name is a Segment reserved trait that users must have).
func TestReservedPerTable(t *testing.T) {
	cases := []struct {
		name string
		msg  string
		q    string
		want string
	}{
		{"identify traits.name reaches identifies",
			`{"type":"identify","messageId":"m1","userId":"u1","traits":{"name":"Ann","email":"a@x"}}`,
			`SELECT name FROM prod_web.identifies`, "Ann"},
		{"identify traits.name reaches users",
			`{"type":"identify","messageId":"m1","userId":"u1","traits":{"name":"Ann","email":"a@x"}}`,
			`SELECT name FROM prod_web.users`, "Ann"},
		{"track properties.name and category reach the event table",
			`{"type":"track","messageId":"m1","userId":"u1","event":"Product Added","properties":{"name":"Shoe","category":"Apparel"}}`,
			`SELECT name || '/' || category FROM prod_web.product_added`, "Shoe/Apparel"},
		{"group traits.name reaches groups",
			`{"type":"group","messageId":"m1","userId":"u1","groupId":"g1","traits":{"name":"Acme"}}`,
			`SELECT name FROM prod_web.groups`, "Acme"},
		{"identify traits.group_id reaches identifies",
			`{"type":"identify","messageId":"m1","userId":"u1","traits":{"group_id":"g9"}}`,
			`SELECT group_id FROM prod_web.identifies`, "g9"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			forEachDriver(t, func(t *testing.T, driver string) {
				w := newWarehouse(t, driver)
				send(t, w, []router.Message{msg(t, 0, c.msg)}...)
				rows := query(t, w, `SELECT count(*) FROM information_schema.columns WHERE table_schema = 'prod_web' AND column_name IN ('name', 'category', 'group_id')`)
				if rows[0][0] == "0" {
					t.Fatalf("no name/category/group_id column at all; discards: %q", discards(t, w))
				}
				if got := one(t, w, c.q); got != c.want {
					t.Errorf("%s = %s, want %s", c.q, got, c.want)
				}
			})
		})
	}
}
