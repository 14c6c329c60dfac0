package warehouse

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/eventrouter/eventrouter/router"
)

// dialect is what a database driver adds to the shared schema layer: its
// types, its locks, and its fastest way to write rows.
type dialect interface {
	// schemaRef is the SQL name of a schema.
	schemaRef(schema string) string
	// qualify is the SQL name of a table.
	qualify(schema, table string) string
	// maxIdent is the identifier limit in bytes.
	maxIdent() int
	// typeName is the SQL type of a column type.
	typeName(t colType) string
	// colType maps a column's information_schema data_type back.
	colType(dbType string) colType
	// primaryKey reports whether tables keyed by id get a primary key.
	primaryKey() bool
	// idIn returns a predicate on "id" matching ids, and the argument to
	// bind as $1; a query may use the predicate more than once.
	idIn(ids []string) (pred string, arg any)
	// colIn is idIn on another column.
	colIn(col string, ids []string) (pred string, arg any)
	// latest is the aggregate of a users recompute over identifies rows
	// grouped by user_id: the latest non-null value of the column q by
	// (received_at, id), ids compared by their bytes.
	latest(q string) string
	// userIndex is the statement that indexes identifies on user_id, for
	// the users recompute; "" when the database needs none.
	userIndex(schema string) string
	// begin starts the load's transaction on conn and takes the locks
	// that serialise loads into schemas (sorted) across processes.
	begin(ctx context.Context, conn *sql.Conn, schemas []string) error
	// insert writes rows (values in the order of cols) into a table; ids
	// already in the table are skipped where the table has a key.
	insert(ctx context.Context, conn *sql.Conn, schema, table string, cols []string, rows [][]any) error
	// schemaError reports whether err, met in the work of one schema, is
	// the database refusing that schema's work for good (PostgreSQL's
	// class 42 and 3F; DuckDB's catalog and permission errors).
	schemaError(err error) bool
	// fatal reports whether err leaves the database unusable until it is
	// opened again.
	fatal(err error) bool
	// dataError reports whether err is the database refusing data (one
	// bad message may be the cause) rather than a failure of the
	// database or the connection.
	dataError(err error) bool
	// close releases what the dialect holds besides the pool.
	close() error
}

// warehouse is a router.Destination that loads messages into one
// database.
type warehouse struct {
	name   string
	db     *sql.DB
	d      dialect
	b      *builder
	logger *slog.Logger

	mu        sync.Mutex // one load at a time per destination
	closeOnce sync.Once

	// reopen opens the database again (DuckDB: after a fatal error, which
	// leaves the open database unusable); nil when not needed.
	reopen func() (*sql.DB, error)
	// broken is set when a load met a fatal error: the next load reopens
	// the database first.
	broken bool

	closeErr error
}

// Send loads a batch in one transaction. A message that cannot be loaded
// on its own (a body that is not a JSON object, or a value the database
// refuses) fails permanently; the others are loaded, in transactions of
// their own, and Send returns a *router.BatchError naming the failures.
func (w *warehouse) Send(ctx context.Context, batch []router.Message) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("loading batch into warehouse %q: %w", w.name, err)
	}
	rows, failed := w.buildRows(batch)
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.reopenIfBroken(); err != nil {
		return fmt.Errorf("loading batch into warehouse %q: %w", w.name, err)
	}
	rows, err := w.loadIsolating(ctx, rows, failed)
	if err != nil {
		if !w.d.dataError(err) || ctx.Err() != nil {
			err = fmt.Errorf("loading batch into warehouse %q: %w", w.name, err)
			if len(failed) == 0 {
				return err
			}
			for _, r := range rows {
				failed[r.msg] = err
			}
			return &router.BatchError{Failed: failed}
		}
		w.split(ctx, rows, err, failed)
	}
	if len(failed) > 0 {
		return &router.BatchError{Failed: failed}
	}
	return nil
}

