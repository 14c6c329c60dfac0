package ingest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/segmentio/analytics-go/v3"

	"github.com/eventrouter/eventrouter/router"
)

// suite runs the conformance vectors against one backend.
type suite struct {
	main    *env
	backend backend

	mu        sync.Mutex
	responses []labelled // every answer of T1–T35, for T36
}

type labelled struct {
	vector string
	r      resp
}

// with returns a handler with a changed config over the same backend.
func (s *suite) with(t *testing.T, mutate func(*Config)) *env {
	return newEnv(t, s.backend, mutate)
}

// do sends r to e and keeps the answer for T36.
func (s *suite) do(t *testing.T, e *env, r req) resp {
	t.Helper()
	out := e.do(t, r)
	s.mu.Lock()
	s.responses = append(s.responses, labelled{t.Name(), out})
	s.mu.Unlock()
	return out
}

type vector struct {
	name string
	run  func(t *testing.T, s *suite)
}

var apiID = regexp.MustCompile(`^api-[0-9a-f-]{36}$`)

const ts0 = "2024-01-01T01:00:10.000Z" // the frozen clock, formatted

// padTrack returns a track body of exactly n bytes.
func padTrack(n int) []byte {
	head := `{"userId":"u1","event":"E","properties":{"pad":"`
	tail := `"}}`
	return []byte(head + strings.Repeat("x", n-len(head)-len(tail)) + tail)
}

// padItem returns a batch item (a track) of exactly n bytes.
func padItem(n int) string {
	head := `{"type":"track","userId":"u","event":"Big","properties":{"pad":"`
	tail := `"}}`
	return head + strings.Repeat("y", n-len(head)-len(tail)) + tail
}

// padBatch returns a batch body of exactly n bytes.
func padBatch(n int) []byte {
	head := `{"batch":[{"type":"track","userId":"u","event":"E","properties":{"pad":"`
	tail := `"}}]}`
	return []byte(head + strings.Repeat("z", n-len(head)-len(tail)) + tail)
}

