package segment

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/router"
	"github.com/eventrouter/eventrouter/router/ingest"
	analytics "github.com/segmentio/analytics-go/v3"
)

// recLog is an in-memory ingest.Store: the downstream "Segment" stores what it
// accepts here, and a test can make it fail (ingest then answers 503).
type recLog struct {
	mu   sync.Mutex
	msgs []router.Message
	seen map[string]bool
	fail error
}

func (l *recLog) Append(_ context.Context, msgs []router.Message) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fail != nil {
		return 0, l.fail
	}
	if l.seen == nil {
		l.seen = map[string]bool{}
	}
	dups := 0
	for _, m := range msgs {
		if l.seen[m.Source+"\x00"+m.ID] {
			dups++
			continue
		}
		l.seen[m.Source+"\x00"+m.ID] = true
		l.msgs = append(l.msgs, m)
	}
	return dups, nil
}

func (l *recLog) Reject(context.Context, []router.Rejected) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.fail
}

func (l *recLog) Seen(context.Context, string, string) (bool, error) { return false, nil }
func (l *recLog) Remember(context.Context, string, string) error     { return nil }

func (l *recLog) setFail(err error) {
	l.mu.Lock()
	l.fail = err
	l.mu.Unlock()
}

func (l *recLog) stored() []router.Message {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]router.Message(nil), l.msgs...)
}

// downstream is an eventrouter ingest handler acting as Segment: source
// "seg" with write key "wk". It records every request as received (the
// Segment-compatible sink's view), and a test can put a fixed answer in
// front of it.
type downstream struct {
	*httptest.Server
	log      *recLog
	override atomic.Pointer[fixedAnswer]
	requests atomic.Int64

	mu       sync.Mutex
	received []received
}

// received is one request as the downstream got it.
type received struct {
	method, path string
	header       http.Header
	body         []byte
	at           time.Time
}

// fixedAnswer is an answer the downstream gives instead of ingesting.
type fixedAnswer struct {
	status int
	body   string
	header map[string]string
	// only, when set, limits the answer to requests whose body contains it.
	only string
}

func newDownstream(t *testing.T, mutate func(*ingest.Config)) *downstream {
	t.Helper()
	d := &downstream{log: &recLog{}}
	cfg := ingest.Config{
		Sources: []ingest.Source{{Name: "seg", WriteKeys: []string{"wk"}}},
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if mutate != nil {
		mutate(&cfg)
	}
	h, err := ingest.New(cfg, d.log)
	if err != nil {
		t.Fatal(err)
	}
	d.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.requests.Add(1)
		at := time.Now()
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		d.mu.Lock()
		d.received = append(d.received, received{method: r.Method, path: r.URL.Path, header: r.Header.Clone(), body: body, at: at})
		d.mu.Unlock()
		if a := d.override.Load(); a != nil {
			if a.only == "" || bytes.Contains(body, []byte(a.only)) {
				for k, v := range a.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(a.status)
				_, _ = io.WriteString(w, a.body)
				return
			}
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(d.Close)
	return d
}

// requestsReceived returns the requests received so far.
func (d *downstream) requestsReceived() []received {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]received(nil), d.received...)
}

// items returns every batch item received, by messageId, raw field by raw
// field, with the request it came in.
func (d *downstream) items(t *testing.T) (map[string]map[string]json.RawMessage, map[string]received) {
	t.Helper()
	items, reqs := map[string]map[string]json.RawMessage{}, map[string]received{}
	for _, r := range d.requestsReceived() {
		var env struct{ Batch []map[string]json.RawMessage }
		if err := json.Unmarshal(r.body, &env); err != nil {
			t.Fatalf("request body %s: %v", r.body, err)
		}
		for _, it := range env.Batch {
			var id string
			_ = json.Unmarshal(it["messageId"], &id)
			items[id], reqs[id] = it, r
		}
	}
	return items, reqs
}

func newDest(t *testing.T, mutate func(*Config)) *segment {
	t.Helper()
	cfg := NewFactory().DefaultConfig().(*Config)
	cfg.WriteKey = "wk"
	mutate(cfg)
	d, err := NewFactory().New(context.Background(), cfg, router.Settings{Name: "seg-out", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close(context.Background()) })
	return d.(*segment)
}

// msg builds a router.Message from a JSON body, as a hand-written stored
// message.
func msg(t *testing.T, body string) router.Message {
	t.Helper()
	var f struct {
		Type, MessageID, UserID, AnonymousID, Event string
	}
	var raw map[string]any
	if err := json.Unmarshal([]byte(body), &raw); err != nil {
		t.Fatalf("test body %s: %v", body, err)
	}
	f.Type, _ = raw["type"].(string)
	f.MessageID, _ = raw["messageId"].(string)
	f.UserID, _ = raw["userId"].(string)
	f.AnonymousID, _ = raw["anonymousId"].(string)
	f.Event, _ = raw["event"].(string)
	return router.Message{ID: f.MessageID, Source: "web", Type: f.Type, UserID: f.UserID, AnonymousID: f.AnonymousID,
		Event: f.Event, ReceivedAt: time.Date(2024, 5, 1, 12, 0, 1, 0, time.UTC), Body: json.RawMessage(body)}
}

// decode parses JSON keeping numbers as json.Number.
func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("decoding %s: %v", b, err)
	}
	return m
}

// fields splits a JSON object into its raw fields.
func fields(t *testing.T, b []byte) map[string]json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("decoding %s: %v", b, err)
	}
	return m
}

