package warehouse

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/eventrouter/eventrouter/router"
)

// The reasons a value is written to _discards.
const (
	reasonReserved  = "reserved_column"
	reasonCollision = "name_collision"
	reasonMismatch  = "type_mismatch"
	reasonEmptyName = "invalid_name"
	maxFlattenDepth = 10
	pathSeparator   = "\x00" // joins raw path segments for ordering
)

// commonColumns are the standard columns of every event table; any context_* column is standard too.
var commonColumns = map[string]bool{
	"id": true, "received_at": true, "sent_at": true, "timestamp": true, "original_timestamp": true,
	"anonymous_id": true, "user_id": true, "uuid_ts": true, "channel": true,
}

// extraColumns are the standard columns that some tables add to the
// common ones; event tables add
// event and event_text like tracks.
var extraColumns = map[string][]string{
	tableTracks:  {"event", "event_text"},
	tablePages:   {"name", "category"},
	tableScreens: {"name", "category"},
	tableGroups:  {"group_id"},
	tableAliases: {"previous_id"},
}

// usersColumns are the standard columns of users.
var usersColumns = map[string]bool{"id": true, "received_at": true, "uuid_ts": true}

// columnOrder is the order of the standard columns in created tables.
var columnOrder = []string{
	"id", "received_at", "sent_at", "timestamp", "original_timestamp", "uuid_ts", "anonymous_id",
	"user_id", "event", "event_text", "name", "category", "group_id", "previous_id", "channel",
}

// reservedFor returns the collision rule for a table: a
// property or trait is dropped only when its column is a standard column
// of that table (the common ones, any context_*, and the table's own
// additions). Tables that are not standard are event tables.
func reservedFor(table string) func(string) bool {
	extra, ok := extraColumns[table]
	if !ok && !isStandardTable(table) {
		extra = extraColumns[tableTracks]
	}
	return func(name string) bool {
		return commonColumns[name] || strings.HasPrefix(name, "context_") || slices.Contains(extra, name)
	}
}

// standardColumn reports whether col is a standard column of table (for
// the order of a created table's columns).
func standardColumn(table, col string) bool {
	if table == tableUsers {
		return usersColumns[col]
	}
	if table == tableDiscards {
		return false
	}
	return reservedFor(table)(col)
}

// isStandardTable reports whether table is one of the layout's tables.
func isStandardTable(table string) bool {
	switch table {
	case tableIdentifies, tableUsers, tableTracks, tablePages, tableScreens, tableGroups, tableAliases, tableAccounts, tableDiscards:
		return true
	}
	return false
}

// The collision rules of the tables whose rows take properties or traits.
var (
	reservedIdentifies = reservedFor(tableIdentifies)
	reservedEvent      = reservedFor(tableTracks)
	reservedPages      = reservedFor(tablePages)
	reservedGroups     = reservedFor(tableGroups)
)

// discard is one value that could not be stored in its column.
type discard struct {
	table, column, value, expected, reason string
}

// cell is one column's value in a row.
type cell struct {
	col string
	v   value
}

// row is one row bound for a table of a schema. Its cells have distinct
// columns.
type row struct {
	schema, table string
	id            string
	receivedAt    time.Time
	msg           int // index of the message in the batch
	cells         []cell
	discards      []discard
	// hasUser is set on an identifies row with a user_id: cells[userFrom:]
	// are the trait columns that contribute to the users row.
	hasUser  bool
	userFrom int
}

func (r *row) set(col string, v value) { r.cells = append(r.cells, cell{col: col, v: v}) }

// get returns the value of col.
func (r *row) get(col string) (value, bool) {
	for _, c := range r.cells {
		if c.col == col {
			return c.v, true
		}
	}
	return value{}, false
}

func (r *row) discard(column, val, expected, reason string) {
	r.discards = append(r.discards, discard{table: r.table, column: column, value: val, expected: expected, reason: reason})
}

// builder turns messages into rows; it is safe for concurrent use. Each
// goroutine building rows takes a scratch (parse buffers and a cache of
// column names) from a free list, so messages are decoded without a map
// per object and the names of keys seen before cost a lookup.
type builder struct {
	prefix  string        // schema name prefix
	max     int           // identifier limit in bytes
	scratch chan *scratch // free list
}

func newBuilder(prefix string, max int) *builder {
	return &builder{prefix: prefix, max: max, scratch: make(chan *scratch, 2*runtime.GOMAXPROCS(0)+2)}
}

// maxCachedNames bounds a scratch's name caches; beyond it they restart.
const maxCachedNames = 50_000

