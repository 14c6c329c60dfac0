package ingest

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

// seedBodies are representative request bodies, the conformance vectors among them.
func seedBodies() [][]byte {
	seeds := []string{
		`{"userId":"u1","event":"Order Completed","properties":{"revenue":9.99}}`,
		`{"userId":"u1","event":"Order Completed","properties":{"revenue":9.99},"writeKey":"WK1"}`,
		`{"userId"`,
		`[{"a":"b"}]`,
		`{"batch":[]}`,
		`{"batch":[{"type":"identify","userId":"u1"}]}`,
		`{"event":"E"}`,
		`{"userId":"u1"}`,
		`{"userId":"u1","event":"E","properties":[1]}`,
		`{"sentAt":"2024-01-01T00:00:10.000Z","batch":[{"type":"track","userId":"u","event":"E","timestamp":"2024-01-01T00:00:00.000Z"}]}`,
		`{"batch":[{"type":"track","userId":"u","event":"E","timestamp":"2023-12-31T19:00:00-05:00"}]}`,
		`{"batch":[{"type":"track","userId":"u","event":"E","timestamp":"2015-2-02T00:30:08.276Z"}]}`,
		`{"context":{"library":{"name":"analytics-go","version":"3.0.0"}},"batch":[{"type":"track","userId":"u","event":"E","context":{"ip":"1.2.3.4","library":{"version":"9"}}}]}`,
		`{"userId":"u","event":"E","messageId":"m-1"}`,
		`{"writeKey":"WK1","anonymousId":"a1","event":"Clicked","_metadata":{"bundled":[]}}`,
		`{"batch":[{"type":"page","userId":"u","name":"Home"}]}`,
		`{"writeKey":"WK1","batch":[{"type":"identify","userId":"u"}],"sentAt":"2024-01-01T01:00:00.000+00:00"}`,
		`{"userId":12345678901234567890,"anonymousId":1.5e3,"event":"E","groupId":-0.25}`,
		`{"batch":[{"type":"alias","userId":"u","previousId":7},{"type":"group","anonymousId":"a","groupId":"g"},3,null,{"type":"nope"}]}`,
		`{"userId":"\ud800x\u00e9\ufffd","event":"\u0000\"\\","properties":{"a":[1,true,false,null,{"b":"c"}]}}`,
		"{\"userId\":\"\xff\xfe\",\"event\":\"E\"}",
		`{"batch":{"type":"track"}}`,
		`{"batch":[{"type":"track","userId":"u","event":"E","messageId":"` + strings.Repeat("m", 101) + `"}]}`,
		`{"userId":"u","event":"E","context":{"direct":true,"protocols":{"x":1}},"_ingest":{"x":1},"receivedAt":"x"}`,
		`{"userId":"u","event":"E","context":"str"}`,
		`{"userId":{"id":1},"event":"E"}`,
		`{"userId":"u","event":1}`,
		`{"userId":"u","name":"","category":3}`,
		`{"userId":"u","event":"E"} x`,
		`null`,
		`"str"`,
		``,
		`{"a":1e999999,"userId":1e-7,"event":"E"}`,
	}
	out := make([][]byte, len(seeds))
	for i, s := range seeds {
		out[i] = []byte(s)
	}
	return out
}

// fuzzRoutes are the routes each fuzz input is sent to.
var fuzzRoutes = []string{"/v1/batch", "/v1/track", "/v1/p", "/v1/alias", "/beacon/v1/batch?writeKey=WK1"}