// sixTypes are stored messages of every type, with context keys analytics-go's
// typed Context lacks or would change, big numbers, unicode and integrations.
var sixTypes = []string{
	`{"type":"identify","messageId":"m-identify","userId":"u1","anonymousId":"a1","traits":{"email":"zoë@example.com","plan":"pro","big":12345678901234567890,"nested":{"x":[1,2.5,null,true]}},"context":{"ip":"1.2.3.4","library":{"name":"analytics.js","version":"1.84.1"},"screen":{"density":2.75,"width":390},"device":{"adTrackingEnabled":false,"token":"t"},"campaign":{"name":"c","utm_custom":"x"},"direct":false,"custom_key":{"a":1}},"integrations":{"Mixpanel":false},"timestamp":"2024-05-01T12:00:00.123Z","originalTimestamp":"2024-05-01T11:59:59.000Z","sentAt":"2024-05-01T12:00:00.500Z","receivedAt":"2024-05-01T12:00:01.000Z","channel":"server","version":2}`,
	`{"type":"track","messageId":"m-track","userId":"u1","event":"Order Completed","properties":{"revenue":12.5,"currency":"EUR","items":[{"sku":"x","qty":1e3}],"note":"line\nbreak 😀 <&>"},"context":{"traits":{"plan":"pro"},"locale":"fr-FR"},"integrations":{"All":false,"Customer.io":true,"Segment":true},"timestamp":"2024-05-01T12:00:00.456Z","receivedAt":"2024-05-01T12:00:01.000Z"}`,
	`{"type":"page","messageId":"m-page","anonymousId":"a2","name":"Home","category":"Docs","properties":{"url":"https://example.com/?q=1&r=2","title":"Home"},"context":{"page":{"path":"/","hash":"#x"},"userAgent":"Mozilla/5.0"},"timestamp":"2024-05-01T12:00:00.000Z"}`,
	`{"type":"screen","messageId":"m-screen","userId":"u1","name":"Settings","properties":{},"timestamp":"2024-05-01T12:00:00.000Z"}`,
	`{"type":"group","messageId":"m-group","userId":"u1","groupId":"g1","traits":{"employees":-0.5,"null":null,"bool":false},"integrations":{"Customer.io":{"opt":1}},"timestamp":"2024-05-01T12:00:00.000Z"}`,
	`{"type":"alias","messageId":"m-alias","userId":"u2","previousId":"u1","context":{"app":{"name":"app","build":"7"}},"timestamp":"2024-05-01T12:00:00.000Z"}`,
}

func batchOf(t *testing.T, bodies ...string) []router.Message {
	out := make([]router.Message, len(bodies))
	for i, b := range bodies {
		out[i] = msg(t, b)
	}
	return out
}

// upstreamAt is the clock of the eventrouter that accepted the messages
// the tests forward: long before they are forwarded, as after an outage of
// Segment or a replay from the log.
var upstreamAt = time.Date(2024, 5, 1, 12, 0, 1, 0, time.UTC)

// acceptedUpstream returns what eventrouter's own ingest stores for every
// kind of field a client can send: the six types from a batch whose device
// clock runs an hour ahead (originalTimestamp, sentAt and the corrected
// timestamp all differ), with unknown top-level fields, empty traits and
// properties, alias's anonymousId, a page's category, envelope context and
// integrations, big and exponent numbers and characters JSON may escape; a
// browser track from analytics.js's short route (channel browser,
// context.ip); and a track whose timestamp does not parse (an ingest note).
func acceptedUpstream(t *testing.T) []router.Message {
	t.Helper()
	log := &recLog{}
	h, err := ingest.New(ingest.Config{
		Sources: []ingest.Source{{Name: "web", WriteKeys: []string{"up"}}},
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now:     func() time.Time { return upstreamAt },
	}, log)
	if err != nil {
		t.Fatal(err)
	}
	post := func(path, body string) {
		t.Helper()
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
		req.SetBasicAuth("up", "")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("upstream %s answered %d %s", path, rec.Code, rec.Body)
		}
	}
	post("/v1/batch", `{"sentAt":"2024-05-01T13:00:00.500Z","context":{"library":{"name":"analytics-python","version":"2.3.3"}},"integrations":{"Intercom":false},"batch":[
		{"type":"identify","messageId":"m-identify","userId":"u1","anonymousId":"a1","traits":{"email":"zoë@example.com","big":12345678901234567890,"ratio":1e3,"nested":{"x":[1,2.5,null,true]},"html":"<a href=\"x\">&amp;</a>"},"context":{"ip":"1.2.3.4","screen":{"density":2.75},"device":{"adTrackingEnabled":false},"custom_key":{"a":1},"direct":false},"integrations":{"Mixpanel":false,"Customer.io":{"opt":1}},"timestamp":"2024-05-01T12:59:59.000Z","appBuild":"7","_private":{"k":[1]}},
		{"type":"track","messageId":"m-track","userId":"u1","event":"Order Completed","properties":{},"context":{"traits":{"plan":"pro"},"locale":"fr-FR"},"integrations":{"All":false,"Segment":true},"timestamp":"2024-05-01T12:59:58.250+01:00"},
		{"type":"page","messageId":"m-page","anonymousId":"a2","name":"Home","category":"Docs","properties":{"url":"https://example.com/?q=1&r=2"},"timestamp":"2024-05-01T12:59:59.000Z"},
		{"type":"screen","messageId":"m-screen","userId":"u1","name":"Settings","properties":{},"traits":{}},
		{"type":"group","messageId":"m-group","userId":"u1","groupId":"g1","traits":{},"timestamp":"2024-05-01T12:59:59.000Z"},
		{"type":"alias","messageId":"m-alias","userId":"u2","previousId":"u1","anonymousId":"a9","timestamp":"2024-05-01T12:59:59.000Z","context":{}}
	]}`)
	post("/v1/t", `{"writeKey":"up","messageId":"m-browser","anonymousId":"a3","event":"Clicked","properties":{"x":null},"sentAt":"2024-05-01T12:00:00.900Z","timestamp":"2024-05-01T12:00:00.800Z","_metadata":{"bundled":[]}}`)
	post("/v1/track", `{"messageId":"m-note","userId":"u1","event":"E","timestamp":"2015-2-02T00:30:08.276Z"}`)
	got := log.stored()
	if len(got) != 8 {
		t.Fatalf("upstream stored %d messages, want 8", len(got))
	}
	return got
}

// segmentSets are the stored fields that are not forwarded as stored,
// because Segment sets them: receivedAt (its own clock), and timestamp,
// which Segment derives from the "timestamp" it receives (our
// originalTimestamp) and sentAt (the time of its request, in the device's
// clock). _ingest is eventrouter's own note, not a message field.
var segmentSets = map[string]bool{"receivedAt": true, "timestamp": true, "sentAt": true, "_ingest": true}

