package cdn

import (
	"bytes"
	"compress/gzip"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/eventrouter/eventrouter/schemas"
)

func newHandler(t *testing.T, cfg Config) *Handler {
	t.Helper()
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// do serves one request and returns the recorder.
func do(h http.Handler, method, target string, hdr map[string]string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, nil)
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func settingsOf(t *testing.T, rec *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	if rec.Code != http.StatusOK {
		t.Fatalf("settings: %d %s", rec.Code, rec.Body)
	}
	var doc map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatalf("settings are not JSON: %v\n%s", err, rec.Body)
	}
	return doc
}

func TestSettingsShape(t *testing.T) {
	h := newHandler(t, Config{
		Sources:   []Source{{Name: "web", WriteKeys: []string{"WK1", "WK2"}}},
		PublicURL: "https://events.example.com/",
	})
	rec := do(h, "GET", "/v1/projects/WK2/settings", map[string]string{"Origin": "https://shop.example.org"})
	doc := settingsOf(t, rec)
	want := map[string]any{
		"integrations": map[string]any{
			"Segment.io": map[string]any{
				"apiKey":                "WK2",
				"apiHost":               "events.example.com/v1",
				"protocol":              "https",
				"unbundledIntegrations": []any{},
				"addBundledMetadata":    true,
				"maybeBundledConfigIds": map[string]any{},
				"versionSettings":       map[string]any{"componentTypes": []any{"browser"}},
			},
		},
		"plan": map[string]any{
			"track":    map[string]any{"__default": map[string]any{"enabled": true, "integrations": map[string]any{}}},
			"identify": map[string]any{"__default": map[string]any{"enabled": true}},
			"group":    map[string]any{"__default": map[string]any{"enabled": true}},
		},
		"edgeFunction":              map[string]any{},
		"analyticsNextEnabled":      true,
		"middlewareSettings":        map[string]any{},
		"enabledMiddleware":         map[string]any{},
		"metrics":                   map[string]any{"sampleRate": 0.1, "host": "events.example.com/v1"},
		"legacyVideoPluginsEnabled": false,
		"remotePlugins":             []any{},
	}
	if !reflect.DeepEqual(doc, want) {
		got, _ := json.MarshalIndent(doc, "", "  ")
		t.Errorf("settings:\n%s", got)
	}
	for k, v := range map[string]string{
		"Content-Type":                     "application/json; charset=utf-8",
		"Cache-Control":                    "public, max-age=60",
		"Access-Control-Allow-Origin":      "https://shop.example.org",
		"Access-Control-Allow-Credentials": "true",
	} {
		if got := rec.Header().Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	// HEAD: the headers without the body.
	if rec := do(h, "HEAD", "/v1/projects/WK1/settings", nil); rec.Code != 200 || rec.Body.Len() != 0 || rec.Header().Get("Content-Length") == "" {
		t.Errorf("HEAD settings: %d, %d bytes, Content-Length %q", rec.Code, rec.Body.Len(), rec.Header().Get("Content-Length"))
	}
}

func TestPublicURLWithPath(t *testing.T) {
	h := newHandler(t, Config{Sources: []Source{{Name: "web", WriteKeys: []string{"k"}}}, PublicURL: "http://example.com:8080/segment"})
	sio := settingsOf(t, do(h, "GET", "/v1/projects/k/settings", nil))["integrations"].(map[string]any)["Segment.io"].(map[string]any)
	if sio["apiHost"] != "example.com:8080/segment/v1" || sio["protocol"] != "http" {
		t.Errorf("apiHost %v, protocol %v", sio["apiHost"], sio["protocol"])
	}
}

func TestSettingsHostFromRequest(t *testing.T) {
	h := newHandler(t, Config{
		Sources:        []Source{{Name: "web", WriteKeys: []string{"k"}}},
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
	})
	cases := []struct {
		name         string
		remote       string
		tls          bool
		hdr          map[string]string
		host, scheme string
	}{
		{"plain", "192.0.2.1:5000", false, map[string]string{"Host": "er.local:8080"}, "er.local:8080/v1", "http"},
		{"tls", "192.0.2.1:5000", true, map[string]string{"Host": "er.local"}, "er.local/v1", "https"},
		{"untrusted forwarded headers are ignored", "192.0.2.1:5000", false,
			map[string]string{"Host": "er.local", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example"}, "er.local/v1", "http"},
		{"trusted proxy", "10.1.2.3:5000", false,
			map[string]string{"Host": "backend:8080", "X-Forwarded-Proto": "https, http", "X-Forwarded-Host": "events.example.com, other"}, "events.example.com/v1", "https"},
		{"trusted proxy, malformed forwarded host", "10.1.2.3:5000", false,
			map[string]string{"Host": "backend:8080", "X-Forwarded-Proto": "gopher", "X-Forwarded-Host": `a"b/c`}, "backend:8080/v1", "http"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/v1/projects/k/settings", nil)
			req.RemoteAddr = c.remote
			if c.tls {
				req.TLS = &tls.ConnectionState{}
			}
			for k, v := range c.hdr {
				if k == "Host" {
					req.Host = v
				} else {
					req.Header.Set(k, v)
				}
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			doc := settingsOf(t, rec)
			sio := doc["integrations"].(map[string]any)["Segment.io"].(map[string]any)
			if sio["apiHost"] != c.host || sio["protocol"] != c.scheme {
				t.Errorf("apiHost %v, protocol %v; want %s, %s", sio["apiHost"], sio["protocol"], c.host, c.scheme)
			}
			if m := doc["metrics"].(map[string]any); m["host"] != c.host {
				t.Errorf("metrics.host %v, want %s", m["host"], c.host)
			}
			if cc := rec.Header().Get("Cache-Control"); cc != "private, max-age=60" {
				t.Errorf("Cache-Control %q: settings derived from the request must not be shared", cc)
			}
		})
	}
}

func TestUnknownAndDisabledKeys(t *testing.T) {
	h := newHandler(t, Config{Sources: []Source{
		{Name: "web", WriteKeys: []string{"good"}},
		{Name: "old", WriteKeys: []string{"off"}, Disabled: true},
	}})
	for _, p := range []string{
		"/v1/projects/nope/settings", "/v1/projects/off/settings", "/v1/projects//settings", "/v1/projects/good/other",
		"/analytics.js/v1/nope/analytics.min.js", "/analytics.js/v1/off/analytics.min.js", "/analytics.js/v1/good/other.js",
		"/analytics.js/v1/analytics.min.js", "/analytics-next/bundles/nope.js", "/next-integrations/middleware/x/latest/x.js.gz",
		"/next-integrations/integrations/foo/1.0.0/foo.dynamic.js.gz",
	} {
		rec := do(h, "GET", p, map[string]string{"Origin": "https://site.example"})
		if rec.Code != http.StatusNotFound || rec.Body.String() != "Cannot GET - Invalid path or write key provided." {
			t.Errorf("GET %s: %d %q, want Segment's 404", p, rec.Code, rec.Body)
		}
		if rec.Header().Get("Access-Control-Allow-Origin") != "https://site.example" {
			t.Errorf("GET %s: no CORS header on the 404", p)
		}
	}
	if rec := do(h, "POST", "/v1/projects/good/settings", nil); rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, HEAD, OPTIONS" {
		t.Errorf("POST settings: %d, Allow %q", rec.Code, rec.Header().Get("Allow"))
	}
	rec := do(h, "OPTIONS", "/v1/projects/good/settings", map[string]string{"Origin": "https://site.example", "Access-Control-Request-Headers": "content-type"})
	if rec.Code != http.StatusNoContent || rec.Header().Get("Access-Control-Allow-Methods") != "GET, HEAD, OPTIONS" ||
		rec.Header().Get("Access-Control-Allow-Origin") != "https://site.example" || rec.Header().Get("Access-Control-Allow-Headers") != "content-type" {
		t.Errorf("preflight: %d %v", rec.Code, rec.Header())
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{PublicURL: "events.example.com"}, "public_url: must start with http:// or https://"},
		{Config{PublicURL: "ftp://events.example.com"}, "public_url: must start with http"},
		{Config{PublicURL: "https://"}, "must name a host"},
		{Config{PublicURL: "https://u:p@events.example.com"}, "user information"},
		{Config{PublicURL: "https://events.example.com/?a=b"}, "query or fragment"},
		{Config{PublicURL: "https://events.example.com/#x"}, "query or fragment"},
		{Config{Sources: []Source{{WriteKeys: []string{"a"}}}}, "sources[0]: name: required"},
		{Config{Sources: []Source{{Name: "a"}}}, "sources[0]: write_keys: at least one required"},
		{Config{Sources: []Source{{Name: "a", WriteKeys: []string{"k"}}, {Name: "b", WriteKeys: []string{"k"}}}}, "sources[1]: write_keys: a key is used twice"},
	} {
		_, err := New(c.cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("New(%+v) = %v, want an error with %q", c.cfg, err, c.want)
		}
	}
}

func TestLoaderAndBundles(t *testing.T) {
	key := `wk"</script>`
	h := newHandler(t, Config{Sources: []Source{{Name: "web", WriteKeys: []string{key, "plain"}}}})
	rec := do(h, "GET", "/analytics.js/v1/"+key+"/analytics.min.js", nil)
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "text/javascript; charset=utf-8" {
		t.Fatalf("analytics.min.js: %d %v", rec.Code, rec.Header())
	}
	body := rec.Body.Bytes()
	if bytes.Contains(body, []byte("__WRITE_KEY__")) || !bytes.Contains(body, []byte(`window.analyticsWriteKey="wk\"\u003c/script\u003e"`)) {
		t.Errorf("analytics.min.js does not carry the write key, escaped, in place of the placeholder")
	}
	if len(body) != len(standalone)-len(writeKeyPlaceholder)+len(`"wk\"\u003c/script\u003e"`) {
		t.Errorf("analytics.min.js differs from the vendored standalone.js by more than the write key")
	}
	if rec := do(h, "GET", "/analytics.js/v1/plain/analytics.js", nil); rec.Code != 200 || !bytes.Contains(rec.Body.Bytes(), []byte(`window.analyticsWriteKey="plain"`)) {
		t.Errorf("analytics.js: %d", rec.Code)
	}

	// gzip when accepted, identical once decoded; ETag and 304.
	gz := do(h, "GET", "/analytics.js/v1/plain/analytics.min.js", map[string]string{"Accept-Encoding": "br, gzip;q=0.8"})
	if gz.Header().Get("Content-Encoding") != "gzip" {
		t.Fatalf("no gzip encoding: %v", gz.Header())
	}
	gzLen := gz.Body.Len()
	zr, err := gzip.NewReader(gz.Body)
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := io.ReadAll(zr)
	if !bytes.Equal(plain, loaderFor("plain")) {
		t.Errorf("the gzip body does not decode to analytics.min.js")
	}
	if gzLen == 0 || gzLen > len(plain)/2 {
		t.Errorf("gzip body of %d bytes for %d", gzLen, len(plain))
	}
	etag := gz.Header().Get("ETag")
	if rec := do(h, "GET", "/analytics.js/v1/plain/analytics.min.js", map[string]string{"Accept-Encoding": "gzip", "If-None-Match": etag}); rec.Code != http.StatusNotModified || rec.Body.Len() != 0 {
		t.Errorf("If-None-Match %s: %d", etag, rec.Code)
	}
	if rec := do(h, "GET", "/analytics.js/v1/plain/analytics.min.js", map[string]string{"Accept-Encoding": "gzip;q=0"}); rec.Header().Get("Content-Encoding") != "" {
		t.Errorf("gzip;q=0 still got gzip")
	}

	if len(bundles) < 5 {
		t.Fatalf("only %d chunks embedded", len(bundles))
	}
	for name, a := range bundles {
		rec := do(h, "GET", "/analytics-next/bundles/"+name, nil)
		if rec.Code != 200 || !bytes.Equal(rec.Body.Bytes(), a.body) || rec.Header().Get("Cache-Control") != cacheImmutable {
			t.Errorf("%s: %d, %d bytes, Cache-Control %q", name, rec.Code, rec.Body.Len(), rec.Header().Get("Cache-Control"))
		}
		// Every chunk name is in the standalone build's chunk map.
		hash := strings.TrimSuffix(name[strings.Index(name, ".bundle.")+len(".bundle."):], ".js")
		if !bytes.Contains(standalone, []byte(hash)) {
			t.Errorf("standalone.js never names the chunk %s", name)
		}
	}
	if AnalyticsJSVersion == "" || strings.ContainsAny(AnalyticsJSVersion, " \n") {
		t.Errorf("AnalyticsJSVersion = %q", AnalyticsJSVersion)
	}
}

func TestMetricsEndpoint(t *testing.T) {
	h := newHandler(t, Config{})
	body := `{"series":[{"type":"Counter","metric":"analytics_js.integration.invoke","value":1,"tags":{"library":"analytics.js"}}]}`
	req := httptest.NewRequest("POST", "/v1/m", strings.NewReader(body))
	req.Header.Set("Content-Type", "text/plain")
	req.Header.Set("Origin", "https://site.example")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 200 || rec.Body.String() != `{"success":true}` || rec.Header().Get("Access-Control-Allow-Origin") != "https://site.example" {
		t.Errorf("POST /v1/m: %d %s %v", rec.Code, rec.Body, rec.Header())
	}
	big := httptest.NewRequest("POST", "/v1/m", strings.NewReader(strings.Repeat("x", metricsBodyLimit+1)))
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, big)
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("POST /v1/m over 64 KiB: %d", rec.Code)
	}
	if rec := do(h, "GET", "/v1/m", nil); rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "POST, OPTIONS" {
		t.Errorf("GET /v1/m: %d %q", rec.Code, rec.Header().Get("Allow"))
	}
	if rec := do(h, "OPTIONS", "/v1/m", map[string]string{"Origin": "https://site.example"}); rec.Code != http.StatusNoContent || rec.Header().Get("Access-Control-Allow-Methods") != "POST, OPTIONS" {
		t.Errorf("OPTIONS /v1/m: %d %v", rec.Code, rec.Header())
	}
}

