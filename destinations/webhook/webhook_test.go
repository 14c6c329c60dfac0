package webhook

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eventrouter/eventrouter/router"
)

func batch(ids ...string) []router.Message {
	out := make([]router.Message, len(ids))
	for i, id := range ids {
		out[i] = router.Message{ID: id, Type: "track", Body: json.RawMessage(`{"type":"track","messageId":"` + id + `","event":"Signed Up"}`)}
	}
	return out
}

// sink is an httptest server recording requests and answering with a
// status chosen by the test.
type sink struct {
	*httptest.Server
	mu      sync.Mutex
	reqs    []*http.Request
	bodies  [][]byte
	status  int
	headers map[string]string
	answer  string
}

func newSink(t *testing.T) *sink {
	s := &sink{status: 200}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, "bad gzip", 400)
				return
			}
			body = zr
		}
		b, _ := io.ReadAll(body)
		s.mu.Lock()
		s.reqs = append(s.reqs, r)
		s.bodies = append(s.bodies, b)
		status, headers, answer := s.status, s.headers, s.answer
		s.mu.Unlock()
		for k, v := range headers {
			w.Header().Set(k, v)
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, answer)
	}))
	t.Cleanup(s.Close)
	return s
}

func newDest(t *testing.T, mutate func(*Config)) *webhook {
	t.Helper()
	cfg := NewFactory().DefaultConfig().(*Config)
	mutate(cfg)
	d, err := NewFactory().New(context.Background(), cfg, router.Settings{Name: "hook"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close(context.Background()) })
	return d.(*webhook)
}

func TestSendPayloadAndHeaders(t *testing.T) {
	for _, gz := range []bool{false, true} {
		name := "plain"
		if gz {
			name = "gzip"
		}
		t.Run(name, func(t *testing.T) {
			s := newSink(t)
			d := newDest(t, func(c *Config) {
				c.URL = s.URL + "/in"
				c.Gzip = gz
				c.Method = "PUT"
				c.Headers = map[string]string{"Authorization": "Bearer tok", "x-custom": "1"}
			})
			now := time.Date(2024, 5, 1, 12, 0, 0, 123e6, time.UTC)
			d.now = func() time.Time { return now }
			if err := d.Send(context.Background(), batch("a", "b")); err != nil {
				t.Fatal(err)
			}
			s.mu.Lock()
			r, body := s.reqs[0], s.bodies[0]
			s.mu.Unlock()
			if r.Method != "PUT" || r.URL.Path != "/in" {
				t.Fatalf("request %s %s", r.Method, r.URL.Path)
			}
			if r.Header.Get("Authorization") != "Bearer tok" || r.Header.Get("X-Custom") != "1" || r.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("headers %v", r.Header)
			}
			want := `{"batch":[{"type":"track","messageId":"a","event":"Signed Up"},{"type":"track","messageId":"b","event":"Signed Up"}],"sentAt":"2024-05-01T12:00:00.123Z"}`
			if string(body) != want {
				t.Fatalf("body\n%s\nwant\n%s", body, want)
			}
		})
	}
}