// TestForwardsEveryFieldAsStored is the test: every field of every
// type, as eventrouter stored it, is what the Segment-compatible sink
// receives, byte for byte, apart from the fields Segment sets; and what
// Segment derives from the request gives back the stored originalTimestamp
// exactly and the stored timestamp, though the messages are forwarded
// years after they were accepted.
func TestForwardsEveryFieldAsStored(t *testing.T) {
	ds := newDownstream(t, nil)
	d := newDest(t, func(c *Config) { c.Endpoint = ds.URL + "/" }) // a trailing slash is tolerated
	batch := acceptedUpstream(t)
	start := time.Now()
	if err := d.Send(context.Background(), batch); err != nil {
		t.Fatalf("Send: %v", err)
	}
	end := time.Now()

	reqs := ds.requestsReceived()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1 (one attempt, one batch)", len(reqs))
	}
	r := reqs[0]
	if r.method != http.MethodPost || r.path != "/v1/batch" || r.header.Get("Authorization") != "Basic d2s6" ||
		r.header.Get("Content-Type") != "application/json" || r.header.Get("Content-Encoding") != "" {
		t.Errorf("request %s %s %v", r.method, r.path, r.header)
	}
	env := fields(t, r.body)
	if keys := sortedKeys(env); !reflect.DeepEqual(keys, []string{"batch", "sentAt"}) {
		t.Errorf("envelope keys %v, want batch and sentAt", keys)
	}
	items, _ := ds.items(t)
	sink := map[string]router.Message{}
	for _, m := range ds.log.stored() {
		sink[m.ID] = m
	}
	seen := map[string]bool{}
	for _, m := range batch {
		t.Run(m.ID, func(t *testing.T) {
			stored, got := fields(t, m.Body), items[m.ID]
			if got == nil {
				t.Fatalf("not received")
			}
			for k := range stored {
				seen[k] = true
			}
			// Every stored field, byte for byte.
			for k, v := range stored {
				if segmentSets[k] {
					continue
				}
				if !bytes.Equal(got[k], v) {
					t.Errorf("%s: received %s, stored %s", k, got[k], v)
				}
			}
			// Nothing else but what Segment reads its times from.
			for k := range got {
				if _, ok := stored[k]; !ok && k != "sentAt" && k != "timestamp" {
					t.Errorf("%s = %s received but not stored", k, got[k])
				}
			}
			for _, k := range []string{"receivedAt", "_ingest"} {
				if _, ok := got[k]; ok {
					t.Errorf("%s sent", k)
				}
			}
			// Segment takes the received timestamp as originalTimestamp...
			if !bytes.Equal(got["timestamp"], stored["originalTimestamp"]) {
				t.Errorf("timestamp sent %s, want the stored originalTimestamp %s", got["timestamp"], stored["originalTimestamp"])
			}
			// ...and derives timestamp = receivedAt - (sentAt - originalTimestamp):
			// between the stored timestamp and that plus the time the request took.
			var ts, ot, sa string
			_ = json.Unmarshal(stored["timestamp"], &ts)
			_ = json.Unmarshal(got["timestamp"], &ot)
			_ = json.Unmarshal(got["sentAt"], &sa)
			want, _ := time.Parse(time.RFC3339Nano, ts)
			sentOT, _ := time.Parse(time.RFC3339Nano, ot)
			sentAt, err := time.Parse(time.RFC3339Nano, sa)
			if err != nil {
				t.Fatalf("sentAt %s: %v", got["sentAt"], err)
			}
			derivedEarliest := start.Add(-sentAt.Sub(sentOT)).Add(-time.Millisecond)
			derivedLatest := end.Add(-sentAt.Sub(sentOT)).Add(time.Millisecond)
			if want.Before(derivedEarliest) || want.After(derivedLatest) {
				t.Errorf("Segment would derive timestamp in [%v, %v], stored %v", derivedEarliest, derivedLatest, want)
			}
			// The sink (eventrouter's ingest as Segment) stores the same
			// message: originalTimestamp exactly, timestamp re-derived,
			// the rest as forwarded but what it sets itself.
			s, ok := sink[m.ID]
			if !ok {
				t.Fatalf("sink did not store it")
			}
			sinkFields := fields(t, s.Body)
			if !bytes.Equal(sinkFields["originalTimestamp"], stored["originalTimestamp"]) {
				t.Errorf("sink's originalTimestamp %s, stored %s", sinkFields["originalTimestamp"], stored["originalTimestamp"])
			}
			var sts string
			_ = json.Unmarshal(sinkFields["timestamp"], &sts)
			sinkTS, _ := time.Parse(time.RFC3339Nano, sts)
			if d := sinkTS.Sub(want); d < -time.Millisecond || d > end.Sub(start)+2*time.Millisecond {
				t.Errorf("sink's timestamp %v is %v off the stored %v", sinkTS, d, want)
			}
			for k, v := range stored {
				if segmentSets[k] || k == "channel" || k == "originalTimestamp" {
					continue // channel: the sink sets it from its route
				}
				if !reflect.DeepEqual(decodeValue(t, sinkFields[k]), decodeValue(t, v)) {
					t.Errorf("sink stored %s = %s, we stored %s", k, sinkFields[k], v)
				}
			}
		})
	}
	// The upstream messages did hold every kind of field the test is about.
	for _, k := range []string{"originalTimestamp", "sentAt", "receivedAt", "channel", "version", "_ingest", "appBuild", "_private", "category", "integrations", "context", "traits", "properties"} {
		if !seen[k] {
			t.Errorf("no stored message has %s: the test does not cover it", k)
		}
	}
}

// sortedKeys returns the keys of an object's fields in order.
func sortedKeys(m map[string]json.RawMessage) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// decodeValue decodes one raw JSON value keeping numbers as json.Number.
func decodeValue(t *testing.T, raw json.RawMessage) any {
	t.Helper()
	if raw == nil {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decoding %s: %v", raw, err)
	}
	return v
}