// minPerWorker is the fewest messages worth a goroutine of their own when
// building a batch's rows.
const minPerWorker = 256

// buildRows turns a batch into rows, in the order of the batch, on up to
// GOMAXPROCS goroutines; failed holds the messages that have no rows, each
// with a permanent error.
func (w *warehouse) buildRows(batch []router.Message) (rows []*row, failed map[int]error) {
	failed = map[int]error{}
	workers := min(runtime.GOMAXPROCS(0), (len(batch)+minPerWorker-1)/minPerWorker)
	if workers <= 1 {
		s := w.b.get()
		defer w.b.put(s)
		rows = make([]*row, 0, 2*len(batch))
		for i, m := range batch {
			more, err := w.b.build(s, m, i, rows)
			if err != nil {
				failed[i] = router.Permanent(err)
				continue
			}
			rows = more
		}
		return rows, failed
	}
	parts := make([][]*row, workers)
	errs := make([]map[int]error, workers)
	per := (len(batch) + workers - 1) / workers
	var wg sync.WaitGroup
	for p := range workers {
		lo, hi := p*per, min((p+1)*per, len(batch))
		wg.Go(func() {
			s := w.b.get()
			defer w.b.put(s)
			out := make([]*row, 0, 2*(hi-lo))
			for i := lo; i < hi; i++ {
				more, err := w.b.build(s, batch[i], i, out)
				if err != nil {
					if errs[p] == nil {
						errs[p] = map[int]error{}
					}
					errs[p][i] = router.Permanent(err)
					continue
				}
				out = more
			}
			parts[p] = out
		})
	}
	wg.Wait()
	n := 0
	for _, part := range parts {
		n += len(part)
	}
	rows = make([]*row, 0, n)
	for p, part := range parts {
		rows = append(rows, part...)
		maps.Copy(failed, errs[p])
	}
	return rows, failed
}

// split loads the messages of rows, which the database refused together
// with err, in two halves, recursively, until the messages it refuses are
// alone; those fail permanently.
func (w *warehouse) split(ctx context.Context, rows []*row, err error, failed map[int]error) {
	var msgs []int
	byMsg := map[int][]*row{}
	for _, r := range rows {
		if _, ok := byMsg[r.msg]; !ok {
			msgs = append(msgs, r.msg)
		}
		byMsg[r.msg] = append(byMsg[r.msg], r)
	}
	if len(msgs) == 1 {
		failed[msgs[0]] = router.Permanent(fmt.Errorf("loading message into warehouse %q: %w", w.name, err))
		return
	}
	w.logger.Warn("warehouse refused a batch; loading it in halves to find the bad message", "messages", len(msgs), "error", err.Error())
	for _, half := range [][]int{msgs[:len(msgs)/2], msgs[len(msgs)/2:]} {
		var part []*row
		for _, i := range half {
			part = append(part, byMsg[i]...)
		}
		part, herr := w.loadIsolating(ctx, part, failed)
		switch {
		case herr == nil:
		case w.d.dataError(herr) && ctx.Err() == nil:
			w.split(ctx, part, herr, failed)
		default:
			for _, r := range part {
				failed[r.msg] = fmt.Errorf("loading batch into warehouse %q: %w", w.name, herr)
			}
		}
	}
}

// schemaError is a load's failure in the work of one schema.
type schemaError struct {
	schema string
	err    error
}

func (e *schemaError) Error() string { return e.err.Error() }
func (e *schemaError) Unwrap() error { return e.err }

// inSchema marks err as a failure in the work of schema.
func inSchema(schema string, err error) error { return &schemaError{schema: schema, err: err} }

