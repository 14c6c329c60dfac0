package ingest

import (
	"bytes"
	"context"
	"encoding/base64"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/eventrouter/eventrouter/router"
)

func TestNewValidatesConfig(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr []string // substrings; empty means valid
	}{
		{"valid", baseConfig(), nil},
		{"valid rate limits", Config{Sources: []Source{
			{Name: "a", WriteKeys: []string{"K1"}, RateLimit: 0.5},
			{Name: "b", WriteKeys: []string{"K2"}, RateLimit: 1e12, Burst: 3},
			{Name: "c", WriteKeys: []string{"K3"}, Burst: 7}}}, nil},
		{"invalid rate limits", Config{Sources: []Source{
			{Name: "a", WriteKeys: []string{"K1"}, RateLimit: -1, Burst: -2},
			{Name: "b", WriteKeys: []string{"K2"}, RateLimit: math.NaN()},
			{Name: "c", WriteKeys: []string{"K3"}, RateLimit: math.Inf(1)}}},
			[]string{"sources.a: rate_limit: -1 is not a finite number >= 0", "sources.a: burst: -2 is negative",
				"sources.b: rate_limit: NaN is not", "sources.c: rate_limit: +Inf is not"}},
		{"duplicate key across sources", Config{Sources: []Source{
			{Name: "a", WriteKeys: []string{"K"}}, {Name: "b", WriteKeys: []string{"K"}}}},
			[]string{`sources.b: write_keys[0]: already used by source "sources.a"`}},
		{"every problem at once", Config{UnknownKey: "maybe", Sources: []Source{
			{Name: "", WriteKeys: []string{"K1"}},
			{Name: "x", WriteKeys: []string{""}},
			{Name: "x", WriteKeys: nil},
			{Name: "y", WriteKeys: []string{" K "}}}},
			[]string{"unknown_key", "sources[0]: name: required", "sources.x: write_keys[0]: empty",
				"sources.x: defined twice", "sources.x: write_keys: at least one required", "sources.y: write_keys[0]: surrounding whitespace"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg, newRecLog())
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("New accepted an invalid config")
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
	if _, err := New(baseConfig(), nil); err == nil {
		t.Error("New accepted a nil log")
	}
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestRequestLevel(t *testing.T) {
	e := newEnv(t, newRecLog(), nil)
	track := []byte(`{"userId":"u","event":"E"}`)
	tests := []struct {
		name       string
		req        req
		wantStatus int
		wantCode   string // for errors
		wantSource string // for 200 with one stored message
		check      func(t *testing.T, r resp)
	}{
		{name: "unknown path", req: req{path: "/v1/nope", body: track, header: map[string]string{"Origin": "https://a.example"}},
			wantStatus: 404, wantCode: "not_found", check: func(t *testing.T, r resp) {
				if r.header.Get("Access-Control-Allow-Origin") != "https://a.example" {
					t.Error("404 without CORS headers")
				}
			}},
		{name: "wrong method", req: req{method: http.MethodDelete, path: "/v1/track"}, wantStatus: 405, wantCode: "method_not_allowed",
			check: func(t *testing.T, r resp) {
				if r.header.Get("Allow") != "POST, PUT, OPTIONS" {
					t.Errorf("Allow = %q", r.header.Get("Allow"))
				}
			}},
		{name: "GET on a server route", req: req{method: http.MethodGet, path: "/v1/batch"}, wantStatus: 405, wantCode: "method_not_allowed"},
		{name: "POST on a pixel", req: req{path: "/v1/pixel/track", body: track}, wantStatus: 405, wantCode: "method_not_allowed"},
		{name: "PUT on the beacon", req: req{method: http.MethodPut, path: "/beacon/v1/batch"}, wantStatus: 405, wantCode: "method_not_allowed"},
		{name: "health", req: req{method: http.MethodGet, path: "/internal/health"}, wantStatus: 200,
			check: func(t *testing.T, r resp) {
				if len(r.body) != 0 {
					t.Errorf("health body %q", r.body)
				}
			}},
		{name: "health short", req: req{method: http.MethodGet, path: "/HEALTH/"}, wantStatus: 200},
		{name: "health head", req: req{method: http.MethodHead, path: "/health"}, wantStatus: 200},
		{name: "unsupported encoding", req: req{path: "/v1/track", header: wk1("Content-Encoding", "br"), body: track}, wantStatus: 415, wantCode: "unsupported_encoding"},
		{name: "identity encoding", req: req{path: "/v1/track", header: wk1("Content-Encoding", "identity"), body: track}, wantStatus: 200, wantSource: "prod-web"},
		{name: "empty body", req: req{path: "/v1/track", header: wk1()}, wantStatus: 400, wantCode: "invalid_json"},
		{name: "trailing garbage", req: req{path: "/v1/track", header: wk1(), body: []byte(`{"userId":"u","event":"E"} x`)}, wantStatus: 400, wantCode: "invalid_json"},
		{name: "top-level string", req: req{path: "/v1/track", header: wk1(), body: []byte(`"x"`)}, wantStatus: 400, wantCode: "invalid_json"},
		{name: "batch not an array", req: req{path: "/v1/batch", header: wk1(), body: []byte(`{"batch":{"type":"track"}}`)}, wantStatus: 400, wantCode: "invalid_batch"},
		{name: "batch missing", req: req{path: "/v1/b", header: wk1(), body: []byte(`{}`)}, wantStatus: 400, wantCode: "invalid_batch"},
		{name: "legacy basic without colon", req: req{path: "/v1/track", header: map[string]string{"Authorization": "Basic " + b64("WK1")}, body: track}, wantStatus: 200, wantSource: "prod-web"},
		{name: "basic password ignored", req: req{path: "/v1/track", header: map[string]string{"Authorization": "basic " + b64("WK1:secret")}, body: track}, wantStatus: 200, wantSource: "prod-web"},
		{name: "second key of a source", req: req{path: "/v1/track", header: map[string]string{"Authorization": "Basic " + b64("WK1b:")}, body: track}, wantStatus: 200, wantSource: "prod-web"},
		{name: "bearer is not a key", req: req{path: "/v1/track", header: map[string]string{"Authorization": "Bearer WK1"}, body: track}, wantStatus: 401, wantCode: "missing_write_key"},
		{name: "bearer with key in body", req: req{path: "/v1/track", header: map[string]string{"Authorization": "Bearer tok"}, body: []byte(`{"userId":"u","event":"E","writeKey":"WK2"}`)}, wantStatus: 200, wantSource: "backend"},
		{name: "basic beats body", req: req{path: "/v1/track", header: map[string]string{"Authorization": "Basic " + b64("WK2:")}, body: []byte(`{"userId":"u","event":"E","writeKey":"WK1"}`)}, wantStatus: 200, wantSource: "backend"},
		{name: "body beats query", req: req{path: "/v1/track?writeKey=WK2", body: []byte(`{"userId":"u","event":"E","writeKey":"WK1"}`)}, wantStatus: 200, wantSource: "prod-web"},
		{name: "query key", req: req{path: "/v1/track?writeKey=WK2", body: track}, wantStatus: 200, wantSource: "backend"},
		{name: "first batch item key", req: req{path: "/v1/batch", body: []byte(`{"batch":[{"type":"track","userId":"u","event":"E","writeKey":"WK2"}]}`)}, wantStatus: 200, wantSource: "backend"},
		{name: "unknown key in body", req: req{path: "/v1/track", body: []byte(`{"userId":"u","event":"E","writeKey":"nope"}`)}, wantStatus: 401, wantCode: "invalid_write_key"},
		{name: "gzip bomb", req: req{path: "/v1/batch", header: wk1(), gzip: true, body: append(append([]byte(`{"batch":[],"x":"`), bytes.Repeat([]byte("0"), 20<<20)...), '"', '}')}, wantStatus: 400, wantCode: "payload_too_large"},
		{name: "GET without data", req: req{method: http.MethodGet, path: "/v1/t?writeKey=WK1"}, wantStatus: 400, wantCode: "invalid_json"},
		{name: "GET with bad base64", req: req{method: http.MethodGet, path: "/v1/t?writeKey=WK1&data=***"}, wantStatus: 400, wantCode: "invalid_json"},
		{name: "GET without callback", req: req{method: http.MethodGet, path: "/v1/i?data=" + base64.RawURLEncoding.EncodeToString([]byte(`{"writeKey":"WK1","userId":"u"}`))}, wantStatus: 200, wantSource: "prod-web"},
		{name: "beacon", req: req{path: "/beacon/v1/batch?writeKey=WK1", header: map[string]string{"Content-Type": "text/plain;charset=UTF-8"}, body: []byte(`{"batch":[{"type":"page","anonymousId":"a"}]}`)},
			wantStatus: 200, wantSource: "prod-web", check: func(t *testing.T, r resp) {
				wantField(t, r.events[0], "channel", "browser")
				wantField(t, r.events[0], "context.ip", "127.0.0.1")
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(t, tt.req)
			if tt.wantCode != "" {
				apiErr(t, r, tt.wantStatus, tt.wantCode)
			} else if r.status != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", r.status, tt.wantStatus, r.body)
			}
			if tt.wantSource != "" {
				s200(t, r)
				if len(r.msgs) != 1 || r.msgs[0].Source != tt.wantSource {
					t.Fatalf("stored %+v, want one message of %s", r.msgs, tt.wantSource)
				}
			}
			if tt.check != nil {
				tt.check(t, r)
			}
		})
	}
}

func TestNormalisation(t *testing.T) {
	e := newEnv(t, newRecLog(), nil)
	tests := []struct {
		name  string
		path  string
		body  string
		check func(t *testing.T, ev map[string]any)
	}{
		{"route type wins", "/v1/track", `{"type":"identify","userId":"u","event":"E"}`, func(t *testing.T, ev map[string]any) {
			wantField(t, ev, "type", "track")
		}},
		{"id coercion", "/v1/group", `{"userId":12345678901234567890,"anonymousId":"  a1  ","groupId":1.5e3}`, func(t *testing.T, ev map[string]any) {
			wantField(t, ev, "userId", "12345678901234567890")
			wantField(t, ev, "anonymousId", "a1")
			wantField(t, ev, "groupId", "1500")
		}},
		{"empty id is absent", "/v1/identify", `{"userId":"","anonymousId":"a"}`, func(t *testing.T, ev map[string]any) {
			absent(t, ev, "userId")
		}},
		{"alias ids", "/v1/alias", `{"userId":"u","previousId":42}`, func(t *testing.T, ev map[string]any) {
			wantField(t, ev, "previousId", "42")
		}},
		{"server fields overwritten", "/v1/track", `{"userId":"u","event":"E","receivedAt":"x","originalTimestamp":"y","version":1,"channel":"tv","_ingest":{"a":1},"context":{"protocols":{"violations":[]},"library":{"name":"x"}}}`,
			func(t *testing.T, ev map[string]any) {
				wantField(t, ev, "receivedAt", ts0)
				wantField(t, ev, "originalTimestamp", ts0)
				wantField(t, ev, "version", "2")
				wantField(t, ev, "channel", "server")
				absent(t, ev, notesKey)
				absent(t, ev, "context.protocols")
				wantField(t, ev, "context.library.name", "x")
				absent(t, ev, "context.ip")
			}},
		{"unknown fields and exact numbers kept", "/v1/track", `{"userId":"u","event":"E","custom":{"n":9.990},"big":123456789012345678901234567890}`,
			func(t *testing.T, ev map[string]any) {
				wantField(t, ev, "custom.n", "9.990")
				wantField(t, ev, "big", "123456789012345678901234567890")
			}},
		{"invalid utf-8 replaced", "/v1/track", "{\"userId\":\"u\",\"event\":\"E\xff\"}", func(t *testing.T, ev map[string]any) {
			wantField(t, ev, "event", "E\uFFFD")
		}},
		{"unparseable sentAt", "/v1/track", `{"userId":"u","event":"E","sentAt":12,"timestamp":"2024-01-01T00:00:00Z"}`, func(t *testing.T, ev map[string]any) {
			absent(t, ev, "sentAt")
			wantField(t, ev, "timestamp", "2024-01-01T00:00:00.000Z")
			notes := field(ev, notesKey+".notes").([]any)
			if len(notes) != 1 || notes[0].(map[string]any)["code"] != "sent_at_unparseable" {
				t.Errorf("notes = %v", notes)
			}
		}},
		{"item sentAt beats envelope", "/v1/batch", `{"sentAt":"2024-01-01T00:00:00Z","batch":[{"type":"track","userId":"u","event":"E","sentAt":"2024-01-01T00:00:05.5Z","timestamp":"2024-01-01T00:00:05Z"}]}`,
			func(t *testing.T, ev map[string]any) {
				wantField(t, ev, "sentAt", "2024-01-01T00:00:05.500Z")
				wantField(t, ev, "timestamp", "2024-01-01T01:00:09.500Z")
			}},
		{"envelope merged into every item, item context kept to its item", "/v1/batch", `{"context":{"app":{"name":"a"}},"batch":[{"type":"track","userId":"u","event":"E","context":{"direct":true}},{"type":"track","userId":"u","event":"F"}]}`,
			func(t *testing.T, ev map[string]any) {
				wantField(t, ev, "context.app.name", "a")
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr := wk1()
			r := e.do(t, req{path: tt.path, header: hdr, body: []byte(tt.body)})
			s200(t, r)
			if len(r.events) == 0 {
				t.Fatalf("nothing stored; rejected %+v", r.rejected)
			}
			tt.check(t, r.events[0])
			if len(r.events) == 2 {
				wantField(t, r.events[1], "context.app.name", "a")
				absent(t, r.events[1], "context.ip")
				absent(t, r.events[1], "context.direct")
			}
		})
	}
}

func TestEventRejections(t *testing.T) {
	e := newEnv(t, newRecLog(), nil)
	tests := []struct{ name, path, body, reason string }{
		{"id not a string", "/v1/track", `{"userId":{"a":1},"event":"E"}`, "id_not_string"},
		{"event not a string", "/v1/track", `{"userId":"u","event":3}`, "event_not_string"},
		{"blank event", "/v1/track", `{"userId":"u","event":"  "}`, "event_not_defined"},
		{"traits not an object", "/v1/identify", `{"userId":"u","traits":"x"}`, "traits_not_object"},
		{"page name", "/v1/page", `{"userId":"u","name":""}`, "name_not_string"},
		{"screen category", "/v1/screen", `{"userId":"u","category":1}`, "category_not_string"},
		{"alias without user", "/v1/alias", `{"previousId":"p","anonymousId":"a"}`, "no_user_anon_id"},
		{"long messageId", "/v1/track", `{"userId":"u","event":"E","messageId":"` + strings.Repeat("é", 101) + `"}`, "message_id_invalid"},
		{"numeric messageId", "/v1/track", `{"userId":"u","event":"E","messageId":5}`, "message_id_invalid"},
		{"context not an object", "/v1/track", `{"userId":"u","event":"E","context":"c"}`, "context_not_object"},
		{"batch item without type", "/v1/batch", `{"batch":[{"userId":"u"}]}`, "invalid_type"},
		{"batch item of unknown type", "/v1/batch", `{"batch":[{"type":"Track","userId":"u","event":"E"}]}`, "invalid_type"},
		{"batch item not an object", "/v1/batch", `{"batch":[7]}`, "invalid_type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(t, req{path: tt.path, header: wk1(), body: []byte(tt.body)})
			s200(t, r)
			rj := rejectedOnly(t, r, tt.reason)
			if rj.Detail == "" || rj.Source != "prod-web" {
				t.Errorf("rejected = %+v", rj)
			}
		})
	}
	t.Run("rejected item keeps the merged envelope, not the key", func(t *testing.T) {
		r := e.do(t, req{path: "/v1/b", body: []byte(`{"writeKey":"WK1","context":{"library":{"name":"l"}},"batch":[{"type":"track","userId":"u","messageId":"m9","writeKey":"WK1"}]}`)})
		s200(t, r)
		rj := rejectedOnly(t, r, "event_not_defined")
		body := decodeBody(t, rj.Body)
		wantField(t, body, "context.library.name", "l")
		absent(t, body, "writeKey")
		if rj.MessageID != "m9" || rj.Route != "/v1/b" {
			t.Errorf("rejected = %+v", rj)
		}
	})
}

