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
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/router"
	"github.com/eventrouter/eventrouter/router/ingest"
)

// recLog is an in-memory ingest.Log: the downstream "Segment" stores what it
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
// "seg" with write key "wk". A test can put a fixed answer in front of it.
type downstream struct {
	*httptest.Server
	log      *recLog
	override atomic.Pointer[fixedAnswer]
	requests atomic.Int64
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
		Sources: []ingest.Source{{Name: "seg", Type: "segment", WriteKeys: []string{"wk"}}},
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
		if a := d.override.Load(); a != nil {
			body, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(body))
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

// msg builds a router.Message from a JSON body, as ingest would.
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

func TestSixTypesArriveIntact(t *testing.T) {
	ds := newDownstream(t, nil)
	d := newDest(t, func(c *Config) {
		c.Endpoint = ds.URL + "/" // a trailing slash is tolerated
		c.DisableIntegrations = []string{"Customer.io", "Intercom"}
	})
	batch := batchOf(t, sixTypes...)
	start := time.Now()
	if err := d.Send(context.Background(), batch); err != nil {
		t.Fatalf("Send: %v", err)
	}
	got := ds.log.stored()
	if len(got) != len(batch) {
		t.Fatalf("Segment stored %d messages, want %d", len(got), len(batch))
	}
	if n := ds.requests.Load(); n != 1 {
		t.Errorf("%d requests, want 1 (one attempt, one batch)", n)
	}
	byID := map[string]router.Message{}
	for _, m := range got {
		byID[m.ID] = m
	}
	for _, sent := range batch {
		t.Run(sent.Type, func(t *testing.T) {
			recv, ok := byID[sent.ID]
			if !ok {
				t.Fatalf("message %s not stored", sent.ID)
			}
			if recv.Source != "seg" || recv.Type != sent.Type || recv.UserID != sent.UserID || recv.AnonymousID != sent.AnonymousID || recv.Event != sent.Event {
				t.Fatalf("stored %+v, sent %+v", recv, sent)
			}
			in, out := decode(t, sent.Body), decode(t, recv.Body)
			// Type fields verbatim.
			for _, k := range []string{"type", "messageId", "userId", "anonymousId", "event", "name", "groupId", "previousId", "traits"} {
				if sent.Type == router.TypeAlias && k == "anonymousId" {
					continue // analytics-go's Alias has no anonymousId
				}
				if !reflect.DeepEqual(in[k], out[k]) {
					t.Errorf("%s: got %#v, want %#v", k, out[k], in[k])
				}
			}
			// Properties verbatim; a page's category also as properties.category.
			wantProps := in["properties"]
			if cat, ok := in["category"]; ok {
				p := copyMap(wantProps)
				p["category"] = cat
				wantProps = p
			}
			if p, ok := wantProps.(map[string]any); ok && len(p) == 0 {
				wantProps = nil // analytics-go omits empty properties
			}
			if !reflect.DeepEqual(out["properties"], wantProps) {
				t.Errorf("properties: got %#v, want %#v", out["properties"], wantProps)
			}
			// Context verbatim, extra keys included; analytics-go's library
			// fills in only where the message had none.
			wantCtx := copyMap(in["context"])
			if _, ok := wantCtx["library"]; !ok {
				wantCtx["library"] = map[string]any{"name": "analytics-go", "version": "3.0.0"}
			}
			if !reflect.DeepEqual(out["context"], any(wantCtx)) {
				t.Errorf("context: got %#v, want %#v", out["context"], wantCtx)
			}
			// Integrations: the message's own, plus the disabled ones
			// unless the message names them.
			wantInt := copyMap(in["integrations"])
			if _, ok := wantInt["Customer.io"]; !ok {
				wantInt["Customer.io"] = false
			}
			wantInt["Intercom"] = false
			if !reflect.DeepEqual(out["integrations"], any(wantInt)) {
				t.Errorf("integrations: got %#v, want %#v", out["integrations"], wantInt)
			}
			// Segment's originalTimestamp is our (corrected) timestamp;
			// its timestamp is recomputed with analytics-go's sentAt.
			if out["originalTimestamp"] != in["timestamp"] {
				t.Errorf("originalTimestamp: got %v, want our timestamp %v", out["originalTimestamp"], in["timestamp"])
			}
			ts, err := time.Parse(time.RFC3339Nano, out["timestamp"].(string))
			want, _ := time.Parse(time.RFC3339Nano, in["timestamp"].(string))
			if err != nil || ts.Sub(want).Abs() > time.Since(start)+time.Second {
				t.Errorf("timestamp %v drifted from %v", out["timestamp"], in["timestamp"])
			}
			sentAt, err := time.Parse(time.RFC3339Nano, out["sentAt"].(string))
			if err != nil || sentAt.Before(start.Add(-time.Second)) {
				t.Errorf("sentAt %v is not analytics-go's send time", out["sentAt"])
			}
		})
	}
}

// copyMap returns a shallow copy of v as a map (empty for nil).
func copyMap(v any) map[string]any {
	out := map[string]any{}
	m, _ := v.(map[string]any)
	for k, x := range m {
		out[k] = x
	}
	return out
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
	)
	batch = append(batch, router.Message{ID: "m-empty", Type: "track", UserID: "u1"})
	err := d.Send(context.Background(), batch)
	var be *router.BatchError
	if !errors.As(err, &be) {
		t.Fatalf("Send = %v, want a *router.BatchError", err)
	}
	want := map[int]string{1: "Event", 2: "32000 bytes", 3: "context is a array", 5: "empty body"}
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
}

