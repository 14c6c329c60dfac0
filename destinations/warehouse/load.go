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
	// begin starts the load's transaction on conn and takes the locks
	// that serialise loads into schemas (sorted) across processes.
	begin(ctx context.Context, conn *sql.Conn, schemas []string) error
	// insert writes rows (values in the order of cols) into a table; ids
	// already in the table are skipped where the table has a key.
	insert(ctx context.Context, conn *sql.Conn, schema, table string, cols []string, rows [][]any) error
	// replace writes rows, replacing those with the same id.
	replace(ctx context.Context, conn *sql.Conn, schema, table string, cols []string, rows [][]any) error
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
	closeErr  error
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
	if err := w.load(ctx, rows); err != nil {
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
		herr := w.load(ctx, part)
		switch {
		case herr == nil:
		case w.d.dataError(herr) && ctx.Err() == nil:
			w.split(ctx, part, herr, failed)
		default:
			for _, i := range half {
				failed[i] = fmt.Errorf("loading batch into warehouse %q: %w", w.name, herr)
			}
		}
	}
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

	catalog := map[tableKey]*table{}
	for _, s := range schemas {
		if _, err := conn.ExecContext(ctx, "CREATE SCHEMA IF NOT EXISTS "+w.d.schemaRef(s)); err != nil {
			return fmt.Errorf("creating schema %s: %w", s, err)
		}
		if err := w.readCatalog(ctx, conn, s, catalog); err != nil {
			return err
		}
	}

	// Deduplicate on id: within the rows, then against each table.
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
	existing, err := w.existingIDs(ctx, conn, schemas, order, byTable, catalog)
	if err != nil {
		return err
	}
	for k, ids := range existing {
		kept := byTable[k][:0]
		for _, r := range byTable[k] {
			if _, ok := ids[r.id]; !ok {
				kept = append(kept, r)
			}
		}
		byTable[k] = kept
	}

	uuidTS := time.Now().UTC().Truncate(time.Microsecond)
	users, err := w.mergeUsers(ctx, conn, byTable, catalog)
	if err != nil {
		return err
	}
	for _, u := range users {
		k := tableKey{u.schema, tableUsers}
		if seen[k] == nil {
			seen[k] = map[string]struct{}{}
			order = append(order, k)
		}
		byTable[k] = append(byTable[k], u)
	}

	// Schema changes, then the rows.
	for _, k := range order {
		if err := w.evolve(ctx, conn, k, byTable[k], catalog); err != nil {
			return err
		}
	}
	uuidValue := timeValue(uuidTS)
	discards := map[string][][]any{}
	for _, k := range order {
		rs := byTable[k]
		if len(rs) == 0 {
			continue
		}
		t := catalog[k]
		n := len(t.cols)
		types := make([]colType, n)
		for j, c := range t.cols {
			types[j] = t.types[c]
		}
		uuidSlot := t.slot["uuid_ts"]
		uuidVal, _ := coerce(uuidValue, types[uuidSlot])
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
			add := func(d discard) {
				discards[k.schema] = append(discards[k.schema], []any{
					d.table, d.column, d.value, nullIfEmpty(d.expected), r.id, nullTime(r.receivedAt), d.reason, uuidTS,
				})
			}
			for _, d := range r.discards {
				add(d)
			}
			for _, j := range mismatches {
				c := r.cells[j]
				add(discard{table: k.table, column: c.col, value: c.v.str(), expected: types[slots[j]].String(), reason: reasonMismatch})
			}
		}
		write := w.d.insert
		if k.table == tableUsers {
			write = w.d.replace
		}
		if err := write(ctx, conn, k.schema, k.table, t.cols, vals); err != nil {
			return fmt.Errorf("writing %d row(s) to %s: %w", len(vals), w.d.qualify(k.schema, k.table), err)
		}
	}
	for _, s := range sortedKeys(discards) {
		k := tableKey{s, tableDiscards}
		if catalog[k] == nil {
			if err := w.createDiscards(ctx, conn, s); err != nil {
				return err
			}
		}
		if err := w.d.insert(ctx, conn, s, tableDiscards, discardColumns, discards[s]); err != nil {
			return fmt.Errorf("writing %d discard(s) to %s: %w", len(discards[s]), w.d.qualify(s, tableDiscards), err)
		}
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		return fmt.Errorf("committing: %w", err)
	}
	done = true
	w.logger.Debug("warehouse load committed", "messages", msgs, "rows", len(rows), "duration", time.Since(started).String())
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
			return nil, fmt.Errorf("reading ids of schema %s: %w", schema, err)
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

