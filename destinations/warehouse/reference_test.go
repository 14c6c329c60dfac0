package warehouse

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/router"
)

// This file keeps the first builder, which decoded each message into
// map[string]any with encoding/json, as the reference that the fast
// builder (one pass over the JSON text, no map per object) must match
// exactly: TestBuilderMatchesReference and FuzzBuilder compare them.

type refRow struct {
	table, id  string
	receivedAt time.Time
	cols       map[string]value
	discards   []discard
	user       map[string]value
}

func refRows(m router.Message, prefix string, max int) (string, []*refRow, error) {
	dec := json.NewDecoder(bytes.NewReader(m.Body))
	dec.UseNumber()
	var body map[string]any
	if err := dec.Decode(&body); err != nil || body == nil {
		return "", nil, errBadBody
	}
	str := func(v any) string { s, _ := v.(string); return s }
	typ := m.Type
	if typ == "" {
		typ = str(body["type"])
	}
	schema := schemaName(prefix, m.Source, max)
	id, receivedAt := m.ID, m.ReceivedAt.UTC()
	if id == "" {
		id = str(body["messageId"])
	}
	if id == "" {
		return "", nil, errBadBody
	}
	if receivedAt.IsZero() {
		receivedAt, _ = parseTimestamp(str(body["receivedAt"]))
	}
	setString := func(r *refRow, col string, v any) {
		switch s := v.(type) {
		case nil:
		case string:
			if s != "" {
				r.cols[col] = stringValue(s)
			}
		default:
			if x, ok := inferValue(v); ok {
				r.cols[col] = stringValue(x.str())
			}
		}
	}
	setTime := func(r *refRow, col string, v any) {
		switch x := v.(type) {
		case nil:
		case string:
			if t, ok := parseTimestamp(x); ok {
				r.cols[col] = timeValue(t)
				return
			}
			r.discards = append(r.discards, discard{table: r.table, column: col, value: x, expected: "timestamp", reason: reasonMismatch})
		case map[string]any:
			r.discards = append(r.discards, discard{table: r.table, column: col, value: compactJSON(x), expected: "timestamp", reason: reasonMismatch})
		default:
			iv, _ := inferValue(x)
			r.discards = append(r.discards, discard{table: r.table, column: col, value: iv.str(), expected: "timestamp", reason: reasonMismatch})
		}
	}
	base := func(table string) *refRow {
		r := &refRow{table: table, id: id, receivedAt: receivedAt, cols: map[string]value{}}
		r.cols["id"] = stringValue(id)
		if !receivedAt.IsZero() {
			r.cols["received_at"] = timeValue(receivedAt)
		}
		setTime(r, "sent_at", body["sentAt"])
		setTime(r, "timestamp", body["timestamp"])
		setTime(r, "original_timestamp", body["originalTimestamp"])
		setString(r, "anonymous_id", body["anonymousId"])
		setString(r, "user_id", body["userId"])
		setString(r, "channel", body["channel"])
		if ctx, ok := body["context"].(map[string]any); ok {
			refFlatten(r, []string{"context"}, ctx, nil, max)
		}
		return r
	}
	switch typ {
	case router.TypeIdentify:
		r := base(tableIdentifies)
		before := maps.Clone(r.cols)
		traits, _ := body["traits"].(map[string]any)
		refFlatten(r, nil, traits, reservedFor(tableIdentifies), max)
		if str(body["userId"]) != "" {
			r.user = map[string]value{}
			for c, v := range r.cols {
				if _, ok := before[c]; !ok {
					r.user[c] = v
				}
			}
		}
		return schema, []*refRow{r}, nil
	case router.TypeTrack:
		event := str(body["event"])
		if event == "" {
			event = m.Event
		}
		table := tableName(event, max)
		t := base(tableTracks)
		t.cols["event"] = stringValue(table)
		t.cols["event_text"] = stringValue(event)
		e := base(table)
		e.cols["event"] = stringValue(table)
		e.cols["event_text"] = stringValue(event)
		props, _ := body["properties"].(map[string]any)
		refFlatten(e, nil, props, reservedFor(table), max)
		return schema, []*refRow{t, e}, nil
	case router.TypePage, router.TypeScreen:
		table := tablePages
		if typ == router.TypeScreen {
			table = tableScreens
		}
		r := base(table)
		props, _ := body["properties"].(map[string]any)
		used := map[string]bool{}
		for _, k := range []string{"name", "category"} {
			if v, ok := body[k]; ok && v != nil {
				setString(r, k, v)
			} else if v, ok := props[k]; ok && v != nil {
				setString(r, k, v)
				used[k] = true
			}
		}
		if len(used) > 0 {
			rest := make(map[string]any, len(props))
			for k, v := range props {
				if !used[k] {
					rest[k] = v
				}
			}
			props = rest
		}
		refFlatten(r, nil, props, reservedFor(table), max)
		return schema, []*refRow{r}, nil
	case router.TypeGroup:
		r := base(tableGroups)
		setString(r, "group_id", body["groupId"])
		traits, _ := body["traits"].(map[string]any)
		refFlatten(r, nil, traits, reservedFor(tableGroups), max)
		return schema, []*refRow{r}, nil
	case router.TypeAlias:
		r := base(tableAliases)
		setString(r, "previous_id", body["previousId"])
		return schema, []*refRow{r}, nil
	}
	return "", nil, errBadBody
}