// loadIsolating loads rows; when the database refuses the work of one
// schema for good (a schema it will not create, a table it will not
// alter: dialect.schemaError), the messages of that schema fail
// permanently, in failed, and the others are loaded without them, so one
// source cannot hold back the others. It returns the rows it last tried
// and that load's error.
func (w *warehouse) loadIsolating(ctx context.Context, rows []*row, failed map[int]error) ([]*row, error) {
	for {
		err := w.load(ctx, rows)
		var se *schemaError
		if err == nil || ctx.Err() != nil || !errors.As(err, &se) || !w.d.schemaError(se.err) {
			w.noteFatal(err)
			return rows, err
		}
		perm := router.Permanent(fmt.Errorf("loading into schema %s of warehouse %q: %w", se.schema, w.name, err))
		kept := make([]*row, 0, len(rows))
		n := 0
		for _, r := range rows {
			if r.schema != se.schema {
				kept = append(kept, r)
				continue
			}
			if _, ok := failed[r.msg]; !ok {
				n++
			}
			failed[r.msg] = perm
		}
		w.logger.Error("warehouse refuses a schema; its messages fail, the others load", "schema", se.schema, "messages", n, "error", err.Error())
		rows = kept
	}
}

// noteFatal marks the database broken when err is fatal to it (DuckDB
// invalidates a database after a fatal error: every later statement
// fails until it is opened again).
func (w *warehouse) noteFatal(err error) {
	if err == nil || w.reopen == nil || !w.d.fatal(err) {
		return
	}
	w.broken = true
	w.logger.Error("warehouse database hit a fatal error and is unusable; it is reopened before the next load, and the batch is retried", "destination", w.name, "error", err.Error())
}

// reopenIfBroken reopens a database that a fatal error left unusable.
func (w *warehouse) reopenIfBroken() error {
	if !w.broken {
		return nil
	}
	_ = w.db.Close()
	db, err := w.reopen()
	if err != nil {
		return fmt.Errorf("reopening the database after a fatal error: %w", err)
	}
	w.db, w.broken = db, false
	w.logger.Warn("warehouse database reopened after a fatal error", "destination", w.name)
	return nil
}

// Close closes the database; it may be called more than once.
func (w *warehouse) Close(context.Context) error {
	w.closeOnce.Do(func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.closeErr = errors.Join(w.db.Close(), w.d.close())
		if w.closeErr != nil {
			w.closeErr = fmt.Errorf("closing warehouse %q: %w", w.name, w.closeErr)
		}
	})
	return w.closeErr
}

// table is what the load knows of one table.
type table struct {
	cols  []string
	types map[string]colType
	slot  map[string]int // column -> index in cols
}

func (t *table) has(col string) bool { _, ok := t.types[col]; return ok }

// addColumn appends a column.
func (t *table) addColumn(col string, ct colType) {
	if t.slot == nil {
		t.slot = map[string]int{}
	}
	t.slot[col] = len(t.cols)
	t.cols = append(t.cols, col)
	t.types[col] = ct
}

// sameColumns reports whether two rows have the same columns in the same
// order (rows of one event usually do, so work per column is done once).
func sameColumns(a, b *row) bool {
	if a == nil || len(a.cells) != len(b.cells) {
		return false
	}
	for i := range a.cells {
		if a.cells[i].col != b.cells[i].col {
			return false
		}
	}
	return true
}

// tableKey names a table of a schema.
type tableKey struct{ schema, table string }