// scratch is the reusable state of one goroutine building rows.
type scratch struct {
	tree    jtree
	leaves  []leaf
	keys    []byte   // raw paths of leaves, joined with pathSeparator
	segs    []string // raw path segments of leaves
	path    []string
	owner   map[string]int    // column -> index of its cell
	columns map[string]string // raw path (joined) -> column name
	tables  map[string]string // event -> table name
	schemas map[string]string // source -> schema name
	num     [32]byte
}

func (b *builder) get() *scratch {
	select {
	case s := <-b.scratch:
		return s
	default:
		return &scratch{owner: map[string]int{}, columns: map[string]string{}, tables: map[string]string{}, schemas: map[string]string{}}
	}
}

func (b *builder) put(s *scratch) {
	if len(s.columns) > maxCachedNames {
		clear(s.columns)
	}
	if len(s.tables) > maxCachedNames {
		clear(s.tables)
	}
	if len(s.schemas) > maxCachedNames {
		clear(s.schemas)
	}
	select {
	case b.scratch <- s:
	default:
	}
}

// errBadBody marks a message whose body cannot be loaded at all.
var errBadBody = errors.New("message body is not a JSON object")

// rows returns the rows of message m (index idx of its batch).
func (b *builder) rows(m router.Message, idx int) ([]*row, error) {
	s := b.get()
	defer b.put(s)
	return b.build(s, m, idx, nil)
}

// build appends the rows of message m (index idx of its batch) to out; on
// an error it returns out unchanged. Every row of a message starts with
// the columns the message's rows share (sharedRow); the message's type
// then decides its tables: identifies, tracks and the event's own table,
// pages, screens, groups or aliases.
func (b *builder) build(s *scratch, m router.Message, idx int, out []*row) ([]*row, error) {
	p, err := s.parseBody(m)
	if err != nil {
		return out, err
	}
	typ := p.messageType(m)
	schema := b.schemaOf(s, m.Source)
	id := p.messageID(m)
	if id == "" {
		return out, fmt.Errorf("loading message: %w: no messageId", errBadBody)
	}
	std := b.sharedRow(p, schema, id, p.receivedAt(m), idx)
	switch typ {
	case router.TypeIdentify:
		return append(out, b.identifiesRow(p, &std)), nil
	case router.TypeTrack:
		tracks, event := b.trackRows(p, &std, m.Event)
		return append(out, tracks, event), nil
	case router.TypePage:
		return append(out, b.pageRow(p, &std, tablePages)), nil
	case router.TypeScreen:
		return append(out, b.pageRow(p, &std, tableScreens)), nil
	case router.TypeGroup:
		return append(out, b.groupsRow(p, &std)), nil
	case router.TypeAlias:
		return append(out, aliasesRow(p, &std)), nil
	}
	return out, fmt.Errorf("loading message %q: %w: unknown type %q", m.ID, errBadBody, typ)
}

// parsedBody is a message's body parsed into its scratch's tree.
type parsedBody struct {
	s    *scratch
	t    *jtree
	root int32 // the body's object
}

// parseBody parses m's body into s's tree; the body must be a JSON object.
func (s *scratch) parseBody(m router.Message) (parsedBody, error) {
	t := &s.tree
	root, err := t.parse(string(m.Body))
	if err != nil || t.node(root).kind != jObject {
		return parsedBody{}, fmt.Errorf("decoding message %q: %w", m.ID, errBadBody)
	}
	return parsedBody{s: s, t: t, root: root}, nil
}

// str returns body[key] when it is a string, else "".
func (p parsedBody) str(key string) string {
	if i := p.t.member(p.root, key); i >= 0 && p.t.node(i).kind == jString {
		return p.t.node(i).s
	}
	return ""
}

// obj returns body[key] when it is an object, else -1.
func (p parsedBody) obj(key string) int32 {
	if i := p.t.member(p.root, key); i >= 0 && p.t.node(i).kind == jObject {
		return i
	}
	return -1
}

// cells returns room for the cells of object o's members (and a few
// more), 0 when o is -1.
func (p parsedBody) cells(o int32) int {
	if o < 0 {
		return 0
	}
	return int(p.t.node(o).n) + 4
}

// messageType returns m's type, else the body's.
func (p parsedBody) messageType(m router.Message) string {
	if m.Type != "" {
		return m.Type
	}
	return p.str("type")
}

// messageID returns m's id, else the body's messageId; "" when neither
// has one.
func (p parsedBody) messageID(m router.Message) string {
	if m.ID != "" {
		return m.ID
	}
	return strings.Clone(p.str("messageId"))
}