// testPlan is a plan with two track events and the given enforcement.
func testPlan(id string, unplanned schemas.Mode, forward string, sources ...string) *schemas.Plan {
	p := &schemas.Plan{ID: id, Sources: sources, Enforcement: schemas.DefaultEnforcement(),
		Tracks: map[string]*schemas.Rule{"Order Completed": {}, "Signed Up": {}}}
	p.Enforcement.Track.UnplannedEvents = unplanned
	p.Enforcement.ForwardBlockedTo = forward
	return p
}

func TestPlanBlock(t *testing.T) {
	enabled := map[string]any{"enabled": true, "integrations": map[string]any{}}
	disabled := map[string]any{"enabled": false, "integrations": map[string]any{}}
	planned := func(def map[string]any) map[string]any {
		return map[string]any{"__default": def, "Order Completed": enabled, "Signed Up": enabled}
	}
	blockOverride := schemas.Enforcement{Track: schemas.TrackEnforcement{UnplannedEvents: schemas.Block}}
	allowOverride := schemas.Enforcement{Track: schemas.TrackEnforcement{UnplannedEvents: schemas.Allow}}
	cases := []struct {
		name       string
		plan       *schemas.Plan
		enforce    schemas.Enforcement
		drop       bool
		track      map[string]any
		middleware bool
	}{
		{"no plan", nil, schemas.Enforcement{}, true, map[string]any{"__default": enabled}, false},
		{"unplanned allowed", testPlan("p", schemas.Allow, ""), schemas.Enforcement{}, true, planned(enabled), false},
		{"unplanned blocked", testPlan("p", schemas.Block, ""), schemas.Enforcement{}, true, planned(disabled), true},
		{"blocked, browser drop off", testPlan("p", schemas.Block, ""), schemas.Enforcement{}, false, planned(disabled), false},
		{"blocked, forwarded to another source", testPlan("p", schemas.Block, "blocked-events"), schemas.Enforcement{}, true, planned(disabled), false},
		{"blocked by the plan, allowed by the source", testPlan("p", schemas.Block, ""), allowOverride, true, planned(enabled), false},
		{"allowed by the plan, blocked by the source", testPlan("p", schemas.Allow, ""), blockOverride, true, planned(disabled), true},
		{"source forwards blocked messages", testPlan("p", schemas.Block, ""), schemas.Enforcement{ForwardBlockedTo: "other"}, true, planned(disabled), false},
		{"plan for other sources", testPlan("p", schemas.Block, "", "backend"), schemas.Enforcement{}, true, map[string]any{"__default": enabled}, false},
		{"plan for this source", testPlan("p", schemas.Block, "", "backend", "web"), schemas.Enforcement{}, true, planned(disabled), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHandler(t, Config{
				Sources:     []Source{{Name: "web", WriteKeys: []string{"k"}, Enforcement: c.enforce}},
				Plan:        func() *schemas.Plan { return c.plan },
				DropBlocked: c.drop,
			})
			doc := settingsOf(t, do(h, "GET", "/v1/projects/k/settings", nil))
			plan := doc["plan"].(map[string]any)
			if !reflect.DeepEqual(plan["track"], c.track) {
				t.Errorf("plan.track = %v, want %v", plan["track"], c.track)
			}
			for _, typ := range []string{"identify", "group"} {
				if !reflect.DeepEqual(plan[typ], map[string]any{"__default": map[string]any{"enabled": true}}) {
					t.Errorf("plan.%s = %v", typ, plan[typ])
				}
			}
			mw := doc["enabledMiddleware"].(map[string]any)
			if c.middleware != (len(mw) == 1) || len(mw) > 1 {
				t.Fatalf("enabledMiddleware = %v, want a middleware: %v", mw, c.middleware)
			}
			for name, on := range mw {
				if on != true || !strings.HasPrefix(name, "eventrouter-tracking-plan-") {
					t.Errorf("enabledMiddleware %q: %v", name, on)
				}
				rec := do(h, "GET", "/next-integrations/middleware/"+name+"/latest/"+name+".js.gz", nil)
				if rec.Code != 200 || !strings.Contains(rec.Body.String(), `\"Order Completed\":{\"enabled\":true`) ||
					!strings.Contains(rec.Body.String(), `window["`+name+`Middleware"]`) {
					t.Errorf("middleware %s: %d\n%s", name, rec.Code, rec.Body)
				}
			}
		})
	}
}