// load writes rows in one transaction: schema changes, deduplication on id
// within the rows and against the tables, the users upsert, the rows and
// their discards.
func (w *warehouse) load(ctx context.Context, rows []*row) (err error) {
	if len(rows) == 0 {
		return nil
	}
	conn, err := w.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("connecting: %w", err)
	}
	defer conn.Close()

	schemaSet := map[string]bool{}
	for _, r := range rows {
		schemaSet[r.schema] = true
	}
	schemas := sortedKeys(schemaSet)
	if err := w.d.begin(ctx, conn, schemas); err != nil {
		w.abort(ctx, conn)
		return fmt.Errorf("beginning transaction: %w", err)
	}
	started, msgs := time.Now(), countMessages(rows)
	w.logger.Debug("warehouse load begun", "messages", msgs, "rows", len(rows))
	done := false
	defer func() {
		if !done {
			w.abort(ctx, conn)
		}
	}()

	catalog, err := w.createSchemas(ctx, conn, schemas)
	if err != nil {
		return err
	}
	// Deduplicate on id: within the rows, then against each table.
	order, byTable := groupByTable(rows)
	existing, err := w.existingIDs(ctx, conn, schemas, order, byTable, catalog)
	if err != nil {
		return err
	}
	dropExisting(byTable, existing)

	uuidTS := time.Now().UTC().Truncate(time.Microsecond)
	users := touchedUsers(byTable)

	// Schema changes, then the rows.
	for _, k := range order {
		if err := w.evolve(ctx, conn, k, byTable[k], catalog); err != nil {
			return inSchema(k.schema, err)
		}
	}
	discards := map[string][][]any{}
	for _, k := range order {
		if err := w.insertRows(ctx, conn, k, catalog[k], byTable[k], uuidTS, discards); err != nil {
			return err
		}
	}
	for _, s := range sortedKeys(users) {
		if err := w.recomputeUsers(ctx, conn, s, users[s], uuidTS, catalog); err != nil {
			return inSchema(s, err)
		}
	}
	if err := w.insertDiscards(ctx, conn, discards, catalog); err != nil {
		return err
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		return fmt.Errorf("committing: %w", err)
	}
	done = true
	w.logger.Debug("warehouse load committed", "messages", msgs, "rows", len(rows), "duration", time.Since(started).String())
	return nil
}

// createSchemas creates the schemas that do not exist yet and returns the
// catalog of their tables.
func (w *warehouse) createSchemas(ctx context.Context, conn *sql.Conn, schemas []string) (map[tableKey]*table, error) {
	catalog := map[tableKey]*table{}
	for _, s := range schemas {
		if _, err := conn.ExecContext(ctx, "CREATE SCHEMA IF NOT EXISTS "+w.d.schemaRef(s)); err != nil {
			return nil, inSchema(s, fmt.Errorf("creating schema %s: %w", s, err))
		}
		if err := w.readCatalog(ctx, conn, s, catalog); err != nil {
			return nil, inSchema(s, err)
		}
	}
	return catalog, nil
}

// groupByTable groups rows by table, the first row of each id only, and
// returns the tables in the order of their first row.
func groupByTable(rows []*row) ([]tableKey, map[tableKey][]*row) {
	byTable := map[tableKey][]*row{}
	seen := map[tableKey]map[string]struct{}{}
	var order []tableKey
	for _, r := range rows {
		k := tableKey{r.schema, r.table}
		ids := seen[k]
		if ids == nil {
			ids = make(map[string]struct{}, len(rows)/2)
			seen[k] = ids
			order = append(order, k)
		}
		if _, dup := ids[r.id]; dup {
			continue
		}
		ids[r.id] = struct{}{}
		byTable[k] = append(byTable[k], r)
	}
	return order, byTable
}

// dropExisting removes from byTable the rows whose id its table already
// holds (existing).
func dropExisting(byTable map[tableKey][]*row, existing map[tableKey]map[string]struct{}) {
	for k, ids := range existing {
		kept := byTable[k][:0]
		for _, r := range byTable[k] {
			if _, ok := ids[r.id]; !ok {
				kept = append(kept, r)
			}
		}
		byTable[k] = kept
	}
}

