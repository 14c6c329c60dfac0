package warehouse

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/router"
)

// TestDiscards checks that a value that cannot be stored does not stop its
// row: a type conflict, a reserved column and a name collision each load
// the row and keep the value in _discards.
func TestDiscards(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		w := newWarehouse(t, driver)
		send(t, w, msg(t, 0, `{"type":"track","messageId":"m1","userId":"u1","event":"E","properties":{"n":1,"flag":true}}`))
		send(t, w,
			msg(t, 1, `{"type":"track","messageId":"m2","userId":"u1","event":"E","properties":{"n":"many","flag":"yes","ok":1}}`),
			msg(t, 1, `{"type":"track","messageId":"m3","userId":"u1","event":"E","properties":{"event":"x","context_ip":"1.2.3.4","ok":2}}`),
			msg(t, 1, `{"type":"track","messageId":"m4","userId":"u1","event":"E","properties":{"firstName":"A","first_name":"B","ok":3}}`),
			msg(t, 1, `{"type":"identify","messageId":"m5","userId":"u1","traits":{"id":"x","¿¡":"y","name":"Zoë"}}`),
		)
		if got := joined(query(t, w, `SELECT id, n, flag, ok, first_name FROM prod_web.e ORDER BY id`)); got != "m1|1|true|<nil>|<nil>; m2|<nil>|<nil>|1|<nil>; m3|<nil>|<nil>|2|<nil>; m4|<nil>|<nil>|3|B" {
			t.Errorf("rows = %s", got)
		}
		if got := one(t, w, `SELECT name FROM prod_web.identifies WHERE id = 'm5'`); got != "Zoë" {
			t.Errorf("identifies.name = %s, want the trait (name is a standard column of pages and screens only)", got)
		}
		if got := one(t, w, `SELECT event FROM prod_web.e WHERE id = 'm3'`); got != "e" {
			t.Errorf("event column took the property: %s", got)
		}
		want := []string{
			"e.context_ip=1.2.3.4 reserved_column <nil> m3",
			"e.event=x reserved_column <nil> m3",
			"e.first_name=A name_collision <nil> m4",
			"e.flag=yes type_mismatch boolean m2",
			"e.n=many type_mismatch integer m2",
			"identifies.id=x reserved_column <nil> m5",
			"identifies.¿¡=y invalid_name <nil> m5",
		}
		if got := discards(t, w); !slices.Equal(got, want) {
			t.Errorf("discards:\n got %q\nwant %q", got, want)
		}
		// A redelivered batch adds neither rows nor discards.
		send(t, w, msg(t, 1, `{"type":"track","messageId":"m2","userId":"u1","event":"E","properties":{"n":"many","flag":"yes","ok":1}}`))
		if got := len(discards(t, w)); got != len(want) {
			t.Errorf("redelivery changed the discards to %d rows", got)
		}
	})
}

// TestDedupe checks exactly one row per message and table, for duplicates
// within a batch and across batches.
func TestDedupe(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		w := newWarehouse(t, driver)
		a := msg(t, 0, `{"type":"track","messageId":"m1","userId":"u1","event":"E","properties":{"x":1}}`)
		b := msg(t, 0, `{"type":"page","messageId":"p1","anonymousId":"a1","name":"Home","properties":{"path":"/"}}`)
		c := msg(t, 0, `{"type":"identify","messageId":"i1","userId":"u1","traits":{"plan":"pro"}}`)
		send(t, w, a, a, b, c, c)
		send(t, w, c, b, a)
		send(t, w, a, msg(t, 1, `{"type":"track","messageId":"m2","userId":"u1","event":"E","properties":{"x":2}}`))
		for table, want := range map[string]string{"tracks": "2", "e": "2", "pages": "1", "identifies": "1", "users": "1"} {
			if n := one(t, w, `SELECT count(*) FROM prod_web.`+table); n != want {
				t.Errorf("%s has %s rows, want %s", table, n, want)
			}
		}
		if n := one(t, w, `SELECT count(DISTINCT id) FROM prod_web.tracks`); n != "2" {
			t.Errorf("tracks has %s distinct ids", n)
		}
		// An id is checked against its own table only: a page reusing a
		// track's messageId is a new pages row.
		send(t, w, msg(t, 2, `{"type":"page","messageId":"m1","anonymousId":"a1","name":"Other"}`))
		if n := one(t, w, `SELECT count(*) FROM prod_web.pages`); n != "2" {
			t.Errorf("pages has %s rows after a page reusing a track's id, want 2", n)
		}
	})
}

