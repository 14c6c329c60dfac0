package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func newTestServer(t *testing.T) (*server, string) {
	t.Helper()
	dir := t.TempDir()
	f, err := os.OpenFile(filepath.Join(dir, "events.ndjson"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	s := &server{key: []byte("k"), w: newGroupWriter(f, true)}
	t.Cleanup(func() { s.w.close(); f.Close() })
	return s, filepath.Join(dir, "events.ndjson")
}

func do(s *server, typ, key, body string) *httptest.ResponseRecorder {
	path := "/v1/batch"
	if typ != "" {
		path = "/v1/" + typ
	}
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	if key != "" {
		r.SetBasicAuth(key, "")
	}
	w := httptest.NewRecorder()
	s.handler(typ).ServeHTTP(w, r)
	return w
}

func TestHandler(t *testing.T) {
	s, path := newTestServer(t)
	cases := []struct {
		typ, key, body string
		code           int
	}{
		{"track", "k", `{"userId":"u","event":"E","properties":{"a":[1,{"b":null}]}}`, 200},
		{"track", "", `{"userId":"u","event":"E"}`, 401},
		{"track", "x", `{"userId":"u","event":"E"}`, 401},
		{"track", "k", `{"userId":"u"}`, 400},
		{"track", "k", `{"userId":"u","event":"E"`, 400},
		{"identify", "k", "{\n \"anonymousId\": \"a\",\n \"traits\": {\"x\": \"y\"}\n}", 200},
		{"group", "k", `{"userId":"u"}`, 400},
		{"", "k", `{"batch":[{"type":"track","userId":"u","event":"E"},` + "\n" + ` {"type":"alias","userId":"u","previousId":"p"}],"context":{"library":{"name":"t"}}}`, 200},
		{"", "k", `{"batch":[{"type":"track","userId":"u","event":"E"},"x"]}`, 400},
		{"", "k", `{"batch":[{"type":"nope","userId":"u"}]}`, 400},
		{"", "k", `{"batch":[]} {}`, 400},
		{"", "k", `{"context":{}}`, 400},
		{"", "k", `{"batch":[]}`, 200},
	}
	for _, c := range cases {
		if w := do(s, c.typ, c.key, c.body); w.Code != c.code {
			t.Errorf("%s %q: %d %s, want %d", c.typ, c.body, w.Code, w.Body, c.code)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	wantTypes := []string{"track", "identify", "track", "alias"}
	if len(lines) != len(wantTypes) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(wantTypes), b)
	}
	for i, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %d %q: %v", i, l, err)
		}
		if m["type"] != wantTypes[i] || m["receivedAt"] == nil {
			t.Errorf("line %d %q: want type %s and receivedAt", i, l, wantTypes[i])
		}
	}
}

func batch(n int) string {
	var b strings.Builder
	b.WriteString(`{"batch":[`)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"type":"track","userId":"user-%d","event":"Order Completed","messageId":"m-%d","timestamp":"2026-01-01T00:00:00.000Z","properties":{"order_id":"o-%d","revenue":19.99,"currency":"USD","coupon":"WINTER","note":%q},"context":{"ip":"203.0.113.7","locale":"en-US"}}`,
			i, i, i, strings.Repeat("x", 120))
	}
	b.WriteString(`],"sentAt":"2026-01-01T00:00:00.000Z","context":{"library":{"name":"loadgen","version":"1"}}}`)
	return b.String()
}

// BenchmarkDecodeBatch is the ceiling's CPU cost of a 100-event batch
// without HTTP and the file: decode, check, NDJSON lines.
func BenchmarkDecodeBatch(b *testing.B) {
	body := []byte(batch(100))
	st := &reqState{}
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		st.body.Reset()
		st.out.Reset()
		st.body.Write(body)
		if n, err := st.decodeBatch(`{"receivedAt":"2026-01-01T00:00:00Z",`); err != nil || n != 100 {
			b.Fatal(n, err)
		}
	}
	if !bytes.HasSuffix(st.out.Bytes(), []byte("}}\n")) {
		b.Fatalf("%s", st.out.Bytes())
	}
}