// TestPlanReload: the settings follow the plan in force; a changed plan
// gets a new middleware name and the old one is gone.
func TestPlanReload(t *testing.T) {
	var cur atomic.Pointer[schemas.Plan]
	cur.Store(testPlan("v1", schemas.Block, ""))
	h := newHandler(t, Config{
		Sources:     []Source{{Name: "web", WriteKeys: []string{"k"}}, {Name: "app", WriteKeys: []string{"k2"}}},
		Plan:        cur.Load,
		DropBlocked: true,
	})
	middleware := func(key string) string {
		for name := range settingsOf(t, do(h, "GET", "/v1/projects/"+key+"/settings", nil))["enabledMiddleware"].(map[string]any) {
			return name
		}
		return ""
	}
	first := middleware("k")
	if first == "" || middleware("k2") != first {
		t.Fatalf("two sources with the same plan block: middlewares %q and %q", first, middleware("k2"))
	}
	obfuscated := base64.RawStdEncoding.EncodeToString([]byte(first))
	if rec := do(h, "GET", "/next-integrations/middleware/"+obfuscated+"/latest/"+obfuscated+".js.gz", nil); rec.Code != 200 {
		t.Errorf("obfuscated middleware path: %d", rec.Code)
	}
	p2 := testPlan("v2", schemas.Block, "")
	p2.Tracks["Order Refunded"] = &schemas.Rule{}
	cur.Store(p2)
	second := middleware("k")
	if second == "" || second == first {
		t.Fatalf("after the reload the middleware is %q (was %q)", second, first)
	}
	track := settingsOf(t, do(h, "GET", "/v1/projects/k/settings", nil))["plan"].(map[string]any)["track"].(map[string]any)
	if _, ok := track["Order Refunded"]; !ok {
		t.Errorf("the reloaded plan's event is not in plan.track: %v", track)
	}
	if rec := do(h, "GET", "/next-integrations/middleware/"+first+"/latest/"+first+".js.gz", nil); rec.Code != 404 {
		t.Errorf("the old plan's middleware is still served: %d", rec.Code)
	}
	cur.Store(nil)
	if m := middleware("k"); m != "" {
		t.Errorf("without a plan the settings still name %q", m)
	}
}