func TestRetryableFailureHoldsBackTheUsersLaterMessages(t *testing.T) {
	ds := newDownstream(t, nil)
	d := newDest(t, func(c *Config) { c.Endpoint = ds.URL })
	// 260 messages make two requests (analytics-go's 250 per request); the
	// first fails. Users u0..u4 have messages in both; "solo" only in the
	// second.
	var bodies []string
	for i := 0; i < 260; i++ {
		user := fmt.Sprintf("u%d", i%10)
		if i >= 255 {
			user = "solo"
		}
		bodies = append(bodies, fmt.Sprintf(`{"type":"track","messageId":"m-%d","userId":%q,"event":"E","timestamp":"2024-05-01T12:00:00.000Z"}`, i, user))
	}
	ds.override.Store(&fixedAnswer{status: 503, only: `"messageId":"m-0"`})
	err := d.Send(context.Background(), batchOf(t, bodies...))
	var be *router.BatchError
	if !errors.As(err, &be) {
		t.Fatalf("Send = %v, want a *router.BatchError", err)
	}
	for i := 0; i < 260; i++ {
		e, failed := be.Failed[i]
		switch {
		case i < 250:
			if !failed || !strings.Contains(e.Error(), "503") {
				t.Fatalf("[%d] = %v, want the 503", i, e)
			}
		case i < 255:
			if !failed || !strings.Contains(e.Error(), "earlier message") {
				t.Fatalf("[%d] = %v, want held back", i, e)
			}
		default:
			if failed {
				t.Fatalf("[%d] = %v, want delivered", i, e)
			}
		}
		if failed {
			if k, _ := router.Classify(e); k != router.KindRetryable {
				t.Fatalf("[%d] classified %v", i, k)
			}
		}
	}
	if n := len(ds.log.stored()); n != 10 {
		t.Fatalf("stored %d, want the 10 of the second request", n)
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
		in      map[string]any
		disable []string
		want    map[string]any
	}{
		{name: "nothing to add", in: nil, disable: nil, want: nil},
		{name: "absent integrations", in: nil, disable: []string{"Customer.io"}, want: map[string]any{"Customer.io": false}},
		{name: "explicit true kept", in: map[string]any{"Customer.io": true}, disable: []string{"Customer.io"}, want: map[string]any{"Customer.io": true}},
		{name: "explicit options kept", in: map[string]any{"Customer.io": map[string]any{"a": 1}}, disable: []string{"Customer.io"}, want: map[string]any{"Customer.io": map[string]any{"a": 1}}},
		{name: "All false still gets the key", in: map[string]any{"All": false, "Segment": true}, disable: []string{"Customer.io"},
			want: map[string]any{"All": false, "Segment": true, "Customer.io": false}},
		{name: "names are case-sensitive", in: map[string]any{"customer.io": true}, disable: []string{"Customer.io"},
			want: map[string]any{"customer.io": true, "Customer.io": false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var orig map[string]any
			if tt.in != nil {
				orig = copyMap(tt.in)
			}
			got := mergeDisabled(tt.in, tt.disable)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %#v, want %#v", got, tt.want)
			}
			if tt.in != nil && !reflect.DeepEqual(tt.in, orig) {
				t.Fatalf("input modified: %#v", tt.in)
			}
		})
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
		{name: "timeout above analytics-go's", mutate: func(c *Config) { c.WriteKey = "wk"; c.Timeout = 30 * time.Second }, want: []string{"timeout: 30s is above 10s"}},
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