func refFlatten(r *refRow, prefix []string, obj map[string]any, reserved func(string) bool, max int) {
	type refLeaf struct {
		raw      []string
		key, col string
		val      value
	}
	var leaves []refLeaf
	var walk func(path []string, o map[string]any)
	walk = func(path []string, o map[string]any) {
		for k, v := range o {
			p := append(path[:len(path):len(path)], k)
			switch x := v.(type) {
			case nil:
			case map[string]any:
				if len(x) == 0 {
					continue
				}
				if len(p) >= maxFlattenDepth {
					leaves = append(leaves, refLeaf{raw: p, val: stringValue(compactJSON(x))})
					continue
				}
				walk(p, x)
			default:
				if val, ok := inferValue(x); ok {
					leaves = append(leaves, refLeaf{raw: p, val: val})
				}
			}
		}
	}
	walk(prefix, obj)
	for i := range leaves {
		leaves[i].col = columnName(leaves[i].raw, max)
		leaves[i].key = strings.Join(leaves[i].raw, pathSeparator)
	}
	sort.Slice(leaves, func(i, j int) bool {
		if leaves[i].key != leaves[j].key {
			return leaves[i].key < leaves[j].key
		}
		return slices.Compare(leaves[i].raw, leaves[j].raw) < 0
	})
	owner := map[string]int{}
	add := func(column, val, reason string) {
		r.discards = append(r.discards, discard{table: r.table, column: column, value: val, reason: reason})
	}
	for i, l := range leaves {
		switch {
		case l.col == "":
			add(strings.Join(l.raw, "."), l.val.str(), reasonEmptyName)
		case reserved != nil && reserved(l.col):
			add(l.col, l.val.str(), reasonReserved)
		default:
			if prev, ok := owner[l.col]; ok {
				add(l.col, leaves[prev].val.str(), reasonCollision)
			}
			owner[l.col] = i
			r.cols[l.col] = l.val
		}
	}
}

// describeValue prints a value with its type and text.
func describeValue(v value) string {
	return fmt.Sprintf("%s(%q i=%d f=%v b=%v t=%s)", v.typ, v.str(), v.i, v.f, v.b, v.t.Format(time.RFC3339Nano))
}

// describeRef and describeRows print rows in one canonical form.
func describeRef(schema string, rs []*refRow) string {
	var b strings.Builder
	for _, r := range rs {
		fmt.Fprintf(&b, "%s.%s id=%q at=%s\n", schema, r.table, r.id, r.receivedAt.Format(time.RFC3339Nano))
		for _, c := range slices.Sorted(maps.Keys(r.cols)) {
			fmt.Fprintf(&b, "  %s = %s\n", c, describeValue(r.cols[c]))
		}
		for _, d := range r.discards {
			fmt.Fprintf(&b, "  discard %+v\n", d)
		}
		if r.user != nil {
			for _, c := range slices.Sorted(maps.Keys(r.user)) {
				fmt.Fprintf(&b, "  user %s = %s\n", c, describeValue(r.user[c]))
			}
		}
	}
	return b.String()
}

func describeRows(rs []*row) string {
	var b strings.Builder
	for _, r := range rs {
		fmt.Fprintf(&b, "%s.%s id=%q at=%s\n", r.schema, r.table, r.id, r.receivedAt.Format(time.RFC3339Nano))
		cols := map[string]value{}
		for _, c := range r.cells {
			if _, dup := cols[c.col]; dup {
				fmt.Fprintf(&b, "  DUPLICATE CELL %s\n", c.col)
			}
			cols[c.col] = c.v
		}
		for _, c := range slices.Sorted(maps.Keys(cols)) {
			fmt.Fprintf(&b, "  %s = %s\n", c, describeValue(cols[c]))
		}
		for _, d := range r.discards {
			fmt.Fprintf(&b, "  discard %+v\n", d)
		}
		if r.hasUser {
			user := map[string]value{}
			for _, c := range r.cells[r.userFrom:] {
				user[c.col] = c.v
			}
			for _, c := range slices.Sorted(maps.Keys(user)) {
				fmt.Fprintf(&b, "  user %s = %s\n", c, describeValue(user[c]))
			}
		}
	}
	return b.String()
}

// compareBuilders builds m with both builders and reports a difference.
func compareBuilders(t *testing.T, b *builder, s *scratch, m router.Message) {
	t.Helper()
	schema, want, werr := refRows(m, "", 63)
	got, gerr := b.build(s, m, 0, nil)
	if (werr != nil) != (gerr != nil) {
		t.Fatalf("body %q: reference error %v, fast builder error %v", m.Body, werr, gerr)
	}
	if werr != nil {
		return
	}
	if w, g := describeRef(schema, want), describeRows(got); w != g {
		t.Fatalf("body %q:\nreference:\n%s\nfast builder:\n%s", m.Body, w, g)
	}
}