// TestPlanMiddlewareInNode runs the served middleware under node with
// analytics.js's middleware contract: next is called for what passes, and
// not for a track the plan disables.
func TestPlanMiddlewareInNode(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("node is not installed: run make deps")
		}
		t.Skip("SKIPPING: node is not installed (make deps installs it)")
	}
	p := testPlan("orders", schemas.Block, "")
	p.Tracks["__proto__"] = &schemas.Rule{}
	h := newHandler(t, Config{Sources: []Source{{Name: "web", WriteKeys: []string{"k"}}}, Plan: func() *schemas.Plan { return p }, DropBlocked: true})
	var name string
	for n := range settingsOf(t, do(h, "GET", "/v1/projects/k/settings", nil))["enabledMiddleware"].(map[string]any) {
		name = n
	}
	js := do(h, "GET", "/next-integrations/middleware/"+name+"/latest/"+name+".js.gz", nil).Body.String()
	script := `var window = globalThis; var warned = [];
console.warn = function (m) { warned.push(m); };
` + js + `
var mw = window[` + "`" + name + "Middleware`" + `];
var out = {};
[["track", "Order Completed"], ["track", "Signed Up"], ["track", "Order Shipped"], ["track", "constructor"],
 ["track", "__proto__"], ["page", "Order Shipped"], ["identify", undefined]].forEach(function (c) {
  var passed = false;
  mw({payload: {obj: {type: c[0], event: c[1]}}, integrations: {}, next: function (p) { passed = p !== null; }});
  out[c[0] + ":" + c[1]] = passed;
});
out.warned = warned.length;
process.stdout.write(JSON.stringify(out));`
	cmd := exec.Command(node, "-e", script)
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, b)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("node output %s: %v", b, err)
	}
	want := map[string]any{
		"track:Order Completed": true, "track:Signed Up": true, "track:Order Shipped": false, "track:constructor": false,
		"track:__proto__": true, "page:Order Shipped": true, "identify:undefined": true, "warned": 2.0,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("middleware decisions %v, want %v", got, want)
	}
}

func TestRequestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := newHandler(t, Config{Sources: []Source{{Name: "web", WriteKeys: []string{"k"}}}, Registerer: reg})
	do(h, "GET", "/v1/projects/k/settings", nil)
	do(h, "GET", "/v1/projects/k/settings", nil)
	do(h, "GET", "/v1/projects/x/settings", nil)
	do(h, "GET", "/analytics.js/v1/k/analytics.min.js", nil)
	for _, c := range []struct {
		route, code string
		want        float64
	}{{"settings", "200", 2}, {"settings", "404", 1}, {"analytics.js", "200", 1}} {
		if got := counterValue(t, reg, "eventrouter_cdn_requests_total", c.route, c.code); got != c.want {
			t.Errorf("eventrouter_cdn_requests_total{route=%q,code=%q} = %v, want %v", c.route, c.code, got, c.want)
		}
	}
}

// counterValue reads the counter name{route,code} from reg.
func counterValue(t *testing.T, reg *prometheus.Registry, name, route, code string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["route"] == route && labels["code"] == code {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}