// receivedAt returns when m was received (in UTC), else the body's
// receivedAt; the zero time when neither has it.
func (p parsedBody) receivedAt(m router.Message) time.Time {
	if t := m.ReceivedAt.UTC(); !t.IsZero() {
		return t
	}
	t, _ := parseTimestamp(p.str("receivedAt"))
	return t
}

// setTime sets column col of r to body[key], a time. A time that is not an
// RFC 3339 string leaves its column NULL and goes to _discards
// (type_mismatch); the row loads.
func (p parsedBody) setTime(r *row, col, key string) {
	i := p.t.member(p.root, key)
	if i < 0 {
		return
	}
	n := p.t.node(i)
	switch n.kind {
	case jNull:
		return
	case jString:
		if ts, ok := parseTimestamp(n.s); ok {
			r.set(col, timeValue(ts))
			return
		}
		r.discard(col, strings.Clone(n.s), typeTimestamp.String(), reasonMismatch)
	default:
		if x, ok := p.s.infer(n); ok {
			r.discard(col, strings.Clone(x.str()), typeTimestamp.String(), reasonMismatch)
		} else {
			r.discard(col, compactRaw(n.raw), typeTimestamp.String(), reasonMismatch)
		}
	}
}

// setString sets column col of r to the value of node i (none when i is
// -1) as text: nulls, empty strings and objects leave it unset.
func (p parsedBody) setString(r *row, col string, i int32) {
	if i < 0 {
		return
	}
	n := p.t.node(i)
	switch n.kind {
	case jNull:
	case jString:
		if n.s != "" {
			r.set(col, stringValue(n.s))
		}
	default:
		if x, ok := p.s.infer(n); ok {
			r.set(col, stringValue(x.str()))
		}
	}
}

// schemaOf returns the schema of source's messages: the source's name in
// snake_case under the configured prefix.
func (b *builder) schemaOf(s *scratch, source string) string {
	schema, ok := s.schemas[source]
	if !ok {
		schema = schemaName(b.prefix, source, b.max)
		s.schemas[source] = schema
	}
	return schema
}

// eventTable returns the table of a track event: the event's name in
// snake_case.
func (b *builder) eventTable(s *scratch, event string) string {
	table, ok := s.tables[event]
	if !ok {
		table = tableName(event, b.max)
		s.tables[strings.Clone(event)] = table
	}
	return table
}

// sharedRow returns the columns that every row of the message shares, in
// a row without a table: id, received_at, sent_at, timestamp,
// original_timestamp, anonymous_id, user_id, channel, and the context
// flattened into context_* columns.
func (b *builder) sharedRow(p parsedBody, schema, id string, receivedAt time.Time, idx int) row {
	std := row{schema: schema, id: id, receivedAt: receivedAt, msg: idx}
	std.set("id", stringValue(id))
	if !receivedAt.IsZero() {
		std.set("received_at", timeValue(receivedAt))
	}
	p.setTime(&std, "sent_at", "sentAt")
	p.setTime(&std, "timestamp", "timestamp")
	p.setTime(&std, "original_timestamp", "originalTimestamp")
	p.setString(&std, "anonymous_id", p.t.member(p.root, "anonymousId"))
	p.setString(&std, "user_id", p.t.member(p.root, "userId"))
	p.setString(&std, "channel", p.t.member(p.root, "channel"))
	if ctx := p.obj("context"); ctx >= 0 {
		b.flatten(p.s, &std, "context", ctx, nil, nil)
	}
	return std
}

// forTable returns a row of table with the shared columns of std and room
// for extra more cells; std's discards are copied, as discards of table.
func (std *row) forTable(table string, extra int) *row {
	r := &row{schema: std.schema, table: table, id: std.id, receivedAt: std.receivedAt, msg: std.msg}
	r.cells = make([]cell, len(std.cells), len(std.cells)+extra)
	copy(r.cells, std.cells)
	if len(std.discards) > 0 {
		r.discards = append([]discard(nil), std.discards...)
		for i := range r.discards {
			r.discards[i].table = table
		}
	}
	return r
}

// identifiesRow returns an identify's row in identifies: the shared
// columns and the traits. With a userId, the traits also update the
// user's row in users (hasUser).
func (b *builder) identifiesRow(p parsedBody, std *row) *row {
	traits := p.obj("traits")
	r := std.forTable(tableIdentifies, p.cells(traits))
	from := len(r.cells)
	if traits >= 0 {
		b.flatten(p.s, r, "", traits, reservedIdentifies, nil)
	}
	if p.str("userId") != "" {
		r.hasUser, r.userFrom = true, from
	}
	return r
}