func TestDecimalString(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"42", "42", true},
		{"-7", "-7", true},
		{"1.5e3", "1500", true},
		{"1.50", "1.5", true},
		{"12e-3", "0.012", true},
		{"-0.0", "0", true},
		{"0.000", "0", true},
		{"1E+2", "100", true},
		{"123.456e1", "1234.56", true},
		{"1e1001", "", false},
		{"1e99999", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := decimalString(tt.in)
			if got != tt.want || ok != tt.ok {
				t.Errorf("decimalString(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func counterValue(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if labels[lp.GetName()] != lp.GetValue() {
					continue metric
				}
			}
			return value(m)
		}
	}
	return 0
}

func value(m *dto.Metric) float64 {
	if c := m.GetCounter(); c != nil {
		return c.GetValue()
	}
	return float64(m.GetHistogram().GetSampleCount())
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	log := newRecLog()
	e := newEnv(t, log, func(c *Config) { c.Registerer = reg })
	body := []byte(`{"batch":[{"type":"track","userId":"u","event":"E","messageId":"x1"},{"type":"track","userId":"u","messageId":"x2"},` +
		`{"type":"track","userId":"u","event":"E","timestamp":"2024-01-01T02:00:00Z"}]}`)
	e.do(t, req{path: "/v1/batch", header: wk1(), body: body})
	e.do(t, req{path: "/v1/batch", header: wk1(), body: []byte(`{"batch":[{"type":"track","userId":"u","event":"E","messageId":"x1"}]}`)})
	e.do(t, req{path: "/v1/batch", header: wk1(), body: []byte(`{"batch":[]}`)})
	e.do(t, req{path: "/v1/nope"})
	e.do(t, req{path: "/v1/track", body: []byte(`{}`)})
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"eventrouter_http_requests_total", map[string]string{"route": "/v1/batch", "code": "200"}, 3},
		{"eventrouter_http_requests_total", map[string]string{"route": "unknown", "code": "404"}, 1},
		{"eventrouter_http_requests_total", map[string]string{"route": "/v1/track", "code": "401"}, 1},
		{"eventrouter_events_accepted_total", map[string]string{"source": "prod-web"}, 2},
		{"eventrouter_events_duplicate_total", map[string]string{"source": "prod-web"}, 1},
		{"eventrouter_events_rejected_total", map[string]string{"reason": "event_not_defined"}, 1},
		{"eventrouter_empty_batches_total", nil, 1},
		{"eventrouter_events_timestamp_in_future_total", nil, 1},
		{"eventrouter_ingest_store_duration_seconds", nil, 2},
	} {
		if got := counterValue(t, reg, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if _, err := New(Config{Registerer: reg}, log); err == nil {
		t.Error("registering the metrics twice is not an error")
	}
}

func TestFormatTime(t *testing.T) {
	for _, ts := range []time.Time{
		frozen,
		time.Date(2023, 12, 31, 23, 59, 59, 999999999, time.FixedZone("x", -5*3600)),
		time.Date(1, 2, 3, 4, 5, 6, 7000000, time.UTC),
		time.Date(12345, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-5, 1, 1, 0, 0, 0, 0, time.UTC),
	} {
		if got, want := formatTime(ts), router.FormatTime(ts); got != want {
			t.Errorf("formatTime(%v) = %q, want %q", ts, got, want)
		}
	}
}

// splitFailLog fails Append or Reject only.
type splitFailLog struct {
	*recLog
	failAppend, failReject bool
}

func (l *splitFailLog) Append(ctx context.Context, msgs []router.Message) (int, error) {
	if l.failAppend {
		return 0, errStoreDown
	}
	return l.recLog.Append(ctx, msgs)
}

func (l *splitFailLog) Reject(ctx context.Context, rs []router.Rejected) error {
	if l.failReject {
		return errStoreDown
	}
	return l.recLog.Reject(ctx, rs)
}

func (l *splitFailLog) Sample(ctx context.Context, rs []router.Rejected) error {
	if l.failReject {
		return errStoreDown
	}
	return l.recLog.Sample(ctx, rs)
}

func TestStoreFailures(t *testing.T) {
	mixed := []byte(`{"batch":[{"type":"track","userId":"u","event":"E"},{"type":"track","userId":"u"}]}`)
	pixel := "/v1/pixel/track?data=" + base64.RawURLEncoding.EncodeToString([]byte(`{"writeKey":"WK1","userId":"u","event":"Open"}`))
	jsonp := "/v1/t?callback=cb&data=" + base64.RawURLEncoding.EncodeToString([]byte(`{"writeKey":"WK1","userId":"u","event":"Open"}`))
	tests := []struct {
		name                   string
		failAppend, failReject bool
		req                    req
		wantStatus             int
	}{
		{"append fails", true, false, req{path: "/v1/batch", header: wk1(), body: mixed}, 503},
		{"only reject fails", false, true, req{path: "/v1/batch", header: wk1(), body: mixed}, 503},
		// Unauthenticated: only the sample could store it, and its
		// failure never makes a 503.
		{"sample fails for unknown source", false, true, req{path: "/v1/track", header: map[string]string{"Authorization": "Basic " + b64("zzz:")}, body: []byte(`{}`)}, 200},
		{"jsonp answers 503", true, false, req{method: http.MethodGet, path: jsonp}, 503},
		{"pixel is always a GIF", true, true, req{method: http.MethodGet, path: pixel}, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log := &splitFailLog{recLog: newRecLog(), failAppend: tt.failAppend, failReject: tt.failReject}
			e := newEnv(t, log, func(c *Config) { c.UnknownKey = UnknownKeyAccept })
			r := e.send(t, tt.req)
			if r.status != tt.wantStatus {
				t.Fatalf("status %d, want %d", r.status, tt.wantStatus)
			}
			switch {
			case r.status == 503:
				apiErr(t, r, 503, "unavailable")
				if r.header.Get("Retry-After") == "" {
					t.Error("503 without Retry-After")
				}
			case strings.Contains(tt.req.path, "pixel"):
				checkGIF(t, r)
			default:
				s200(t, r)
			}
		})
	}
}
