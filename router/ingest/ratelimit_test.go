package ingest

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// testClock is a clock the tests move by hand.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

const testOrigin = "https://shop.example"

// rlTrack is a single track request with write key key, from a browser
// origin.
func rlTrack(key string) req {
	return req{path: "/v1/track", body: []byte(`{"userId":"u","event":"E"}`), header: map[string]string{
		"Authorization": "Basic " + b64(key+":"), "Content-Type": "application/json", "Origin": testOrigin}}
}

// rlBatch is a /v1/batch request of n track items (every third one without
// event, so rejected at event level; none with a messageId, so none is a
// duplicate) with write key key.
func rlBatch(key string, n int) req {
	items := make([]string, n)
	for i := range items {
		if i%3 == 2 {
			items[i] = `{"type":"track","userId":"u"}`
		} else {
			items[i] = `{"type":"track","userId":"u","event":"E"}`
		}
	}
	return req{path: "/v1/batch", body: []byte(`{"batch":[` + strings.Join(items, ",") + `]}`), header: map[string]string{
		"Authorization": "Basic " + b64(key+":"), "Content-Type": "application/json", "Origin": testOrigin}}
}

func rlData(key string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(`{"writeKey":"` + key + `","userId":"u","event":"Open"}`))
}

// rlStep is one request of a rate-limit scenario.
type rlStep struct {
	advance time.Duration // move the clock first
	req     req
	status  int // 200 or 429
	wait    int // 429: the expected Retry-After and X-RateLimit-Reset
	stored  int // 200: messages plus rejected items stored
	check   func(t *testing.T, r resp)
}