// trackRows returns a track's two rows: one in tracks, with the shared
// columns, event (the event's table) and event_text (the event as sent,
// else fallback); and one in the event's own table, with those columns and
// the properties.
func (b *builder) trackRows(p parsedBody, std *row, fallback string) (tracks, event *row) {
	name := p.str("event")
	if name == "" {
		name = fallback
	}
	table := b.eventTable(p.s, name)
	name = strings.Clone(name)
	tracks = std.forTable(tableTracks, 2)
	tracks.set("event", stringValue(table))
	tracks.set("event_text", stringValue(name))
	props := p.obj("properties")
	event = std.forTable(table, 2+p.cells(props))
	event.set("event", stringValue(table))
	event.set("event_text", stringValue(name))
	if props >= 0 {
		b.flatten(p.s, event, "", props, reservedEvent, nil)
	}
	return tracks, event
}

// pageRow returns a page's row in pages, or a screen's in screens (table):
// the shared columns, name and category, and the properties. Name and
// category come from the top level, else from the properties, which then
// leave them out of their own columns.
func (b *builder) pageRow(p parsedBody, std *row, table string) *row {
	props := p.obj("properties")
	r := std.forTable(table, 2+p.cells(props))
	var used []string
	for _, k := range []string{"name", "category"} {
		if i := p.t.member(p.root, k); i >= 0 && p.t.node(i).kind != jNull {
			p.setString(r, k, i)
		} else if i := p.t.member(props, k); props >= 0 && i >= 0 && p.t.node(i).kind != jNull {
			p.setString(r, k, i)
			used = append(used, k)
		}
	}
	if props >= 0 {
		b.flatten(p.s, r, "", props, reservedPages, used)
	}
	return r
}

// groupsRow returns a group's row in groups: the shared columns, group_id
// and the group's traits.
func (b *builder) groupsRow(p parsedBody, std *row) *row {
	traits := p.obj("traits")
	r := std.forTable(tableGroups, 1+p.cells(traits))
	p.setString(r, "group_id", p.t.member(p.root, "groupId"))
	if traits >= 0 {
		b.flatten(p.s, r, "", traits, reservedGroups, nil)
	}
	return r
}

// aliasesRow returns an alias's row in aliases: the shared columns and
// previous_id.
func aliasesRow(p parsedBody, std *row) *row {
	r := std.forTable(tableAliases, 1)
	p.setString(r, "previous_id", p.t.member(p.root, "previousId"))
	return r
}

// leaf is one flattened value: its raw path is keys[k0:k1] (segments
// joined with pathSeparator) and segs[s0:s1].
type leaf struct {
	k0, k1, s0, s1 int
	col            string
	val            value
}

// flatten adds the leaves of object obj, under the raw path segment
// prefix (none when empty), to r: nested objects are joined with "_" up
// to maxFlattenDepth levels, arrays and deeper objects become JSON text,
// nulls and empty objects add nothing. A column that reserved rejects, an
// empty name, or the loser of two keys with the same column (the later raw
// key wins) goes to r's discards. Top-level keys in skip are left out.
func (b *builder) flatten(s *scratch, r *row, prefix string, obj int32, reserved func(string) bool, skip []string) {
	if s.tree.node(obj).n == 0 {
		return
	}
	s.leaves, s.keys, s.segs = s.leaves[:0], s.keys[:0], s.segs[:0]
	s.path = s.path[:0]
	if prefix != "" {
		s.path = append(s.path, prefix)
	}
	s.collectLeaves(obj, skip)
	b.nameLeaves(s)
	if s.distinctColumns(reserved) {
		// The common case: every leaf has a column of its own that is not
		// reserved; the cells keep the order of the JSON text.
		for _, l := range s.leaves {
			r.set(l.col, l.val)
		}
		return
	}
	s.setResolved(r, reserved)
}

