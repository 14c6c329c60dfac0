package main

// Helpers for the tests that drive the real Segment client libraries
// (analytics.js in Chromium, @segment/analytics-node, analytics-go) against
// `eventrouter serve` with a file destination and a DuckDB warehouse, and
// compare, field by field, what each library sent with what was stored.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/internal/snakecase"
)

// npmDir is the npm project of the test clients; `make deps` installs its
// node_modules from the lockfile.
const npmDir = "testdata/npm"

// npmModules checks that node and the npm packages are installed. Without
// them the test skips, loudly, except under CI, where it fails.
func npmModules(t *testing.T) string {
	t.Helper()
	msg := ""
	if _, err := exec.LookPath("node"); err != nil {
		msg = "node is not installed"
	} else if _, err := os.Stat(filepath.Join(npmDir, "node_modules", "@segment", "analytics-next", "package.json")); err != nil {
		msg = "the npm packages are not installed in " + npmDir
	}
	if msg == "" {
		abs, _ := filepath.Abs(npmDir)
		return abs
	}
	msg += ": run `make deps` (it installs Node.js and runs npm ci there)"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip("SKIPPING: " + msg)
	return ""
}

// clientRig is `eventrouter serve` with one Segment source "web" and two
// destinations: a file "f" and a DuckDB warehouse "wh".
type clientRig struct {
	srv  *serverProc
	file string
}

// startClientRig starts the server on a free port; httpExtra goes into
// the http block (", public_url: ..."), extra is more top-level YAML (not
// http, data_dir, log, sources or destinations).
func startClientRig(t *testing.T, writeKey, httpExtra, extra string) *clientRig {
	t.Helper()
	return startClientRigAt(t, freeAddr(t), writeKey, httpExtra, extra)
}

// startClientRigAt is startClientRig listening on addr.
func startClientRigAt(t *testing.T, addr, writeKey, httpExtra, extra string) *clientRig {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "events.ndjson")
	cfg := fmt.Sprintf(`http: {listen: %q%s}
data_dir: %q
log: {level: warn}
sources:
  web: {type: segment, write_keys: [%q]}
destinations:
  f: {type: file, path: %q, batch_timeout: 20ms}
  wh: {type: warehouse, batch_timeout: 50ms}
%s`, addr, httpExtra, filepath.Join(dir, "data"), writeKey, file, extra)
	return &clientRig{srv: startServer(t, cfg, addr), file: file}
}

// fileMessages reads the file destination's messages.
func (r *clientRig) fileMessages(t *testing.T) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(r.file)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("file destination line %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

// waitStored waits until the file destination holds every id of ids and
// the warehouse has loaded as many messages, then stops the server (the
// warehouse file is then free for `eventrouter sql`). It fails unless each
// id is in the file exactly once, and returns the stored messages by id.
func (r *clientRig) waitStored(t *testing.T, ids []string) map[string]map[string]any {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := map[string]int{}
		for _, m := range r.fileMessages(t) {
			id, _ := m["messageId"].(string)
			got[id]++
		}
		missing := []string{}
		for _, id := range ids {
			if got[id] == 0 {
				missing = append(missing, id)
			}
		}
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the file destination never received %v (it has %v)\n%s", missing, got, r.srv.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	waitLoaded(t, r.srv, float64(len(ids)))
	time.Sleep(200 * time.Millisecond) // let a duplicate show up
	r.srv.stop()
	out := map[string]map[string]any{}
	for _, m := range r.fileMessages(t) {
		id, _ := m["messageId"].(string)
		if _, dup := out[id]; dup {
			t.Errorf("%s is in the file destination twice", id)
		}
		out[id] = m
	}
	if len(out) != len(ids) {
		t.Errorf("the file destination holds %d messages, want exactly %d (%v)", len(out), len(ids), ids)
	}
	return out
}

// expectStored is what eventrouter should store for item, sent inside
// the batch envelope env (nil for a single message): the item with the
// envelope's context and integrations deep-merged in (the item wins) and
// the envelope's sentAt when the item has none, as Segment merges them.
func expectStored(env, item map[string]any) map[string]any {
	out := deepCopy(item).(map[string]any)
	if env == nil {
		return out
	}
	for _, k := range []string{"context", "integrations"} {
		if ev, ok := env[k].(map[string]any); ok {
			iv, _ := out[k].(map[string]any)
			out[k] = mergeInto(deepCopy(ev).(map[string]any), iv)
		}
	}
	if _, ok := out["sentAt"]; !ok && env["sentAt"] != nil {
		out["sentAt"] = env["sentAt"]
	}
	return out
}

func mergeInto(dst, src map[string]any) map[string]any {
	for k, v := range src {
		if sv, ok := v.(map[string]any); ok {
			if dv, ok := dst[k].(map[string]any); ok {
				dst[k] = mergeInto(dv, sv)
				continue
			}
		}
		dst[k] = deepCopy(v)
	}
	return dst
}

func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, x := range v {
			m[k] = deepCopy(x)
		}
		return m
	case []any:
		s := make([]any, len(v))
		for i, x := range v {
			s[i] = deepCopy(x)
		}
		return s
	}
	return v
}