// checkAnswer sends body (encoded as given) to every fuzz route and checks
// the properties of the request decoder: no panic, no 5xx, a 200 or a JSON
// error with code and message, and for a 200 every item accounted for.
func checkAnswer(t *testing.T, h *Handler, log *recLog, plain, sent []byte, gzipped bool) {
	for _, path := range fuzzRoutes {
		r := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(sent))
		r.Header.Set("Authorization", basicWK1)
		if gzipped {
			r.Header.Set("Content-Encoding", "gzip")
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		log.mu.Lock()
		stored := len(log.msgs)
		rejected := len(log.rejected)
		log.msgs, log.rejected = nil, nil
		log.seen = make(map[string]bool)
		log.mu.Unlock()
		res := resp{status: w.Code, header: w.Header(), body: w.Body.Bytes()}
		if w.Code >= 500 {
			t.Fatalf("%s: %d for body %q", path, w.Code, plain)
		}
		if w.Code != 200 {
			checkErrorBody(t, res)
			if stored+rejected != 0 {
				t.Fatalf("%s: %d answered but %d stored", path, w.Code, stored+rejected)
			}
			continue
		}
		if string(res.body) != `{"success":true}` {
			t.Fatalf("%s: 200 with %q", path, res.body)
		}
		// The oracle: encoding/json must agree that the body is an object,
		// and the items must add up.
		m, ok := decodeRequestJSON(plain)
		if !ok {
			t.Fatalf("%s: 200 for a body encoding/json rejects: %q", path, plain)
		}
		want := 1
		if strings.Contains(path, "batch") {
			items, _ := m["batch"].([]any)
			want = len(items)
		}
		if stored+rejected != want {
			t.Fatalf("%s: %d stored + %d rejected, want %d items, body %q", path, stored, rejected, want, plain)
		}
	}
}

func newFuzzHandler(t testing.TB) (*Handler, *recLog) {
	log := newRecLog()
	cfg := baseConfig()
	h, err := New(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	return h, log
}

func FuzzDecodeRequest(f *testing.F) {
	for _, s := range seedBodies() {
		f.Add(s)
	}
	h, log := newFuzzHandler(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		checkAnswer(t, h, log, body, body, false)
	})
}

func FuzzDecodeGzip(f *testing.F) {
	for _, s := range seedBodies() {
		f.Add(gz(f, s))
	}
	f.Add([]byte("woot"))
	f.Add([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff})
	h, log := newFuzzHandler(f)
	f.Fuzz(func(t *testing.T, compressed []byte) {
		// The oracle needs the plain body: decode it the same way, bounded.
		plain, ok := gunzipBounded(compressed, batchLimit+1)
		if !ok {
			plain = nil
		}
		checkAnswer(t, h, log, plain, compressed, true)
	})
}

// FuzzParse checks the decoder against encoding/json with UseNumber: same
// validity, same values, and appendJSON output that decodes to the same.
func FuzzParse(f *testing.F) {
	for _, s := range seedBodies() {
		f.Add(s)
	}
	for _, s := range []string{`1`, `-0.5e+3`, `01`, `1.`, `-`, `"\u12"`, `"\ud83d\ude00"`, `"\udc00\ud800"`, `[1,]`, `{"a":1,}`, `{"a" 1}`, "\"\x01\"", `tru`, `nul`, ` [ ] `, `{"a":{"a":{"a":[[[]]]}}}`, `"\/\b\f\n\r\t"`, "\"\u2028\""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, _, err := parseTop(b, true)
		d := json.NewDecoder(bytes.NewReader(b))
		d.UseNumber()
		var want any
		werr := d.Decode(&want)
		if werr == nil && d.More() || werr == nil && !json.Valid(b) {
			werr = errSyntaxOracle
		}
		if (err == nil) != (werr == nil) {
			t.Fatalf("parse error %v, encoding/json error %v, input %q", err, werr, b)
		}
		if err != nil {
			return
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("parse = %#v, encoding/json = %#v", got, want)
		}
		enc := appendJSON(nil, got)
		var back any
		d = json.NewDecoder(bytes.NewReader(enc))
		d.UseNumber()
		if err := d.Decode(&back); err != nil || !reflect.DeepEqual(back, want) {
			t.Fatalf("appendJSON = %s does not round-trip (%v)", enc, err)
		}
	})
}

var errSyntaxOracle = &syntaxError{msg: "oracle: trailing data"}

// gunzipBounded decompresses b, failing on malformed input or when the
// result exceeds limit bytes.
func gunzipBounded(b []byte, limit int) ([]byte, bool) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, false
	}
	out, err := io.ReadAll(io.LimitReader(zr, int64(limit)+1))
	if err != nil || len(out) > limit {
		return nil, false
	}
	return out, true
}