// collectLeaves appends the leaves of object o, under s.path, to
// s.leaves, their raw paths to s.keys and s.segs: nested objects are
// walked up to maxFlattenDepth levels, deeper ones become JSON text;
// nulls, empty objects and values that infer no type add nothing.
// Top-level keys in skip are left out.
func (s *scratch) collectLeaves(o int32, skip []string) {
	t := &s.tree
	for _, m := range t.members(o) {
		if len(s.path) == 0 && len(skip) > 0 && slices.Contains(skip, m.key) {
			continue
		}
		n := t.node(m.val)
		var val value
		switch n.kind {
		case jNull:
			continue
		case jObject:
			if n.n == 0 {
				continue
			}
			if len(s.path)+1 < maxFlattenDepth {
				s.path = append(s.path, m.key)
				s.collectLeaves(m.val, skip)
				s.path = s.path[:len(s.path)-1]
				continue
			}
			val = stringValue(compactRaw(n.raw))
		default:
			var ok bool
			if val, ok = s.infer(n); !ok {
				continue
			}
		}
		l := leaf{k0: len(s.keys), s0: len(s.segs), val: val}
		for i, seg := range s.path {
			if i > 0 {
				s.keys = append(s.keys, pathSeparator...)
			}
			s.keys = append(s.keys, seg...)
		}
		if len(s.path) > 0 {
			s.keys = append(s.keys, pathSeparator...)
		}
		s.keys = append(s.keys, m.key...)
		s.segs = append(append(s.segs, s.path...), m.key)
		l.k1, l.s1 = len(s.keys), len(s.segs)
		s.leaves = append(s.leaves, l)
	}
}

// nameLeaves sets each leaf's column name, cached by raw path in
// s.columns.
func (b *builder) nameLeaves(s *scratch) {
	for i := range s.leaves {
		l := &s.leaves[i]
		key := s.keys[l.k0:l.k1]
		c, ok := s.columns[string(key)]
		if !ok {
			c = columnName(s.segs[l.s0:l.s1], b.max)
			s.columns[string(key)] = c
		}
		l.col = c
	}
}

// distinctColumns reports whether every leaf has a column of its own, not
// empty and not reserved.
func (s *scratch) distinctColumns(reserved func(string) bool) bool {
	clear(s.owner)
	for _, l := range s.leaves {
		if _, dup := s.owner[l.col]; dup || l.col == "" || (reserved != nil && reserved(l.col)) {
			return false
		}
		s.owner[l.col] = 0
	}
	return true
}

// setResolved sets the leaves in r when some share a column or have one
// that is empty or reserved: in the order of their raw paths, the later of
// two keys with one column wins, and the others go to r's discards in that
// order.
func (s *scratch) setResolved(r *row, reserved func(string) bool) {
	// Two paths can join to the same bytes (a key holding the separator:
	// "k\x00x" and k.x); their segments then decide.
	slices.SortFunc(s.leaves, func(x, y leaf) int {
		if c := bytes.Compare(s.keys[x.k0:x.k1], s.keys[y.k0:y.k1]); c != 0 {
			return c
		}
		return slices.Compare(s.segs[x.s0:x.s1], s.segs[y.s0:y.s1])
	})
	clear(s.owner)
	for _, l := range s.leaves {
		switch {
		case l.col == "":
			r.discard(strings.Join(s.segs[l.s0:l.s1], "."), strings.Clone(l.val.str()), "", reasonEmptyName)
		case reserved != nil && reserved(l.col):
			r.discard(l.col, strings.Clone(l.val.str()), "", reasonReserved)
		default:
			if prev, ok := s.owner[l.col]; ok {
				r.discard(l.col, strings.Clone(r.cells[prev].v.str()), "", reasonCollision)
				r.cells[prev].v = l.val
				continue
			}
			s.owner[l.col] = len(r.cells)
			r.set(l.col, l.val)
		}
	}
}

// infer returns the value of a JSON scalar or array node; ok is false for
// null and for objects.
func (s *scratch) infer(n *jnode) (value, bool) {
	switch n.kind {
	case jBool:
		return boolValue(n.b), true
	case jNumber:
		return s.number(n.s), true
	case jString:
		if t, ok := parseTimestamp(n.s); ok {
			return value{typ: typeTimestamp, t: t, text: n.s}, true
		}
		return stringValue(n.s), true
	case jArray:
		return stringValue(compactRaw(n.raw)), true
	}
	return value{}, false
}

// number is numberValue without an allocation when the literal is already
// in its stored form.
func (s *scratch) number(lit string) value {
	if !strings.ContainsAny(lit, ".eE") {
		if i, err := strconv.ParseInt(lit, 10, 64); err == nil {
			return value{typ: typeInt, i: i, text: lit}
		}
	}
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil {
		return stringValue(lit)
	}
	b := appendJSONFloat(s.num[:0], f)
	if string(b) == lit {
		return value{typ: typeFloat, f: f, text: lit}
	}
	return value{typ: typeFloat, f: f, text: string(b)}
}

// compactRaw returns JSON text as encoding/json re-encodes it after
// decoding (objects' keys sorted, numbers as written, no spaces, HTML
// characters escaped, as json.Marshal does).
func compactRaw(raw string) string {
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return raw
	}
	return compactJSON(v)
}