func TestRateLimit(t *testing.T) {
	limits := func(prodWeb, backend [2]float64) func(*Config) {
		return func(c *Config) {
			c.Sources[0].RateLimit, c.Sources[0].Burst = prodWeb[0], int(prodWeb[1])
			c.Sources[2].RateLimit, c.Sources[2].Burst = backend[0], int(backend[1])
		}
	}
	gif := func(t *testing.T, r resp) { checkGIF(t, r) }
	getJSONP := req{method: http.MethodGet, path: "/v1/t?callback=cb&data=" + rlData("WK1"), header: map[string]string{"Origin": testOrigin}}
	jsonp := func(t *testing.T, r resp) {
		if ct := r.header.Get("Content-Type"); ct != "text/javascript" || !strings.HasPrefix(string(r.body), `typeof cb == "function"`) {
			t.Fatalf("JSONP answer %q %q", ct, r.body)
		}
	}
	tests := []struct {
		name   string
		limits func(*Config)
		steps  []rlStep
	}{
		{name: "below the limit", limits: limits([2]float64{10, 0}, [2]float64{}), steps: []rlStep{
			{req: rlTrack("WK1"), status: 200, stored: 1},
			{req: rlTrack("WK1"), status: 200, stored: 1},
			{req: rlBatch("WK1", 8), status: 200, stored: 8},
		}},
		{name: "over the limit", limits: limits([2]float64{1, 2}, [2]float64{}), steps: []rlStep{
			{req: rlTrack("WK1"), status: 200, stored: 1},
			{req: rlTrack("WK1"), status: 200, stored: 1},
			{req: rlTrack("WK1"), status: 429, wait: 1},
			{req: rlTrack("WK1b"), status: 429, wait: 1}, // the keys of a source share its bucket
		}},
		{name: "a source without a limit is never limited", limits: limits([2]float64{1, 1}, [2]float64{}), steps: []rlStep{
			{req: rlBatch("WK2", 2500), status: 200, stored: 2500},
			{req: rlBatch("WK2", 2500), status: 200, stored: 2500},
			{req: rlTrack("WK2"), status: 200, stored: 1},
		}},
		{name: "a batch counts its items", limits: limits([2]float64{1, 10}, [2]float64{}), steps: []rlStep{
			{req: rlBatch("WK1", 6), status: 200, stored: 6},
			{req: rlBatch("WK1", 5), status: 429, wait: 1}, // 4 left, 1 more in 1 s
			{req: rlBatch("WK1", 9), status: 429, wait: 5},
			// The refused batches took nothing: 4 tokens are left.
			{req: rlBatch("WK1", 4), status: 200, stored: 4},
			{req: rlTrack("WK1"), status: 429, wait: 1},
		}},
		{name: "items past the batch limit count too", limits: limits([2]float64{1, 3000}, [2]float64{}), steps: []rlStep{
			// 2,500 items and one entry for the 100 past them; 2,600 taken.
			{req: rlBatch("WK1", 2600), status: 200, stored: 2501},
			{req: rlBatch("WK1", 401), status: 429, wait: 1},
			{req: rlBatch("WK1", 400), status: 200, stored: 400},
		}},
		{name: "a batch over the burst fits a full bucket", limits: limits([2]float64{1, 3}, [2]float64{}), steps: []rlStep{
			{req: rlBatch("WK1", 10), status: 200, stored: 10},
			{req: rlTrack("WK1"), status: 429, wait: 1},
			{advance: 2 * time.Second, req: rlBatch("WK1", 10), status: 429, wait: 1}, // 2 of 3
			{advance: time.Second, req: rlBatch("WK1", 10), status: 200, stored: 10},
		}},
		{name: "the bucket refills", limits: limits([2]float64{0.25, 1}, [2]float64{}), steps: []rlStep{
			{req: rlTrack("WK1"), status: 200, stored: 1},
			{req: rlTrack("WK1"), status: 429, wait: 4},
			{advance: 1500 * time.Millisecond, req: rlTrack("WK1"), status: 429, wait: 3}, // 2.5 s rounded up
			{advance: 2 * time.Second, req: rlTrack("WK1"), status: 429, wait: 1},
			{advance: 500 * time.Millisecond, req: rlTrack("WK1"), status: 200, stored: 1},
			{advance: time.Hour, req: rlTrack("WK1"), status: 200, stored: 1}, // never more than burst
			{req: rlTrack("WK1"), status: 429, wait: 4},
		}},
		{name: "burst defaults to one second", limits: limits([2]float64{2.5, 0}, [2]float64{}), steps: []rlStep{
			{req: rlBatch("WK1", 3), status: 200, stored: 3},
			{req: rlTrack("WK1"), status: 429, wait: 1},
		}},
		{name: "sources are independent", limits: limits([2]float64{1, 1}, [2]float64{1, 2}), steps: []rlStep{
			{req: rlTrack("WK1"), status: 200, stored: 1},
			{req: rlTrack("WK1"), status: 429, wait: 1},
			{req: rlTrack("WK2"), status: 200, stored: 1},
			{req: rlTrack("WK2"), status: 200, stored: 1},
			{req: rlTrack("WK2"), status: 429, wait: 1},
			{advance: time.Second, req: rlTrack("WK1"), status: 200, stored: 1},
			{req: rlTrack("WK2"), status: 200, stored: 1},
		}},
		{name: "pixels are never limited", limits: limits([2]float64{1, 1}, [2]float64{}), steps: []rlStep{
			{req: rlTrack("WK1"), status: 200, stored: 1},
			{req: req{method: http.MethodGet, path: "/v1/pixel/track?data=" + rlData("WK1")}, status: 200, stored: 1, check: gif},
			{req: req{method: http.MethodGet, path: "/v1/pixel/track?writeKey=WK1&userId=u&event=Open"}, status: 200, stored: 1, check: gif},
			{req: rlTrack("WK1"), status: 429, wait: 1},
		}},
		{name: "JSONP is limited", limits: limits([2]float64{1, 1}, [2]float64{}), steps: []rlStep{
			{req: getJSONP, status: 200, stored: 1, check: jsonp},
			{req: getJSONP, status: 429, wait: 1},
		}},
		{name: "an empty batch takes nothing", limits: limits([2]float64{1, 1}, [2]float64{}), steps: []rlStep{
			{req: req{path: "/v1/batch", header: wk1(), body: []byte(`{"batch":[]}`)}, status: 200},
			{req: rlTrack("WK1"), status: 200, stored: 1},
		}},
		{name: "auth comes first", limits: limits([2]float64{1, 1}, [2]float64{}), steps: []rlStep{
			{req: rlTrack("WK1"), status: 200, stored: 1},
			{req: rlTrack("nope"), status: 401},
			{req: rlTrack("WKOFF"), status: 403},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := &testClock{t: frozen}
			reg := prometheus.NewRegistry()
			e := newEnv(t, newRecLog(), func(c *Config) {
				c.Now = clock.now
				c.Registerer = reg
				tt.limits(c)
			})
			limited := 0
			for i, st := range tt.steps {
				clock.advance(st.advance)
				r := e.do(t, st.req)
				if r.status != st.status {
					t.Fatalf("step %d: status %d, want %d (body %s)", i, r.status, st.status, r.body)
				}
				switch st.status {
				case 429:
					limited++
					checkRateLimited(t, r, st.wait)
					if n := len(r.msgs) + len(r.rejected); n != 0 {
						t.Errorf("step %d: a refused request stored %d items", i, n)
					}
				case 200:
					if n := len(r.msgs) + len(r.rejected); n != st.stored {
						t.Errorf("step %d: stored %d items, want %d", i, n, st.stored)
					}
				}
				if st.check != nil {
					st.check(t, r)
				}
			}
			got := counterValue(t, reg, "eventrouter_ingest_rate_limited_total", map[string]string{"source": "prod-web"}) +
				counterValue(t, reg, "eventrouter_ingest_rate_limited_total", map[string]string{"source": "backend"})
			if got != float64(limited) {
				t.Errorf("eventrouter_ingest_rate_limited_total = %v, want %d", got, limited)
			}
		})
	}
}