func TestClassification(t *testing.T) {
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		status    int
		headers   map[string]string
		answer    string
		wantKind  router.Kind
		wantDelay time.Duration
		wantMsg   string
	}{
		{name: "200", status: 200, wantKind: router.KindOK},
		{name: "202", status: 202, answer: "queued", wantKind: router.KindOK},
		{name: "204", status: 204, wantKind: router.KindOK},
		{name: "400 permanent with snippet", status: 400, answer: `{"error":"bad field"}`, wantKind: router.KindPermanent, wantMsg: `answered 400 Bad Request: "{\"error\":\"bad field\"}"`},
		{name: "401 permanent", status: 401, wantKind: router.KindPermanent, wantMsg: "answered 401 Unauthorized"},
		{name: "404 permanent", status: 404, wantKind: router.KindPermanent},
		{name: "413 permanent", status: 413, wantKind: router.KindPermanent},
		{name: "408 retryable", status: 408, wantKind: router.KindRetryable},
		{name: "429 retryable", status: 429, wantKind: router.KindRetryable, wantMsg: "answered 429 Too Many Requests"},
		{name: "429 retry-after seconds", status: 429, headers: map[string]string{"Retry-After": "7"}, wantKind: router.KindRetryable, wantDelay: 7 * time.Second},
		{name: "503 retry-after date", status: 503, headers: map[string]string{"Retry-After": now.Add(90 * time.Second).Format(http.TimeFormat)}, wantKind: router.KindRetryable, wantDelay: 90 * time.Second},
		{name: "503 retry-after past date", status: 503, headers: map[string]string{"Retry-After": now.Add(-time.Hour).Format(http.TimeFormat)}, wantKind: router.KindRetryable, wantDelay: 0},
		{name: "503 retry-after garbage", status: 503, headers: map[string]string{"Retry-After": "soon"}, wantKind: router.KindRetryable},
		{name: "429 retry-after capped", status: 429, headers: map[string]string{"Retry-After": "999999999"}, wantKind: router.KindRetryable, wantDelay: 24 * time.Hour},
		{name: "500 retryable", status: 500, answer: "oops", wantKind: router.KindRetryable, wantMsg: `answered 500 Internal Server Error: "oops"`},
		{name: "502 retryable", status: 502, wantKind: router.KindRetryable},
		{name: "301 permanent", status: 301, headers: map[string]string{"Location": "/elsewhere"}, wantKind: router.KindPermanent, wantMsg: "redirects are not followed"},
		// Statuses no remote documents are classified by the delivery kit
		// (httpdelivery.Classify): an unknown 4xx is permanent, an unknown
		// 5xx retryable, a code outside 100-599 permanent.
		{name: "418 unknown 4xx permanent", status: 418, answer: "teapot", wantKind: router.KindPermanent, wantMsg: `answered 418 I'm a teapot: "teapot"`},
		{name: "599 unknown 5xx retryable", status: 599, headers: map[string]string{"Retry-After": "4"}, wantKind: router.KindRetryable, wantDelay: 4 * time.Second, wantMsg: "answered 599"},
		{name: "600 outside the range permanent", status: 600, wantKind: router.KindPermanent, wantMsg: "answered 600"},
		{name: "long body truncated", status: 422, answer: strings.Repeat("é", 300), wantKind: router.KindPermanent, wantMsg: "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSink(t)
			s.status, s.headers, s.answer = tt.status, tt.headers, tt.answer
			d := newDest(t, func(c *Config) { c.URL = s.URL })
			d.now = func() time.Time { return now }
			err := d.Send(context.Background(), batch("a"))
			kind, delay := router.Classify(err)
			if kind != tt.wantKind || delay != tt.wantDelay {
				t.Fatalf("Classify(%v) = %v %v, want %v %v", err, kind, delay, tt.wantKind, tt.wantDelay)
			}
			var ra *router.RetryAfterError
			if tt.headers["Retry-After"] != "" && tt.wantDelay > 0 && !errors.As(err, &ra) {
				t.Fatalf("error %v is not a RetryAfterError", err)
			}
			if tt.wantMsg != "" && (err == nil || !strings.Contains(err.Error(), tt.wantMsg)) {
				t.Fatalf("error %v does not contain %q", err, tt.wantMsg)
			}
			if err != nil && len(err.Error()) > 600 {
				t.Fatalf("error too long: %d bytes", len(err.Error()))
			}
		})
	}
}

func TestNetworkErrorsHideURL(t *testing.T) {
	s := newSink(t)
	url := strings.Replace(s.URL, "http://", "http://user:hunter2@", 1) + "/in?token=s3cret"
	s.Close() // nothing listens any more
	d := newDest(t, func(c *Config) { c.URL = url })
	err := d.Send(context.Background(), batch("a"))
	if kind, _ := router.Classify(err); kind != router.KindRetryable {
		t.Fatalf("Classify(%v) = %v", err, kind)
	}
	if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("error leaks the URL: %v", err)
	}
}