func TestFailuresAreClassified(t *testing.T) {
	tests := []struct {
		name      string
		answer    *fixedAnswer
		mutate    func(*ingest.Config)
		writeKey  string
		prime     bool // send one message first (to drain a rate limit)
		wantKind  router.Kind
		wantDelay time.Duration
		wantMsg   []string
	}{
		{name: "400 is permanent with status and body", answer: &fixedAnswer{status: 400, body: `{"success":false,"code":"invalid_json","message":"bad batch"}`},
			wantKind: router.KindPermanent, wantMsg: []string{"400 Bad Request", `invalid_json`, "bad batch"}},
		{name: "401 from a wrong write key is permanent with a hint", writeKey: "wrong",
			wantKind: router.KindPermanent, wantMsg: []string{"401 Unauthorized", "invalid_write_key", "check write_key"}},
		{name: "403 from a disabled source is permanent with a hint", mutate: func(c *ingest.Config) { c.Sources[0].Disabled = true },
			wantKind: router.KindPermanent, wantMsg: []string{"403 Forbidden", "source_disabled", "check write_key"}},
		{name: "503 when Segment cannot store is retryable after its Retry-After", mutate: nil, answer: nil,
			wantKind: router.KindRetryable, wantDelay: 5 * time.Second, wantMsg: []string{"503 Service Unavailable", "unavailable"}},
		{name: "429 rate limited is retryable after its Retry-After", prime: true, mutate: func(c *ingest.Config) {
			frozen := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
			c.Now = func() time.Time { return frozen }
			c.Sources[0].RateLimit, c.Sources[0].Burst = 0.1, 1
		}, wantKind: router.KindRetryable, wantDelay: 10 * time.Second, wantMsg: []string{"429 Too Many Requests", "rate_limited"}},
		{name: "500 without Retry-After is retryable", answer: &fixedAnswer{status: 500, body: "boom"},
			wantKind: router.KindRetryable, wantMsg: []string{`500 Internal Server Error: "boom"`}},
		{name: "408 is retryable", answer: &fixedAnswer{status: 408}, wantKind: router.KindRetryable, wantMsg: []string{"408 Request Timeout"}},
		{name: "502 with an HTTP-date Retry-After far ahead is capped", answer: &fixedAnswer{status: 502, header: map[string]string{"Retry-After": "Fri, 01 Jan 2100 00:00:00 GMT"}},
			wantKind: router.KindRetryable, wantDelay: 24 * time.Hour},
		{name: "404 is permanent", answer: &fixedAnswer{status: 404}, wantKind: router.KindPermanent, wantMsg: []string{"404 Not Found"}},
		{name: "redirect is permanent", answer: &fixedAnswer{status: 307, header: map[string]string{"Location": "/elsewhere"}},
			wantKind: router.KindPermanent, wantMsg: []string{"redirects are not followed"}},
		// Statuses no remote documents are classified by the delivery kit
		// (httpdelivery.Classify): an unknown 4xx is permanent, an unknown
		// 5xx retryable, a code outside 100-599 permanent.
		{name: "418 unknown 4xx is permanent", answer: &fixedAnswer{status: 418, body: "teapot"},
			wantKind: router.KindPermanent, wantMsg: []string{`418 I'm a teapot: "teapot"`}},
		{name: "599 unknown 5xx is retryable after its Retry-After", answer: &fixedAnswer{status: 599, header: map[string]string{"Retry-After": "4"}},
			wantKind: router.KindRetryable, wantDelay: 4 * time.Second, wantMsg: []string{"answered 599"}},
		{name: "600 outside the range is permanent", answer: &fixedAnswer{status: 600},
			wantKind: router.KindPermanent, wantMsg: []string{"answered 600"}},
		{name: "long answer is truncated", answer: &fixedAnswer{status: 400, body: strings.Repeat("é", 300)},
			wantKind: router.KindPermanent, wantMsg: []string{"…"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ds := newDownstream(t, tt.mutate)
			if strings.HasPrefix(tt.name, "503") {
				ds.log.setFail(errors.Join(router.ErrUnavailable, errors.New("disk full")))
			}
			ds.override.Store(tt.answer)
			d := newDest(t, func(c *Config) {
				c.Endpoint = ds.URL
				if tt.writeKey != "" {
					c.WriteKey = tt.writeKey
				}
			})
			if tt.prime {
				if err := d.Send(context.Background(), batchOf(t, sixTypes[0])); err != nil {
					t.Fatalf("priming Send: %v", err)
				}
			}
			before := ds.requests.Load()
			err := d.Send(context.Background(), batchOf(t, sixTypes[1:]...))
			kind, delay := router.Classify(err)
			if kind != tt.wantKind || delay != tt.wantDelay {
				t.Fatalf("Send = %v\nclassified %v %v, want %v %v", err, kind, delay, tt.wantKind, tt.wantDelay)
			}
			for _, w := range tt.wantMsg {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "wrong") || len(err.Error()) > 800 {
				t.Errorf("error quotes the write key or is too long: %q", err)
			}
			if n := ds.requests.Load() - before; n != 1 {
				t.Errorf("%d requests for the failing batch, want exactly 1 (dispatch owns retries)", n)
			}
		})
	}
}

func TestRetryableThenRecoveredLosesNothing(t *testing.T) {
	ds := newDownstream(t, nil)
	d := newDest(t, func(c *Config) { c.Endpoint = ds.URL })
	batch := batchOf(t, sixTypes...)

	ds.log.setFail(router.ErrUnavailable)
	start := time.Now()
	err := d.Send(context.Background(), batch)
	if kind, _ := router.Classify(err); kind != router.KindRetryable {
		t.Fatalf("Send while Segment is down = %v (%v)", err, kind)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("a failing Send took %s: analytics-go retried", el)
	}
	if n := len(ds.log.stored()); n != 0 {
		t.Fatalf("%d stored while down", n)
	}

	ds.log.setFail(nil)
	if err := d.Send(context.Background(), batch); err != nil {
		t.Fatalf("Send after recovery: %v", err)
	}
	got := ds.log.stored()
	if len(got) != len(batch) {
		t.Fatalf("stored %d after recovery, want %d", len(got), len(batch))
	}
	for i := range batch {
		if got[i].ID != batch[i].ID {
			t.Fatalf("message %d is %s, want %s (order)", i, got[i].ID, batch[i].ID)
		}
	}
}

