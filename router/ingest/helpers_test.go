package ingest

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/eventrouter/eventrouter/router"
)

// frozen is the clock of the conformance vectors.
var frozen = time.Date(2024, 1, 1, 1, 0, 10, 0, time.UTC)

// backend is a Store the tests can read back: what was stored since the last
// drain.
type backend interface {
	Store
	Sampler
	drain(t *testing.T) (msgs []router.Message, rejected []router.Rejected)
	// drainSample returns the entries of the sample of unauthenticated
	// requests stored since the last call.
	drainSample(t *testing.T) []router.Rejected
}

// recLog is an in-memory Log that deduplicates by (source, messageId) like
// the real log, and can be made to fail.
type recLog struct {
	mu       sync.Mutex
	msgs     []router.Message
	rejected []router.Rejected
	seen     map[string]bool
	// deliveries are the webhook deliveries remembered, by source NUL key.
	deliveries map[string]bool
	// sampled is the sample of unauthenticated requests (Sample).
	sampled []router.Rejected
	fail    error
}

func newRecLog() *recLog {
	return &recLog{seen: make(map[string]bool), deliveries: make(map[string]bool)}
}

func (l *recLog) Seen(_ context.Context, source, key string) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fail != nil {
		return false, l.fail
	}
	return l.deliveries[source+"\x00"+key], nil
}

func (l *recLog) Remember(_ context.Context, source, key string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fail != nil {
		return l.fail
	}
	l.deliveries[source+"\x00"+key] = true
	return nil
}

func (l *recLog) Append(_ context.Context, msgs []router.Message) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fail != nil {
		return 0, l.fail
	}
	dups := 0
	for _, m := range msgs {
		k := m.Source + "\x00" + m.ID
		if l.seen[k] {
			dups++
			continue
		}
		l.seen[k] = true
		l.msgs = append(l.msgs, m)
	}
	return dups, nil
}

func (l *recLog) Reject(_ context.Context, rs []router.Rejected) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fail != nil {
		return l.fail
	}
	l.rejected = append(l.rejected, rs...)
	return nil
}

func (l *recLog) Sample(_ context.Context, rs []router.Rejected) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fail != nil {
		return l.fail
	}
	l.sampled = append(l.sampled, rs...)
	return nil
}

func (l *recLog) drainSample(*testing.T) []router.Rejected {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.sampled
	l.sampled = nil
	return s
}

func (l *recLog) drain(*testing.T) ([]router.Message, []router.Rejected) {
	l.mu.Lock()
	defer l.mu.Unlock()
	m, r := l.msgs, l.rejected
	l.msgs, l.rejected = nil, nil
	return m, r
}

// env is a running handler behind a real HTTP server.
type env struct {
	h   *Handler
	srv *httptest.Server
	log backend
}

// baseConfig is the configuration of the conformance vectors: source prod-web with key WK1
// (and a second key), a disabled source with key WKOFF, and a second source.
func baseConfig() Config {
	return Config{
		Sources: []Source{
			{Name: "prod-web", WriteKeys: []string{"WK1", "WK1b"}},
			{Name: "off", WriteKeys: []string{"WKOFF"}, Disabled: true},
			{Name: "backend", WriteKeys: []string{"WK2"}},
		},
		Now: func() time.Time { return frozen },
		// A sample of unauthenticated requests that the vectors do not
		// exhaust (the clock is frozen: the bucket never refills).
		SampleRate:  DefaultSampleRate,
		SampleBurst: 1000,
	}
}

func newEnv(t *testing.T, log backend, mutate func(*Config)) *env {
	t.Helper()
	cfg := baseConfig()
	cfg.Registerer = prometheus.NewRegistry()
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if mutate != nil {
		mutate(&cfg)
	}
	h, err := New(cfg, log)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &env{h: h, srv: srv, log: log}
}

// req describes one request of a vector.
type req struct {
	method  string
	path    string
	header  map[string]string
	body    []byte
	gzip    bool
	rawPath bool // send path as given (query included)
}

// resp is an answer and what it stored.
type resp struct {
	status   int
	header   http.Header
	body     []byte
	msgs     []router.Message
	rejected []router.Rejected
	sampled  []router.Rejected
	events   []map[string]any // decoded msgs[i].Body
}