// contribution is one source of a users row: an existing row or a new
// identify.
type contribution struct {
	receivedAt time.Time
	id         string
	msg        int
	vals       map[string]value
}

// mergeUsers returns the users rows that the new identifies rows change
// (spec §5.6): per trait the latest non-null value by received_at (ties:
// the larger messageId), over the existing row and the new identifies.
func (w *warehouse) mergeUsers(ctx context.Context, conn *sql.Conn, byTable map[tableKey][]*row, catalog map[tableKey]*table) ([]*row, error) {
	perSchema := map[string]map[string][]contribution{}
	for k, rs := range byTable {
		if k.table != tableIdentifies {
			continue
		}
		for _, r := range rs {
			if !r.hasUser {
				continue
			}
			uv, _ := r.get("user_id")
			uid := uv.str()
			user := make(map[string]value, len(r.cells)-r.userFrom)
			for _, c := range r.cells[r.userFrom:] {
				user[c.col] = c.v
			}
			if perSchema[k.schema] == nil {
				perSchema[k.schema] = map[string][]contribution{}
			}
			perSchema[k.schema][uid] = append(perSchema[k.schema][uid], contribution{receivedAt: r.receivedAt, id: r.id, msg: r.msg, vals: user})
		}
	}
	var out []*row
	for _, schema := range sortedKeys(perSchema) {
		byUser := perSchema[schema]
		k := tableKey{schema, tableUsers}
		if t := catalog[k]; t != nil {
			if err := w.readUsers(ctx, conn, k, t, byUser); err != nil {
				return nil, err
			}
		}
		for _, uid := range sortedKeys(byUser) {
			cs := byUser[uid]
			sort.SliceStable(cs, func(i, j int) bool {
				if !cs[i].receivedAt.Equal(cs[j].receivedAt) {
					return cs[i].receivedAt.Before(cs[j].receivedAt)
				}
				return cs[i].id < cs[j].id
			})
			last := cs[len(cs)-1]
			u := &row{schema: schema, table: tableUsers, id: uid, receivedAt: last.receivedAt, msg: -1}
			merged := map[string]value{}
			for _, c := range cs {
				maps.Copy(merged, c.vals)
				if c.id != "" { // a new identify: the row is its to fail
					u.msg = c.msg
				}
			}
			merged["id"] = stringValue(uid)
			if !last.receivedAt.IsZero() {
				merged["received_at"] = timeValue(last.receivedAt)
			}
			for _, col := range sortedKeys(merged) {
				u.set(col, merged[col])
			}
			out = append(out, u)
		}
	}
	return out, nil
}

// readUsers adds the existing users rows of the users in byUser as their
// first contributions.
func (w *warehouse) readUsers(ctx context.Context, conn *sql.Conn, k tableKey, t *table, byUser map[string][]contribution) error {
	quoted := make([]string, len(t.cols))
	for i, c := range t.cols {
		quoted[i] = quoteIdent(c)
	}
	pred, arg := w.d.idIn(sortedKeys(byUser))
	rs, err := conn.QueryContext(ctx, "SELECT "+strings.Join(quoted, ", ")+" FROM "+w.d.qualify(k.schema, k.table)+" WHERE "+pred, arg)
	if err != nil {
		return fmt.Errorf("reading users: %w", err)
	}
	defer rs.Close()
	for rs.Next() {
		vals := make([]any, len(t.cols))
		ptrs := make([]any, len(t.cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rs.Scan(ptrs...); err != nil {
			return fmt.Errorf("reading users: %w", err)
		}
		c := contribution{vals: map[string]value{}}
		var uid string
		for i, col := range t.cols {
			v, ok := fromDB(vals[i], t.types[col])
			if !ok {
				continue
			}
			switch col {
			case "id":
				uid = v.str()
			case "received_at":
				c.receivedAt = v.t
			case "uuid_ts":
			default:
				c.vals[col] = v
			}
		}
		if _, ok := byUser[uid]; ok {
			byUser[uid] = append([]contribution{c}, byUser[uid]...)
		}
	}
	if err := rs.Err(); err != nil {
		return fmt.Errorf("reading users: %w", err)
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
	cols := orderColumns(newTypes)
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
func orderColumns(types map[string]colType) []string {
	var out []string
	for _, c := range columnOrder {
		if _, ok := types[c]; ok {
			out = append(out, c)
		}
	}
	var ctx, rest []string
	for c := range types {
		switch {
		case standardColumns[c] || c == "uuid_ts":
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
