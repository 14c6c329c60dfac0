package destinations

import (
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/destinations/warehouse"
	"github.com/eventrouter/eventrouter/router"
)

// warehouseHarness loads into a DuckDB file (PostgreSQL in a build without
// DuckDB: conformanceWarehouse) and reads the rows back: every
// message is one row of its type's table (tracks for a track), found by
// id, and returned as the body it was sent as, in load order (loads by
// uuid_ts, messages of one load in sixTypes' order). A few columns are
// checked on the way.
func warehouseHarness() harness {
	return harness{
		configure: func(t *testing.T, cfg any) func(t *testing.T) [][]byte {
			c := cfg.(*warehouse.Config)
			conformanceWarehouse(t, c)
			return func(t *testing.T) [][]byte {
				// Same file, same settings: DuckDB hands this process's
				// open database to the new connector (PostgreSQL: a pool).
				db, err := warehouse.OpenShared(c, t.TempDir())
				if err != nil {
					t.Fatal(err)
				}
				defer db.Close()
				tables := map[string]string{
					router.TypeIdentify: "identifies", router.TypeTrack: "tracks", router.TypePage: "pages",
					router.TypeScreen: "screens", router.TypeGroup: "groups", router.TypeAlias: "aliases",
				}
				type loaded struct {
					id  string
					at  time.Time
					typ int
				}
				var rows []loaded
				for i, typ := range router.Types {
					rs, err := db.Query(`SELECT id, uuid_ts FROM web.` + tables[typ])
					if err != nil {
						if strings.Contains(err.Error(), "does not exist") {
							continue
						}
						t.Fatal(err)
					}
					for rs.Next() {
						var l loaded
						if err := rs.Scan(&l.id, &l.at); err != nil {
							t.Fatal(err)
						}
						l.typ = i
						rows = append(rows, l)
					}
					rs.Close()
				}
				slices.SortStableFunc(rows, func(a, b loaded) int {
					if c := a.at.Compare(b.at); c != 0 {
						return c
					}
					return a.typ - b.typ
				})
				var out [][]byte
				for _, l := range rows {
					prefix, typ, _ := strings.Cut(l.id, "-")
					for _, m := range sixTypes(prefix) {
						if m.Type == typ {
							out = append(out, m.Body)
						}
					}
				}
				var event, note string
				var revenue float64
				if err := db.QueryRow(`SELECT event, revenue, note FROM web.order_completed LIMIT 1`).Scan(&event, &revenue, &note); err != nil {
					t.Fatalf("reading order_completed: %v", err)
				}
				if event != "order_completed" || revenue != 12.5 || note != "line\nbreak é 😀" {
					t.Errorf("order_completed row: event %q revenue %v note %q", event, revenue, note)
				}
				return out
			}
		},
		invalidate: func(cfg any) { cfg.(*warehouse.Config).Driver = "oracle" },
		failures: []failure{{
			name: "postgres unreachable is retryable",
			configure: func(t *testing.T, cfg any) {
				l, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				addr := l.Addr().String()
				l.Close()
				c := cfg.(*warehouse.Config)
				c.Driver, c.DSN = warehouse.DriverPostgres, "postgres://x@"+addr+"/db?sslmode=disable&connect_timeout=2"
			},
			want: router.KindRetryable,
		}},
	}
}