func TestTimeoutAndCancel(t *testing.T) {
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(release)

	d := newDest(t, func(c *Config) { c.URL = slow.URL; c.Timeout = 50 * time.Millisecond })
	start := time.Now()
	err := d.Send(context.Background(), batch("a"))
	if kind, _ := router.Classify(err); kind != router.KindRetryable || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("timeout: %v (%v)", err, kind)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatalf("timeout took %s", time.Since(start))
	}

	d = newDest(t, func(c *Config) { c.URL = slow.URL })
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(20 * time.Millisecond); cancel() }()
	if err := d.Send(ctx, batch("a")); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancel: %v", err)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		want   []string
	}{
		{name: "valid", mutate: func(c *Config) { c.URL = "https://example.com/hook" }},
		{name: "missing url", mutate: func(c *Config) {}, want: []string{"url: required"}},
		{name: "relative url", mutate: func(c *Config) { c.URL = "/hook" }, want: []string{"url: must be an absolute"}},
		{name: "ftp url", mutate: func(c *Config) { c.URL = "ftp://example.com" }, want: []string{"url: must be an absolute"}},
		{name: "bad method and timeout", mutate: func(c *Config) { c.URL = "http://x"; c.Method = "GET"; c.Timeout = 0 },
			want: []string{"method: must be POST or PUT", "timeout: must be greater than zero"}},
		{name: "headers", mutate: func(c *Config) {
			c.URL = "http://x"
			c.Headers = map[string]string{"Bad Name": "v", "content-length": "1", "X-Ok": "a\r\nInjected: 1"}
		}, want: []string{`headers: "Bad Name" is not a valid header name`, "headers.content-length: is set by the webhook", "headers.X-Ok: value must not contain line breaks"}},
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
			if strings.Contains(err.Error(), "Injected") {
				t.Error("error quotes a header value")
			}
		})
	}
	if _, err := NewFactory().New(context.Background(), &Config{}, router.Settings{}); err == nil {
		t.Fatal("New accepted an invalid config")
	}
	if _, err := NewFactory().New(context.Background(), "nope", router.Settings{}); err == nil {
		t.Fatal("New accepted a foreign config")
	}
}

func TestConcurrentSends(t *testing.T) {
	s := newSink(t)
	d := newDest(t, func(c *Config) { c.URL = s.URL })
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := d.Send(context.Background(), batch("a", "b", "c")); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.bodies) != 8 {
		t.Fatalf("got %d requests", len(s.bodies))
	}
}

func TestEmptyBodyFailsOnlyThatMessage(t *testing.T) {
	s := newSink(t)
	d := newDest(t, func(c *Config) { c.URL = s.URL })
	b := batch("a", "b", "c")
	b[1].Body = nil
	err := d.Send(context.Background(), b)
	var be *router.BatchError
	if !errors.As(err, &be) || len(be.Failed) != 1 {
		t.Fatalf("Send = %v", err)
	}
	if k, _ := router.Classify(be.Failed[1]); k != router.KindPermanent {
		t.Fatalf("empty body classified %v", k)
	}
	s.mu.Lock()
	body := string(s.bodies[0])
	s.mu.Unlock()
	if !strings.Contains(body, `"messageId":"a"`) || !strings.Contains(body, `"messageId":"c"`) || strings.Contains(body, `"messageId":"b"`) || !json.Valid([]byte(body)) {
		t.Fatalf("body %s", body)
	}
	// A batch of only empty bodies sends nothing.
	only := batch("x")
	only[0].Body = json.RawMessage("  ")
	if err := d.Send(context.Background(), only); !errors.As(err, &be) {
		t.Fatalf("Send = %v", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.bodies) != 1 {
		t.Fatalf("%d requests, want 1", len(s.bodies))
	}
}