func TestNetworkErrorIsRetryable(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	url := closed.URL
	closed.Close()
	d := newDest(t, func(c *Config) { c.Endpoint = url })
	err := d.Send(context.Background(), batchOf(t, sixTypes...))
	if kind, _ := router.Classify(err); kind != router.KindRetryable {
		t.Fatalf("Send = %v (%v)", err, kind)
	}
	if strings.Contains(err.Error(), "wk") {
		t.Fatalf("error quotes the write key: %v", err)
	}
}

func TestPerMessageFailures(t *testing.T) {
	ds := newDownstream(t, nil)
	d := newDest(t, func(c *Config) { c.Endpoint = ds.URL })
	huge := `{"type":"track","messageId":"m-huge","userId":"u9","event":"E","properties":{"pad":"` + strings.Repeat("x", 33000) + `"}}`
	batch := batchOf(t,
		sixTypes[0],
		`{"type":"track","messageId":"m-noevent","userId":"u1"}`,
		huge,
		`{"type":"track","messageId":"m-badctx","userId":"u1","event":"E","context":[1]}`,
		sixTypes[1],
		`{"type":"page","messageId":"m-noid","name":"Home"}`,
		`{"type":"alias","messageId":"m-noprev","userId":"u1"}`,
		`{"type":"group","messageId":"m-nogroup","userId":"u1"}`,
		`{"type":"track","messageId":"m-numid","userId":7,"event":"E"}`,
		`{"type":"track","messageId":"m-badts","userId":"u1","event":"E","originalTimestamp":"yesterday"}`,
		`{"type":"merge","messageId":"m-type","userId":"u1"}`,
	)
	batch = append(batch, router.Message{ID: "m-array", Type: "track", UserID: "u1", Body: json.RawMessage(`[1,2]`)},
		router.Message{ID: "m-empty", Type: "track", UserID: "u1"})
	err := d.Send(context.Background(), batch)
	var be *router.BatchError
	if !errors.As(err, &be) {
		t.Fatalf("Send = %v, want a *router.BatchError", err)
	}
	want := map[int]string{1: "track has no event", 2: "over Segment's limit of 32768", 3: "field context is a array, not an object",
		5: "neither userId nor anonymousId", 6: "alias has no previousId", 7: "group has no groupId", 8: "field userId is a number",
		9: "parsing originalTimestamp", 10: `message type "merge"`, 11: "decoding message body", 12: "empty body"}
	if len(be.Failed) != len(want) {
		t.Fatalf("failed %v, want indices %v", be.Failed, want)
	}
	for i, w := range want {
		e := be.Failed[i]
		if k, _ := router.Classify(e); k != router.KindPermanent || !strings.Contains(e.Error(), w) {
			t.Errorf("[%d] = %v (%v), want permanent containing %q", i, e, k, w)
		}
	}
	got := ds.log.stored()
	if len(got) != 2 || got[0].ID != "m-identify" || got[1].ID != "m-track" {
		t.Fatalf("stored %v", got)
	}
	if n := ds.requests.Load(); n != 1 {
		t.Fatalf("%d requests, want 1", n)
	}
}

// tracks returns n stored tracks of users u0..u9, each padded with pad
// bytes of properties.
func tracks(t *testing.T, n, pad int) []router.Message {
	var bodies []string
	for i := range n {
		bodies = append(bodies, fmt.Sprintf(`{"type":"track","messageId":"m-%d","userId":"u%d","event":"E","properties":{"pad":%q},"timestamp":"2024-05-01T12:00:00.000Z"}`, i, i%10, strings.Repeat("x", pad)))
	}
	return batchOf(t, bodies...)
}

// TestBatchingLimits checks that requests keep to Segment's limits (and
// analytics-go's stricter ones): at most 250 messages and 500000 bytes a
// request, in batch order, each message sent once.
func TestBatchingLimits(t *testing.T) {
	tests := []struct {
		name      string
		n, pad    int
		wantSizes []int
	}{
		{"by count", 600, 0, []int{250, 250, 100}},
		{"by bytes", 50, 20000, []int{24, 24, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ds := newDownstream(t, nil)
			d := newDest(t, func(c *Config) { c.Endpoint = ds.URL })
			batch := tracks(t, tt.n, tt.pad)
			if err := d.Send(context.Background(), batch); err != nil {
				t.Fatalf("Send: %v", err)
			}
			var sizes []int
			next := 0
			for _, r := range ds.requestsReceived() {
				if len(r.body) > maxBatchBytes {
					t.Errorf("request of %d bytes, over %d", len(r.body), maxBatchBytes)
				}
				var env struct{ Batch []struct{ MessageID string } }
				if err := json.Unmarshal(r.body, &env); err != nil {
					t.Fatal(err)
				}
				for _, it := range env.Batch {
					if want := fmt.Sprintf("m-%d", next); it.MessageID != want {
						t.Fatalf("message %s sent where %s was due", it.MessageID, want)
					}
					next++
				}
				sizes = append(sizes, len(env.Batch))
			}
			if !reflect.DeepEqual(sizes, tt.wantSizes) {
				t.Errorf("requests of %v messages, want %v", sizes, tt.wantSizes)
			}
			if n := len(ds.log.stored()); n != tt.n {
				t.Errorf("sink stored %d, want %d", n, tt.n)
			}
		})
	}
}