// TestUsersUpsert checks the users table: per trait the latest non-null value by
// received_at, across loads, whatever order identifies arrive in; ties go
// to the larger messageId; identifies without a userId make no user.
func TestUsersUpsert(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		w := newWarehouse(t, driver)
		send(t, w,
			msg(t, 10, `{"type":"identify","messageId":"i2","userId":"u1","traits":{"plan":"pro","age":30}}`),
			msg(t, 0, `{"type":"identify","messageId":"i1","userId":"u1","traits":{"plan":"free","email":"a@x"}}`),
			msg(t, 0, `{"type":"identify","messageId":"x1","anonymousId":"anon","traits":{"plan":"none"}}`),
			msg(t, 3, `{"type":"identify","messageId":"b1","userId":"u2","traits":{"color":"red"}}`),
			msg(t, 3, `{"type":"identify","messageId":"b2","userId":"u2","traits":{"color":"blue"}}`),
		)
		// An older identify arriving late fills a trait but does not
		// overwrite newer ones; a newer one without a trait keeps it.
		send(t, w,
			msg(t, 5, `{"type":"identify","messageId":"i3","userId":"u1","traits":{"plan":"trial","city":"Oslo"}}`),
			msg(t, 20, `{"type":"identify","messageId":"i4","userId":"u1","traits":{"age":31}}`),
		)
		got := joined(query(t, w, `SELECT id, plan, email, age, city, color, received_at FROM prod_web.users ORDER BY id`))
		want := "u1|pro|a@x|31|Oslo|<nil>|2024-01-01T01:00:30Z; u2|<nil>|<nil>|<nil>|<nil>|blue|2024-01-01T01:00:13Z"
		if got != want {
			t.Errorf("users:\n got %s\nwant %s", got, want)
		}
	})
}

// TestBadMessages checks that one bad message fails alone and permanently
// while the rest of its batch loads: a body that is not JSON (both
// drivers), and a value the database refuses (PostgreSQL refuses an id too
// big for its index), which splits the batch.
func TestBadMessages(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		w := newWarehouse(t, driver)
		batch := []router.Message{}
		for i := 0; i < 9; i++ {
			batch = append(batch, msg(t, i, fmt.Sprintf(`{"type":"track","messageId":"m%d","userId":"u1","event":"E","properties":{"i":%d}}`, i, i)))
		}
		bad := map[int]bool{3: true}
		batch[3].Body = []byte(`{"type":"track",`)
		if driver == DriverPostgres {
			// A messageId too big for PostgreSQL's primary key index
			// (an index row is at most about 2.7 kB, after compression).
			rnd := rand.New(rand.NewPCG(1, 2))
			long := make([]byte, 20000)
			for i := range long {
				long[i] = byte('!' + rnd.IntN(94))
				if long[i] == '"' || long[i] == '\\' {
					long[i] = 'x'
				}
			}
			batch[6] = msg(t, 6, `{"type":"track","messageId":"`+string(long)+`","userId":"u1","event":"E","properties":{"i":6}}`)
			bad[6] = true
		}
		err := w.Send(context.Background(), batch)
		var be *router.BatchError
		if !errors.As(err, &be) {
			t.Fatalf("Send = %v, want a *router.BatchError", err)
		}
		for i := range batch {
			ferr, failed := be.Failed[i]
			if failed != bad[i] {
				t.Errorf("message %d failed = %v (%v), want %v", i, failed, ferr, bad[i])
			}
			if failed {
				if kind, _ := router.Classify(ferr); kind != router.KindPermanent {
					t.Errorf("message %d failed %v, classified %v, want permanent", i, ferr, kind)
				}
			}
		}
		if n := one(t, w, `SELECT count(*) FROM prod_web.e`); n != fmt.Sprint(9-len(bad)) {
			t.Errorf("e has %s rows, want %d", n, 9-len(bad))
		}
	})
}