var builderBodies = []string{
	`{"type":"track","messageId":"m1","userId":"u1","anonymousId":"a1","event":"Order Completed","timestamp":"2024-01-01T00:00:00.000Z","sentAt":"2024-01-01T00:00:01Z","originalTimestamp":"2024-01-01T00:00:00+02:00","channel":"server","context":{"library":{"name":"analytics-go","version":"3.3.0"},"ip":"10.0.0.1","traits":{"email":"a@b.c"}},"properties":{"revenue":12.50,"count":3,"big":12345678901234567890,"exp":1e3,"neg":-0.0000001,"ok":true,"when":"2024-02-03T04:05:06Z","tags":["a", {"z":1,"a":[1,2]}],"nested":{"deep":{"deeper":{"x":"y"}}},"empty":{},"nil":null,"accountType":"pro","account_type":"free","user_id":"x","context_x":1,"":"e","!!":"bang","html":"<a&b>"}}`,
	`{"type":"track","messageId":"m2","event":"","properties":{"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":{"i":{"j":{"k":1}}}}}}}}}}}}`,
	`{"type":"track","messageId":"m3","event":"select","properties":{"dup":1,"dup":"two","o":{"x":1},"o":{"y":2}},"properties":{"last":true}}`,
	`{"type":"identify","messageId":"m4","userId":"u4","traits":{"firstName":"A","first_name":"B","email":"x@y","name":"N","id":5,"address":{"city":"Paris"}},"context":{"a b":1,"a_b":2}}`,
	`{"type":"identify","messageId":"m5","userId":7,"traits":{"x":1}}`,
	`{"type":"page","messageId":"m6","name":"Home","properties":{"name":"Other","category":"Docs","path":"/","title":"T\u00e9st \ud83d\ude00","esc":"a\"b\\c\/d\n","ctl":"\u0001"}}`,
	`{"type":"screen","messageId":"m7","name":null,"category":{"o":1},"properties":{"name":"FromProps","category":"C"}}`,
	`{"type":"group","messageId":"m8","groupId":42,"traits":{"Plan Name":"x","2FA":true,"employees":1.0}}`,
	`{"type":"alias","messageId":"m9","previousId":["a"],"userId":"u9"}`,
	`{"type":"track","messageId":"m9b","event":"E","sentAt":"yesterday","timestamp":1700000000,"originalTimestamp":{"b":1,"a":"x"}}`,
	`{"type":"track","messageId":"m10","event":"E","properties":"not an object","context":[1]}`,
	`{"messageId":"m11","type":"track","event":"Users","properties":{"a":1.5e300,"b":1e400,"c":-0,"d":0.1,"e":100000000000000000000000,"f":1E-7}} trailing`,
	` {"type":"track","messageId":"m12","event":"E","properties":{"k\u0000x":1,"k":{"x":2}}}`,
	`{"type":"track","messageId":"m13","event":"E","properties":{"bad":"\xff\xfe"}}`,
	`{"type":"nope","messageId":"m14"}`,
	`{"type":"track"}`,
	`{"type":"track",`,
	`[1,2]`,
	`null`,
	`{"type":"track","messageId":"m15","properties":{"a":01}}`,
	`{"type":"track","messageId":"m16","properties":{"a":1.}}`,
	`{"type":"track","messageId":"m17","properties":{"a":"x\ty"}}`,
	`{"type":"track","messageId":"m18","properties":{"a":[1,}}`,
	`{"type":"track","messageId":"m19","properties":{"a":tru}}`,
	`{"type":"track","messageId":"m20","event":"E","properties":{"a":"\q"}}`,
	`{"type":"track","messageId":"m21","event":"E","receivedAt":"2024-01-01T00:00:00Z","properties":{"arr":[ 1 , "x" , null , {"b" : 2 , "a" : 1} ]}}`,
	`{}`,
}

// TestBuilderMatchesReference checks the fast builder against the
// map-based reference on bodies that exercise every rule and every kind
// of bad JSON, with and without a message envelope's id and type.
func TestBuilderMatchesReference(t *testing.T) {
	b := newBuilder("", 63)
	s := b.get()
	for i, body := range builderBodies {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			compareBuilders(t, b, s, router.Message{Source: "prod-web", Body: []byte(body)})
			compareBuilders(t, b, s, router.Message{ID: "env", Source: "prod-web", Type: "track", Event: "Env Event", ReceivedAt: t0, Body: []byte(body)})
		})
	}
}

// FuzzBuilder compares the two builders on arbitrary bodies.
func FuzzBuilder(f *testing.F) {
	for _, body := range builderBodies {
		f.Add(body)
	}
	b := newBuilder("", 63)
	f.Fuzz(func(t *testing.T, body string) {
		s := b.get()
		defer b.put(s)
		compareBuilders(t, b, s, router.Message{Source: "prod-web", Body: []byte(body)})
	})
}