// TestRetryableFailureStopsTheSend: after a request fails in a way that
// may pass (Segment down, rate limited), the rest of the batch is not sent
// but failed alike, so that no user's later message overtakes an earlier
// one and a Segment that is down is not asked again.
func TestRetryableFailureStopsTheSend(t *testing.T) {
	ds := newDownstream(t, nil)
	d := newDest(t, func(c *Config) { c.Endpoint = ds.URL })
	ds.override.Store(&fixedAnswer{status: 429, header: map[string]string{"Retry-After": "7"}, only: `"messageId":"m-0"`})
	err := d.Send(context.Background(), tracks(t, 260, 0))
	if kind, delay := router.Classify(err); kind != router.KindRetryable || delay != 7*time.Second {
		t.Fatalf("Send = %v (%v %v), want retryable after 7s", err, kind, delay)
	}
	if !strings.Contains(err.Error(), "429 Too Many Requests") || !strings.Contains(err.Error(), "all 260 messages") {
		t.Errorf("error %q", err)
	}
	if n := ds.requests.Load(); n != 1 {
		t.Fatalf("%d requests, want 1: the second request must not be sent", n)
	}
	if n := len(ds.log.stored()); n != 0 {
		t.Fatalf("stored %d", n)
	}
}

// TestPermanentFailureOfOneRequest: a request refused for its content
// (400) fails its own messages; the next request is still sent.
func TestPermanentFailureOfOneRequest(t *testing.T) {
	ds := newDownstream(t, nil)
	d := newDest(t, func(c *Config) { c.Endpoint = ds.URL })
	ds.override.Store(&fixedAnswer{status: 400, body: `{"success":false,"code":"invalid_json","message":"no"}`, only: `"messageId":"m-0"`})
	err := d.Send(context.Background(), tracks(t, 260, 0))
	var be *router.BatchError
	if !errors.As(err, &be) || len(be.Failed) != 250 {
		t.Fatalf("Send = %v, want the first 250 failed", err)
	}
	for i, e := range be.Failed {
		if k, _ := router.Classify(e); i >= 250 || k != router.KindPermanent || !strings.Contains(e.Error(), "400 Bad Request") {
			t.Fatalf("[%d] = %v (%v)", i, e, k)
		}
	}
	if n := len(ds.log.stored()); n != 10 {
		t.Fatalf("stored %d, want the 10 of the second request", n)
	}
}

// TestRefusedWriteKeyStopsTheSend: 401 fails the whole batch permanently
// after one request.
func TestRefusedWriteKeyStopsTheSend(t *testing.T) {
	ds := newDownstream(t, nil)
	d := newDest(t, func(c *Config) { c.Endpoint = ds.URL; c.WriteKey = "wrong" })
	err := d.Send(context.Background(), tracks(t, 300, 0))
	if k, _ := router.Classify(err); k != router.KindPermanent || !strings.Contains(err.Error(), "check write_key") {
		t.Fatalf("Send = %v (%v)", err, k)
	}
	if n := ds.requests.Load(); n != 1 {
		t.Fatalf("%d requests, want 1", n)
	}
}

func TestCancelAndTimeout(t *testing.T) {
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(release)

	t.Run("cancelled before", func(t *testing.T) {
		d := newDest(t, func(c *Config) { c.Endpoint = slow.URL })
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := d.Send(ctx, batchOf(t, sixTypes...)); !errors.Is(err, context.Canceled) {
			t.Fatalf("Send = %v", err)
		}
	})
	t.Run("cancelled during", func(t *testing.T) {
		d := newDest(t, func(c *Config) { c.Endpoint = slow.URL })
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(50*time.Millisecond, cancel)
		start := time.Now()
		err := d.Send(ctx, batchOf(t, sixTypes...))
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Send = %v", err)
		}
		if el := time.Since(start); el > 3*time.Second {
			t.Fatalf("cancelled Send took %s", el)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		d := newDest(t, func(c *Config) { c.Endpoint = slow.URL; c.Timeout = 100 * time.Millisecond })
		start := time.Now()
		err := d.Send(context.Background(), batchOf(t, sixTypes...))
		if k, _ := router.Classify(err); k != router.KindRetryable || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Send = %v (%v)", err, k)
		}
		if el := time.Since(start); el > 3*time.Second {
			t.Fatalf("timed out Send took %s", el)
		}
	})
}