// TestConcurrentLoadersPostgres runs two destinations, as two instances
// would, loading into one PostgreSQL schema at once, each adding tables
// and columns: no load fails and every row is there once.
func TestConcurrentLoadersPostgres(t *testing.T) {
	cfg := config(t, DriverPostgres)
	ws := []*warehouse{open(t, cfg), open(t, cfg)}
	const rounds, per = 8, 20
	var wg sync.WaitGroup
	errs := make(chan error, 2*rounds)
	for n, w := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 0; r < rounds; r++ {
				var batch []router.Message
				for i := 0; i < per; i++ {
					// Both instances add the same new columns and tables in
					// the same round, and send one shared message each round.
					id := fmt.Sprintf("w%d-r%d-%d", n, r, i)
					if i == 0 {
						id = fmt.Sprintf("shared-r%d", r)
					}
					batch = append(batch, msg(t, r, fmt.Sprintf(`{"type":"track","messageId":%q,"userId":"u%d","event":"Round %d","properties":{"p%d":%d,"q":%d}}`, id, i, r%3, r, i, r)))
				}
				batch = append(batch, msg(t, r, fmt.Sprintf(`{"type":"identify","messageId":"id-w%d-r%d","userId":"u1","traits":{"t%d":%d}}`, n, r, r, n)))
				if err := w.Send(context.Background(), batch); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("load failed: %v", err)
	}
	want := fmt.Sprint(2*rounds*per - rounds)
	if n := one(t, ws[0], `SELECT count(*) FROM prod_web.tracks`); n != want {
		t.Errorf("tracks has %s rows, want %s", n, want)
	}
	if n := one(t, ws[0], `SELECT count(*) FROM prod_web.users`); n != "1" {
		t.Errorf("users has %s rows", n)
	}
}

// TestCancelledLoadLeavesNothing checks that a load whose context ends
// mid-way commits nothing, and the retry loads everything once.
func TestCancelledLoadLeavesNothing(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		w := newWarehouse(t, driver)
		var batch []router.Message
		for i := 0; i < 2000; i++ {
			batch = append(batch, msg(t, 0, fmt.Sprintf(`{"type":"track","messageId":"m%d","userId":"u1","event":"E%d","properties":{"i":%d}}`, i, i%5, i)))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
		err := w.Send(ctx, batch)
		cancel()
		if err == nil {
			t.Skip("the load finished before its context ended")
		}
		if kind, _ := router.Classify(err); kind != router.KindRetryable {
			t.Fatalf("cancelled load: %v classified %v", err, kind)
		}
		if tableExists(t, w, "prod_web", "tracks") {
			if n := one(t, w, `SELECT count(*) FROM prod_web.tracks`); n != "0" {
				t.Fatalf("a cancelled load left %s rows", n)
			}
		}
		send(t, w, batch...)
		if n := one(t, w, `SELECT count(*) FROM prod_web.tracks`); n != "2000" {
			t.Fatalf("tracks has %s rows after the retry", n)
		}
	})
}

// TestLargeBatch sends a batch big enough to be built on several
// goroutines, with bad messages in two of its parts: exactly those fail,
// with their own indexes, and every other message is one row in tracks
// and one in its event table, with its own values.
func TestLargeBatch(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver string) {
		w := newWarehouse(t, driver)
		const n = 4 * minPerWorker
		batch := make([]router.Message, n)
		for i := range batch {
			batch[i] = msg(t, i%60, fmt.Sprintf(`{"type":"track","messageId":"big-%d","userId":"u%d","event":"Event %d","properties":{"i":%d,"tag":"t%d"}}`, i, i%9, i%3, i, i))
		}
		bad := map[int]bool{5: true, n - 7: true}
		for i := range bad {
			batch[i].Body = []byte(`{"type":"track","messageId":`)
		}
		err := w.Send(context.Background(), batch)
		var be *router.BatchError
		if !errors.As(err, &be) || len(be.Failed) != len(bad) {
			t.Fatalf("Send = %v, want a *router.BatchError for messages %v", err, bad)
		}
		for i := range bad {
			if be.Failed[i] == nil {
				t.Errorf("message %d did not fail", i)
			}
		}
		if got := one(t, w, `SELECT count(*) FROM prod_web.tracks`); got != fmt.Sprint(n-len(bad)) {
			t.Errorf("tracks has %s rows, want %d", got, n-len(bad))
		}
		wrong := one(t, w, `SELECT count(*) FROM (
			SELECT id, i, tag FROM prod_web.event_0 UNION ALL SELECT id, i, tag FROM prod_web.event_1 UNION ALL SELECT id, i, tag FROM prod_web.event_2
			) AS e WHERE id <> 'big-' || i::VARCHAR OR tag <> 't' || i::VARCHAR`)
		total := one(t, w, `SELECT (SELECT count(*) FROM prod_web.event_0) + (SELECT count(*) FROM prod_web.event_1) + (SELECT count(*) FROM prod_web.event_2)`)
		if wrong != "0" || total != fmt.Sprint(n-len(bad)) {
			t.Errorf("event tables have %s rows, %s of them with another message's values; want %d and 0", total, wrong, n-len(bad))
		}
	})
}