// sameInstant reports whether two timestamps name the same millisecond
// (eventrouter stores them with milliseconds, in UTC).
func sameInstant(a, b any) bool {
	as, ok1 := a.(string)
	bs, ok2 := b.(string)
	if !ok1 || !ok2 {
		return false
	}
	at, err1 := time.Parse(time.RFC3339Nano, as)
	bt, err2 := time.Parse(time.RFC3339Nano, bs)
	return err1 == nil && err2 == nil && at.Truncate(time.Millisecond).Equal(bt.Truncate(time.Millisecond))
}

// checkStoredAsSent compares, field by field, a message as the client sent
// it (after expectStored) with the message as stored: every field sent is
// stored with the same value, except writeKey and _metadata (removed) and
// timestamp (kept as originalTimestamp; timestamp is the skew-corrected
// time); context gains only ip (browser calls); and the only fields
// eventrouter adds are receivedAt, originalTimestamp, channel (= channel)
// and version.
func checkStoredAsSent(t *testing.T, label, channel string, sent, stored map[string]any) {
	t.Helper()
	for k, v := range sent {
		switch k {
		case "writeKey", "_metadata":
			if _, ok := stored[k]; ok {
				t.Errorf("%s: %s reached the destination", label, k)
			}
		case "timestamp":
			if !sameInstant(stored["originalTimestamp"], v) {
				t.Errorf("%s: originalTimestamp %v, want the timestamp sent, %v", label, stored["originalTimestamp"], v)
			}
			// Corrected by the client's clock skew when it sent sentAt.
			want, _ := time.Parse(time.RFC3339Nano, fmt.Sprint(v))
			if sa, err := time.Parse(time.RFC3339Nano, fmt.Sprint(sent["sentAt"])); err == nil {
				ra, _ := time.Parse(time.RFC3339Nano, fmt.Sprint(stored["receivedAt"]))
				want = ra.Add(-sa.Sub(want))
			}
			got, err := time.Parse(time.RFC3339Nano, fmt.Sprint(stored["timestamp"]))
			if d := got.Sub(want); err != nil || d < -time.Millisecond || d > time.Millisecond {
				t.Errorf("%s: timestamp %v, want %s (receivedAt - (sentAt - timestamp sent))", label, stored["timestamp"], want.Format(time.RFC3339Nano))
			}
		case "sentAt":
			if !sameInstant(stored[k], v) {
				t.Errorf("%s: sentAt %v, want %v", label, stored[k], v)
			}
		case "context":
			sc, _ := v.(map[string]any)
			gc, _ := stored[k].(map[string]any)
			for ck, cv := range sc {
				if !reflect.DeepEqual(gc[ck], cv) {
					t.Errorf("%s: context.%s = %s, want %s as sent", label, ck, js(gc[ck]), js(cv))
				}
			}
			for ck := range gc {
				if _, ok := sc[ck]; !ok && !(ck == "ip" && channel == "browser") {
					t.Errorf("%s: context.%s = %s was not sent", label, ck, js(gc[ck]))
				}
			}
		default:
			if !reflect.DeepEqual(stored[k], v) {
				t.Errorf("%s: %s = %s, want %s as sent", label, k, js(stored[k]), js(v))
			}
		}
	}
	for k, v := range stored {
		if _, ok := sent[k]; ok {
			continue
		}
		switch k {
		case "receivedAt", "originalTimestamp", "version":
		case "channel":
			if v != channel {
				t.Errorf("%s: channel %v, want %s", label, v, channel)
			}
		default:
			t.Errorf("%s: %s = %s was not sent", label, k, js(v))
		}
	}
	if _, ok := stored["receivedAt"]; !ok {
		t.Errorf("%s: no receivedAt", label)
	}
}