func vectors() []vector {
	return []vector{
		{"T01_track_basic_auth", func(t *testing.T, s *suite) {
			r := s.do(t, s.main, req{path: "/v1/track", header: wk1(),
				body: []byte(`{"userId":"u1","event":"Order Completed","properties":{"revenue":9.99}}`)})
			s200(t, r)
			ev := one(t, r)
			wantField(t, ev, "type", "track")
			if id, _ := ev["messageId"].(string); !apiID.MatchString(id) || r.msgs[0].ID != id {
				t.Errorf("messageId = %q (Message.ID %q), want api-<uuid>", id, r.msgs[0].ID)
			}
			for _, f := range []string{"receivedAt", "timestamp", "originalTimestamp"} {
				wantField(t, ev, f, ts0)
			}
			absent(t, ev, "sentAt")
			wantField(t, ev, "properties.revenue", "9.99")
			wantField(t, ev, "version", "2")
			wantField(t, ev, "channel", "server")
			m := r.msgs[0]
			if m.Source != "prod-web" || m.Type != "track" || m.UserID != "u1" || m.Event != "Order Completed" || !m.ReceivedAt.Equal(frozen) {
				t.Errorf("message = %+v", m)
			}
		}},
		{"T02_write_key_in_body_text_plain", func(t *testing.T, s *suite) {
			r := s.do(t, s.main, req{path: "/v1/track", header: map[string]string{"Content-Type": "text/plain"},
				body: []byte(`{"userId":"u1","event":"Order Completed","properties":{"revenue":9.99},"writeKey":"WK1"}`)})
			s200(t, r)
			absent(t, one(t, r), "writeKey")
		}},
		{"T03_missing_write_key", func(t *testing.T, s *suite) {
			r := s.do(t, s.main, req{path: "/v1/identify", body: []byte(`{"userId":"u1"}`)})
			apiErr(t, r, 401, "missing_write_key")
			if len(r.msgs)+len(r.rejected) != 0 {
				t.Errorf("stored %d/%d", len(r.msgs), len(r.rejected))
			}
		}},
		{"T04_invalid_write_key", func(t *testing.T, s *suite) {
			hdr := map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("nope:"))}
			r := s.do(t, s.main, req{path: "/v1/identify", header: hdr, body: []byte(`{"userId":"u1"}`)})
			apiErr(t, r, 401, "invalid_write_key")
			acc := s.with(t, func(c *Config) { c.UnknownKey = UnknownKeyAccept })
			r = s.do(t, acc, req{path: "/v1/identify", header: hdr, body: []byte(`{"userId":"u1"}`)})
			s200(t, r)
			// Unauthenticated: kept in the (capped, rate-limited) sample,
			// never in the log.
			rj := sampledOnly(t, r, "unknown_source")
			if rj.Source != "" || rj.Route != "/v1/identify" || !strings.Contains(string(rj.Body), `"userId":"u1"`) {
				t.Errorf("rejected = %+v (body %s)", rj, rj.Body)
			}
		}},
		{"T05_disabled_source", func(t *testing.T, s *suite) {
			hdr := map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("WKOFF:"))}
			r := s.do(t, s.main, req{path: "/v1/identify", header: hdr, body: []byte(`{"userId":"u1"}`)})
			apiErr(t, r, 403, "source_disabled")
			// Also when the key comes from the body.
			r = s.do(t, s.main, req{path: "/v1/identify", body: []byte(`{"userId":"u1","writeKey":"WKOFF"}`)})
			apiErr(t, r, 403, "source_disabled")
		}},
		{"T06_truncated_json", func(t *testing.T, s *suite) {
			apiErr(t, s.do(t, s.main, req{path: "/v1/identify", header: wk1(), body: []byte(`{"userId"`)}), 400, "invalid_json")
		}},
		{"T07_top_level_array", func(t *testing.T, s *suite) {
			apiErr(t, s.do(t, s.main, req{path: "/v1/batch", header: wk1(), body: []byte(`[{"a":"b"}]`)}), 400, "invalid_json")
		}},
		{"T08_empty_batch", func(t *testing.T, s *suite) {
			r := s.do(t, s.main, req{path: "/v1/batch", header: wk1(), body: []byte(`{"batch":[]}`)})
			s200(t, r)
			if len(r.msgs)+len(r.rejected) != 0 {
				t.Errorf("stored %d/%d", len(r.msgs), len(r.rejected))
			}
		}},
		{"T09_gzip_batch", func(t *testing.T, s *suite) {
			r := s.do(t, s.main, req{path: "/v1/batch", header: wk1(), gzip: true,
				body: []byte(`{"batch":[{"type":"identify","userId":"u1"}]}`)})
			s200(t, r)
			wantField(t, one(t, r), "type", "identify")
		}},
		{"T10_malformed_gzip", func(t *testing.T, s *suite) {
			r := s.do(t, s.main, req{path: "/v1/identify", header: wk1("Content-Encoding", "gzip"), body: []byte("woot")})
			apiErr(t, r, 400, "malformed_gzip")
		}},
		{"T11_single_over_32KiB", func(t *testing.T, s *suite) {
			apiErr(t, s.do(t, s.main, req{path: "/v1/track", header: wk1(), body: padTrack(32769)}), 400, "payload_too_large")
			apiErr(t, s.do(t, s.main, req{path: "/v1/track", header: wk1(), body: padTrack(32769), gzip: true}), 400, "payload_too_large")
		}},
		{"T12_single_exactly_32KiB", func(t *testing.T, s *suite) {
			r := s.do(t, s.main, req{path: "/v1/track", header: wk1(), body: padTrack(32768)})
			s200(t, r)
			one(t, r)
			r = s.do(t, s.main, req{path: "/v1/track", header: wk1(), body: padTrack(32768), gzip: true})
			s200(t, r)
			one(t, r)
		}},
		{"T13_batch_over_500KiB", func(t *testing.T, s *suite) {
			body := padBatch(512001)
			apiErr(t, s.do(t, s.main, req{path: "/v1/batch", header: wk1(), body: body}), 400, "payload_too_large")
			if z := gz(t, body); len(z) >= 50000 {
				t.Fatalf("gzipped body is %d bytes", len(z))
			}
			apiErr(t, s.do(t, s.main, req{path: "/v1/batch", header: wk1(), body: body, gzip: true}), 400, "payload_too_large")
			// Exactly at the limit is accepted (the one item is rejected as too large).
			r := s.do(t, s.main, req{path: "/v1/batch", header: wk1(), body: padBatch(512000)})
			s200(t, r)
			rejectedOnly(t, r, "message_too_large")
		}},
		{"T14_batch_item_over_32KiB", func(t *testing.T, s *suite) {
			a := `{"type":"track","userId":"u","event":"A","messageId":"t14-a","properties":{"p":"` + strings.Repeat("a", 220) + `"}}`
			b := padItem(40000)
			r := s.do(t, s.main, req{path: "/v1/batch", header: wk1(), body: []byte(`{"batch":[` + a + "," + b + `]}`)})
			s200(t, r)
			wantField(t, one(t, r), "event", "A")
			if len(r.rejected) != 1 || r.rejected[0].Reason != "message_too_large" || r.rejected[0].Source != "prod-web" {
				t.Fatalf("rejected = %+v", r.rejected)
			}
			// Strict mode restores Segment's 400.
			strict := s.with(t, func(c *Config) { c.StrictBatchItemSize = true })
			apiErr(t, s.do(t, strict, req{path: "/v1/batch", header: wk1(), body: []byte(`{"batch":[` + a + "," + b + `]}`)}), 400, "payload_too_large")
		}},
		{"T15_no_ids", func(t *testing.T, s *suite) {
			r := s.do(t, s.main, req{path: "/v1/track", header: wk1(), body: []byte(`{"event":"E"}`)})
			s200(t, r)
			rj := rejectedOnly(t, r, "no_user_anon_id")
			if rj.Source != "prod-web" || rj.Route != "/v1/track" || !rj.ReceivedAt.Equal(frozen) {
				t.Errorf("rejected = %+v", rj)
			}
			if got := decodeBody(t, rj.Body); got["event"] != "E" || got["type"] != "track" {
				t.Errorf("rejected body = %s", rj.Body)
			}
		}},
		{"T16_track_without_event", func(t *testing.T, s *suite) {
			r := s.do(t, s.main, req{path: "/v1/track", header: wk1(), body: []byte(`{"userId":"u1"}`)})
			s200(t, r)
			rejectedOnly(t, r, "event_not_defined")
		}},
		{"T17_properties_not_object", func(t *testing.T, s *suite) {
			r := s.do(t, s.main, req{path: "/v1/track", header: wk1(), body: []byte(`{"userId":"u1","event":"E","properties":[1]}`)})
			s200(t, r)
			rejectedOnly(t, r, "properties_not_object")
		}},
		{"T18_group_without_group_id", func(t *testing.T, s *suite) {
			r := s.do(t, s.main, req{path: "/v1/group", header: wk1(), body: []byte(`{"userId":"u1"}`)})
			s200(t, r)
			rejectedOnly(t, r, "group_id_required")
		}},
		{"T19_alias_without_previous_id", func(t *testing.T, s *suite) {
			r := s.do(t, s.main, req{path: "/v1/alias", header: wk1(), body: []byte(`{"userId":"u1"}`)})
			s200(t, r)
			rejectedOnly(t, r, "previous_id_required")
		}},
		{"T20_batch_of_2501", func(t *testing.T, s *suite) {
			var b strings.Builder
			b.WriteString(`{"batch":[`)
			for i := range 2501 {
				if i > 0 {
					b.WriteByte(',')
				}
				fmt.Fprintf(&b, `{"type":"track","userId":"u","event":"E","messageId":"t20-%d"}`, i)
			}
			b.WriteString(`]}`)
			if b.Len() >= batchLimit {
				t.Fatalf("body is %d bytes", b.Len())
			}
			r := s.do(t, s.main, req{path: "/v1/batch", header: wk1(), body: []byte(b.String())})
			s200(t, r)
			if len(r.msgs) != 2500 {
				t.Fatalf("stored %d, want 2500", len(r.msgs))
			}
			if len(r.rejected) != 1 || r.rejected[0].Reason != "batch_too_many_events" || r.rejected[0].MessageID != "t20-2500" {
				t.Fatalf("rejected = %+v", r.rejected)
			}
		}},
		{"T21_clock_skew", func(t *testing.T, s *suite) {
			r := s.do(t, s.main, req{path: "/v1/batch", header: wk1(), body: []byte(
				`{"sentAt":"2024-01-01T00:00:10.000Z","batch":[{"type":"track","userId":"u","event":"E","timestamp":"2024-01-01T00:00:00.000Z"}]}`)})
			s200(t, r)
			ev := one(t, r)
			wantField(t, ev, "originalTimestamp", "2024-01-01T00:00:00.000Z")
			wantField(t, ev, "sentAt", "2024-01-01T00:00:10.000Z")
			wantField(t, ev, "receivedAt", ts0)
			wantField(t, ev, "timestamp", "2024-01-01T01:00:00.000Z")
		}},
		{"T22_timestamp_with_offset", func(t *testing.T, s *suite) {
			r := s.do(t, s.main, req{path: "/v1/batch", header: wk1(), body: []byte(
				`{"batch":[{"type":"track","userId":"u","event":"E","timestamp":"2023-12-31T19:00:00-05:00"}]}`)})
			s200(t, r)
			ev := one(t, r)
			wantField(t, ev, "timestamp", "2024-01-01T00:00:00.000Z")
			wantField(t, ev, "originalTimestamp", "2024-01-01T00:00:00.000Z")
			absent(t, ev, "sentAt")
			absent(t, ev, notesKey)
		}},
		{"T23_unparseable_timestamp", func(t *testing.T, s *suite) {
			r := s.do(t, s.main, req{path: "/v1/batch", header: wk1(), body: []byte(
				`{"batch":[{"type":"track","userId":"u","event":"E","timestamp":"2015-2-02T00:30:08.276Z"}]}`)})
			s200(t, r)
			ev := one(t, r)
			wantField(t, ev, "timestamp", ts0)
			wantField(t, ev, "originalTimestamp", ts0)
			notes, _ := field(ev, notesKey+".notes").([]any)
			if len(notes) != 1 {
				t.Fatalf("notes = %v", ev[notesKey])
			}
			n := notes[0].(map[string]any)
			if n["code"] != "timestamp_unparseable" || n["field"] != "timestamp" || n["value"] != "2015-2-02T00:30:08.276Z" {
				t.Errorf("note = %v", n)
			}
		}},
		{"T24_envelope_context_merge", func(t *testing.T, s *suite) {
			r := s.do(t, s.main, req{path: "/v1/batch", header: wk1(), body: []byte(
				`{"context":{"library":{"name":"analytics-go","version":"3.0.0"}},"batch":[{"type":"track","userId":"u","event":"E","context":{"ip":"1.2.3.4","library":{"version":"9"}}}]}`)})
			s200(t, r)
			want := map[string]any{"ip": "1.2.3.4", "library": map[string]any{"name": "analytics-go", "version": "9"}}
			if got := one(t, r)["context"]; !reflect.DeepEqual(got, want) {
				t.Errorf("context = %v, want %v", got, want)
			}
		}},
		{"T25_dedupe", func(t *testing.T, s *suite) {
			body := []byte(`{"userId":"u","event":"E","messageId":"m-1"}`)
			r1 := s.do(t, s.main, req{path: "/v1/track", header: wk1(), body: body})
			r2 := s.do(t, s.main, req{path: "/v1/track", header: wk1(), body: body})
			s200(t, r1)
			s200(t, r2)
			if n := len(r1.msgs) + len(r2.msgs); n != 1 || r1.msgs[0].ID != "m-1" {
				t.Fatalf("stored %d messages, want exactly one m-1", n)
			}
			// The same messageId from another source is not a duplicate.
			r3 := s.do(t, s.main, req{path: "/v1/track", body: []byte(`{"userId":"u","event":"E","messageId":"m-1","writeKey":"WK2"}`)})
			s200(t, r3)
			if m := one(t, r3); m["messageId"] != "m-1" || r3.msgs[0].Source != "backend" {
				t.Errorf("second source: %+v", r3.msgs[0])
			}
		}},
		{"T26_path_case_and_trailing_slash", func(t *testing.T, s *suite) {
			r := s.do(t, s.main, req{path: "/v1/IDENTIFY/", header: wk1(), body: []byte(`{"userId":"u"}`)})
			s200(t, r)
			wantField(t, one(t, r), "type", "identify")
			apiErr(t, s.do(t, s.main, req{path: "/v1/identify//", header: wk1(), body: []byte(`{"userId":"u"}`)}), 404, "not_found")
		}},
		{"T27_put", func(t *testing.T, s *suite) {
			r := s.do(t, s.main, req{method: http.MethodPut, path: "/v1/page", header: wk1(), body: []byte(`{"userId":"u","name":"Docs"}`)})
			s200(t, r)
			wantField(t, one(t, r), "name", "Docs")
		}},
		{"T28_cors_preflight", func(t *testing.T, s *suite) {
			r := s.do(t, s.main, req{method: http.MethodOptions, path: "/v1/t", header: map[string]string{
				"Origin": "https://shop.example", "Access-Control-Request-Method": "POST",
				"Access-Control-Request-Headers": "authorization,content-type,x-retry-count"}})
			if r.status != 204 && r.status != 200 {
				t.Fatalf("status %d", r.status)
			}
			h := r.header
			if h.Get("Access-Control-Allow-Origin") != "https://shop.example" ||
				!strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") ||
				h.Get("Access-Control-Allow-Credentials") != "true" ||
				h.Get("Access-Control-Max-Age") != "604800" {
				t.Errorf("preflight headers = %v", h)
			}
			allowed := strings.ToLower(h.Get("Access-Control-Allow-Headers"))
			for _, want := range []string{"authorization", "content-type", "x-retry-count"} {
				if !strings.Contains(allowed, want) {
					t.Errorf("Allow-Headers %q lacks %s", allowed, want)
				}
			}
		}},
		{"T29_browser_short_route", func(t *testing.T, s *suite) {
			r := s.do(t, s.main, req{path: "/v1/t", header: map[string]string{"Origin": "https://shop.example", "Content-Type": "text/plain"},
				body: []byte(`{"writeKey":"WK1","anonymousId":"a1","event":"Clicked","_metadata":{"bundled":[]}}`)})
			s200(t, r)
			if r.header.Get("Access-Control-Allow-Origin") != "https://shop.example" || r.header.Get("Vary") != "Origin" {
				t.Errorf("CORS headers = %v", r.header)
			}
			ev := one(t, r)
			wantField(t, ev, "type", "track")
			wantField(t, ev, "context.ip", "127.0.0.1")
			wantField(t, ev, "channel", "browser")
			absent(t, ev, "_metadata")
			absent(t, ev, "writeKey")
			// Errors carry CORS headers too (R2.5).
			r = s.do(t, s.main, req{path: "/v1/t", header: map[string]string{"Origin": "https://shop.example"}, body: []byte(`{`)})
			if r.header.Get("Access-Control-Allow-Origin") != "https://shop.example" {
				t.Errorf("error without CORS headers: %v", r.header)
			}
		}},
		{"T30_context_ip", func(t *testing.T, s *suite) {
			proxied := s.with(t, func(c *Config) { c.TrustedProxies = []netip.Prefix{mustPrefix(t, "127.0.0.0/8")} })
			xff := wk1("X-Forwarded-For", "10.0.0.5, 127.0.0.1")
			r := s.do(t, proxied, req{path: "/v1/track", header: xff, body: []byte(`{"userId":"u","event":"E","context":{"ip":"9.9.9.9"}}`)})
			s200(t, r)
			wantField(t, one(t, r), "context.ip", "9.9.9.9")
			r = s.do(t, proxied, req{path: "/v1/track", header: xff, body: []byte(`{"userId":"u","event":"E"}`)})
			s200(t, r)
			absent(t, one(t, r), "context.ip")
			r = s.do(t, proxied, req{path: "/v1/track", header: xff, body: []byte(`{"userId":"u","event":"E","context":{"direct":true}}`)})
			s200(t, r)
			wantField(t, one(t, r), "context.ip", "10.0.0.5")
			// X-Forwarded-For from an untrusted peer is ignored.
			r = s.do(t, s.main, req{path: "/v1/track", header: xff, body: []byte(`{"userId":"u","event":"E","context":{"direct":true}}`)})
			s200(t, r)
			wantField(t, one(t, r), "context.ip", "127.0.0.1")
		}},
		{"T31_pixel", func(t *testing.T, s *suite) {
			data := base64.URLEncoding.EncodeToString([]byte(`{"writeKey":"WK1","userId":"u","event":"Email Opened"}`))
			r := s.do(t, s.main, req{method: http.MethodGet, path: "/v1/pixel/track?data=" + data})
			checkGIF(t, r)
			ev := one(t, r)
			wantField(t, ev, "type", "track")
			wantField(t, ev, "event", "Email Opened")
			// Dotted query keys when data is absent.
			r = s.do(t, s.main, req{method: http.MethodGet, path: "/v1/pixel/track?writeKey=WK1&userId=u&event=Opened&properties.subject=Hi"})
			checkGIF(t, r)
			wantField(t, one(t, r), "properties.subject", "Hi")
		}},
		{"T32_pixel_bad_data", func(t *testing.T, s *suite) {
			// Without a write key nothing is known about the sender: the
			// request is kept in the sample only.
			r := s.do(t, s.main, req{method: http.MethodGet, path: "/v1/pixel/track?data=%25%25%25"})
			checkGIF(t, r)
			sampledOnly(t, r, "invalid_json")
			// With a valid key in the query, the bad data is the source's:
			// rejected, in the log.
			r = s.do(t, s.main, req{method: http.MethodGet, path: "/v1/pixel/track?writeKey=WK1&data=%25%25%25"})
			checkGIF(t, r)
			if rj := rejectedOnly(t, r, "invalid_json"); rj.Source != "prod-web" {
				t.Errorf("rejected = %+v", rj)
			}
			// A pixel with an unknown key is a GIF too, and sampled.
			data := base64.RawStdEncoding.EncodeToString([]byte(`{"writeKey":"nope","userId":"u","event":"E"}`))
			r = s.do(t, s.main, req{method: http.MethodGet, path: "/v1/pixel/track?data=" + data})
			checkGIF(t, r)
			if rj := sampledOnly(t, r, "invalid_write_key"); strings.Contains(string(rj.Body), "nope") {
				t.Errorf("sampled body keeps the write key: %s", rj.Body)
			}
		}},
		{"T33_jsonp", func(t *testing.T, s *suite) {
			data := base64.StdEncoding.EncodeToString([]byte(`{"writeKey":"WK1","userId":"u","event":"E","properties":{"q":"a>b?"}}`))
			r := s.do(t, s.main, req{method: http.MethodGet, path: "/v1/t?data=" + data + "&callback=cb"})
			if r.status != 200 || r.header.Get("Content-Type") != "text/javascript" ||
				string(r.body) != `typeof cb == "function" && cb({ success: true });` {
				t.Fatalf("got %d %q %q", r.status, r.header.Get("Content-Type"), r.body)
			}
			if r.header.Get("Cache-Control") != "no-cache, max-age=0" {
				t.Errorf("Cache-Control = %q", r.header.Get("Cache-Control"))
			}
			wantField(t, one(t, r), "properties.q", "a>b?")
			// An invalid callback is ignored: plain S200.
			r = s.do(t, s.main, req{method: http.MethodGet, path: "/v1/t?data=" + data + "&callback=alert(1)"})
			s200(t, r)
		}},
		{"T34_import", func(t *testing.T, s *suite) {
			r := s.do(t, s.main, req{path: "/v1/import", header: wk1(), body: []byte(`{"batch":[{"type":"page","userId":"u","name":"Home"}]}`)})
			s200(t, r)
			wantField(t, one(t, r), "type", "page")
		}},
		{"T35_python_shape", func(t *testing.T, s *suite) {
			r := s.do(t, s.main, req{path: "/v1/batch", header: map[string]string{"Content-Type": "application/json"}, body: []byte(
				`{"writeKey":"WK1","batch":[{"type":"identify","userId":"u","traits":{"plan":"pro"},"timestamp":"2024-01-01T00:59:00.000+00:00"}],"sentAt":"2024-01-01T01:00:00.000+00:00"}`)})
			s200(t, r)
			ev := one(t, r)
			wantField(t, ev, "timestamp", "2024-01-01T00:59:10.000Z")
			wantField(t, ev, "sentAt", "2024-01-01T01:00:00.000Z")
		}},
		{"T37_store_down", func(t *testing.T, s *suite) {
			failing := newRecLog()
			failing.fail = errStoreDown
			down := newEnv(t, failing, nil)
			for _, body := range []string{`{"userId":"u","event":"E"}`, `{"event":"E"}`} {
				r := down.do(t, req{path: "/v1/track", header: wk1(), body: []byte(body)})
				apiErr(t, r, 503, "unavailable")
				if r.header.Get("Retry-After") == "" {
					t.Error("503 without Retry-After")
				}
			}
			// Deterministic payload problems are never 503, store down or not.
			for name, r := range map[string]req{
				"T06": {path: "/v1/identify", header: wk1(), body: []byte(`{"userId"`)},
				"T07": {path: "/v1/batch", header: wk1(), body: []byte(`[{"a":"b"}]`)},
				"T10": {path: "/v1/identify", header: wk1("Content-Encoding", "gzip"), body: []byte("woot")},
				"T11": {path: "/v1/track", header: wk1(), body: padTrack(32769)},
				"T13": {path: "/v1/batch", header: wk1(), body: padBatch(512001)},
			} {
				if got := down.do(t, r); got.status >= 500 {
					t.Errorf("%s answered %d with the store down", name, got.status)
				}
			}
		}},
		{"T38_integrations_warehouses_off", func(t *testing.T, s *suite) {
			r := s.do(t, s.main, req{path: "/v1/track", header: wk1(), body: []byte(
				`{"userId":"u","event":"E","integrations":{"All":true,"Warehouses":{"all":false}}}`)})
			s200(t, r)
			want := map[string]any{"All": true, "Warehouses": map[string]any{"all": false}}
			if got := one(t, r)["integrations"]; !reflect.DeepEqual(got, want) {
				t.Errorf("integrations = %v, want them unchanged", got)
			}
		}},
		{"T39_integrations_selection", func(t *testing.T, s *suite) {
			r := s.do(t, s.main, req{path: "/v1/batch", header: wk1(), body: []byte(
				`{"integrations":{"All":false},"batch":[{"type":"track","userId":"u","event":"E","integrations":{"Customer.io":true}}]}`)})
			s200(t, r)
			integ, _ := one(t, r)["integrations"].(map[string]any)
			if !reflect.DeepEqual(integ, map[string]any{"All": false, "Customer.io": true}) {
				t.Fatalf("integrations = %v", integ)
			}
			for dest, want := range map[string]bool{"Customer.io": true, "Warehouses": false, "Mixpanel": false} {
				if got := router.IntegrationEnabled(integ, dest); got != want {
					t.Errorf("enabled(%s) = %v, want %v", dest, got, want)
				}
			}
		}},
		{"T40_analytics_go", func(t *testing.T, s *suite) {
			var mu sync.Mutex
			var seen []*http.Request
			wrapped := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				seen = append(seen, r.Clone(r.Context()))
				mu.Unlock()
				s.main.h.ServeHTTP(w, r)
			})
			srv := newServer(t, wrapped)
			cb := &callback{}
			client, err := analytics.NewWithConfig("WK1", analytics.Config{Endpoint: srv.URL, BatchSize: 3, Callback: cb})
			if err != nil {
				t.Fatal(err)
			}
			for i := range 3 {
				if err := client.Enqueue(analytics.Track{UserId: "u40", Event: fmt.Sprintf("E%d", i), Properties: analytics.NewProperties().Set("n", i)}); err != nil {
					t.Fatal(err)
				}
			}
			if err := client.Close(); err != nil {
				t.Fatal(err)
			}
			if len(seen) != 1 || seen[0].URL.Path != "/v1/batch" || seen[0].Header.Get("User-Agent") != "analytics-go (version: 3.0.0)" {
				t.Fatalf("requests = %d %v", len(seen), seen)
			}
			if u, p, ok := seen[0].BasicAuth(); !ok || u != "WK1" || p != "" {
				t.Errorf("basic auth = %q %q %v", u, p, ok)
			}
			if cb.success != 3 || cb.failure != 0 {
				t.Errorf("callbacks: %d successes, %d failures", cb.success, cb.failure)
			}
			msgs, rejected := s.backend.drain(t)
			if len(msgs) != 3 || len(rejected) != 0 {
				t.Fatalf("stored %d, rejected %d", len(msgs), len(rejected))
			}
			for _, m := range msgs {
				ev := decodeBody(t, m.Body)
				wantField(t, ev, "context.library.name", "analytics-go")
				if ev["sentAt"] == nil || ev["originalTimestamp"] == nil || m.UserID != "u40" {
					t.Errorf("stored %s", m.Body)
				}
			}
		}},
	}
}