func TestConcurrentSendsAndClose(t *testing.T) {
	ds := newDownstream(t, nil)
	d := newDest(t, func(c *Config) { c.Endpoint = ds.URL })
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 0; r < 3; r++ {
				var bodies []string
				for _, b := range sixTypes {
					bodies = append(bodies, strings.Replace(b, `"messageId":"m-`, fmt.Sprintf(`"messageId":"w%d-r%d-`, w, r), 1))
				}
				if err := d.Send(context.Background(), batchOf(t, bodies...)); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if n := len(ds.log.stored()); n != 4*3*6 {
		t.Fatalf("stored %d, want %d", n, 4*3*6)
	}
	if err := d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(context.Background()); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestMergeDisabled(t *testing.T) {
	tests := []struct {
		name    string
		in      string // the integrations field, "" for none
		disable []string
		want    string // the integrations sent, "" for none
	}{
		{name: "nothing to add", in: "", disable: nil, want: ""},
		{name: "nothing to add keeps the bytes", in: `{"b":1,"a":{"x":1e3}}`, disable: nil, want: `{"b":1,"a":{"x":1e3}}`},
		{name: "absent integrations", in: "", disable: []string{"Customer.io"}, want: `{"Customer.io":false}`},
		{name: "null integrations", in: "null", disable: []string{"Customer.io"}, want: `{"Customer.io":false}`},
		{name: "explicit true kept", in: `{"Customer.io":true}`, disable: []string{"Customer.io"}, want: `{"Customer.io":true}`},
		{name: "explicit options kept", in: `{"Customer.io":{"a":1}}`, disable: []string{"Customer.io"}, want: `{"Customer.io":{"a":1}}`},
		{name: "All false still gets the key", in: `{"All":false,"Segment":true}`, disable: []string{"Customer.io"},
			want: `{"All":false,"Customer.io":false,"Segment":true}`},
		{name: "names are case-sensitive", in: `{"customer.io":true}`, disable: []string{"Customer.io"},
			want: `{"Customer.io":false,"customer.io":true}`},
		{name: "numbers keep their digits", in: `{"X":{"n":12345678901234567890}}`, disable: []string{"Y"},
			want: `{"X":{"n":12345678901234567890},"Y":false}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := map[string]json.RawMessage{}
			if tt.in != "" {
				f["integrations"] = json.RawMessage(tt.in)
			}
			if err := mergeDisabled(f, tt.disable); err != nil {
				t.Fatal(err)
			}
			if got := string(f["integrations"]); got != tt.want {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
		})
	}
	// Through Send: every message gets them, and the sink receives them.
	ds := newDownstream(t, nil)
	d := newDest(t, func(c *Config) { c.Endpoint = ds.URL; c.DisableIntegrations = []string{"Customer.io", "Intercom"} })
	if err := d.Send(context.Background(), batchOf(t, sixTypes...)); err != nil {
		t.Fatal(err)
	}
	items, _ := ds.items(t)
	for _, body := range sixTypes {
		m := msg(t, body)
		want := map[string]any{}
		if in, ok := decode(t, m.Body)["integrations"].(map[string]any); ok {
			want = in
		}
		if _, ok := want["Customer.io"]; !ok {
			want["Customer.io"] = false
		}
		want["Intercom"] = false
		if got := decodeValue(t, items[m.ID]["integrations"]); !reflect.DeepEqual(got, any(want)) {
			t.Errorf("%s: integrations %v, want %v", m.ID, got, want)
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		want   []string
	}{
		{name: "valid", mutate: func(c *Config) { c.WriteKey = "wk" }},
		{name: "valid with everything", mutate: func(c *Config) {
			c.WriteKey, c.Endpoint, c.DisableIntegrations, c.Timeout = "wk", "http://127.0.0.1:8080/proxy", []string{"Customer.io", "Intercom"}, 2*time.Second
		}},
		{name: "default needs a write key", mutate: func(c *Config) {}, want: []string{"write_key: required"}},
		{name: "write key with a newline", mutate: func(c *Config) { c.WriteKey = "s3cret\n" }, want: []string{"write_key: has surrounding whitespace"}},
		{name: "write key with a colon", mutate: func(c *Config) { c.WriteKey = "s3:cret" }, want: []string{"write_key: must not contain"}},
		{name: "endpoint", mutate: func(c *Config) { c.WriteKey = "wk"; c.Endpoint = "api.segment.io" }, want: []string{"endpoint: must be an absolute"}},
		{name: "empty endpoint", mutate: func(c *Config) { c.WriteKey = "wk"; c.Endpoint = "" }, want: []string{"endpoint: required"}},
		{name: "endpoint with credentials", mutate: func(c *Config) { c.WriteKey = "wk"; c.Endpoint = "https://u:s3cret@x.example" }, want: []string{"endpoint: must not carry credentials"}},
		{name: "endpoint with query", mutate: func(c *Config) { c.WriteKey = "wk"; c.Endpoint = "https://x.example/?a=1" }, want: []string{"endpoint: must not carry"}},
		{name: "disable_integrations", mutate: func(c *Config) {
			c.WriteKey = "wk"
			c.DisableIntegrations = []string{"Customer.io", "", " Intercom", "Customer.io"}
		}, want: []string{"disable_integrations[1]: empty", "disable_integrations[2]: \" Intercom\" has surrounding whitespace", "disable_integrations[3]: \"Customer.io\" listed twice"}},
		{name: "timeouts", mutate: func(c *Config) { c.WriteKey = "wk"; c.Timeout = 0 }, want: []string{"timeout: must be greater than zero"}},
		{name: "long timeout", mutate: func(c *Config) { c.WriteKey = "wk"; c.Timeout = 30 * time.Second }},
		{name: "everything at once", mutate: func(c *Config) { c.Endpoint = "ftp://x"; c.Timeout = -1 },
			want: []string{"write_key: required", "endpoint: must be an absolute", "timeout: must be greater"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewFactory().DefaultConfig().(*Config)
			tt.mutate(c)
			err := c.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "s3") {
				t.Errorf("error quotes a secret: %q", err)
			}
		})
	}
	if _, err := NewFactory().New(context.Background(), NewFactory().DefaultConfig(), router.Settings{Name: "x"}); err == nil || !strings.Contains(err.Error(), "write_key: required") {
		t.Fatalf("New accepted a config without write key: %v", err)
	}
	if _, err := NewFactory().New(context.Background(), "nope", router.Settings{}); err == nil {
		t.Fatal("New accepted a foreign config")
	}
	if c := NewFactory().DefaultConfig().(*Config); c.Endpoint != "https://api.segment.io" || c.Timeout != 10*time.Second || c.DisableIntegrations != nil {
		t.Fatalf("defaults %+v", c)
	}
}

// BenchmarkSend measures a Send of 1 and of 100 tracks to a local Segment
// that answers 200 at once, the cost of the per-Send analytics-go client
// included (the 1-message case is mostly that cost).
func BenchmarkSend(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, `{"success":true}`)
	}))
	defer srv.Close()
	cfg := NewFactory().DefaultConfig().(*Config)
	cfg.WriteKey, cfg.Endpoint = "wk", srv.URL
	dst, err := NewFactory().New(context.Background(), cfg, router.Settings{Name: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	defer dst.Close(context.Background())
	for _, n := range []int{1, 100} {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			batch := make([]router.Message, n)
			for i := range batch {
				body := fmt.Sprintf(`{"type":"track","messageId":"m-%d","userId":"u%d","event":"Order Completed","properties":{"revenue":12.5,"currency":"EUR"},"context":{"ip":"1.2.3.4","library":{"name":"analytics.js","version":"1"}},"timestamp":"2024-05-01T12:00:00.000Z"}`, i, i%7)
				batch[i] = router.Message{ID: fmt.Sprintf("m-%d", i), Type: "track", UserID: fmt.Sprintf("u%d", i%7), Body: json.RawMessage(body)}
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := dst.Send(context.Background(), batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// viaAnalyticsGo builds, from a stored message, the analytics-go message
// of its type with every field analytics-go can carry, as a program using
// Segment's Go library would send it: timestamp = the stored
// originalTimestamp (the time the event happened on the client's clock).
func viaAnalyticsGo(t *testing.T, m router.Message) analytics.Message {
	t.Helper()
	f := decode(t, m.Body)
	s := func(k string) string { v, _ := f[k].(string); return v }
	o := func(k string) map[string]any { v, _ := f[k].(map[string]any); return v }
	ts, err := time.Parse(time.RFC3339Nano, s("originalTimestamp"))
	if err != nil {
		t.Fatal(err)
	}
	var ctx *analytics.Context
	if c := o("context"); c != nil {
		ctx = &analytics.Context{Extra: c}
	}
	switch m.Type {
	case router.TypeIdentify:
		return analytics.Identify{MessageId: m.ID, UserId: s("userId"), AnonymousId: s("anonymousId"), Timestamp: ts, Context: ctx, Traits: o("traits"), Integrations: o("integrations")}
	case router.TypeTrack:
		return analytics.Track{MessageId: m.ID, UserId: s("userId"), AnonymousId: s("anonymousId"), Event: s("event"), Timestamp: ts, Context: ctx, Properties: o("properties"), Integrations: o("integrations")}
	case router.TypePage:
		return analytics.Page{MessageId: m.ID, UserId: s("userId"), AnonymousId: s("anonymousId"), Name: s("name"), Timestamp: ts, Context: ctx, Properties: o("properties"), Integrations: o("integrations")}
	case router.TypeScreen:
		return analytics.Screen{MessageId: m.ID, UserId: s("userId"), AnonymousId: s("anonymousId"), Name: s("name"), Timestamp: ts, Context: ctx, Properties: o("properties"), Integrations: o("integrations")}
	case router.TypeGroup:
		return analytics.Group{MessageId: m.ID, UserId: s("userId"), AnonymousId: s("anonymousId"), GroupId: s("groupId"), Timestamp: ts, Context: ctx, Traits: o("traits"), Integrations: o("integrations")}
	case router.TypeAlias:
		return analytics.Alias{MessageId: m.ID, UserId: s("userId"), PreviousId: s("previousId"), Timestamp: ts, Context: ctx, Integrations: o("integrations")}
	}
	t.Fatalf("type %q", m.Type)
	return nil
}

// TestAnalyticsGoIsTheReference sends the stored messages once with
// analytics-go, Segment's Go library, carrying every field it can, and
// once with the destination, to the same kind of Segment-compatible sink:
// the requests are alike (method, path, auth, content type), every field
// analytics-go sends arrives from the destination with the same value, and
// the destination sends in addition exactly what analytics-go cannot carry.
func TestAnalyticsGoIsTheReference(t *testing.T) {
	batch := acceptedUpstream(t)
	ref := newDownstream(t, nil)
	client, err := analytics.NewWithConfig("wk", analytics.Config{Endpoint: ref.URL, BatchSize: 100, Interval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range batch {
		if err := client.Enqueue(viaAnalyticsGo(t, m)); err != nil {
			t.Fatal(err)
		}
	}
	if err := client.Close(); err != nil {
		t.Fatal(err)
	}
	ours := newDownstream(t, nil)
	if err := newDest(t, func(c *Config) { c.Endpoint = ours.URL }).Send(context.Background(), batch); err != nil {
		t.Fatal(err)
	}

	rr, or := ref.requestsReceived(), ours.requestsReceived()
	if len(rr) != 1 || len(or) != 1 {
		t.Fatalf("%d and %d requests, want 1 each", len(rr), len(or))
	}
	if rr[0].method != or[0].method || rr[0].path != or[0].path {
		t.Errorf("analytics-go: %s %s; destination: %s %s", rr[0].method, rr[0].path, or[0].method, or[0].path)
	}
	for _, h := range []string{"Authorization", "Content-Type", "Content-Encoding"} {
		if a, b := rr[0].header.Get(h), or[0].header.Get(h); a != b {
			t.Errorf("%s: analytics-go %q, destination %q", h, a, b)
		}
	}
	if n, m := len(ref.log.stored()), len(ours.log.stored()); n != len(batch) || m != len(batch) {
		t.Errorf("sinks stored %d (analytics-go) and %d (destination), want %d", n, m, len(batch))
	}

	refItems, _ := ref.items(t)
	ourItems, _ := ours.items(t)
	extras := map[string]bool{}
	for _, m := range batch {
		a, o := refItems[m.ID], ourItems[m.ID]
		if a == nil || o == nil {
			t.Fatalf("%s: not received from both", m.ID)
		}
		for k, v := range a {
			switch {
			case o[k] == nil:
				t.Errorf("%s: analytics-go sends %s = %s, the destination does not", m.ID, k, v)
			case k == "timestamp":
				var as, os string
				_ = json.Unmarshal(v, &as)
				_ = json.Unmarshal(o[k], &os)
				at, _ := time.Parse(time.RFC3339Nano, as)
				ot, _ := time.Parse(time.RFC3339Nano, os)
				if !at.Equal(ot) {
					t.Errorf("%s: timestamp %s (analytics-go) vs %s", m.ID, as, os)
				}
			case !reflect.DeepEqual(decodeValue(t, v), decodeValue(t, o[k])):
				t.Errorf("%s: %s = %s (analytics-go) vs %s", m.ID, k, v, o[k])
			}
		}
		stored := fields(t, m.Body)
		for k := range o {
			if _, ok := a[k]; ok {
				continue
			}
			extras[k] = true
			// What only the destination sends: stored fields analytics-go
			// has no room for, and sentAt (analytics-go puts it on the
			// envelope only).
			if _, ok := stored[k]; !ok && k != "sentAt" {
				t.Errorf("%s: the destination sends %s, which is not stored", m.ID, k)
			}
		}
	}
	// The fields the issue names, which analytics-go drops.
	for _, k := range []string{"originalTimestamp", "channel", "version", "anonymousId", "traits", "properties", "category", "appBuild", "_private"} {
		if !extras[k] {
			t.Errorf("%s is not among what only the destination sends (%v): analytics-go carries it after all, or the destination drops it", k, extras)
		}
	}
}