// insertRows writes the rows rs of table k (t, as evolved for them), each
// value coerced to its column's type and uuid_ts set to uuidTS. A row's
// discards and its values that do not fit their column go to discards,
// by schema.
func (w *warehouse) insertRows(ctx context.Context, conn *sql.Conn, k tableKey, t *table, rs []*row, uuidTS time.Time, discards map[string][][]any) error {
	if len(rs) == 0 {
		return nil
	}
	n := len(t.cols)
	types := make([]colType, n)
	for j, c := range t.cols {
		types[j] = t.types[c]
	}
	uuidSlot := t.slot["uuid_ts"]
	uuidVal, _ := coerce(timeValue(uuidTS), types[uuidSlot])
	backing := make([]any, len(rs)*n)
	vals := make([][]any, len(rs))
	var slots []int
	var prev *row
	for i, r := range rs {
		rv := backing[i*n : (i+1)*n : (i+1)*n]
		vals[i] = rv
		if !sameColumns(prev, r) {
			slots = slots[:0]
			for _, c := range r.cells {
				slots = append(slots, t.slot[c.col])
			}
			prev = r
		}
		var mismatches []int // slots
		for j, c := range r.cells {
			slot := slots[j]
			x, fits := coerce(c.v, types[slot])
			if !fits {
				mismatches = append(mismatches, j)
			}
			rv[slot] = x
		}
		rv[uuidSlot] = uuidVal
		if len(mismatches) > 1 {
			slices.SortFunc(mismatches, func(a, b int) int { return slots[a] - slots[b] })
		}
		for _, d := range r.discards {
			discards[k.schema] = append(discards[k.schema], discardRow(d, r, uuidTS))
		}
		for _, j := range mismatches {
			c := r.cells[j]
			d := discard{table: k.table, column: c.col, value: c.v.str(), expected: types[slots[j]].String(), reason: reasonMismatch}
			discards[k.schema] = append(discards[k.schema], discardRow(d, r, uuidTS))
		}
	}
	if err := w.d.insert(ctx, conn, k.schema, k.table, t.cols, vals); err != nil {
		return inSchema(k.schema, fmt.Errorf("writing %d row(s) to %s: %w", len(vals), w.d.qualify(k.schema, k.table), err))
	}
	return nil
}

// discardRow is the discards table's row (discardColumns) of d, a value
// of row r that was not loaded.
func discardRow(d discard, r *row, uuidTS time.Time) []any {
	return []any{d.table, d.column, d.value, nullIfEmpty(d.expected), r.id, nullTime(r.receivedAt), d.reason, uuidTS}
}

// insertDiscards writes each schema's discards to its discards table,
// created when the catalog has none.
func (w *warehouse) insertDiscards(ctx context.Context, conn *sql.Conn, discards map[string][][]any, catalog map[tableKey]*table) error {
	for _, s := range sortedKeys(discards) {
		k := tableKey{s, tableDiscards}
		if catalog[k] == nil {
			if err := w.createDiscards(ctx, conn, s); err != nil {
				return inSchema(s, err)
			}
		}
		if err := w.d.insert(ctx, conn, s, tableDiscards, discardColumns, discards[s]); err != nil {
			return inSchema(s, fmt.Errorf("writing %d discard(s) to %s: %w", len(discards[s]), w.d.qualify(s, tableDiscards), err))
		}
	}
	return nil
}

// countMessages returns how many messages rows come from (a message's rows
// are next to each other).
func countMessages(rows []*row) int {
	n := 0
	for i, r := range rows {
		if i == 0 || r.msg != rows[i-1].msg {
			n++
		}
	}
	return n
}

// abort rolls back the transaction on conn; when that fails the
// connection is discarded rather than returned to the pool.
func (w *warehouse) abort(ctx context.Context, conn *sql.Conn) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, err := conn.ExecContext(rctx, "ROLLBACK"); err != nil {
		_ = conn.Raw(func(any) error { return driver.ErrBadConn })
	}
}