type callback struct {
	mu               sync.Mutex
	success, failure int
}

func (c *callback) Success(analytics.Message) { c.mu.Lock(); c.success++; c.mu.Unlock() }
func (c *callback) Failure(_ analytics.Message, err error) {
	c.mu.Lock()
	c.failure++
	c.mu.Unlock()
}

func checkGIF(t *testing.T, r resp) {
	t.Helper()
	if r.status != 200 || r.header.Get("Content-Type") != "image/gif" || string(r.body) != string(gif) ||
		r.header.Get("Cache-Control") != "no-cache, max-age=0" {
		t.Fatalf("want the GIF, got %d %q %q", r.status, r.header.Get("Content-Type"), r.body)
	}
}

// runConformance runs every conformance vector and then T36 over the
// answers of T1–T35.
func runConformance(t *testing.T, b backend) {
	s := &suite{backend: b}
	s.main = newEnv(t, b, nil)
	for _, v := range vectors() {
		t.Run(v.name, func(t *testing.T) {
			b.drain(t)
			v.run(t, s)
		})
	}
	t.Run("T36_python_contract", func(t *testing.T) {
		if len(s.responses) < 40 {
			t.Fatalf("only %d answers recorded", len(s.responses))
		}
		for _, l := range s.responses {
			r := l.r
			switch {
			case r.status == 200:
				ct := r.header.Get("Content-Type")
				if ct == "application/json" && string(r.body) != `{"success":true}` {
					t.Errorf("%s: 200 with body %q", l.vector, r.body)
				}
				if ct != "application/json" && ct != "image/gif" && ct != "text/javascript" {
					t.Errorf("%s: 200 with Content-Type %q", l.vector, ct)
				}
			case r.status == 204 && r.header.Get("Access-Control-Max-Age") != "":
				// The preflight.
			case r.status >= 200 && r.status < 400:
				t.Errorf("%s: non-200 success status %d", l.vector, r.status)
			default:
				checkErrorBody(t, r)
			}
		}
	})
}

// TestConformanceInMemory runs the vectors against the in-memory log, which
// deduplicates like the real one; TestConformance (queue_test.go) runs them
// against the real log.
func TestConformanceInMemory(t *testing.T) {
	runConformance(t, newRecLog())
}

// decodeRequestJSON decodes a request body with encoding/json and
// UseNumber, to count the items a test sent.
func decodeRequestJSON(b []byte) (map[string]any, bool) {
	if !json.Valid(b) {
		return nil, false
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]any
	if d.Decode(&m) != nil || m == nil {
		return nil, false
	}
	return m, true
}