func gz(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// do sends r and reads back what it stored.
func (e *env) do(t *testing.T, r req) resp {
	t.Helper()
	out := e.send(t, r)
	out.msgs, out.rejected = e.log.drain(t)
	out.sampled = e.log.drainSample(t)
	for _, m := range out.msgs {
		out.events = append(out.events, decodeBody(t, m.Body))
	}
	return out
}

// send sends r and returns the answer.
func (e *env) send(t *testing.T, r req) resp {
	t.Helper()
	if r.method == "" {
		r.method = http.MethodPost
	}
	body := r.body
	if r.gzip {
		body = gz(t, body)
	}
	hr, err := http.NewRequest(r.method, e.srv.URL+r.path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range r.header {
		if strings.EqualFold(k, "host") {
			hr.Host = v
			continue
		}
		hr.Header.Set(k, v)
	}
	if r.gzip && hr.Header.Get("Content-Encoding") == "" {
		hr.Header.Set("Content-Encoding", "gzip")
	}
	hres, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	defer hres.Body.Close()
	rb, err := io.ReadAll(hres.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp{status: hres.StatusCode, header: hres.Header, body: rb}
}

func decodeBody(t testing.TB, b []byte) map[string]any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		t.Fatalf("stored body is not a JSON object: %v\n%s", err, b)
	}
	return m
}

const basicWK1 = "Basic V0sxOg==" // base64("WK1:")

func wk1(extra ...string) map[string]string {
	h := map[string]string{"Authorization": basicWK1, "Content-Type": "application/json"}
	for i := 0; i+1 < len(extra); i += 2 {
		h[extra[i]] = extra[i+1]
	}
	return h
}

// S200 asserts the exact success answer of the Tracking API.
func s200(t *testing.T, r resp) {
	t.Helper()
	if r.status != 200 || string(r.body) != `{"success":true}` || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("want S200, got %d %q %q", r.status, r.header.Get("Content-Type"), r.body)
	}
}

// apiErr asserts a JSON error answer with status and code.
func apiErr(t *testing.T, r resp, status int, code string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d (body %s)", r.status, status, r.body)
	}
	checkErrorBody(t, r)
	var e struct{ Code string }
	_ = json.Unmarshal(r.body, &e)
	if e.Code != code {
		t.Fatalf("code = %q, want %q", e.Code, code)
	}
}

// checkErrorBody asserts the error body: JSON, success false, string code and
// non-empty message.
func checkErrorBody(t testing.TB, r resp) {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("error Content-Type = %q", ct)
	}
	var e map[string]any
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("error body is not JSON: %q", r.body)
	}
	code, ok1 := e["code"].(string)
	msg, ok2 := e["message"].(string)
	if !ok1 || !ok2 || code == "" || msg == "" || e["success"] != false {
		t.Fatalf("error body lacks success:false, code or message: %s", r.body)
	}
}

func one(t *testing.T, r resp) map[string]any {
	t.Helper()
	if len(r.events) != 1 {
		t.Fatalf("stored %d messages, want 1 (rejected %+v)", len(r.events), r.rejected)
	}
	return r.events[0]
}

func rejectedOnly(t *testing.T, r resp, reason string) router.Rejected {
	t.Helper()
	if len(r.msgs) != 0 {
		t.Fatalf("stored %d messages, want none", len(r.msgs))
	}
	if len(r.rejected) != 1 || r.rejected[0].Reason != reason {
		t.Fatalf("rejected = %+v, want one with reason %q", r.rejected, reason)
	}
	return r.rejected[0]
}

// sampledOnly asserts that a request stored nothing but one entry of the
// sample of unauthenticated requests, with reason.
func sampledOnly(t *testing.T, r resp, reason string) router.Rejected {
	t.Helper()
	if len(r.msgs) != 0 || len(r.rejected) != 0 {
		t.Fatalf("stored %d messages and %d rejected, want none (unauthenticated)", len(r.msgs), len(r.rejected))
	}
	if len(r.sampled) != 1 || r.sampled[0].Reason != reason {
		t.Fatalf("sampled = %+v, want one with reason %q", r.sampled, reason)
	}
	return r.sampled[0]
}

func field(m map[string]any, path string) any {
	var v any = m
	for _, p := range strings.Split(path, ".") {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[p]
	}
	return v
}

func wantField(t *testing.T, m map[string]any, path string, want any) {
	t.Helper()
	got := field(m, path)
	if n, ok := got.(json.Number); ok {
		got = string(n)
	}
	if got != want {
		t.Errorf("%s = %#v, want %#v", path, got, want)
	}
}

func absent(t *testing.T, m map[string]any, path string) {
	t.Helper()
	if v := field(m, path); v != nil {
		t.Errorf("%s = %#v, want absent", path, v)
	}
}

var errStoreDown = errors.New("store down: " + router.ErrUnavailable.Error())

func mustPrefix(t *testing.T, s string) netip.Prefix {
	t.Helper()
	p, err := netip.ParsePrefix(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func newServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}