// readCatalog adds the tables of schema, with their columns in order, to
// catalog.
func (w *warehouse) readCatalog(ctx context.Context, conn *sql.Conn, schema string, catalog map[tableKey]*table) error {
	rs, err := conn.QueryContext(ctx, `SELECT table_name, column_name, data_type FROM information_schema.columns
		WHERE table_schema = $1 ORDER BY table_name, ordinal_position`, schema)
	if err != nil {
		return fmt.Errorf("reading columns of schema %s: %w", schema, err)
	}
	defer rs.Close()
	for rs.Next() {
		var tbl, col, typ string
		if err := rs.Scan(&tbl, &col, &typ); err != nil {
			return fmt.Errorf("reading columns of schema %s: %w", schema, err)
		}
		k := tableKey{schema, tbl}
		t := catalog[k]
		if t == nil {
			t = &table{types: map[string]colType{}}
			catalog[k] = t
		}
		t.addColumn(col, w.d.colType(typ))
	}
	if err := rs.Err(); err != nil {
		return fmt.Errorf("reading columns of schema %s: %w", schema, err)
	}
	return nil
}

// existingIDs returns, per table, which ids of its rows the table already
// holds: one query per schema, over every table that rows go to.
func (w *warehouse) existingIDs(ctx context.Context, conn *sql.Conn, schemas []string, order []tableKey, byTable map[tableKey][]*row, catalog map[tableKey]*table) (map[tableKey]map[string]struct{}, error) {
	out := map[tableKey]map[string]struct{}{}
	for _, schema := range schemas {
		var tables []tableKey
		set := map[string]struct{}{}
		for _, k := range order {
			if k.schema != schema || catalog[k] == nil || len(byTable[k]) == 0 {
				continue
			}
			tables = append(tables, k)
			for _, r := range byTable[k] {
				set[r.id] = struct{}{}
			}
		}
		if len(tables) == 0 {
			continue
		}
		ids := make([]string, 0, len(set))
		for id := range set {
			ids = append(ids, id)
		}
		pred, arg := w.d.idIn(ids)
		parts := make([]string, len(tables))
		for i, k := range tables {
			parts[i] = fmt.Sprintf("SELECT %d AS t, id FROM %s WHERE %s", i, w.d.qualify(k.schema, k.table), pred)
		}
		if err := w.readExisting(ctx, conn, strings.Join(parts, " UNION ALL "), arg, tables, out); err != nil {
			return nil, inSchema(schema, fmt.Errorf("reading ids of schema %s: %w", schema, err))
		}
	}
	return out, nil
}

func (w *warehouse) readExisting(ctx context.Context, conn *sql.Conn, q string, arg any, tables []tableKey, out map[tableKey]map[string]struct{}) error {
	rs, err := conn.QueryContext(ctx, q, arg)
	if err != nil {
		return err
	}
	defer rs.Close()
	for rs.Next() {
		var t int
		var id sql.NullString
		if err := rs.Scan(&t, &id); err != nil {
			return err
		}
		k := tables[t]
		if out[k] == nil {
			out[k] = map[string]struct{}{}
		}
		out[k][id.String] = struct{}{}
	}
	return rs.Err()
}

// userSet is what a load knows of the users its identifies touch in one
// schema: their ids and the trait columns the new identifies bring.
type userSet struct {
	ids    map[string]struct{}
	traits map[string]struct{}
}

// touchedUsers returns, per schema, the users whose new identifies rows
// (after deduplication) change their users row.
func touchedUsers(byTable map[tableKey][]*row) map[string]*userSet {
	out := map[string]*userSet{}
	for k, rs := range byTable {
		if k.table != tableIdentifies {
			continue
		}
		for _, r := range rs {
			if !r.hasUser {
				continue
			}
			uv, _ := r.get("user_id")
			u := out[k.schema]
			if u == nil {
				u = &userSet{ids: map[string]struct{}{}, traits: map[string]struct{}{}}
				out[k.schema] = u
			}
			u.ids[uv.str()] = struct{}{}
			for _, c := range r.cells[r.userFrom:] {
				u.traits[c.col] = struct{}{}
			}
		}
	}
	return out
}