// checkRateLimited asserts the 429 answer: JSON error body with
// code rate_limited, Retry-After and X-RateLimit-Reset as the same number of
// seconds, and the CORS headers for testOrigin.
func checkRateLimited(t *testing.T, r resp, wait int) {
	t.Helper()
	apiErr(t, r, http.StatusTooManyRequests, "rate_limited")
	for _, h := range []string{"Retry-After", "X-RateLimit-Reset"} {
		v := r.header.Get(h)
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Errorf("%s = %q, want an integer >= 1", h, v)
		} else if n != wait {
			t.Errorf("%s = %d, want %d", h, n, wait)
		}
	}
	if got := r.header.Get("Access-Control-Allow-Origin"); got != testOrigin {
		t.Errorf("Access-Control-Allow-Origin = %q, want %q", got, testOrigin)
	}
	if r.header.Get("Access-Control-Allow-Credentials") != "true" || r.header.Get("Vary") != "Origin" {
		t.Errorf("CORS headers incomplete: %v", r.header)
	}
}

// TestRateLimitConcurrent checks that concurrent refused requests take no
// tokens: after a burst of parallel requests on a frozen clock exactly
// burst of them are stored, and a refill of burst tokens admits exactly
// burst more.
func TestRateLimitConcurrent(t *testing.T) {
	const burst, parallel = 20, 80
	clock := &testClock{t: frozen}
	log := newRecLog()
	e := newEnv(t, log, func(c *Config) {
		c.Now = clock.now
		c.Sources[0].RateLimit, c.Sources[0].Burst = burst, burst
	})
	round := func() (ok, limited int) {
		var mu sync.Mutex
		var wg sync.WaitGroup
		for range parallel {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := e.send(t, rlTrack("WK1"))
				mu.Lock()
				defer mu.Unlock()
				switch r.status {
				case 200:
					ok++
				case 429:
					limited++
				default:
					t.Errorf("status %d", r.status)
				}
			}()
		}
		wg.Wait()
		return ok, limited
	}
	for i := range 3 {
		ok, limited := round()
		if ok != burst || limited != parallel-burst {
			t.Fatalf("round %d: %d admitted and %d limited, want %d and %d", i, ok, limited, burst, parallel-burst)
		}
		if msgs, _ := log.drain(t); len(msgs) != burst {
			t.Fatalf("round %d: stored %d messages, want %d", i, len(msgs), burst)
		}
		clock.advance(time.Second) // exactly burst tokens
	}
}

// TestRateLimitRefusalsTakeNothing hammers one source's bucket with refused
// requests at the same instant and checks that they left it untouched: one
// second later exactly a full bucket is available again.
func TestRateLimitRefusalsTakeNothing(t *testing.T) {
	const burst = 20
	h, err := New(Config{Sources: []Source{{Name: "s", WriteKeys: []string{"K"}, RateLimit: burst, Burst: burst}}}, newRecLog())
	if err != nil {
		t.Fatal(err)
	}
	src := h.keys["K"]
	if wait := src.take(frozen, burst); wait != 0 {
		t.Fatalf("a full bucket refused %d events (wait %d)", burst, wait)
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	admitted := 0
	for range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if wait := src.take(frozen, 1); wait == 0 {
				mu.Lock()
				admitted++
				mu.Unlock()
			} else if wait != 1 {
				t.Errorf("wait = %d, want 1", wait)
			}
		}()
	}
	close(start)
	wg.Wait()
	if admitted != 0 {
		t.Fatalf("an empty bucket admitted %d events", admitted)
	}
	later := frozen.Add(time.Second)
	if wait := src.take(later, burst); wait != 0 {
		t.Fatalf("after a second's refill the bucket refused %d events (wait %d): refused requests took tokens", burst, wait)
	}
	if wait := src.take(later, 1); wait != 1 {
		t.Fatalf("wait = %d after emptying the bucket again, want 1", wait)
	}
}