func js(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// warehouseTables are the tables a message of each type has a row in
// (besides the event table of a track), and the property or trait names
// that are standard columns there (loaded elsewhere or discarded).
var warehouseTables = map[string]struct {
	table    string
	section  string
	reserved []string
}{
	"identify": {"identifies", "traits", nil},
	"track":    {"tracks", "", nil},
	"page":     {"pages", "properties", []string{"name", "category"}},
	"screen":   {"screens", "properties", []string{"name", "category"}},
	"group":    {"groups", "traits", []string{"group_id"}},
	"alias":    {"aliases", "", nil},
}

// checkWarehouse checks, with `eventrouter sql` on the stopped server's
// configuration, that each stored message has exactly one row in each of
// its tables of schema, with its standard columns and a column per
// property or trait (flattened with "_"), each holding the stored value.
// Identify traits are checked in users too.
func checkWarehouse(t *testing.T, cfgPath, schema string, msgs map[string]map[string]any) {
	t.Helper()
	ids := make([]string, 0, len(msgs))
	for id := range msgs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		m := msgs[id]
		typ, _ := m["type"].(string)
		spec, ok := warehouseTables[typ]
		if !ok {
			t.Errorf("%s: type %q has no warehouse table", id, typ)
			continue
		}
		want := map[string]any{"id": id}
		for _, k := range []string{"userId", "anonymousId"} {
			if v, ok := m[k]; ok {
				want[snakecase.Column([]string{k}, snakecase.MaxPostgres)] = v
			}
		}
		if lib, ok := m["context"].(map[string]any)["library"].(map[string]any); ok {
			want["context_library_name"] = lib["name"]
			want["context_library_version"] = lib["version"]
		}
		own := map[string]any{}
		switch typ {
		case "page", "screen":
			for _, k := range []string{"name", "category"} {
				if v, ok := m[k]; ok {
					own[k] = v
				}
			}
		case "group":
			own["group_id"] = m["groupId"]
		case "alias":
			own["previous_id"] = m["previousId"]
		case "track":
			own["event"] = snakecase.EventTable(m["event"].(string), snakecase.MaxPostgres)
			own["event_text"] = m["event"]
		}
		if spec.section != "" {
			flattenColumns(m[spec.section], nil, spec.reserved, own)
		}
		tables := map[string]map[string]any{spec.table: merged(want, own)}
		if typ == "track" {
			props := map[string]any{}
			flattenColumns(m["properties"], nil, []string{"event", "event_text"}, props)
			tables[snakecase.EventTable(m["event"].(string), snakecase.MaxPostgres)] = merged(want, props)
		}
		for table, cols := range tables {
			checkRow(t, cfgPath, fmt.Sprintf("%s.%s", schema, table), "id", id, cols)
		}
		if typ == "identify" {
			if uid, ok := m["userId"].(string); ok {
				traits := map[string]any{}
				flattenColumns(m["traits"], nil, nil, traits)
				checkRow(t, cfgPath, schema+".users", "id", uid, traits)
			}
		}
	}
}

func merged(a, b map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// flattenColumns adds the scalar leaves of v to out under their column
// names, skipping the names in reserved (standard columns of the table).
func flattenColumns(v any, path, reserved []string, out map[string]any) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			flattenColumns(x, append(append([]string(nil), path...), k), reserved, out)
		}
	case string, float64, bool:
		col := snakecase.Column(path, snakecase.MaxPostgres)
		for _, r := range reserved {
			if col == r {
				return
			}
		}
		out[col] = v
	}
}

// checkRow checks that table has exactly one row where key = value, with
// each column of want holding its value.
func checkRow(t *testing.T, cfgPath, table, key, value string, want map[string]any) {
	t.Helper()
	rows := sqlJSON(t, cfgPath, fmt.Sprintf(`SELECT * FROM %s WHERE %s = '%s'`, table, key, strings.ReplaceAll(value, "'", "''")))
	if len(rows) != 1 {
		t.Errorf("%s has %d rows with %s %s, want exactly 1", table, len(rows), key, value)
		return
	}
	for col, v := range want {
		got, ok := rows[0][col]
		if !ok {
			t.Errorf("%s row %s: no column %s (want %s)", table, value, col, js(v))
			continue
		}
		if !reflect.DeepEqual(got, v) {
			t.Errorf("%s row %s: %s = %s, want %s", table, value, col, js(got), js(v))
		}
	}
}