// recomputeUsers rebuilds the users rows of the users in u from every
// identifies row of theirs, committed or of this load, as Segment's
// warehouse does: per trait column the latest non-null value by (received_at, id),
// and the latest received_at. The result does not depend on how the
// identifies were split into loads, and a value that did not fit its
// identifies column (NULL there, kept in _discards) does not erase an
// earlier one. The users table gets the new trait columns first, with the
// type of their identifies column.
func (w *warehouse) recomputeUsers(ctx context.Context, conn *sql.Conn, schema string, u *userSet, uuidTS time.Time, catalog map[tableKey]*table) error {
	ik, uk := tableKey{schema, tableIdentifies}, tableKey{schema, tableUsers}
	idt := catalog[ik]
	if idt == nil {
		return nil
	}
	ut := catalog[uk]
	users := w.d.qualify(schema, tableUsers)
	var add []string
	for _, c := range sortedKeys(u.traits) {
		if (ut == nil || !ut.has(c)) && idt.has(c) {
			add = append(add, c)
		}
	}
	if ut == nil {
		defs := []string{`"id" ` + w.d.typeName(typeString), `"received_at" ` + w.d.typeName(typeTimestamp), `"uuid_ts" ` + w.d.typeName(typeTimestamp)}
		for _, c := range add {
			defs = append(defs, quoteIdent(c)+" "+w.d.typeName(idt.types[c]))
		}
		if w.d.primaryKey() {
			defs = append(defs, `PRIMARY KEY ("id")`)
		}
		if _, err := conn.ExecContext(ctx, "CREATE TABLE "+users+" ("+strings.Join(defs, ", ")+")"); err != nil {
			return fmt.Errorf("creating table %s: %w", users, err)
		}
		ut = &table{types: map[string]colType{}}
		ut.addColumn("id", typeString)
		ut.addColumn("received_at", typeTimestamp)
		ut.addColumn("uuid_ts", typeTimestamp)
		catalog[uk] = ut
	} else {
		for _, c := range add {
			q := "ALTER TABLE " + users + " ADD COLUMN " + quoteIdent(c) + " " + w.d.typeName(idt.types[c])
			if _, err := conn.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("adding column %s to %s: %w", c, users, err)
			}
		}
	}
	for _, c := range add {
		ut.addColumn(c, idt.types[c])
	}
	if q := w.d.userIndex(schema); q != "" {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("indexing %s on user_id: %w", w.d.qualify(schema, tableIdentifies), err)
		}
	}
	cols := []string{`"id"`, `"received_at"`, `"uuid_ts"`}
	exprs := []string{`"user_id"`, `max("received_at")`, "CAST($2 AS " + w.d.typeName(typeTimestamp) + ")"}
	for _, c := range ut.cols {
		if usersColumns[c] || !idt.has(c) {
			continue
		}
		q := quoteIdent(c)
		e := w.d.latest(q)
		from, to := idt.types[c], ut.types[c]
		switch {
		case from == to:
		case to == typeString || (to == typeFloat && from == typeInt):
			e = "CAST(" + e + " AS " + w.d.typeName(to) + ")"
		default:
			w.logger.Warn("warehouse users column has another type than its identifies column; left NULL", "schema", schema, "column", c, "users_type", to.String(), "identifies_type", from.String())
			continue
		}
		cols = append(cols, q)
		exprs = append(exprs, e)
	}
	ids := sortedKeys(u.ids)
	del, arg := w.d.colIn("id", ids)
	if _, err := conn.ExecContext(ctx, "DELETE FROM "+users+" WHERE "+del, arg); err != nil {
		return fmt.Errorf("recomputing users of schema %s: %w", schema, err)
	}
	sel, _ := w.d.colIn("user_id", ids)
	q := "INSERT INTO " + users + " (" + strings.Join(cols, ", ") + ") SELECT " + strings.Join(exprs, ", ") +
		" FROM " + w.d.qualify(schema, tableIdentifies) + " WHERE " + sel + " GROUP BY \"user_id\""
	if _, err := conn.ExecContext(ctx, q, arg, uuidTS); err != nil {
		return fmt.Errorf("recomputing users of schema %s: %w", schema, err)
	}
	return nil
}

// evolve creates the table of k or adds the columns that rows bring; a new
// column's type is the least upper bound of the values in rows.
func (w *warehouse) evolve(ctx context.Context, conn *sql.Conn, k tableKey, rows []*row, catalog map[tableKey]*table) error {
	if len(rows) == 0 {
		return nil
	}
	t := catalog[k]
	// Find the new columns (once per shape of row), then their types over
	// every row.
	newTypes := map[string]colType{}
	if t == nil || !t.has("uuid_ts") {
		newTypes["uuid_ts"] = typeTimestamp
	}
	var prev *row
	for _, r := range rows {
		if sameColumns(prev, r) {
			continue
		}
		prev = r
		for _, c := range r.cells {
			if t == nil || !t.has(c.col) {
				newTypes[c.col] = typeNone
			}
		}
	}
	if len(newTypes) == 0 {
		return nil
	}
	if len(newTypes) > 1 || newTypes["uuid_ts"] == typeNone {
		for _, r := range rows {
			for _, c := range r.cells {
				if ct, ok := newTypes[c.col]; ok {
					newTypes[c.col] = lub(ct, c.v.typ)
				}
			}
		}
	}
	cols := orderColumns(k.table, newTypes)
	if t == nil {
		defs := make([]string, len(cols))
		for i, c := range cols {
			defs[i] = quoteIdent(c) + " " + w.d.typeName(newTypes[c])
		}
		if w.d.primaryKey() && newTypes["id"] != typeNone {
			defs = append(defs, `PRIMARY KEY ("id")`)
		}
		q := "CREATE TABLE " + w.d.qualify(k.schema, k.table) + " (" + strings.Join(defs, ", ") + ")"
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("creating table %s: %w", w.d.qualify(k.schema, k.table), err)
		}
		t = &table{types: map[string]colType{}}
		catalog[k] = t
	} else {
		for _, c := range cols {
			q := "ALTER TABLE " + w.d.qualify(k.schema, k.table) + " ADD COLUMN " + quoteIdent(c) + " " + w.d.typeName(newTypes[c])
			if _, err := conn.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("adding column %s to %s: %w", c, w.d.qualify(k.schema, k.table), err)
			}
		}
	}
	for _, c := range cols {
		t.addColumn(c, newTypes[c])
	}
	return nil
}

// discardColumns are the columns of _discards, in order.
var discardColumns = []string{"table_name", "column_name", "column_value", "column_type_expected", "row_id", "received_at", "reason", "uuid_ts"}

func (w *warehouse) createDiscards(ctx context.Context, conn *sql.Conn, schema string) error {
	defs := make([]string, len(discardColumns))
	for i, c := range discardColumns {
		t := typeString
		if c == "received_at" || c == "uuid_ts" {
			t = typeTimestamp
		}
		defs[i] = quoteIdent(c) + " " + w.d.typeName(t)
	}
	q := "CREATE TABLE IF NOT EXISTS " + w.d.qualify(schema, tableDiscards) + " (" + strings.Join(defs, ", ") + ")"
	if _, err := conn.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("creating table %s: %w", w.d.qualify(schema, tableDiscards), err)
	}
	return nil
}

// orderColumns puts the standard columns first, in their usual order, then
// the context columns, then the others, each sorted.
func orderColumns(table string, types map[string]colType) []string {
	var out []string
	for _, c := range columnOrder {
		if _, ok := types[c]; ok && standardColumn(table, c) {
			out = append(out, c)
		}
	}
	var ctx, rest []string
	for c := range types {
		switch {
		case standardColumn(table, c) && slices.Contains(columnOrder, c):
		case strings.HasPrefix(c, "context_"):
			ctx = append(ctx, c)
		default:
			rest = append(rest, c)
		}
	}
	sort.Strings(ctx)
	sort.Strings(rest)
	return append(append(out, ctx...), rest...)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}
